"""`rxguard triage` on the command line: JSON keys, urgency, unknown symptoms, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_json_keys_and_yellow_eyes_on_imuran() -> None:
    run = rxguard("triage", "--drug", "Imuran 50mg", "--symptom", "yellow eyes", "--format", "json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert {"urgency", "advice", "matched_signs", "sources"} <= set(out)
    assert out["urgency"] == "today"
    assert [m["sign"] for m in out["matched_signs"]] == ["jaundice"]
    assert all(set(s) == {"document", "year", "section", "confidence"} for s in out["sources"])


def test_several_drugs_and_symptoms_take_the_most_urgent() -> None:
    run = rxguard(
        "triage", "--drug", "oxycodone 5mg", "--drug", "Voltarol 50mg",
        "--symptom", "constipated", "--symptom", "black stools", "--symptom", "slow breathing", "-f", "json",
    )  # fmt: skip
    out = json.loads(run.stdout)
    assert out["urgency"] == "emergency"
    assert out["advice"].startswith("Call 999 (UK) or 911 (US)")


def test_an_unknown_symptom_is_said_to_be_unknown() -> None:
    run = rxguard("triage", "--drug", "Imuran", "--symptom", "wobbly glorp", "-f", "json")
    out = json.loads(run.stdout)
    assert out["urgency"] == "unknown"
    assert out["unknown_symptoms"][0]["symptom"] == "wobbly glorp"
    text = rxguard("triage", "--drug", "Imuran", "--symptom", "wobbly glorp")
    assert "unknown" in text.stdout and "not recognised" in text.stdout


def test_no_symptom_is_bad_input() -> None:
    run = rxguard("triage", "--drug", "Imuran")
    assert run.returncode == 2
    assert "--symptom" in run.stderr
    assert "Traceback" not in run.stderr
