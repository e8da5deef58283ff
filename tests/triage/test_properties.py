"""Property tests: any words on any medicines give an answer; nothing unrecognised is ever silent."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.overdose import ParacetamolIngestion, assess_paracetamol
from rxguard.therapy.triage import triage

DRUGS = ["Imuran 50mg", "oxycodone 5mg", "Panadol", "Voltarol 50mg", "lithium", "zopiclone", "xylotrexin"]
URGENCIES = {"emergency", "today", "routine", "self-care", "unknown"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drugs=st.lists(st.one_of(st.sampled_from(DRUGS), st.text(max_size=20)), max_size=3),
    symptoms=st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=4),
)
def test_any_words_get_an_answer_and_nothing_is_silent(
    kb: KnowledgeBase, drugs: list[str], symptoms: list[str]
) -> None:
    result = triage(kb, drugs, symptoms)
    assert result.urgency in URGENCIES
    for symptom in result.symptoms:
        assert symptom.grades or symptom.urgency == "unknown"
    if result.unknown and result.urgency not in ("emergency", "today"):
        assert result.urgency == "unknown"
    assert result.advice


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hours=st.one_of(st.none(), st.floats(min_value=0, max_value=72, allow_nan=False)),
    level=st.one_of(st.none(), st.floats(min_value=0, max_value=2000, allow_nan=False)),
    unit=st.sampled_from(["mg/L", "ug/mL", "umol/L"]),
    staggered=st.booleans(),
    line=st.sampled_from(["us", "uk"]),
)
def test_the_nomogram_answers_only_inside_4_to_24_hours(
    kb: KnowledgeBase, hours: float | None, level: float | None, unit: str, staggered: bool, line: str
) -> None:
    ingestion = ParacetamolIngestion(
        weight_kg=70,
        amount_mg=8000,
        hours=hours,
        staggered=staggered,
        level=level,
        unit=unit if level is not None else None,
        line=line,
    )
    out = assess_paracetamol(kb, ingestion)
    inside = hours is not None and not staggered and 4 <= hours <= 24
    if out.above_line is not None:
        assert inside and level is not None
    if not inside:
        assert out.above_line is None and out.treatment_line_mg_per_l is None
        assert out.decision in ("treat-now", "level-needed-at-4h")
