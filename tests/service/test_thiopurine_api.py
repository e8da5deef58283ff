"""The thiopurine REST routes answer exactly what the matching commands print, name bad fields, need a JWT."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import Api, MakeApi

ROOT = Path(__file__).resolve().parents[2]
LABS = ROOT / "examples" / "thiopurine" / "labs-bundle.json"
PROBLEM = "application/problem+json"

# Azathioprine for rheumatoid arthritis, 70 kg, TPMT *1/*3A (intermediate), NUDT15 *1/*1, Imuran's 25/50 mg tablets.
RA_PLAN: dict[str, Any] = {
    "drug": "azathioprine",
    "weight_kg": 70,
    "indication": "rheumatoid arthritis",
    "start": "2026-01-05",
    "tpmt": "*1/*3A",
    "nudt15": "*1/*1",
    "strengths": [25, 50],
}
RA_PLAN_OPTIONS = (
    "--drug azathioprine --weight-kg 70 --indication",
    "rheumatoid arthritis",
    "--start 2026-01-05 --tpmt *1/*3A --nudt15 *1/*1 --strengths 25,50",
)


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """These routes do not depend on the store: the in-memory one is enough."""
    return make_api()


def rxguard_json(*args: str) -> Any:
    """`rxguard ... --format json`, parsed (the command each route must agree with)."""
    run = subprocess.run(
        [sys.executable, "-m", "rxguard.cli", *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    return json.loads(run.stdout)


def ra_plan_args() -> list[str]:
    head, indication, tail = RA_PLAN_OPTIONS
    return ["thiopurine", "plan", *head.split(), indication, *tail.split()]


def field_errors(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return [e["field"] for e in response.json()["errors"]]


def test_plan_route_is_the_plan_command(api: Api) -> None:
    """CPIC: TPMT intermediate -> 30-80% of the normal 2-3 mg/kg/day, so at most 2.4 mg/kg/day. The RA plan
    (monitoring.yaml) starts at 1 mg/kg/day and adds 0.5 from week 6, then every 4 weeks, up to that ceiling:
    70, 105, 140 mg/day, rounded to whole 25/50 mg tablets (168 mg/day, the ceiling, makes nothing above 150)."""
    response = api.post("/api/v1/thiopurine/plan", RA_PLAN)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan == rxguard_json(*ra_plan_args())
    assert plan["phenotype"] == {"TPMT": "Intermediate Metabolizer", "NUDT15": "Normal Metabolizer"}
    assert plan["start_dose_percent"] == [30, 80]
    assert plan["ceiling_mg_per_kg_day"] == 2.4
    assert plan["schedule"] == "rheumatology"
    assert [(s["week"], s["target_mg_per_kg_day"], s["mg_per_day"], s["tablets"]) for s in plan["steps"]] == [
        (0, 1.0, 75, {"50": 1, "25": 1}),
        (6, 1.5, 100, {"50": 2}),
        (10, 2.0, 150, {"50": 3}),
    ]
    blood_tests = [e["date"] for e in plan["calendar"] if e["kind"] == "blood-test"]
    assert blood_tests[:3] == ["2026-01-19", "2026-02-02", "2026-02-16"]  # every 2 weeks at the start


def test_plan_route_defaults_to_the_catalogs_tablets(api: Api) -> None:
    """Crohn's disease with low TPMT starts at 1 mg/kg/day (70 mg -> one 75 mg generic tablet)."""
    body = {k: v for k, v in RA_PLAN.items() if k != "strengths"} | {"indication": "Crohn's"}
    plan = api.post("/api/v1/thiopurine/plan", body).json()
    assert plan["tablet_strengths_mg"] == [25, 50, 75, 100]
    assert plan["schedule"] == "gastroenterology"
    assert [(s["mg_per_day"], s["tablets"]) for s in plan["steps"]] == [(75, {"75": 1})]


def test_plan_route_as_icalendar_is_the_commands_ics_file(api: Api, tmp_path: Path) -> None:
    response = api.post("/api/v1/thiopurine/plan?format=ics", RA_PLAN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    ics = tmp_path / "plan.ics"
    rxguard_json(*ra_plan_args(), "--ics", str(ics))
    assert response.content == ics.read_bytes()
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n") and response.content.count(b"BEGIN:VEVENT") == 15


def test_a_poor_metabolizer_gets_no_plan(api: Api) -> None:
    plan = api.post("/api/v1/thiopurine/plan", {**RA_PLAN, "tpmt": "*3A/*3A"}).json()
    assert plan["phenotype"]["TPMT"] == "Poor Metabolizer"
    assert plan["steps"] == [] and plan["calendar"] == []
    assert any("non-thiopurine alternative" in note for note in plan["notes"])


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"indication": "gout"}, "body.indication", "'gout'"),
        ({"drug": "warfarin"}, "body.drug", "'warfarin'"),
        ({"tpmt": None, "nudt15": None}, "body.tpmt", "None"),  # CPIC has no advice without either result
        ({"start": "9999-12-01"}, "body.start", "'9999-12-01'"),  # its 12-month calendar is past year 9999
    ],
)
def test_plan_route_names_the_bad_field_and_its_value(api: Api, change: dict[str, Any], field: str, value: str) -> None:
    response = api.post("/api/v1/thiopurine/plan", {**RA_PLAN, **change})
    assert field_errors(response) == [field]
    problem = response.json()
    assert problem["type"].endswith("/bad-input")
    assert f"(value: {value})" in problem["detail"]
    assert problem["errors"][0]["pointer"] == "/" + field.removeprefix("body.")


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"weight_kg": 0}, "body.weight_kg", "0"),
        ({"weight_kg": 401}, "body.weight_kg", "401"),
        ({"start": "5 January"}, "body.start", '"5 January"'),
        ({"strengths": [25, -50]}, "body.strengths[1]", "-50"),
        ({"schedule": "weekly"}, "body.schedule", '"weekly"'),
        ({"months": 61}, "body.months", "61"),
        ({"ics": "plan.ics"}, "body.ics", '"plan.ics"'),  # strict body: unknown keys are refused
    ],
)
def test_plan_body_is_strict(api: Api, change: dict[str, Any], field: str, value: str) -> None:
    response = api.post("/api/v1/thiopurine/plan", {**RA_PLAN, **change})
    assert field_errors(response) == [field]
    assert response.json()["errors"][0]["detail"].endswith(f"(value: {value})")  # the field and the value
    assert field_errors(api.post("/api/v1/thiopurine/plan?format=pdf", RA_PLAN)) == ["query.format"]


def test_recommendation_route_is_pgx_recommend(api: Api) -> None:
    """CPIC March 2024: TPMT IM + NUDT15 IM -> 20-50% of 2-3 mg/kg/day = 0.4-1.5 mg/kg/day, 28-105 mg/day for
    70 kg, rounded inwards to whole 25/50 mg tablets: 50-100 mg/day."""
    body = {"drug": "Imuran", "tpmt": "*1/*3A", "nudt15": "*1/*3", "weight_kg": 70}
    response = api.post("/api/v1/thiopurine/recommendation", body)
    assert response.status_code == 200, response.text
    advice = response.json()
    cli = rxguard_json(
        "pgx", "recommend", "--drug", "Imuran", "--tpmt", "*1/*3A", "--nudt15", "*1/*3", "--weight-kg", "70"
    )
    assert advice == cli
    assert advice["drug"] == "azathioprine"
    assert advice["phenotype"] == {"TPMT": "Intermediate Metabolizer", "NUDT15": "Intermediate Metabolizer"}
    assert advice["diplotype"] == {"TPMT": "*1/*3A", "NUDT15": "*1/*3"}
    assert advice["start_dose_percent"] == [20, 50]
    assert advice["recommended_mg_per_kg_day"] == [0.4, 1.5]
    assert advice["recommended_daily_dose_mg"] == [50, 100]
    assert advice["indicator"] == "warning" and advice["rule_id"].startswith("pgx.cpic.amendment-2024-03")


def test_recommendation_for_a_poor_metabolizer_with_a_malignancy(api: Api) -> None:
    body = {"drug": "6-MP", "tpmt": "Poor Metabolizer", "malignant": True, "weight_kg": 30}
    advice = api.post("/api/v1/thiopurine/recommendation", body).json()
    cli = rxguard_json(
        "pgx", "recommend", "--drug", "6-MP", "--tpmt", "Poor Metabolizer", "--malignant", "--weight-kg", "30"
    )
    assert advice == cli
    assert advice["phenotype"] == {"TPMT": "Poor Metabolizer", "NUDT15": "No Result"}
    assert advice["consider_alternative"] is False and advice["thrice_weekly"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"drug": "warfarin", "tpmt": "IM"}, "body.drug"),
        ({"drug": "azathioprine"}, "body.tpmt"),  # neither result: CPIC has no advice, test first
        ({"drug": "azathioprine", "tpmt": "IM", "weight_kg": -70}, "body.weight_kg"),
        ({"drug": "azathioprine", "tpmt": "IM", "strengths": []}, "body.strengths"),
        ({"drug": "azathioprine", "tpmt": "IM", "cyp2d6": "*1/*1"}, "body.cyp2d6"),  # strict body
    ],
)
def test_recommendation_route_names_the_bad_field(api: Api, body: dict[str, Any], field: str) -> None:
    assert field_errors(api.post("/api/v1/thiopurine/recommendation", body)) == [field]


def test_labs_route_is_the_labs_command(api: Api) -> None:
    bundle = json.loads(LABS.read_text())
    response = api.post("/api/v1/thiopurine/labs", bundle)
    assert response.status_code == 200, response.text
    labs = response.json()
    assert labs == rxguard_json("thiopurine", "labs", str(LABS))
    assert labs["as_of"] == "2026-05-25" and labs["verdict"] == "check"
    assert [f["rule_id"] for f in labs["findings"]] == ["thiopurine.trend.wbc-falling"]
    assert [m["measure"] for m in labs["not_judged"]] == ["lymphocytes"]
    assert labs["metabolites"][0]["interpretation"].startswith("Therapeutic")
    assert [d["mg_per_day"] for d in labs["doses"]] == [50, 100]


def test_labs_route_judges_as_of_a_date(api: Api) -> None:
    bundle = json.loads(LABS.read_text())
    labs = api.post("/api/v1/thiopurine/labs?as_of=2026-03-01", bundle).json()
    assert labs == rxguard_json("thiopurine", "labs", str(LABS), "--as-of", "2026-03-01")
    assert labs["as_of"] == "2026-03-01" and labs["findings"] == []
    assert field_errors(api.post("/api/v1/thiopurine/labs?as_of=March", bundle)) == ["query.as_of"]


def test_labs_route_refuses_what_is_not_a_bundle(api: Api) -> None:
    assert field_errors(api.post("/api/v1/thiopurine/labs", [1, 2])) == ["body"]
    response = api.post("/api/v1/thiopurine/labs", {"resourceType": "Patient", "id": "p"})
    assert field_errors(response) == ["body.resourceType"]
    assert "(value: 'Patient')" in response.json()["detail"]
    assert field_errors(api.post("/api/v1/thiopurine/labs", {"resourceType": "Bundle", "entry": "x"})) == ["body.entry"]


def test_metabolites_route_is_the_metabolites_command(api: Api) -> None:
    """BSG 2019: TGN 200 is below 235 (low) and MMP 6000 above 5700 (high), MMP:TGN 30 > 11: a shunter."""
    response = api.post("/api/v1/thiopurine/metabolites", {"tgn": 200, "mmp": 6000})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result == rxguard_json("thiopurine", "metabolites", "--tgn", "200", "--mmp", "6000")
    assert (result["tgn_band"], result["mmp_band"], result["ratio"]) == ("low", "high", 30)
    assert result["rule_id"] == "thiopurine.metabolites.shunter"


def test_metabolites_route_names_the_bad_field(api: Api) -> None:
    response = api.post("/api/v1/thiopurine/metabolites", {"tgn": 200, "mmp": 6000, "unit": "pmol/0.2 mL"})
    assert field_errors(response) == ["body.unit"]
    assert "not interchangeable" in response.json()["detail"] and "'pmol/0.2 mL'" in response.json()["detail"]
    assert field_errors(api.post("/api/v1/thiopurine/metabolites", {"tgn": -1, "mmp": 0})) == ["body.tgn"]
    assert field_errors(api.post("/api/v1/thiopurine/metabolites", {"tgn": 1})) == ["body.mmp"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/thiopurine/plan", RA_PLAN),
        ("/api/v1/thiopurine/plan?format=ics", RA_PLAN),
        ("/api/v1/thiopurine/recommendation", {"drug": "azathioprine", "tpmt": "IM"}),
        ("/api/v1/thiopurine/labs", {"resourceType": "Bundle", "type": "collection", "entry": []}),
        ("/api/v1/thiopurine/metabolites", {"tgn": 200, "mmp": 6000}),
    ],
)
def test_thiopurine_routes_need_a_token(api: Api, path: str, body: dict[str, Any]) -> None:
    response = api.post(path, body, sign=False)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer" and response.content == b""
    assert api.post(path, body, bearer="not-a-jwt").status_code == 401


def test_the_openapi_schema_documents_the_thiopurine_routes(api: Api) -> None:
    paths = api.get("/openapi.json", sign=False).json()["paths"]
    for route in ("plan", "recommendation", "labs", "metabolites"):
        operation = paths[f"/api/v1/thiopurine/{route}"]["post"]
        assert {"401", "422"} <= set(operation["responses"]), route
    assert "text/calendar" in paths["/api/v1/thiopurine/plan"]["post"]["responses"]["200"]["content"]
