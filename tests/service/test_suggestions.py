"""Card suggestions: alerts carry structured fixes, the card layer turns them into CDS Hooks actions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rxguard.adapters.cds_hooks.cards import to_response
from rxguard.adapters.cds_hooks.suggestions import draft_orders
from rxguard.adapters.fhir.request import parse_request
from rxguard.domain.model import Alert, Concept, Dosage, Indicator, Quantity, SuggestedAction, Suggestion
from rxguard.screen import Screener, ScreeningResult, order_alerts
from tests import builders as b

ORDER_ID = "draft-imuran"


def imuran_request() -> dict[str, Any]:
    """Imuran 50 mg, one tablet twice a day: 100 mg/day of azathioprine, for a 70 kg patient."""
    return b.request(
        b.order("Imuran 50 mg tablet", 1, per_day=2, ident=ORDER_ID, quantity=56, days=28),
        observations=[b.weight(70)],
    )


def alert(**kw: Any) -> Alert:
    values: dict[str, Any] = {
        "code": "PGX",
        "indicator": Indicator.WARNING,
        "summary": "Azathioprine: reduced starting dose for this metabolizer status",
        "detail": "Test alert.",
        "action": "Start at the reduced dose.",
        "rule_id": "test.recommended-dose",
        "rule_version": 1,
        "sources": (),
        "medications": (ORDER_ID,),
        "facts": {"ingredient": "azathioprine"},
    }
    values.update(kw)
    return Alert(**values)


def cards_for(screener: Screener, body: dict[str, Any], *alerts: Alert) -> list[dict[str, Any]]:
    result: ScreeningResult = screener.screen(parse_request(body))
    cards: list[dict[str, Any]] = to_response(replace(result, alerts=alerts), draft_orders(body))["cards"]
    return cards


def test_a_recommended_daily_dose_becomes_a_dose_change_in_whole_tablets(screener: Screener) -> None:
    body = imuran_request()
    facts = {"ingredient": "azathioprine", "recommended_daily_dose_mg": [35, 70]}
    (card,) = cards_for(screener, body, alert(facts=facts))
    (suggestion,) = card["suggestions"]
    # 2 x a day cannot stay within 70 mg/day in whole 50 mg tablets; once a day can: 50 mg/day, within 35-70.
    assert suggestion["label"] == "Change to 50 mg/day: 1 tablet (50 mg) once a day (recommended 35–70 mg/day)"
    assert suggestion["isRecommended"] is True
    assert card["selectionBehavior"] in ("any", "at-most-one")
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    resource = action["resource"]
    original = body["context"]["draftOrders"]["entry"][0]["resource"]
    assert resource["id"] == ORDER_ID and resource["subject"] == original["subject"]
    assert resource["dispenseRequest"] == original["dispenseRequest"]
    (dosage,) = resource["dosageInstruction"]
    assert dosage["timing"] == {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 1
    assert dosage["doseAndRate"][0]["doseQuantity"]["unit"] == "tablet"
    assert original["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 2  # the request is not modified
    # the suggestion re-read as an order is 50 mg/day
    rewritten = {**body, "context": {**body["context"], "draftOrders": b.bundle([resource])}}
    order = screener.screen(parse_request(rewritten)).context.orders[0]
    assert order.daily_mg["azathioprine"] == 50


def test_no_dose_change_when_the_order_is_within_the_range_or_tablets_cannot_make_it(screener: Screener) -> None:
    body = imuran_request()
    within = alert(facts={"ingredient": "azathioprine", "recommended_daily_dose_mg": [75, 150]})
    unmakeable = alert(facts={"ingredient": "azathioprine", "recommended_daily_dose_mg": [20, 30]})
    for card in cards_for(screener, body, within, unmakeable):
        assert "suggestions" not in card and "selectionBehavior" not in card
        assert card["overrideReasons"]


def test_an_explicit_suggestion_to_add_a_medicine_is_a_create_action(screener: Screener) -> None:
    naloxone = Suggestion(
        label="Co-prescribe naloxone",
        actions=(
            SuggestedAction(
                kind="create",
                description="Order naloxone nasal spray for the patient to keep at home",
                medication=Concept(text="naloxone 4 mg nasal spray"),
                dosage=Dosage(dose=Quantity(1, "spray"), doses_per_day=None, as_needed=True, text="1 spray if needed"),
            ),
        ),
    )
    (card,) = cards_for(screener, imuran_request(), alert(suggestions=(naloxone,)))
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    assert action["resource"]["resourceType"] == "MedicationRequest"
    assert action["resource"]["status"] == "draft" and action["resource"]["intent"] == "order"
    assert action["resource"]["medicationCodeableConcept"] == {"text": "naloxone 4 mg nasal spray"}
    assert action["resource"]["subject"] == {"reference": "Patient/p1"}
    assert action["resource"]["dosageInstruction"][0]["asNeededBoolean"] is True
    codes = {r["code"] for r in card["overrideReasons"]}
    assert "patient-refuses" in codes


def test_alternatives_for_the_same_order_are_at_most_one(screener: Screener) -> None:
    lower = Suggestion(
        "Halve the dose",
        (
            SuggestedAction(
                "update", "one tablet a day", ORDER_ID, dosage=Dosage(Quantity(1, "tablet"), 1.0, text="1 tablet daily")
            ),
        ),
    )
    stop = Suggestion("Withdraw the order", (SuggestedAction("delete", "remove the draft order", ORDER_ID),))
    (card,) = cards_for(screener, imuran_request(), alert(suggestions=(lower, stop)))
    assert card["selectionBehavior"] == "at-most-one"
    assert card["suggestions"][1]["actions"] == [
        {"type": "delete", "description": "remove the draft order", "resourceId": f"MedicationRequest/{ORDER_ID}"}
    ]
    assert len({s["uuid"] for s in card["suggestions"]}) == 2


def test_suggestion_uuids_are_stable(screener: Screener) -> None:
    facts = {"ingredient": "azathioprine", "recommended_daily_dose_mg": [35, 70]}
    first = cards_for(screener, imuran_request(), alert(facts=facts))[0]["suggestions"][0]["uuid"]
    second = cards_for(screener, imuran_request(), alert(facts=facts))[0]["suggestions"][0]["uuid"]
    assert first == second


def test_merging_alerts_keeps_every_suggestion() -> None:
    naloxone = Suggestion(
        "Co-prescribe naloxone", (SuggestedAction("create", "naloxone", medication=Concept(text="naloxone")),)
    )
    head = alert(code="HD", indicator=Indicator.WARNING, summary="Daily dose above the maximum")
    other = alert(code="HD", indicator=Indicator.INFO, summary="Daily MME at least 50", suggestions=(naloxone,))
    (merged,) = order_alerts([head, other])
    assert merged.summary == "Daily dose above the maximum"
    assert merged.suggestions == (naloxone,)


def genotype(gene: str, diplotype: str) -> dict[str, Any]:
    """A genotype Observation in the HL7 genomics-reporting shape (LOINC 84413-4, gene in 48018-6)."""
    hgnc = {"TPMT": "HGNC:12014", "NUDT15": "HGNC:23063"}[gene]
    return {
        "resourceType": "Observation",
        "id": f"geno-{gene}",
        "status": "final",
        "code": {"coding": [{"system": b.LOINC, "code": "84413-4"}], "text": f"{gene} genotype"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2025-10-01",
        "valueCodeableConcept": {"text": f"{gene} {diplotype}"},
        "component": [
            {
                "code": {"coding": [{"system": b.LOINC, "code": "48018-6"}]},
                "valueCodeableConcept": {
                    "coding": [{"system": "http://www.genenames.org/geneId", "code": hgnc, "display": gene}]
                },
            }
        ],
    }


def test_a_pharmacogenomic_card_above_its_recommended_dose_suggests_one_within_it(screener: Screener) -> None:
    """TPMT *1/*3A (intermediate): CPIC starts azathioprine at 30-80% of 2-3 mg/kg/day; 200 mg/day ordered."""
    body = b.request(
        b.order("Imuran 50 mg tablet", 2, per_day=2, ident=ORDER_ID),
        observations=[b.weight(70), genotype("TPMT", "*1/*3A"), genotype("NUDT15", "*1/*1")],
        conditions=[b.condition("rheumatoid arthritis", "69896004")],
    )
    result = screener.screen(parse_request(body))
    cards = to_response(result, draft_orders(body))["cards"]
    pgx = next(c for c in cards if c["source"]["topic"]["code"] == "PGX")
    low, high = pgx["extension"]["rxguard"]["facts"]["recommended_daily_dose_mg"]
    (suggestion,) = pgx["suggestions"]
    dosage = suggestion["actions"][0]["resource"]["dosageInstruction"][0]
    per_day = dosage["timing"]["repeat"]["frequency"] * dosage["doseAndRate"][0]["doseQuantity"]["value"] * 50
    assert low <= per_day <= high < 200
