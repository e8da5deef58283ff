"""The `rxguard pgx` and `rxguard thiopurine` commands: outputs, files and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABS = ROOT / "examples" / "thiopurine" / "labs-bundle.json"


def rxguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rxguard.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_pgx_call_json(reference: Path) -> None:
    run = rxguard("pgx", "call", str(reference / "pgx-tests" / "TPMT" / "s3bs3c.vcf"), "--gene", "TPMT")
    assert run.returncode == 0, run.stderr
    [record] = json.loads(run.stdout)
    assert {
        k: record[k] for k in ("sample", "gene", "diplotype", "phenotype", "possible_diplotypes", "unexpected_alleles")
    } == {
        "sample": "NA12878",
        "gene": "TPMT",
        "diplotype": "*1/*3A",
        "phenotype": "Intermediate Metabolizer",
        "possible_diplotypes": ["*1/*3A", "*3B/*3C"],
        "unexpected_alleles": [],
    }
    assert isinstance(record["missing_positions"], list)


def test_pgx_call_tsv_for_a_cohort_sample(reference: Path) -> None:
    run = rxguard(
        "pgx",
        "call",
        str(reference / "pgx-1kgp" / "GRCh38" / "NUDT15.vcf.gz"),
        "-s",
        "HG00096",
        "--gene",
        "NUDT15",
        "--format",
        "tsv",
    )
    assert run.returncode == 0, run.stderr
    header, row = run.stdout.strip().split("\n")
    assert header.split("\t")[:4] == ["sample", "gene", "diplotype", "phenotype"]
    assert row.split("\t")[:2] == ["HG00096", "NUDT15"]


@pytest.mark.parametrize(("content", "message"), [("not a vcf\n", "not a VCF"), (None, "no such file")])
def test_pgx_call_bad_input_exits_2(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.vcf"
    if content is not None:
        path.write_text(content)
    run = rxguard("pgx", "call", str(path))
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_pgx_recommend_json() -> None:
    run = rxguard(
        "pgx",
        "recommend",
        "--drug",
        "Imuran",
        "--tpmt",
        "*1/*3A",
        "--nudt15",
        "*1/*3",
        "--weight-kg",
        "70",
        "--format",
        "json",
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["start_dose_percent"] == [20, 50] and out["recommended_daily_dose_mg"] == [50, 100]
    assert rxguard("pgx", "recommend", "--drug", "warfarin").returncode == 2
    untested = rxguard("pgx", "recommend", "--drug", "azathioprine")  # neither TPMT nor NUDT15: no CPIC row
    assert untested.returncode == 2 and "--tpmt" in untested.stderr and "Traceback" not in untested.stderr


def test_thiopurine_plan_writes_an_ics(tmp_path: Path) -> None:
    ics = tmp_path / "plan.ics"
    run = rxguard(
        "thiopurine",
        "plan",
        "--drug",
        "azathioprine",
        "--weight-kg",
        "70",
        "--indication",
        "rheumatoid arthritis",
        "--tpmt",
        "*1/*1",
        "--nudt15",
        "*1/*1",
        "--start",
        "2026-01-05",
        "--strengths",
        "25,50",
        "--format",
        "json",
        "--ics",
        str(ics),
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["schedule"] == "rheumatology" and [s["mg_per_day"] for s in out["steps"]] == [75, 100, 150, 175]
    text = ics.read_bytes().decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.count("BEGIN:VEVENT") == len(out["calendar"])


def test_thiopurine_plan_bad_indication_exits_2() -> None:
    run = rxguard(
        "thiopurine",
        "plan",
        "--drug",
        "azathioprine",
        "--weight-kg",
        "70",
        "--indication",
        "gout",
        "--start",
        "2026-01-05",
    )
    assert run.returncode == 2 and "--indication" in run.stderr


def test_thiopurine_labs_json_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib (the 'plot' extra) is not installed")
    png = tmp_path / "labs.png"
    run = rxguard("thiopurine", "labs", str(LABS), "--plot", str(png), "--format", "json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [f["rule_id"] for f in out["findings"]] == ["thiopurine.trend.wbc-falling"]
    assert out["not_judged"][0]["measure"] == "lymphocytes"
    assert out["metabolites"][0]["interpretation"].startswith("Therapeutic")
    assert [d["mg_per_day"] for d in out["doses"]] == [50, 100]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_thiopurine_metabolites() -> None:
    run = rxguard("thiopurine", "metabolites", "--tgn", "200", "--mmp", "6000", "--format", "json")
    assert run.returncode == 0 and json.loads(run.stdout)["rule_id"] == "thiopurine.metabolites.shunter"
    other_unit = rxguard("thiopurine", "metabolites", "--tgn", "200", "--mmp", "6000", "--unit", "pmol/0.2 mL")
    assert other_unit.returncode == 2 and "not interchangeable" in other_unit.stderr
