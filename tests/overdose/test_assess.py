"""Other catalog drugs: an ingestion against the labelled maxima -> triage advice with the label's overdose facts."""

from __future__ import annotations

import pytest

from rxguard.errors import InputError, NotFoundError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.overdose import assess_ingestion


def test_azathioprine_above_the_label_gives_advice_and_the_overdose_facts(kb: KnowledgeBase) -> None:
    # 20 x Imuran 50 mg = 1,000 mg in 70 kg = 14.3 mg/kg/day, above the label's 5 mg/kg/day (transplant start).
    result = assess_ingestion(kb, "Imuran 50mg", tablets=20, weight_kg=70)
    (aza,) = result.ingredients
    assert aza.ingredient == "azathioprine"
    assert aza.amount_mg == 1000
    assert aza.threshold is not None and aza.threshold.mg == pytest.approx(350)
    assert aza.above_threshold is True
    assert result.urgency == "today"
    facts = " ".join(f.text for f in aza.facts)
    assert "9 to 14 days" in facts  # UK SmPC 4.9: marrow depression maximal after 9-14 days
    assert "45%" in facts and "8-hour haemodialysis" in facts  # US label: ~45% removed by 8-h haemodialysis
    assert "no specific antidote" in facts.lower()
    assert "7.5 g" in facts
    advice = " ".join(result.advice)
    assert "poison centre" in advice and "1-800-222-1222" in advice
    data = result.as_dict(kb)
    assert data["urgency"] == "today"
    assert data["ingredients"][0]["above_threshold"] is True
    assert all(f["sources"] for f in data["ingredients"][0]["overdose_facts"])


def test_azathioprine_within_the_label_is_routine(kb: KnowledgeBase) -> None:
    result = assess_ingestion(kb, "azathioprine", amount_mg=100, weight_kg=70)
    assert result.ingredients[0].above_threshold is False
    assert result.urgency == "routine"


def test_azathioprine_without_weight_cannot_be_compared_and_is_treated_as_above(kb: KnowledgeBase) -> None:
    result = assess_ingestion(kb, "Imuran 25mg", tablets=4)
    assert result.ingredients[0].above_threshold is None
    assert result.urgency == "today"
    assert any("treated as above" in n for n in result.notes)


def test_paracetamol_above_the_daily_maximum_is_an_emergency_with_the_nomogram(kb: KnowledgeBase) -> None:
    result = assess_ingestion(kb, "Panadol 500mg", tablets=20, weight_kg=60, hours=5)
    (par,) = result.ingredients
    assert par.amount_mg == 10_000 and par.above_threshold is True  # above 4,000 mg/day
    assert result.urgency == "emergency"  # any suspected paracetamol overdose: no early symptoms
    assert par.paracetamol is not None
    assert par.paracetamol.decision == "level-needed-at-4h"
    assert par.paracetamol.ingested_mg_per_kg == pytest.approx(166.7, abs=0.05)


def test_one_or_two_extra_paracetamol_within_the_daily_maximum_is_self_care(kb: KnowledgeBase) -> None:
    result = assess_ingestion(kb, "Panadol 500mg", tablets=2, weight_kg=70, hours=1)
    assert result.ingredients[0].above_threshold is False
    assert result.urgency == "self-care"
    assert "8 x 500 mg" in " ".join(result.advice)


def test_co_codamol_is_assessed_per_ingredient(kb: KnowledgeBase) -> None:
    result = assess_ingestion(kb, "co-codamol 30/500", tablets=16, weight_kg=60, hours=6)
    by = {i.ingredient: i for i in result.ingredients}
    assert by["paracetamol"].amount_mg == 8_000 and by["codeine"].amount_mg == 480
    assert by["codeine"].urgency == "today"  # NHS (older codeine page): contact 111 now
    assert result.urgency == "emergency"


def test_an_adult_maximum_is_not_used_for_a_child(kb: KnowledgeBase) -> None:
    result = assess_ingestion(kb, "ibuprofen 200mg", tablets=2, weight_kg=12, child=True)
    assert result.ingredients[0].above_threshold is None
    assert result.urgency == "today"
    adult = assess_ingestion(kb, "ibuprofen 200mg", tablets=2, weight_kg=70)
    assert adult.ingredients[0].above_threshold is False


def test_a_child_and_an_opioid_is_an_emergency(kb: KnowledgeBase) -> None:
    result = assess_ingestion(kb, "oxycodone 5mg", tablets=3, weight_kg=15, child=True)
    assert result.urgency == "emergency"
    assert any(r.id == "triage.escalation.child-opioid-exposure" for r in result.ingredients[0].rules)


def test_an_unknown_drug_is_not_found(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFoundError):
        assess_ingestion(kb, "xylotrexin", amount_mg=50)


def test_a_combination_needs_tablets_not_a_single_amount(kb: KnowledgeBase) -> None:
    with pytest.raises(InputError) as err:
        assess_ingestion(kb, "co-codamol 30/500", amount_mg=1000)
    assert err.value.field == "--amount-mg"


def test_negative_amount_is_bad_input(kb: KnowledgeBase) -> None:
    with pytest.raises(InputError) as err:
        assess_ingestion(kb, "Imuran 50mg", amount_mg=-50)
    assert (err.value.field, err.value.value) == ("--amount-mg", -50)
