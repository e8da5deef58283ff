"""Counselling (ED), alcohol (OH), opioid + muscle relaxant and three or more CNS-active drugs (DD)."""

from __future__ import annotations

from rxguard.checks.counselling import counselling_points
from rxguard.domain.model import Indicator
from rxguard.knowledge.base import KnowledgeBase
from tests import builders as b
from tests.controlled import helpers as h

ALCOHOL_DEPENDENCE = b.condition("Alcohol dependence", "66590003")


def test_an_opioid_gets_every_counselling_point(kb: KnowledgeBase) -> None:
    (card,) = h.alerts(h.screen(kb, h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4))), "ED")
    assert card.indicator is Indicator.INFO
    assert card.facts["topics"] == [
        "safe-storage",
        "no-sharing",
        "no-alcohol",
        "disposal",
        "naloxone",
        "misuse-warning-signs",
    ]
    assert "counsel.disposal.us" in card.facts["counselling_points"]
    assert card.sources  # each point cites its source


def test_uk_disposal_advice_and_no_naloxone_point_for_a_benzodiazepine(kb: KnowledgeBase) -> None:
    order = b.order("lorazepam 1 mg oral tablet", 1, "tablet", 2, rxnorm="197901")
    (card,) = h.alerts(h.screen(kb, h.request(order), jurisdiction="UK"), "ED")
    assert "counsel.disposal.uk" in card.facts["counselling_points"]
    assert "naloxone" not in card.facts["topics"]


def test_the_leaflet_gets_the_same_points(kb: KnowledgeBase) -> None:
    points = counselling_points(kb, ["fentanyl"], "US")
    assert points[0].topic == "safe-storage" and any(p.topic == "naloxone" for p in points)
    assert counselling_points(kb, ["paracetamol"], "US") == []


def test_no_counselling_card_for_a_drug_without_abuse_potential(kb: KnowledgeBase) -> None:
    assert not h.alerts(h.screen(kb, h.request(b.order("ibuprofen 400 mg tablet", 1, "tablet", 3))), "ED")


def test_alcohol_dependence_with_an_opioid_is_a_warning(kb: KnowledgeBase) -> None:
    data = h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4), conditions=[ALCOHOL_DEPENDENCE])
    (card,) = h.alerts(h.screen(kb, data), "OH")
    assert card.indicator is Indicator.WARNING and card.rule_id == "alcohol.opioid"
    assert card.facts["ingredients"] == ["oxycodone"] and card.facts["severity"] == "major"


def test_alcohol_with_a_gabapentinoid_is_moderate(kb: KnowledgeBase) -> None:
    data = h.request(b.order("pregabalin 75 mg capsule", 1, "capsule", 2), conditions=[ALCOHOL_DEPENDENCE])
    (card,) = h.alerts(h.screen(kb, data), "OH")
    assert card.indicator is Indicator.INFO and card.facts["severity"] == "moderate"


def test_alcohol_by_free_text_condition(kb: KnowledgeBase) -> None:
    data = h.request(b.order("paracetamol 500 mg tablet", 2, "tablet", 4), conditions=[b.condition("alcoholism")])
    (card,) = h.alerts(h.screen(kb, data), "OH")
    assert card.rule_id == "alcohol.paracetamol" and card.indicator is Indicator.WARNING


def test_no_alcohol_card_without_recorded_alcohol_use(kb: KnowledgeBase) -> None:
    # The advice not to drink is the ED card's no-alcohol point.
    assert not h.alerts(h.screen(kb, h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4))), "OH")


def test_an_opioid_with_a_muscle_relaxant_is_one_interaction_card(kb: KnowledgeBase) -> None:
    carisoprodol = b.med("carisoprodol 350 mg tablet", 1, "tablet", 3)
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4), meds=[carisoprodol]))
    (card,) = h.alerts(result, "DD")
    assert card.rule_id == "ddi.opioid.skeletal-muscle-relaxant" and card.indicator is Indicator.WARNING


def test_cyclobenzaprine_and_methocarbamol_are_muscle_relaxants_too(kb: KnowledgeBase) -> None:
    for text in ("Flexeril 10 mg", "methocarbamol 750 mg tablet"):
        result = h.screen(kb, h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4), meds=[b.med(text, 1, "tablet", 3)]))
        assert [a.rule_id for a in h.alerts(result, "DD")] == ["ddi.opioid.skeletal-muscle-relaxant"]


def test_three_cns_depressants_are_one_more_card_besides_the_pairs(kb: KnowledgeBase) -> None:
    meds = [h.drug(h.ALPRAZOLAM, 1, "tablet", 2), b.med("gabapentin 300 mg capsule", 1, "capsule", 3)]
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4), meds=meds))
    burden = [a for a in h.alerts(result, "DD") if a.rule_id == "cns.three-or-more"]
    (card,) = burden
    assert card.indicator is Indicator.WARNING
    assert card.facts["ingredients"] == ["alprazolam", "gabapentin", "oxycodone"] and card.facts["count"] == 3
    assert len(card.medications) == 3
    pairs = {a.rule_id for a in h.alerts(result, "DD")} - {"cns.three-or-more"}
    assert pairs == {"ddi.opioid.benzodiazepine", "ddi.opioid.gabapentinoid"}


def test_two_cns_depressants_are_not_a_burden_card(kb: KnowledgeBase) -> None:
    data = h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4), meds=[h.drug(h.ALPRAZOLAM, 1, "tablet", 2)])
    result = h.screen(kb, data)
    assert not [a for a in h.alerts(result, "DD") if a.rule_id == "cns.three-or-more"]


def test_the_burden_card_needs_an_order_among_them(kb: KnowledgeBase) -> None:
    meds = [
        h.drug(h.ALPRAZOLAM, 1, "tablet", 2),
        b.med("gabapentin 300 mg capsule", 1, "capsule", 3),
        h.drug(h.OXYCODONE_5, 1, "tablet", 4),
    ]
    result = h.screen(kb, h.request(b.order("ibuprofen 400 mg tablet", 1, "tablet", 3), meds=meds))
    assert not [a for a in h.alerts(result, "DD") if a.rule_id == "cns.three-or-more"]
