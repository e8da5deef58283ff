"""`rxguard overdose ...` on the command line: JSON keys, exit codes, messages naming field and value, the plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def rxguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rxguard.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_paracetamol_json_has_exactly_the_issue_keys() -> None:
    run = rxguard(
        "overdose", "paracetamol", "--weight-kg", "70", "--amount-mg", "10000", "--hours", "8",
        "--level", "500", "--unit", "umol/L", "--format", "json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert list(out) == ["ingested_mg_per_kg", "treatment_line_mg_per_l", "above_line", "decision", "reason", "sources"]
    # 500 umol/L = 75.6 mg/L, just above the US line's 75 mg/L at 8 h.
    assert (out["ingested_mg_per_kg"], out["treatment_line_mg_per_l"], out["above_line"], out["decision"]) == (
        142.9,
        75.0,
        True,
        "treat",
    )


def test_uk_line_and_unknown_time() -> None:
    run = rxguard("overdose", "paracetamol", "--weight-kg", "60", "--hours", "unknown", "--line", "uk", "-f", "json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["above_line"], out["treatment_line_mg_per_l"], out["decision"]) == (None, None, "treat-now")


def test_staggered_flag() -> None:
    run = rxguard(
        "overdose", "paracetamol", "--weight-kg", "60", "--hours", "10", "--staggered",
        "--level", "20", "--unit", "mg/L", "-f", "json",
    )  # fmt: skip
    assert json.loads(run.stdout)["decision"] == "treat-now"


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        (["--weight-kg", "-5", "--amount-mg", "1000"], "--weight-kg", "-5.0"),
        (["--weight-kg", "70", "--hours", "4", "--level", "100", "--unit", "mmol/L"], "--unit", "'mmol/L'"),
        (["--weight-kg", "70", "--hours", "soon"], "--hours", "'soon'"),
        (["--weight-kg", "70", "--hours", "4", "--level", "-3", "--unit", "mg/L"], "--level", "-3.0"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_value(args: list[str], field: str, value: str) -> None:
    run = rxguard("overdose", "paracetamol", *args)
    assert run.returncode == 2
    assert field in run.stderr and value in run.stderr
    assert "Traceback" not in run.stderr


def test_an_unknown_line_is_a_usage_error() -> None:
    run = rxguard("overdose", "paracetamol", "--weight-kg", "70", "--line", "fr")
    assert run.returncode == 2
    assert "--line" in run.stderr and "fr" in run.stderr


def test_text_output_names_the_decision_and_sources() -> None:
    run = rxguard("overdose", "paracetamol", "--weight-kg", "70", "--hours", "4", "--level", "120", "--unit", "ug/mL")
    assert run.returncode == 0, run.stderr
    assert "no-treatment-by-nomogram" in run.stdout
    assert "Sources" in run.stdout


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_draws_the_nomogram_with_the_point(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'rxguard[plot]')")
    target = tmp_path / f"nomogram{suffix}"
    run = rxguard(
        "overdose", "paracetamol", "--weight-kg", "70", "--hours", "8", "--level", "90",
        "--unit", "mg/L", "--plot", str(target), "-f", "json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = target.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        text = data.decode()
        assert "<svg" in text and "patient: 90.0 mg/L at 8 h" in text


def test_plot_to_a_bad_name_is_bad_input(tmp_path: Path) -> None:
    run = rxguard("overdose", "paracetamol", "--weight-kg", "70", "--hours", "8", "--plot", str(tmp_path / "x.txt"))
    assert run.returncode == 2
    assert "--plot" in run.stderr


def test_assess_json_for_azathioprine() -> None:
    run = rxguard("overdose", "assess", "Imuran 50mg", "--tablets", "20", "--weight-kg", "70", "-f", "json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["urgency"] == "today"
    (aza,) = out["ingredients"]
    assert aza["above_threshold"] is True and aza["threshold_mg"] == 350
    assert any("9 to 14 days" in f["text"] for f in aza["overdose_facts"])


def test_assess_unknown_drug_exits_5() -> None:
    run = rxguard("overdose", "assess", "xylotrexin", "--amount-mg", "5")
    assert run.returncode == 5
    assert "xylotrexin" in run.stderr and "poison" in run.stderr
