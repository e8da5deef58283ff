"""Golden cases: the whole CLI on a request file, compared exactly with the reviewed expected cards.

Each tests/golden/<case>/ holds request.json (built by scripts/golden.py from tests/golden/cases.py, where
each case says why its cards are expected) and expected.json (code, indicator, rule and facts of every card).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rxguard.adapters.cds_hooks.cards import card_outline
from tests.golden.cases import CASES

GOLDEN = Path(__file__).parent / "golden"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rxguard.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_case(case: dict[str, Any]) -> None:
    folder = GOLDEN / case["name"]
    run = run_cli("screen", str(folder / "request.json"), "--format", "cds-hooks", *case.get("args", []))
    assert run.returncode == 0, run.stderr
    response = json.loads(run.stdout)
    expected = json.loads((folder / "expected.json").read_text())
    assert [card_outline(c) for c in response["cards"]] == expected, case["why"]


def test_every_golden_folder_has_a_case() -> None:
    folders = {p.name for p in GOLDEN.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders == {c["name"] for c in CASES}
