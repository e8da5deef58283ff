"""The REST API: screening (cards and FHIR DetectedIssue), knowledge look-ups, RFC 9457 problem details."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from rxguard.adapters.fhir.detected_issue import to_detected_issue
from rxguard.adapters.fhir.request import parse_request
from rxguard.screen import Screener
from tests import builders as b
from tests.service.conftest import Api, MakeApi

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """These tests do not depend on the store: the in-memory one is enough."""
    return make_api()


def paracetamol_twice() -> dict[str, Any]:
    """Panadol 2 x 500 mg four times a day + co-codamol 2 x 30/500 four times a day: 8000 mg/day paracetamol."""
    return b.request(
        b.order("co-codamol 30/500 tablets", 2, per_day=4, ident="draft-cc", quantity=100, days=12),
        meds=[b.med("Panadol 500 mg tablets", 2, per_day=4, quantity=100, days=12, ident="panadol-1")],
        observations=[b.weight(72)],
        age=40,
    )


def test_screen_answers_like_rxguard_screen_format_json(api: Api, tmp_path: Path) -> None:
    body = paracetamol_twice()
    response = api.post("/api/v1/screen", body)
    assert response.status_code == 200, response.text
    data = response.json()
    path = tmp_path / "req.json"
    path.write_text(json.dumps(body))
    cli = subprocess.run(
        [sys.executable, "-m", "rxguard.cli", "screen", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    assert data == json.loads(cli.stdout)
    hd = next(c for c in data["cards"] if c["source"]["topic"]["code"] == "HD")
    facts = hd["extension"]["rxguard"]["facts"]
    assert (facts["daily_dose_mg"], facts["max_daily_dose_mg"]) == (8000, 4000)
    assert hd["indicator"] == "critical"


def test_screen_takes_jurisdiction_and_date_as_query_parameters(api: Api) -> None:
    response = api.post("/api/v1/screen?jurisdiction=UK&as_of=2026-12-01", paracetamol_twice())
    assert response.status_code == 200
    assert (response.json()["jurisdiction"], response.json()["as_of"]) == ("UK", "2026-12-01")


def test_screen_as_fhir_detected_issues(api: Api, screener: Screener) -> None:
    response = api.post("/api/v1/screen/fhir", paracetamol_twice())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)
    issues = [e["resource"] for e in bundle["entry"]]
    hd = next(i for i in issues if i["code"]["coding"][0]["code"] == "HD")
    assert hd["severity"] == "high"  # critical: 8000 mg/day is twice the 4000 mg maximum
    assert {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "DOSEH",
        "display": "High Dose Alert",
    } in (hd["code"]["coding"])
    assert {r["reference"] for r in hd["implicated"]} == {"MedicationRequest/draft-cc", "MedicationRequest/panadol-1"}
    assert hd["patient"] == {"reference": "Patient/p1"}
    assert hd["evidence"] and all(e["detail"][0]["display"] for e in hd["evidence"])
    assert hd["identifier"][0]["value"].startswith("dose.paracetamol")


def test_detected_issue_severity_follows_the_indicator(screener: Screener) -> None:
    result = screener.screen(parse_request(paracetamol_twice()))
    for alert in result.alerts:
        issue = to_detected_issue(alert, result.kb_version)
        assert issue["severity"] == {"critical": "high", "warning": "moderate", "info": "low"}[alert.indicator.label]
        assert issue["status"] == "preliminary"


def test_unreadable_json_is_a_problem_naming_the_body(api: Api) -> None:
    response = api.post("/api/v1/screen", b"{not json")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["type"].endswith("/bad-input")
    assert problem["errors"][0]["field"] == "body"


def test_a_request_without_an_order_names_the_field(api: Api) -> None:
    body = paracetamol_twice()
    body["context"]["draftOrders"] = b.bundle([])
    problem = api.post("/api/v1/screen", body).json()
    assert problem["errors"][0]["field"] == "body.context.draftOrders"
    assert problem["errors"][0]["pointer"] == "/context/draftOrders"


def test_ids_that_are_not_strings_are_no_server_error(api: Api) -> None:
    """Found by Schemathesis: a draft and a prefetched MedicationRequest whose `id` is a list."""
    body = paracetamol_twice()
    body["context"]["draftOrders"]["entry"][0]["resource"]["id"] = ["draft-cc"]
    body["prefetch"]["medications"]["entry"][0]["resource"]["id"] = ["draft-cc"]
    for path in ("/api/v1/screen", "/api/v1/screen/fhir"):
        assert api.post(path, body).status_code == 200, path


def test_bad_query_parameters_are_problems_naming_them(api: Api) -> None:
    for query, field in (("as_of=yesterday", "query.as_of"), ("jurisdiction=FR", "query.jurisdiction")):
        response = api.post(f"/api/v1/screen?{query}", paracetamol_twice())
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == [field]
    bundle = b.bundle([b.order("Panadol 500 mg tablets")])
    response = api.post("/api/v1/screen?order=nope", bundle)
    assert response.json()["errors"][0]["field"] == "query.order"


def test_knowledge_lookups(api: Api) -> None:
    summary = api.get("/api/v1/knowledge").json()
    assert summary["ingredients"] > 0 and summary["kb_version"]
    imuran = api.get("/api/v1/knowledge/Imuran").json()
    assert [i["id"] for i in imuran["ingredients"]] == ["azathioprine"]
    missing = api.get("/api/v1/knowledge/Xylotrexin")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["errors"][0]["field"] == "path.drug"


def test_the_openapi_schema_documents_every_route(api: Api) -> None:
    schema = api.get("/openapi.json", sign=False).json()
    paths = set(schema["paths"])
    assert {
        "/cds-services",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}/feedback",
        "/api/v1/screen",
        "/api/v1/screen/fhir",
        "/api/v1/knowledge",
        "/api/v1/knowledge/{drug}",
    } <= paths
    assert "422" in schema["paths"]["/api/v1/screen"]["post"]["responses"]


def test_paracetamol_overdose_route_gives_the_nomogram_answer(api: Api) -> None:
    """US Rumack-Matthew line: 150 mg/L at 4 h, halving every 4 h (75 mg/L at 8 h)."""
    body = {"weight_kg": 60, "amount_mg": 12000, "hours": 8, "level": 100, "unit": "mg/L"}
    answer = api.post("/api/v1/overdose/paracetamol", body).json()
    assert answer["ingested_mg_per_kg"] == 200
    assert answer["treatment_line_mg_per_l"] == 75
    assert answer["above_line"] is True
    assert answer["sources"]
    staggered = api.post("/api/v1/overdose/paracetamol", {**body, "staggered": True}).json()
    assert staggered["above_line"] is None


def test_overdose_routes_name_the_body_field(api: Api) -> None:
    response = api.post("/api/v1/overdose/paracetamol", {"weight_kg": 60, "level": 100})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.unit"
    response = api.post("/api/v1/overdose/paracetamol", {"weight_kg": 0})
    assert [e["field"] for e in response.json()["errors"]] == ["body.weight_kg"]


def test_triage_route(api: Api) -> None:
    answer = api.post("/api/v1/triage", {"drugs": ["Imuran"], "symptoms": ["yellow eyes"]}).json()
    assert answer["urgency"] in ("emergency", "today")
    assert answer["matched_signs"] and answer["sources"]
    unknown = api.post("/api/v1/triage", {"drugs": ["Imuran"], "symptoms": ["purple elbows humming"]}).json()
    assert unknown["urgency"] == "unknown"


def test_validation_errors_name_short_values_but_never_credentials() -> None:
    from rxguard.adapters.http.problems import validation_errors

    errors = validation_errors(
        [
            {"loc": ("body", "weight_kg"), "msg": "Input should be greater than 0", "input": -3, "type": "x"},
            {"loc": ("body", "fhirAuthorization", "access_token"), "msg": "bad", "input": "s3cr3t", "type": "x"},
            {"loc": ("body", "context"), "msg": "bad", "input": {"big": "object"}, "type": "x"},
            {"loc": ("body", "hook"), "msg": "Field required", "input": {}, "type": "missing"},
        ]
    )
    assert [e.detail for e in errors] == ["Input should be greater than 0 (value: -3)", "bad", "bad", "Field required"]
