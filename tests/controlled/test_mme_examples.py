"""The CDC MME calculator's test cases (fixtures/opioid-mme-examples, Apache-2.0): rxguard gives their TotalMME.

Each case is a Patient, a MedicationRequest (status active) and a GuidanceResponse with the expected TotalMME;
rxguard screens the MedicationRequest from a Bundle (`--order ID`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rxguard.adapters.fhir.request import parse_request
from rxguard.checks.controlled import knowledge
from rxguard.checks.mme import compute_mme, opioid_meds
from rxguard.errors import InputError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.screen import Screener

CASES = Path(__file__).parent / "fixtures" / "opioid-mme-examples" / "MMECalculatorTests"


def case(name: str) -> tuple[dict[str, Any], str | None, float | None]:
    """(Bundle of the case's resources, the MedicationRequest id, the expected TotalMME or None)."""
    resources, expected = [], None
    for path in sorted((CASES / name).glob("*.json")):
        resource = json.loads(path.read_text())
        if resource["resourceType"] == "GuidanceResponse":
            values = [p["valueQuantity"]["value"] for p in resource["contained"][0].get("parameter", [])]
            expected = values[0] if values else None
        else:
            resources.append(resource)
    orders = [r["id"] for r in resources if r["resourceType"] == "MedicationRequest"]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    return bundle, (orders[0] if orders else None), expected


@pytest.mark.parametrize(
    ("name", "total"),
    [
        ("patient-mme-less-than-fifty", 30.0),  # oxycodone ER 60 mg tablet, dose 10 mg every 12 h
        ("patient-mme-with-timeofday", 30.0),  # the same with two timeOfDay entries instead of a frequency
        ("patient-mme-greater-than-fifty", 180.0),  # fentanyl 75 ug/h, one patch every 3 days
        ("mmecalc", 20.0),  # Epic-style morphine ER 20 mg capsule with 24 codings, timeOfDay x 1
    ],
)
def test_total_mme_of_each_case(screener: Screener, kb: KnowledgeBase, name: str, total: float) -> None:
    bundle, order_id, expected = case(name)
    assert expected == total  # the GuidanceResponse's TotalMME
    result = screener.screen(parse_request(bundle, order_id=order_id))
    ctx = result.context
    assert compute_mme(kb, opioid_meds(ctx), knowledge(kb).factor_set(None)).total == total
    hd = [a.facts["total_mme_per_day"] for a in result.alerts if "total_mme_per_day" in a.facts]
    assert hd == ([total] if total >= 50 else [])


def test_the_case_without_medicines_has_nothing_to_screen() -> None:
    bundle, order_id, expected = case("patient-no-meds")
    assert order_id is None and expected is None  # TotalMME is null
    with pytest.raises(InputError, match="no order to screen"):
        parse_request(bundle)


def test_the_command_line_reads_a_case_bundle(tmp_path: Path) -> None:
    bundle, order_id, _ = case("patient-mme-greater-than-fifty")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    run = subprocess.run(
        [sys.executable, "-m", "rxguard.cli", "screen", str(path), "--order", str(order_id), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    alerts = out.get("alerts") or out.get("cards") or []
    assert any("180" in json.dumps(a) for a in alerts)
