"""The surveil and synth commands: outputs, totals printed, and stable exit codes for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RXGUARD = [sys.executable, "-m", "rxguard.cli"]


def rx(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RXGUARD, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_synth_then_surveil(tmp_path: Path) -> None:
    made = rx("synth", "--patients", "400", "--out", "data", "--format", "csv", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "data" / "planted.csv").exists()
    bad = (tmp_path / "data" / "dispensing.csv").read_text(encoding="utf-8") + "P9,D9,F9,someday,00406052301,,1,1\n"
    (tmp_path / "data" / "dispensing.csv").write_text(bad, encoding="utf-8")
    ran = rx(
        "surveil",
        "data/dispensing.csv",
        "--labs",
        "data/labs.csv",
        "--out",
        "out",
        "--export-asap",
        "out/controlled.asap",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert "rejected 1" in ran.stdout and "read " in ran.stdout and "accepted " in ran.stdout
    for name in ("flags.parquet", "report.html", "rejects.csv", "summary.json", "controlled.asap"):
        assert (tmp_path / "out" / name).exists(), name
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["mme_factor_set"]["id"] == "cdc-2022-clinical"
    assert all(count > 0 for count in summary["flags"].values())
    again = rx("surveil", "out/controlled.asap", "--out", "out2", "--output", "json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["inputs"][0]["format"] == "asap"


def test_missing_input_is_exit_2(tmp_path: Path) -> None:
    ran = rx("surveil", "nope.csv", cwd=tmp_path)
    assert ran.returncode == 2
    assert "no such file" in ran.stderr


def test_unknown_factor_set_is_exit_4(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text(
        "patient_id,prescriber_id,pharmacy_id,fill_date,ndc,quantity,days_supply\n", encoding="utf-8"
    )
    ran = rx("surveil", "f.csv", "--mme-factors", "who-2020", cwd=tmp_path)
    assert ran.returncode == 4
    assert "--mme-factors" in ran.stderr


def test_not_an_asap_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "x.asap").write_text("hello\n", encoding="utf-8")
    ran = rx("surveil", "x.asap", "--format", "asap", cwd=tmp_path)
    assert ran.returncode == 2
    assert "TH segment" in ran.stderr
