"""A real client's requests: the CDC Opioid Prescribing Support guide's CDS Hooks examples (fixtures/, CC0).

Every request is screened without error, and rxguard agrees with the guide on the MME (the CDC calculator's
logic: a patch counts the patches worn times ug/h x 2.4, whatever the change interval), on when to offer
naloxone (MME >= 50, a concurrent benzodiazepine, a history of alcohol or drug abuse; not when naloxone is on
the list) and on opioid + benzodiazepine (REC 11). rxguard's other cards (DC for a fentanyl patch without
opioid history, PP for refills of a Schedule II order, ED counselling, MS for the missing DEA number) are
outside these comparisons.

Where an expected response does not match its own request, the test says so instead of copying it.
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
from rxguard.knowledge.base import KnowledgeBase
from rxguard.screen import Screener, ScreeningResult

FIXTURES = Path(__file__).parent / "fixtures" / "opioid-cds-examples"
REQUESTS = FIXTURES / "requests"
RESPONSES = FIXTURES / "responses"

# request file -> (total MME/day by the CDC calculator, naloxone offered?, opioid + benzodiazepine card?)
EXPECTED: dict[str, tuple[float, bool, bool]] = {
    # REC 03: 'patch' doses of tablets and strips, as written; MME is not what REC 03 is about.
    "OpioidCDSREC03/request-example-rec-03-long-acting-opioid.json": (5.0, False, False),
    "OpioidCDSREC03/request-example-rec-03-not-long-acting-opioid.json": (0.0, False, False),
    "OpioidCDSREC03/request-example-rec-03-preexisting-long-acting-opioid.json": (0.0, False, False),
    # REC 04/05: fentanyl 75 ug/h, one patch a day: the guide's card says 179.99999820 MME/day.
    "OpioidCDSREC04_05/request-example-rec-04-05-mme-greater-than-fifty.json": (180.0, True, False),
    "OpioidCDSREC04_05/request-example-rec-04-05-mme-less-than-fifty.json": (10.0, False, False),
    # REC 08. mme-greater-than-fifty: the response's "Average MME (54.000000 'mg/d')" is stale: it matches the
    # test description's old "1 patch per 10 days" (0.1 x 75 x 7.2 with unscaled data-file logic), not this
    # request (one 75 ug/h patch every 3 days = 180 MME/day). The draft order itself is Pepto-Bismol; the
    # fentanyl is a current prescription in prefetch that reuses the draft's id. rxguard agrees on the
    # outcome (offer naloxone), not on 54.
    "OpioidCDSREC08/request-example-rec-08-mme-greater-than-fifty.json": (180.0, True, False),
    "OpioidCDSREC08/request-example-rec-08-mme-less-than-fifty.json": (36.0, False, False),  # 0.2 patch
    "OpioidCDSREC08/request-example-rec-08-multiple-doseRate.json": (180.0, True, False),  # 'ordered' dose
    "OpioidCDSREC08/request-example-rec-08-on-benzodiazepine.json": (36.0, True, True),  # temazepam
    # on-naloxone: the description says 1 patch per 12 days, the request 1 patch every 3 days (180 MME/day).
    "OpioidCDSREC08/request-example-rec-08-on-naloxone.json": (180.0, False, False),
    "OpioidCDSREC08/request-example-rec-08-substance-abuse.json": (36.0, True, False),  # alcohol dependence
    # REC 08 order-sign variants (requests only; outcomes from the same test descriptions and logic).
    "OpioidCDSREC08OrderSign/noPrefetch.json": (180.0, True, False),
    # Ultracet 1-2 tablets every 4 h: frequencyMax/doseRange high -> 2 x 6 x 37.5 mg tramadol x 0.2 = 90.
    "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-mme-doseRange.json": (90.0, True, False),
    "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-mme-greater-than-fifty.json": (180.0, True, False),
    "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-mme-less-than-fifty.json": (36.0, False, False),
    "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-multiple-doseRate.json": (180.0, True, False),
    "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-on-benzodiazepine.json": (180.0, True, True),
    "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-on-naloxone.json": (180.0, False, False),
    "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-substance-abuse.json": (180.0, True, False),
    # REC 11: flurazepam and/or oxycodone ER 10 mg once a day (15 MME/day).
    "OpioidCDSREC11/request-example-rec-11-benzo-trigger-with-opioid.json": (15.0, True, True),
    "OpioidCDSREC11/request-example-rec-11-benzo-trigger-without-opioid.json": (0.0, False, False),
    "OpioidCDSREC11/request-example-rec-11-opioid-trigger-with-benzo.json": (15.0, True, True),
    "OpioidCDSREC11/request-example-rec-11-opioid-trigger-without-benzo.json": (15.0, False, False),
}


def load(path: Path) -> Any:
    """The guide's files carry trailing bytes after the JSON: read the first JSON value."""
    value, _ = json.JSONDecoder().raw_decode(path.read_text(encoding="utf-8").lstrip())
    return value


def screened(screener: Screener, name: str) -> ScreeningResult:
    return screener.screen(parse_request(load(REQUESTS / name)))


def naloxone_offered(result: ScreeningResult) -> bool:
    return any("naloxone" in s.label.lower() for a in result.alerts for s in a.suggestions)


def benzodiazepine_card(result: ScreeningResult) -> bool:
    return any(a.code == "DD" and a.rule_id == "ddi.opioid.benzodiazepine" for a in result.alerts)


def test_every_request_is_covered() -> None:
    found = {str(p.relative_to(REQUESTS)) for p in REQUESTS.rglob("*.json")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_request_is_screened_and_agrees_with_the_guide(screener: Screener, kb: KnowledgeBase, name: str) -> None:
    mme, naloxone, benzodiazepine = EXPECTED[name]
    result = screened(screener, name)
    ctx = result.context
    total = compute_mme(kb, opioid_meds(ctx), knowledge(kb).factor_set(None)).total
    assert total == pytest.approx(mme)
    hd = [a for a in result.alerts if a.code == "HD" and "total_mme_per_day" in a.facts]
    assert [a.facts["total_mme_per_day"] for a in hd] == ([mme] if mme >= 50 else [])
    assert naloxone_offered(result) is naloxone
    assert benzodiazepine_card(result) is benzodiazepine


# request -> response, where the guide publishes a response (REC 03, 04/05, 08 and 11).
RESPONSE_OF = {
    name: RESPONSES / name.replace("request-example", "response-example")
    for name in EXPECTED
    if (RESPONSES / name.replace("request-example", "response-example")).exists()
}


def test_the_published_responses_are_all_compared() -> None:
    assert len(RESPONSE_OF) == 14
    assert {p.name for p in RESPONSES.rglob("*.json")} == {p.name for p in RESPONSE_OF.values()}


@pytest.mark.parametrize("name", sorted(RESPONSE_OF))
def test_the_guide_response_outcome(screener: Screener, name: str) -> None:
    cards = load(RESPONSE_OF[name])["cards"]
    result = screened(screener, name)
    summaries = " ".join(c["summary"] for c in cards).lower()
    if "offering naloxone" in summaries:
        assert naloxone_offered(result)
    if "benzodiazepine concurrently" in summaries:
        assert benzodiazepine_card(result)
    if "taper now" in summaries:  # REC 04/05 "High risk for opioid overdose": MME >= 90
        (hd,) = [a for a in result.alerts if a.code == "HD" and "total_mme_per_day" in a.facts]
        assert hd.facts["total_mme_per_day"] == pytest.approx(179.99999820, abs=0.01)
        assert hd.indicator.label == "warning"
    if "immediate-release" in summaries:  # REC 03: a long-acting opioid when starting opioids
        assert any(a.code == "DC" and a.rule_id == "history.opioid-naive" for a in result.alerts)
    if not cards:
        name_part = name.rsplit("/", 1)[-1]
        if "rec-08" in name_part:
            assert not naloxone_offered(result)
        if "rec-11" in name_part:
            assert not benzodiazepine_card(result)
        if "rec-03" in name_part:
            assert not any(a.code == "DC" for a in result.alerts)


def test_the_stale_54_mme_response_is_not_copied(screener: Screener) -> None:
    name = "OpioidCDSREC08/request-example-rec-08-mme-greater-than-fifty.json"
    detail = load(RESPONSE_OF[name])["cards"][0]["detail"]
    assert "54.000000" in detail  # what the guide's response says
    (hd,) = [a for a in screened(screener, name).alerts if "total_mme_per_day" in a.facts]
    assert hd.facts["total_mme_per_day"] == 180.0  # what its request means


@pytest.mark.parametrize(
    "name",
    [
        "OpioidCDSREC08OrderSign/request-example-rec-08-order-sign-mme-doseRange.json",
        "OpioidCDSREC11/request-example-rec-11-benzo-trigger-with-opioid.json",
    ],
)
def test_the_command_line_screens_them(name: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rxguard.cli", "screen", str(REQUESTS / name), "--format", "cds-hooks"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["cards"]
