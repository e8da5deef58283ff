"""Property tests: well-formed requests never crash the screener; an unknown drug never yields silence."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxguard.adapters.fhir.request import parse_request
from rxguard.errors import InputError
from rxguard.screen import Screener
from tests import builders as b

KNOWN = [
    "Panadol 500 mg tablets",
    "co-codamol 30/500 tablets",
    "Imuran 50 mg tablet",
    "Voltarol 50mg tab",
    "oxycodone 5 mg tablet",
    "alprazolam 0.5 mg tablet",
    "allopurinol 100 mg tablet",
    "methotrexate 2.5 mg tablet",
    "fentanyl 25 mcg/hr patch",
    "ibuprofen 400 mg tablet",
    "warfarin 5 mg tablet",
    "MMR vaccine",
    "lithium 300 mg",
]
UNITS = ["tablet", "mg", "g", "ug", "mL", "patch", "capsule", "puff", "{tbl}", "teaspoon", ""]

names = st.one_of(st.sampled_from(KNOWN), st.text(min_size=1, max_size=30))
doses = st.floats(min_value=0, max_value=5000, allow_nan=False, allow_infinity=False)
per_day = st.one_of(st.none(), st.floats(min_value=0.01, max_value=48, allow_nan=False))


@st.composite
def medicines(draw: Any, ordered: bool) -> dict[str, Any]:
    build = b.order if ordered else b.med
    return build(
        draw(names),
        draw(doses),
        draw(st.sampled_from(UNITS)),
        draw(per_day),
        quantity=draw(st.one_of(st.none(), st.integers(0, 500))),
        days=draw(st.one_of(st.none(), st.integers(0, 365))),
        prn=draw(st.booleans()),
    )


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    observations = []
    if draw(st.booleans()):
        observations.append(b.weight(draw(st.floats(min_value=0.5, max_value=300))))
    if draw(st.booleans()):
        observations.extend(b.pregnant(draw(st.integers(0, 44))))
    if draw(st.booleans()):
        observations.append(b.lab("98979-8", draw(st.floats(min_value=0, max_value=150)), "mL/min/{1.73_m2}"))
    return b.request(
        draw(st.lists(medicines(True), min_size=1, max_size=3)),
        meds=draw(st.lists(medicines(False), max_size=6)),
        observations=observations,
        conditions=[
            b.condition(t)
            for t in draw(
                st.lists(
                    st.sampled_from(["heart failure", "peptic ulcer", "rheumatoid arthritis", "breastfeeding", "zzz"]),
                    max_size=3,
                )
            )
        ],
        allergies=[
            b.allergy(t)
            for t in draw(st.lists(st.sampled_from(["NSAIDs", "aspirin", "qqq", "penicillin"]), max_size=2))
        ],
        age=draw(st.integers(0, 105)),
        sex=draw(st.sampled_from(["female", "male", "unknown"])),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_well_formed_requests_never_crash(screener: Screener, data: dict[str, Any]) -> None:
    try:
        request = parse_request(data)
    except InputError:
        return
    result = screener.screen(request)
    assert all(a.summary and len(a.summary) < 140 for a in result.alerts)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=6, max_size=14), requests())
def test_an_unknown_drug_is_never_silent(screener: Screener, name: str, data: dict[str, Any]) -> None:
    order = b.order(f"{name} 40 mg tablet", 1, per_day=1)
    data["context"]["draftOrders"] = b.bundle([order])
    result = screener.screen(parse_request(data))
    assert any(a.code == "MS" and a.facts.get("missing") == "drug identity" for a in result.alerts)
