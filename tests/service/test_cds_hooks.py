"""CDS Hooks services: discovery, the three hooks, published example requests, prefetch fallback and 412."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rxguard.adapters.cds_hooks.cards import card_subject, to_response
from rxguard.adapters.cds_hooks.prefetch import PREFETCH
from rxguard.adapters.cds_hooks.suggestions import draft_orders
from rxguard.adapters.fhir.request import parse_request
from rxguard.screen import Screener
from tests import builders as b
from tests.reference import REFERENCE
from tests.service.conftest import FHIR_SERVER, Api, FakeFhirServer

SIGN = "/cds-services/rxguard-order-sign"
SELECT = "/cds-services/rxguard-order-select"
VERIFY = "/cds-services/rxguard-medication-verify"
LIBRARY = REFERENCE / "fhir-examples" / "cds-hooks-library"
OPIOID = REFERENCE / "opioid-cds-examples" / "images" / "requests-repaired"
needs_reference = pytest.mark.skipif(
    not LIBRARY.is_dir() or not OPIOID.is_dir(), reason=f"reference examples not found under {REFERENCE}"
)


def cli_cards(screener: Screener, body: dict[str, Any]) -> list[dict[str, Any]]:
    """What `rxguard screen --format cds-hooks` prints for the same request."""
    cards: list[dict[str, Any]] = to_response(
        screener.screen(parse_request(body)), draft_orders(body), card_subject(body)
    )["cards"]
    return cards


def imuran_with_allopurinol() -> dict[str, Any]:
    return b.request(
        b.order("Imuran 50 mg tablet", 1, per_day=2, ident="draft-imuran"),
        meds=[b.med("allopurinol 100 mg tablet")],
        observations=[b.weight(70)],
        conditions=[b.condition("rheumatoid arthritis", "69896004")],
    )


def test_discovery_lists_three_services_with_the_prefetch_templates(api: Api) -> None:
    response = api.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert {s["hook"] for s in services.values()} == {"order-select", "order-sign", "medication-verify"}
    for service in services.values():
        assert set(service["prefetch"]) == {
            "patient",
            "medications",
            "conditions",
            "allergies",
            "observations",
            "dispenses",
        }
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert service["description"] and service["title"]


def test_order_sign_returns_the_same_cards_as_rxguard_screen(api: Api, screener: Screener) -> None:
    body = imuran_with_allopurinol()
    response = api.post(SIGN, body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards == cli_cards(screener, body)
    dd = next(c for c in cards if c["source"]["topic"]["code"] == "DD")
    assert dd["extension"]["rxguard"]["rule_id"] == "ddi.azathioprine.allopurinol"
    assert dd["indicator"] == "warning"


def test_every_card_offers_override_reasons_with_displays(api: Api) -> None:
    cards = api.post(SIGN, imuran_with_allopurinol()).json()["cards"]
    assert cards
    for card in cards:
        reasons = card["overrideReasons"]
        assert reasons and all(r["display"] and r["code"] and r["system"] for r in reasons)
        assert {r["system"] for r in reasons} == {"http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"}
        assert len(card["summary"]) < 140
        assert ("suggestions" in card) == ("selectionBehavior" in card)


@pytest.mark.parametrize("key", ["medication", "order"])
def test_medication_verify_accepts_the_order_under_both_context_names(api: Api, screener: Screener, key: str) -> None:
    body = imuran_with_allopurinol()
    body["hook"] = "medication-verify"
    order = body["context"].pop("draftOrders")["entry"][0]["resource"]
    order["status"] = "active"
    body["context"][key] = order
    response = api.post(VERIFY, body)
    assert response.status_code == 200, response.text
    assert response.json()["cards"] == cli_cards(screener, body)
    assert "DD" in {c["source"]["topic"]["code"] for c in response.json()["cards"]}


def test_a_hook_sent_to_the_wrong_service_is_refused_naming_the_field(api: Api) -> None:
    body = imuran_with_allopurinol()
    response = api.post(SELECT, body)  # an order-sign request
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["hook"]


def test_unknown_service_is_404_with_an_operation_outcome(api: Api) -> None:
    response = api.post("/cds-services/no-such-service", imuran_with_allopurinol())
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unreadable_json_is_a_400_operation_outcome(api: Api) -> None:
    response = api.post(SIGN, b"{not json")
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["(body)"]


# --- prefetch -------------------------------------------------------------------------------------------


def test_missing_prefetch_is_read_from_fhir_server_with_the_bearer_token(
    api: Api, screener: Screener, fhir_server: FakeFhirServer
) -> None:
    body = imuran_with_allopurinol()
    prefetch = body.pop("prefetch")
    fhir_server.resources = [prefetch["patient"]] + [
        e["resource"] for key in ("medications", "observations", "conditions") for e in prefetch[key]["entry"]
    ]
    body["fhirServer"] = FHIR_SERVER
    body["fhirAuthorization"] = {"access_token": "opaque-ehr-token", "token_type": "Bearer", "scope": "patient/*.read"}
    response = api.post(SIGN, body)
    assert response.status_code == 200, response.text
    asked = {r.url.path.removeprefix("/fhir/").split("?")[0] for r in fhir_server.requests}
    assert asked == {
        "Patient/p1",
        "MedicationRequest",
        "Condition",
        "AllergyIntolerance",
        "Observation",
        "MedicationDispense",
    }
    assert {r.headers["authorization"] for r in fhir_server.requests} == {"Bearer opaque-ehr-token"}
    assert response.json()["cards"] == cli_cards(screener, {**body, "prefetch": prefetch})


def test_only_the_keys_not_prefetched_are_fetched(api: Api, fhir_server: FakeFhirServer) -> None:
    body = imuran_with_allopurinol()
    del body["prefetch"]["dispenses"]
    body["prefetch"]["allergies"] = None  # null: queried, nothing found
    body["fhirServer"] = FHIR_SERVER
    assert api.post(SIGN, body).status_code == 200
    assert [r.url.path for r in fhir_server.requests] == ["/fhir/MedicationDispense"]


def test_no_prefetch_and_no_fhir_server_is_412_never_an_empty_success(api: Api) -> None:
    body = imuran_with_allopurinol()
    del body["prefetch"]["allergies"]
    response = api.post(SIGN, body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["prefetch.allergies"]
    assert "cards" not in outcome


def test_an_operation_outcome_in_prefetch_is_not_data(api: Api, fhir_server: FakeFhirServer) -> None:
    body = imuran_with_allopurinol()
    body["prefetch"]["allergies"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    assert PREFETCH["allergies"][1] == ("AllergyIntolerance",)
    assert api.post(SIGN, body).status_code == 412  # no fhirServer to ask instead
    body["fhirServer"] = FHIR_SERVER
    assert api.post(SIGN, body).status_code == 200
    assert [r.url.path for r in fhir_server.requests] == ["/fhir/AllergyIntolerance"]


def test_a_failing_fhir_server_is_412(api: Api, fhir_server: FakeFhirServer) -> None:
    fhir_server.status = 503
    body = imuran_with_allopurinol()
    del body["prefetch"]["conditions"]
    body["fhirServer"] = FHIR_SERVER
    response = api.post(SIGN, body)
    assert response.status_code == 412
    assert "503" in response.json()["issue"][0]["diagnostics"]


def test_the_token_is_never_sent_over_plain_http_to_another_host(api: Api, fhir_server: FakeFhirServer) -> None:
    body = imuran_with_allopurinol()
    del body["prefetch"]["conditions"]
    body["fhirServer"] = "http://ehr.example.org/fhir"
    body["fhirAuthorization"] = {"access_token": "opaque-ehr-token", "token_type": "Bearer"}
    response = api.post(SIGN, body)
    assert response.status_code == 412
    assert fhir_server.requests == []
    assert "opaque-ehr-token" not in response.text


# --- published examples ----------------------------------------------------------------------------


def library_request(name: str, hook: str) -> dict[str, Any]:
    context = json.loads((LIBRARY / name).read_text())["context"]
    return {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "1288992", "gender": "male", "birthDate": "1925-12-23"},
            "medications": None,
            "conditions": None,
            "allergies": None,
            "observations": None,
            "dispenses": None,
        },
    }


@needs_reference
@pytest.mark.parametrize(
    ("name", "hook", "service"),
    [("order-sign__Example_R4.json", "order-sign", SIGN), ("order-select__Example_R4.json", "order-select", SELECT)],
)
def test_hl7_cds_hooks_library_r4_examples_get_the_cli_cards(
    api: Api, screener: Screener, name: str, hook: str, service: str
) -> None:
    body = library_request(name, hook)
    response = api.post(service, body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards == cli_cards(screener, body)
    # Amoxicillin/clavulanate is not in the knowledge base: screening fails closed with an MS card, never silence.
    assert "MS" in {c["source"]["topic"]["code"] for c in cards}


@needs_reference
def test_the_dstu2_example_without_a_medication_request_is_refused_clearly(api: Api) -> None:
    body = library_request("order-select__Example_DSTU2.json", "order-select")
    response = api.post(SELECT, body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["context.draftOrders"]


def opioid_requests() -> list[Path]:
    return sorted(OPIOID.glob("*/*.json")) if OPIOID.is_dir() else []


@needs_reference
@pytest.mark.parametrize("path", opioid_requests(), ids=lambda p: p.stem)
def test_cdc_opioid_guide_requests_as_published_are_screened_or_refused_412(
    api: Api, fhir_server: FakeFhirServer, path: Path
) -> None:
    """The guide's requests use its own prefetch keys (item1..itemN): what rxguard's keys lack is read from the
    request's fhirServer (here a fake with nothing more on file); the one without prefetch gets a 412 when the
    server cannot be reached."""
    body = json.loads(path.read_text())
    hook = body["hook"]
    service = {"order-sign": SIGN, "order-select": SELECT}[hook]
    response = api.post(service, body)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["cards"], list)
    if path.name == "noPrefetch.json":
        assert len(fhir_server.requests) == len(PREFETCH)
        fhir_server.status = 503
        fhir_server.requests.clear()
        body["hookInstance"] = "another-instance"
        failed = api.post(service, body)
        assert failed.status_code == 412
        assert failed.json()["resourceType"] == "OperationOutcome"


@needs_reference
def test_cdc_opioid_request_with_rxguard_prefetch_keys_matches_the_cli(api: Api, screener: Screener) -> None:
    """The same request as a client honouring rxguard's discovery would send it: no FHIR server needed."""
    path = OPIOID / "OpioidCDSREC08OrderSign" / "request-example-rec-08-order-sign-on-benzodiazepine.json"
    body = json.loads(path.read_text())
    items = [v for v in body.pop("prefetch").values() if v is not None]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in items:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    body["prefetch"] = {
        "patient": by_type.get("Patient", [None])[0],
        "medications": b.bundle(by_type.get("MedicationRequest", [])),
        "conditions": b.bundle(by_type.get("Condition", [])),
        "allergies": None,
        "observations": None,
        "dispenses": None,
    }
    response = api.post(SIGN, body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards == cli_cards(screener, body)
    assert any(c["source"]["topic"]["code"] == "DD" for c in cards), "opioid + benzodiazepine must give a DD card"


def test_an_opioid_with_a_benzodiazepine_offers_naloxone_as_a_suggestion(api: Api) -> None:
    """The opioid checks attach a structured naloxone suggestion; the card carries it as a create action."""
    body = json.loads((Path(__file__).resolve().parents[2] / "examples" / "oxycodone-with-alprazolam.json").read_text())
    cards = api.post(SIGN, body).json()["cards"]
    with_suggestions = [c for c in cards if c.get("suggestions")]
    assert with_suggestions, [c["summary"] for c in cards]
    for card in with_suggestions:
        assert card["selectionBehavior"] in ("any", "at-most-one")
    actions = [a for c in with_suggestions for s in c["suggestions"] for a in s["actions"]]
    creates = [a["resource"] for a in actions if a["type"] == "create"]
    assert any("aloxone" in r["medicationCodeableConcept"].get("text", "") for r in creates)
    assert all(r["resourceType"] == "MedicationRequest" and r["status"] == "draft" for r in creates)
