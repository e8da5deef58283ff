"""Feedback and alert memory: overridden alerts stay quiet for the patient until their inputs change or the
period ends; an alert shown at order-select is not repeated at order-sign for the same draft order."""

from __future__ import annotations

import copy
from typing import Any

from rxguard.adapters.cds_hooks.memory import AlertMemory, PatientKey, SqliteAlertMemory
from rxguard.adapters.http.settings import ServiceSettings
from tests import builders as b
from tests.service.conftest import ISSUER, SERVICE_URL, Api, MakeApi

SELECT = "/cds-services/rxguard-order-select"
SIGN = "/cds-services/rxguard-order-sign"
VERIFY = "/cds-services/rxguard-medication-verify"
OVERRIDE = {"system": "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes", "code": "risk-benefit-ratio"}


def request(
    patient: str = "p1", tablets: float = 1, hook: str = "order-sign", ident: str = "draft-aza"
) -> dict[str, Any]:
    body = b.request(
        b.order("Imuran 50 mg tablet", tablets, per_day=2, ident=ident),
        meds=[b.med("allopurinol 100 mg tablet", ident="allo-1")],
        observations=[b.weight(70)],
        hook=hook,
    )
    body["context"]["patientId"] = patient
    body["prefetch"]["patient"]["id"] = patient
    return body


def interaction(cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((c for c in cards if c["extension"]["rxguard"]["rule_id"] == "ddi.azathioprine.allopurinol"), None)


def override(api: Api, card: str, service: str = SIGN, when: str = "2026-11-20T09:31:00Z") -> Any:
    feedback = {
        "feedback": [
            {
                "card": card,
                "outcome": "overridden",
                "overrideReason": {"reason": OVERRIDE, "userComment": "Specialist advised; FBC weekly."},
                "outcomeTimestamp": when,
            }
        ]
    }
    return api.post(service + "/feedback", feedback)


def test_an_overridden_alert_is_not_shown_again_for_that_patient(api: Api) -> None:
    first = interaction(api.post(SIGN, request()).json()["cards"])
    assert first is not None
    response = override(api, first["uuid"])
    assert response.status_code == 200
    assert response.json() == {"recorded": 1, "suppressed": 1}
    again = api.post(SIGN, request()).json()
    assert interaction(again["cards"]) is None
    assert again["extension"]["rxguard"]["not_repeated"] == [
        {"uuid": first["uuid"], "reason": "overridden for this patient"}
    ]
    # another patient with the same medicines still gets it
    assert interaction(api.post(SIGN, request(patient="p2")).json()["cards"]) is not None


def test_the_alert_returns_when_its_inputs_change(api: Api) -> None:
    first = interaction(api.post(SIGN, request()).json()["cards"])
    assert first is not None
    override(api, first["uuid"])
    # a different draft order (new inputs) is a different alert
    changed = interaction(api.post(SIGN, request(ident="draft-aza-2")).json()["cards"])
    assert changed is not None and changed["uuid"] != first["uuid"]


def test_the_alert_returns_after_the_suppression_period(api: Api) -> None:
    first = interaction(api.post(SIGN, request()).json()["cards"])
    assert first is not None
    override(api, first["uuid"])
    api.advance(days=89)
    assert interaction(api.post(SIGN, request()).json()["cards"]) is None
    api.advance(days=2)
    assert interaction(api.post(SIGN, request()).json()["cards"]) is not None


def test_a_prescribers_override_does_not_hide_the_alert_from_the_pharmacist(api: Api) -> None:
    first = interaction(api.post(SIGN, request()).json()["cards"])
    assert first is not None
    override(api, first["uuid"])
    verify = request(hook="medication-verify")
    order = verify["context"].pop("draftOrders")["entry"][0]["resource"]
    verify["context"]["medication"] = order
    assert interaction(api.post(VERIFY, verify).json()["cards"]) is not None


def test_accepted_feedback_is_recorded_and_suppresses_nothing(api: Api, memory: AlertMemory) -> None:
    first = interaction(api.post(SIGN, request()).json()["cards"])
    assert first is not None
    body = {
        "feedback": [
            {
                "card": first["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2026-11-20T09:31:00Z",
            }
        ]
    }
    assert api.post(SIGN + "/feedback", body).json() == {"recorded": 1, "suppressed": 0}
    assert interaction(api.post(SIGN, request()).json()["cards"]) is not None
    records = memory.feedback()  # type: ignore[attr-defined]
    assert [(r.outcome, r.accepted_suggestions, r.key.patient if r.key else None) for r in records] == [
        ("accepted", ("e56e1945-20b3-4393-8503-a1a20fd73152",), "p1")
    ]


def test_override_reason_and_comment_are_recorded(api: Api, memory: AlertMemory) -> None:
    first = interaction(api.post(SIGN, request()).json()["cards"])
    assert first is not None
    override(api, first["uuid"])
    (record,) = memory.feedback()  # type: ignore[attr-defined]
    assert (record.reason_system, record.reason_code) == (OVERRIDE["system"], OVERRIDE["code"])
    assert record.comment == "Specialist advised; FBC weekly."
    assert record.key == PatientKey(f"{ISSUER}|hospital-a", "p1", "prescriber")


def test_an_alert_from_order_select_is_not_repeated_at_order_sign_for_the_same_draft(api: Api) -> None:
    shown = interaction(api.post(SELECT, request(hook="order-select")).json()["cards"])
    assert shown is not None
    signed = api.post(SIGN, request()).json()
    assert interaction(signed["cards"]) is None
    assert signed["extension"]["rxguard"]["not_repeated"][0]["reason"] == "shown at order-select for this draft order"
    # a new draft order at sign is a new alert; another patient's order-select does not count
    assert interaction(api.post(SIGN, request(ident="draft-other")).json()["cards"]) is not None
    assert interaction(api.post(SIGN, request(patient="p3")).json()["cards"]) is not None


def test_order_sign_repeats_an_order_select_alert_after_the_window(api: Api) -> None:
    assert interaction(api.post(SELECT, request(hook="order-select")).json()["cards"]) is not None
    api.advance(hours=13)
    assert interaction(api.post(SIGN, request()).json()["cards"]) is not None


def test_feedback_for_an_unknown_card_is_recorded_without_suppressing(api: Api) -> None:
    response = override(api, "00000000-0000-0000-0000-000000000000")
    assert response.status_code == 200
    assert response.json() == {"recorded": 1, "suppressed": 0}


def test_suppression_can_be_switched_off(make_api: MakeApi, memory: AlertMemory) -> None:
    settings = ServiceSettings(service_url=SERVICE_URL, auth_disabled_for_development=True, suppress_overridden_days=0)
    api = make_api(memory, auth=False, settings=settings)
    first = interaction(api.post(SIGN, request()).json()["cards"])
    assert first is not None
    assert override(api, first["uuid"]).json() == {"recorded": 1, "suppressed": 0}
    assert interaction(api.post(SIGN, request()).json()["cards"]) is not None


def test_bad_feedback_is_a_400_naming_the_field(api: Api) -> None:
    good = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:31:00Z"}
    cases = [
        ({"feedback": "x"}, "feedback"),
        ({"feedback": [{**good, "outcome": "ignored"}]}, "feedback[0].outcome"),
        ({"feedback": [good, {**good, "outcome": "accepted"}]}, "feedback[1].acceptedSuggestions"),
        ({"feedback": [{**good, "outcomeTimestamp": "yesterday"}]}, "feedback[0].outcomeTimestamp"),
        ({"feedback": [{**good, "overrideReason": {}}]}, "feedback[0].overrideReason"),
        ({"feedback": [{**good, "card": ""}]}, "feedback[0].card"),
    ]
    for body, field in cases:
        response = api.post(SIGN + "/feedback", body)
        assert response.status_code == 400, body
        assert response.json()["issue"][0]["expression"] == [field]


def test_sqlite_memory_survives_a_restart(make_api: MakeApi, tmp_path: Any) -> None:
    path = tmp_path / "feedback.sqlite3"
    first_run = make_api(SqliteAlertMemory(path))
    card = interaction(first_run.post(SIGN, request()).json()["cards"])
    assert card is not None
    override(first_run, card["uuid"])
    second_run = make_api(SqliteAlertMemory(path))
    assert interaction(second_run.post(SIGN, copy.deepcopy(request())).json()["cards"]) is None


def test_a_patients_shown_cards_are_found_by_index_not_by_scanning_every_patient(tmp_path: Any) -> None:
    """Card uuids recur across patients on the same medicines: looking up one patient's cards must not read
    every patient's rows for those cards (that made each request slower as the table grew)."""
    from datetime import UTC, datetime

    memory = SqliteAlertMemory(tmp_path / "memory.db")
    statements: list[str] = []
    memory._db.set_trace_callback(statements.append)
    memory.shown(["card-a", "card-b"], datetime(2026, 1, 1, tzinfo=UTC), PatientKey("t", "p1", "aud"), "order-select")
    memory._db.set_trace_callback(None)
    (lookup,) = [s for s in statements if s.startswith("SELECT")]
    plan = " ".join(str(row[-1]) for row in memory._db.execute("EXPLAIN QUERY PLAN " + lookup).fetchall())
    assert "USING INDEX shown_card_by_patient (tenant=? AND patient=? AND audience=? AND card=?" in plan, plan


def test_an_override_for_one_patient_never_quiets_another_patients_identical_alert(api: Api) -> None:
    """EHRs may reuse draft-order ids across patients: two patients on the same medicines, with the same resource
    ids, get the same alert. The card uuid (all that feedback carries) must still tell them apart, or one
    clinician's override would silence the alert for the other patient."""
    first = interaction(api.post(SIGN, request(patient="p1")).json()["cards"])
    other = interaction(api.post(SIGN, request(patient="p2")).json()["cards"])
    assert first is not None and other is not None
    assert first["uuid"] != other["uuid"]
    assert override(api, first["uuid"]).json() == {"recorded": 1, "suppressed": 1}
    assert interaction(api.post(SIGN, request(patient="p2")).json()["cards"]) is not None
    assert interaction(api.post(SIGN, request(patient="p1")).json()["cards"]) is None
