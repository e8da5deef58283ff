"""The pages and the REST routes through the ASGI app: sign-in, CSRF, access, ordering, FHIR intake."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rxguard.adapters.cds_hooks.memory import InMemoryAlertMemory
from rxguard.adapters.http.app import create_app
from rxguard.adapters.http.settings import ServiceSettings
from rxguard.adapters.web.pages import mount_pharmacy
from rxguard.pharmacy.service import Actor, PharmacyService
from tests.pharmacy.conftest import NPI, People, imuran_prescription


@pytest.fixture
def app(service: PharmacyService) -> FastAPI:
    app = create_app(ServiceSettings(auth_disabled_for_development=True), service.screener, InMemoryAlertMemory())
    mount_pharmacy(app, service)
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def login(client: TestClient, username: str, password: str) -> str:
    page = client.get("/pharmacy/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/pharmacy/login",
        data={"username": username, "password": password, "csrf_token": token.group(1), "next": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    home = client.get(response.headers["location"])
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    return csrf.group(1)


def test_public_pages_render_with_sources_prices_and_the_disclaimer(client: TestClient) -> None:
    home = client.get("/pharmacy/")
    assert home.status_code == 200 and 'lang="en"' in home.text and "Search by brand" in home.text
    guide = client.get("/pharmacy/catalog/imuran")
    assert guide.status_code == 200
    assert "USD 1.20" in guide.text and "price from source" in guide.text
    assert 'id="source-1"' in guide.text and "Disclaimer" in guide.text
    assert "Smith et al" not in guide.text
    voltarol = client.get("/pharmacy/catalog/voltarol")
    assert "demo price (made up, not a real price)" in voltarol.text
    assert client.get("/pharmacy/search?q=crohn", headers={"HX-Request": "true"}).text.count('class="tile"') == 3
    assert "Cognitive behavioural therapy" in client.get("/pharmacy/conditions/pain").text
    assert "Benefits, with their evidence" in client.get("/pharmacy/catalog/imuran/decision-aid").text
    assert client.get("/pharmacy/catalog/panadol/decision-aid").status_code == 404
    triage = client.get("/pharmacy/triage", params={"drug": "Imuran 50mg", "symptom": "yellow eyes"})
    assert "Urgency: today" in triage.text
    assert client.get("/pharmacy/catalog/nothing").status_code == 404


def test_signing_in_needs_the_form_token_and_the_right_password(client: TestClient, people: People) -> None:
    refused = client.post("/pharmacy/login", data={"username": "alice", "password": "alice-password-1"})
    assert refused.status_code == 403
    page = client.get("/pharmacy/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    wrong = client.post("/pharmacy/login", data={"username": "alice", "password": "nope", "csrf_token": token.group(1)})
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert client.get("/pharmacy/queue", follow_redirects=False).status_code == 303  # to the sign-in page


def test_a_patient_orders_with_a_prescription_and_another_patient_cannot_open_it(
    app: FastAPI, service: PharmacyService, people: People
) -> None:
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    with TestClient(app) as alice:
        csrf = login(alice, "alice", "alice-password-1")
        form = alice.get("/pharmacy/catalog/imuran/order")
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
        assert key is not None and f"#{rx.id}" in form.text
        data = {
            "csrf_token": csrf,
            "idempotency_key": key.group(1),
            "product_id": "imuran-50",
            "quantity": "56",
            "prescription_id": str(rx.id),
        }
        no_token = alice.post("/pharmacy/orders", data={**data, "csrf_token": "forged"})
        assert no_token.status_code == 403
        placed = alice.post("/pharmacy/orders", data=data, follow_redirects=False)
        assert placed.status_code == 303
        location = placed.headers["location"]
        again = alice.post("/pharmacy/orders", data=data, follow_redirects=False)  # a double click
        assert again.headers["location"] == location
        page = alice.get(location)
        assert "awaiting pharmacist" in page.text and "USD 67.20" in page.text
        assert "Azathioprine" in page.text or "azathioprine" in page.text
        assert "Override this card" not in page.text  # patients see cards, not the pharmacist's controls
    with TestClient(app) as bob:
        login(bob, "bob", "bob-password-12")
        other = bob.get(location)
        assert other.status_code == 404 and "67.20" not in other.text
        assert bob.get(f"/pharmacy/patients/{people.alice_id}").status_code == 404


def test_the_pharmacist_overrides_approves_and_the_audit_log_shows_it(
    app: FastAPI, service: PharmacyService, people: People
) -> None:
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    order, _ = service.submit_order(Actor.of(people.alice), people.alice_id, "imuran-50", "56", rx.id, "web-key-0001")
    critical = service.order_view(Actor.of(people.pharmacist), order.id).open_critical[0]
    with TestClient(app) as client:
        csrf = login(client, "phil", "pharmacist-pass-1")
        assert f'/pharmacy/orders/{order.id}"' in client.get("/pharmacy/queue").text
        blocked = client.post(f"/pharmacy/orders/{order.id}/approve", data={"csrf_token": csrf})
        assert blocked.status_code == 422 and "override each critical card" in blocked.text
        client.post(
            f"/pharmacy/orders/{order.id}/override",
            data={
                "csrf_token": csrf,
                "card_id": str(critical.id),
                "reason_code": "recipient-concerns-outcomes",
                "comment": "aware",
            },
        )
        done = client.post(f"/pharmacy/orders/{order.id}/approve", data={"csrf_token": csrf, "note": "ok"})
        assert done.status_code == 200 and "approved" in done.text
        audit = client.get("/pharmacy/audit").text
        assert "card.overridden" in audit and "order.approved" in audit and "Chain check: intact" in audit


def test_the_admin_rules_page_refuses_a_never_off_rule(app: FastAPI, people: People) -> None:
    with TestClient(app) as client:
        csrf = login(client, "ada", "admin-password-1")
        page = client.post(
            "/pharmacy/admin/rules",
            data={"csrf_token": csrf, "rule_id": "ddi.azathioprine.febuxostat", "indicator": ""},
        )
        assert page.status_code == 422 and "never-off" in page.text
        ok = client.post(
            "/pharmacy/admin/rules",
            data={"csrf_token": csrf, "rule_id": "thiopurine.test.tpmt", "enabled": "on", "indicator": "info"},
        )
        assert ok.status_code == 200 and "thiopurine.test.tpmt" in ok.text


def test_the_patient_page_draws_lab_trends_with_threshold_bands(
    app: FastAPI, service: PharmacyService, people: People
) -> None:
    from datetime import date

    from rxguard.pharmacy.records import LabRecord

    with service.store.unit() as uow:
        for month, value in [(8, 5.2), (9, 4.1), (10, 3.2)]:
            uow.add_lab(people.alice_id, LabRecord("6690-2", "WBC", value, "10*9/L", date(2026, month, 1)))
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    service.submit_order(Actor.of(people.alice), people.alice_id, "imuran-50", "56", rx.id, "chart-key-01")
    with TestClient(app) as client:
        login(client, "alice", "alice-password-1")
        page = client.get(f"/pharmacy/patients/{people.alice_id}")
        assert page.status_code == 200
        assert "<svg" in page.text and "White cell count below 3.5" in page.text


FHIR_REQUEST = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "ehr-rx-1",
                "status": "active",
                "intent": "order",
                "subject": {"reference": "Patient/PATIENT"},
                "medicationCodeableConcept": {
                    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "105611"}],
                    "text": "Imuran 50 mg tablet",
                },
                "authoredOn": "2026-11-19",
                "requester": {"reference": "Practitioner/dr-smith"},
                "dosageInstruction": [
                    {
                        "text": "Take 2 tablets once a day",
                        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                        "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
                    }
                ],
                "dispenseRequest": {"quantity": {"value": 56, "unit": "tablet"}, "numberOfRepeatsAllowed": 1},
            }
        },
        {
            "resource": {
                "resourceType": "Practitioner",
                "id": "dr-smith",
                "name": [{"family": "Smith", "given": ["Jane"]}],
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": NPI}],
            }
        },
    ],
}


def test_a_fhir_medication_request_becomes_a_prescription_and_the_api_orders_idempotently(
    client: TestClient, people: People
) -> None:
    import json

    body = json.loads(json.dumps(FHIR_REQUEST).replace("PATIENT", str(people.alice_id)))
    received = client.post("/api/v1/pharmacy/prescriptions", json=body)
    assert received.status_code == 201, received.text
    rx = received.json()
    assert rx["product_id"] == "imuran-50" and rx["quantity"] == 56 and rx["refills"] == 1 and rx["source"] == "fhir"
    missing_npi = json.loads(json.dumps(body))
    missing_npi["entry"][1]["resource"]["identifier"] = []
    refused = client.post("/api/v1/pharmacy/prescriptions", json=missing_npi)
    assert refused.status_code == 422 and "prescriber_npi" in refused.text
    order = {"patient_id": people.alice_id, "product_id": "imuran-50", "quantity": 56, "prescription_id": rx["id"]}
    first = client.post("/api/v1/pharmacy/orders", json=order, headers={"Idempotency-Key": "api-key-0001"})
    assert first.status_code == 201, first.text
    second = client.post("/api/v1/pharmacy/orders", json=order, headers={"Idempotency-Key": "api-key-0001"})
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert first.json()["state"] == "awaiting-pharmacist" and first.json()["total"] == "67.20"
    assert any(c["indicator"] == "critical" for c in first.json()["cards"])
    assert client.get(f"/api/v1/pharmacy/orders/{first.json()['id']}").json()["id"] == first.json()["id"]
    assert client.post("/api/v1/pharmacy/orders", json=order).status_code == 422  # no Idempotency-Key


def test_without_a_pharmacy_the_api_answers_not_found(service: PharmacyService) -> None:
    app = create_app(ServiceSettings(auth_disabled_for_development=True), service.screener, InMemoryAlertMemory())
    with TestClient(app) as client:
        response = client.get("/api/v1/pharmacy/orders/1")
    assert response.status_code == 404
