"""Red flags from the dispensing history, at every boundary: ER (75%), DM (5/5/90), ID (overlap), DC (naive)."""

from __future__ import annotations

from typing import Any

import pytest

from rxguard.domain.model import Indicator
from rxguard.knowledge.base import KnowledgeBase
from tests import builders as b
from tests.controlled import helpers as h


def oxycodone_order(prescriber: str = "dr-a") -> dict[str, Any]:
    return h.prescribed_by(h.order(h.OXYCODONE_5, 1, "tablet", 4, quantity=120, days=30), prescriber)


# --- ER: early refill -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_ago", "early"),
    [
        (0, True),
        (8, True),  # the shared example: 8 of 30 days = 27%
        (22, True),  # 73%
        (23, False),  # 76.7%: past 75%
        (29, False),
    ],
)
def test_early_refill_boundary_of_75_percent_of_30_days(kb: KnowledgeBase, days_ago: int, early: bool) -> None:
    data = h.request(oxycodone_order(), fills=[h.fill(h.OXYCODONE_5, days_ago, 30)])
    cards = h.alerts(h.screen(kb, data), "ER")
    assert bool(cards) is early
    if early:
        (card,) = cards
        assert card.indicator is Indicator.WARNING
        assert card.facts["days_elapsed"] == days_ago
        assert card.facts["share_elapsed"] == round(days_ago / 30, 3)
        # 75% of 30 days = 22.5: the refill is due from day 23 after the fill
        assert card.facts["earliest_refill_date"] == h.days_before(days_ago - 23).isoformat()


def test_exactly_75_percent_is_not_early(kb: KnowledgeBase) -> None:
    # 30 of 40 days = 75.0%: allowed; 29 of 40 = 72.5%: early
    on_time = h.request(oxycodone_order(), fills=[h.fill(h.OXYCODONE_5, 30, 40)])
    early = h.request(oxycodone_order(), fills=[h.fill(h.OXYCODONE_5, 29, 40)])
    assert not h.alerts(h.screen(kb, on_time), "ER")
    (card,) = h.alerts(h.screen(kb, early), "ER")
    assert card.facts["earliest_refill_date"] == h.days_before(29 - 30).isoformat()


def test_the_early_refill_share_is_configurable(kb: KnowledgeBase) -> None:
    data = h.request(oxycodone_order(), fills=[h.fill(h.OXYCODONE_5, 25, 30)])  # 83%
    assert not h.alerts(h.screen(kb, data), "ER")
    (card,) = h.alerts(h.screen(kb, data, early_refill_share=0.9), "ER")
    assert card.facts["required_share"] == 0.9


def test_only_the_latest_fill_of_the_same_controlled_ingredient_counts(kb: KnowledgeBase) -> None:
    other_drug = h.fill({"text": "lorazepam 1 mg oral tablet", "rxnorm": "197901"}, 2, 30)
    older = h.fill(h.OXYCODONE_10, 40, 30)  # a different strength of the same ingredient, long used up
    data = h.request(oxycodone_order(), fills=[older, other_drug])
    assert not h.alerts(h.screen(kb, data), "ER")


def test_non_controlled_drugs_are_not_screened_for_early_refill(kb: KnowledgeBase) -> None:
    paracetamol = {"text": "acetaminophen 500 mg oral tablet", "rxnorm": "198440"}
    data = h.request(h.order(paracetamol, 1, "tablet", 4), fills=[h.fill(paracetamol, 2, 30)])
    assert not h.alerts(h.screen(kb, data), "ER")


def test_a_fill_without_days_supply_cannot_be_judged(kb: KnowledgeBase) -> None:
    data = h.request(oxycodone_order(), fills=[h.fill(h.OXYCODONE_5, 2, None)])
    # the authorizing prescription gives the supply instead: quantity 30... none here, so no judgement
    assert not h.alerts(h.screen(kb, data), "ER")


# --- DM: multiple-provider episode ------------------------------------------------------------------------


def episode(prescribers: int, pharmacies: int, days_ago: int = 10) -> list[tuple[dict[str, object], ...]]:
    count = max(prescribers, pharmacies)
    return [
        h.fill(
            h.OXYCODONE_5,
            days_ago + i,
            5,
            prescriber=f"dr-{min(i, prescribers - 1)}",
            pharmacy=f"pharmacy-{min(i, pharmacies - 1)}",
        )
        for i in range(count)
    ]


def test_five_prescribers_and_five_pharmacies_in_90_days(kb: KnowledgeBase) -> None:
    # dr-0..dr-3 on the fills plus the order's own prescriber dr-new = 5 prescribers; 5 pharmacies
    fills = episode(4, 5)
    data = h.request(oxycodone_order("dr-new"), fills=fills)  # type: ignore[arg-type]
    (card,) = h.alerts(h.screen(kb, data), "DM")
    assert card.indicator is Indicator.WARNING
    assert card.facts["prescribers"] == ["dr-0", "dr-1", "dr-2", "dr-3", "dr-new"]
    assert card.facts["pharmacies"] == [f"pharmacy-{i}" for i in range(5)]
    assert card.facts["dates"] == sorted(h.days_before(10 + i).isoformat() for i in range(5))
    assert card.facts["window_days"] == 90


def test_four_pharmacies_are_not_an_episode(kb: KnowledgeBase) -> None:
    data = h.request(oxycodone_order("dr-new"), fills=episode(5, 4))  # type: ignore[arg-type]
    assert not h.alerts(h.screen(kb, data), "DM")


def test_four_prescribers_are_not_an_episode(kb: KnowledgeBase) -> None:
    data = h.request(oxycodone_order("dr-0"), fills=episode(4, 5))  # type: ignore[arg-type]
    assert not h.alerts(h.screen(kb, data), "DM")


@pytest.mark.parametrize(("oldest_days_ago", "episode_found"), [(90, True), (91, False)])
def test_the_90_day_window_includes_day_90(kb: KnowledgeBase, oldest_days_ago: int, episode_found: bool) -> None:
    fills = episode(4, 4, days_ago=10)
    fills.append(h.fill(h.OXYCODONE_5, oldest_days_ago, 5, prescriber="dr-old", pharmacy="pharmacy-old"))
    data = h.request(oxycodone_order("dr-new"), fills=fills)  # type: ignore[arg-type]
    assert bool(h.alerts(h.screen(kb, data), "DM")) is episode_found


def test_the_episode_thresholds_are_configurable(kb: KnowledgeBase) -> None:
    data = h.request(oxycodone_order("dr-new"), fills=episode(1, 2))  # type: ignore[arg-type]
    assert not h.alerts(h.screen(kb, data), "DM")
    (card,) = h.alerts(h.screen(kb, data, mpe_prescribers=2, mpe_pharmacies=2, mpe_days=30), "DM")
    assert card.facts["thresholds"] == {"prescribers": 2, "pharmacies": 2}


# --- ID: overlapping prescriptions ------------------------------------------------------------------------


def test_a_running_supply_from_another_prescriber_overlaps(kb: KnowledgeBase) -> None:
    data = h.request(oxycodone_order("dr-b"), fills=[h.fill(h.OXYCODONE_10, 20, 30, prescriber="dr-a")])
    (card,) = h.alerts(h.screen(kb, data), "ID")
    assert card.rule_id == "history.overlap"
    assert card.facts["days_left"] == 10
    assert card.facts["other_prescriber"] == "dr-a" and card.facts["order_prescriber"] == "dr-b"


def test_no_overlap_from_the_same_prescriber_or_after_the_supply_ran_out(kb: KnowledgeBase) -> None:
    same = h.request(oxycodone_order("dr-a"), fills=[h.fill(h.OXYCODONE_10, 20, 30, prescriber="dr-a")])
    ran_out = h.request(oxycodone_order("dr-b"), fills=[h.fill(h.OXYCODONE_10, 30, 30, prescriber="dr-a")])
    assert not h.alerts(h.screen(kb, same), "ID")
    assert not h.alerts(h.screen(kb, ran_out), "ID")  # 30 days after a 30-day fill: 0 days left


# --- DC: opioid-naive --------------------------------------------------------------------------------------


def fentanyl_order() -> dict[str, Any]:
    order: dict[str, Any] = h.order(h.FENTANYL_25, 1, "patch", None, every_days=3)
    return order


def test_a_fentanyl_patch_for_an_opioid_naive_patient_is_critical(kb: KnowledgeBase) -> None:
    (card,) = h.alerts(h.screen(kb, h.request(fentanyl_order())), "DC")
    assert card.indicator is Indicator.CRITICAL
    assert card.facts["opioid_tolerant_only"] is True and card.facts["lookback_days"] == 7


def test_a_fentanyl_patch_by_name_only_is_still_tolerant_only(kb: KnowledgeBase) -> None:
    order = b.order("fentanyl 37.5 micrograms/hour transdermal patch", 1, "patch", None, every_days=3)
    (card,) = h.alerts(h.screen(kb, h.request(order)), "DC")
    assert card.indicator is Indicator.CRITICAL


def test_a_long_acting_oral_opioid_for_an_opioid_naive_patient_is_a_warning(kb: KnowledgeBase) -> None:
    (card,) = h.alerts(h.screen(kb, h.request(h.order(h.OXYCODONE_ER_10, 1, "tablet", 2))), "DC")
    assert card.indicator is Indicator.WARNING


def test_an_immediate_release_opioid_is_not_flagged(kb: KnowledgeBase) -> None:
    assert not h.alerts(h.screen(kb, h.request(oxycodone_order())), "DC")


@pytest.mark.parametrize(
    ("days_ago", "supply", "naive"),
    [
        (6, 5, False),  # dispensed within the week
        (7, 1, False),  # dispensed exactly 7 days ago: inside the look-back
        (20, 14, False),  # supply ran until 6 days ago
        (20, 13, True),  # supply ran out 7 days ago: nothing in the week before
        (8, 1, True),
    ],
)
def test_opioid_exposure_in_the_7_day_look_back(kb: KnowledgeBase, days_ago: int, supply: int, naive: bool) -> None:
    data = h.request(fentanyl_order(), fills=[h.fill(h.OXYCODONE_5, days_ago, supply)])
    naive_cards = [a for a in h.alerts(h.screen(kb, data), "DC") if a.facts["condition"] == "opioid-naive"]
    assert bool(naive_cards) is naive


# The labels' tolerance doses (at least a week of 30 mg/day oxycodone, 8 mg/day hydromorphone, 25 ug/h
# fentanyl, ...): taking some opioid is not enough for a tolerant-only product.


@pytest.mark.parametrize(
    ("supply", "share"),
    [
        (5, None),  # 30 tablets of 5 mg over 5 days = 30 mg/day: the oxycodone tolerance dose, tolerant
        (4, None),  # 37.5 mg/day
        (6, 0.83),  # 25 mg/day: below
        (14, 0.36),  # 10.7 mg/day
    ],
)
def test_a_tolerant_only_product_needs_the_labels_tolerance_dose(
    kb: KnowledgeBase, supply: int, share: float | None
) -> None:
    data = h.request(fentanyl_order(), fills=[h.fill(h.OXYCODONE_5, 3, supply, quantity=30)])
    cards = h.alerts(h.screen(kb, data), "DC")
    if share is None:
        assert cards == []
        return
    (card,) = cards
    assert card.indicator is Indicator.WARNING  # not naive (that is critical), but tolerance is not shown
    assert card.facts["condition"] == "opioid-tolerance-not-shown" and card.facts["tolerance_share"] == share
    assert card.facts["not_worked_out"] == []


def test_tolerance_doses_of_several_opioids_add_up(kb: KnowledgeBase) -> None:
    """15 mg/day oxycodone (half of 30) with 4 mg/day hydromorphone (half of 8): together tolerant."""
    hydromorphone = {"text": "hydromorphone hydrochloride 2 mg oral tablet"}
    meds = [h.drug(h.OXYCODONE_5, 1, "tablet", 3), h.drug(hydromorphone, 1, "tablet", 2)]
    assert h.alerts(h.screen(kb, h.request(fentanyl_order(), meds=meds)), "DC") == []
    (card,) = h.alerts(h.screen(kb, h.request(fentanyl_order(), meds=meds[:1])), "DC")
    assert card.facts["tolerance_share"] == 0.5


def test_an_opioid_without_a_tolerance_dose_cannot_show_tolerance(kb: KnowledgeBase) -> None:
    tramadol = {"text": "tramadol hydrochloride 50 mg oral tablet"}
    (card,) = h.alerts(h.screen(kb, h.request(fentanyl_order(), meds=[h.drug(tramadol, 2, "tablet", 4)])), "DC")
    assert card.indicator is Indicator.WARNING
    assert card.facts["not_worked_out"] == ["tramadol: no tolerance dose in the knowledge base"]


def test_a_long_acting_opioid_that_is_not_tolerant_only_needs_only_exposure(kb: KnowledgeBase) -> None:
    data = h.request(h.order(h.OXYCODONE_ER_10, 1, "tablet", 2), fills=[h.fill(h.OXYCODONE_5, 3, 14, quantity=30)])
    assert h.alerts(h.screen(kb, data), "DC") == []


def test_a_current_opioid_prescription_means_not_naive(kb: KnowledgeBase) -> None:
    current = h.drug(h.OXYCODONE_10, 1, "tablet", 4)
    assert not h.alerts(h.screen(kb, h.request(fentanyl_order(), meds=[current])), "DC")


def test_the_look_back_is_configurable(kb: KnowledgeBase) -> None:
    data = h.request(fentanyl_order(), fills=[h.fill(h.OXYCODONE_5, 10, 1)])
    assert h.alerts(h.screen(kb, data), "DC")
    assert not h.alerts(h.screen(kb, data, opioid_naive_days=14), "DC")
