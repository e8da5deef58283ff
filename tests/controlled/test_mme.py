"""Daily MME per opioid and in total, the HD card thresholds, and the naloxone suggestion.

Numbers are the sources': the CDC 2022 table (and its footnote examples), the CDC 2016 sheet (methadone
tiers), the CDC 2017 data file (its documentation's worked examples), and the CDC calculator tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from rxguard.adapters.fhir.request import parse_request
from rxguard.checks.controlled import knowledge
from rxguard.checks.mme import compute_mme, fill_mme, opioid_meds
from rxguard.domain.model import Indicator
from rxguard.errors import ConfigError
from rxguard.knowledge.base import KnowledgeBase
from tests import builders as b
from tests.controlled import helpers as h


def mme(kb: KnowledgeBase, order: dict[str, Any], factor_set: str = "cdc-2022", **kw: Any) -> dict[str, float]:
    ctx = h.screener(kb).context(parse_request(h.request(order, **kw)))
    result = compute_mme(kb, opioid_meds(ctx), knowledge(kb).factor_set(factor_set))
    return {"total": result.total, **result.by_drug()}


# Each opioid at two doses, CDC 2022 clinical factors (mg/day x factor; patches ug/h x 2.4).
CDC_2022 = [
    ("codeine sulfate 30 mg tablet", 30, "mg", 4, "codeine", 18.0),  # 120 mg x 0.15
    ("codeine sulfate 30 mg tablet", 60, "mg", 4, "codeine", 36.0),  # 240 mg x 0.15
    # CDC 2022 footnote: hydrocodone 5 mg/APAP 325 mg four times a day = 20 MME/day
    ("hydrocodone bitartrate 5 mg / acetaminophen 325 mg tablet", 1, "tablet", 4, "hydrocodone", 20.0),
    ("hydrocodone bitartrate 5 mg / acetaminophen 325 mg tablet", 2, "tablet", 4, "hydrocodone", 40.0),
    ("hydromorphone 2 mg tablet", 2, "mg", 4, "hydromorphone", 40.0),  # 8 mg x 5
    ("hydromorphone 2 mg tablet", 4, "mg", 6, "hydromorphone", 120.0),  # 24 mg x 5
    ("methadone 10 mg tablet", 10, "mg", 2, "methadone", 94.0),  # 20 mg x 4.7
    ("methadone 10 mg tablet", 5, "mg", 3, "methadone", 70.5),  # 15 mg x 4.7
    ("morphine sulfate 15 mg tablet", 15, "mg", 4, "morphine", 60.0),
    ("morphine sulfate 30 mg tablet", 30, "mg", 3, "morphine", 90.0),
    ("oxycodone hydrochloride 10 mg oral tablet", 1, "tablet", 4, "oxycodone", 60.0),  # 40 mg x 1.5
    # CDC 2022 footnote: oxycodone ER 10 mg twice a day = 30 MME/day
    ("12 HR Oxycodone Hydrochloride 10 MG Extended Release Oral Tablet", 1, "tablet", 2, "oxycodone", 30.0),
    ("tapentadol 50 mg tablet", 50, "mg", 2, "tapentadol", 40.0),  # 100 mg x 0.4
    ("tapentadol 50 mg tablet", 100, "mg", 4, "tapentadol", 160.0),  # 400 mg x 0.4
    ("tramadol 50 mg tablet", 50, "mg", 4, "tramadol", 40.0),  # 200 mg x 0.2
    ("tramadol 50 mg tablet", 100, "mg", 4, "tramadol", 80.0),  # 400 mg x 0.2
    ("fentanyl 25 mcg/h patch", 1, "patch", None, "fentanyl", 60.0),  # 25 x 2.4
    ("fentanyl 75 mcg/h patch", 1, "patch", None, "fentanyl", 180.0),  # 75 x 2.4 (CDC IG: 179.99999820)
]


@pytest.mark.parametrize(("text", "dose", "unit", "per_day", "ingredient", "expected"), CDC_2022)
def test_each_opioid_at_two_doses_cdc_2022(
    kb: KnowledgeBase, text: str, dose: float, unit: str, per_day: float | None, ingredient: str, expected: float
) -> None:
    every = 3 if per_day is None else None
    result = mme(kb, b.order(text, dose, unit, per_day, every_days=every))
    assert result[ingredient] == pytest.approx(expected)
    assert result["total"] == pytest.approx(expected)


def test_a_patch_counts_the_patches_worn_not_the_change_interval(kb: KnowledgeBase) -> None:
    # The CDC calculator's patch logic: 1 patch of 75 ug/h is 180 MME/day whether changed daily or every 3 days;
    # 0.2 patch every 12 days (the guide's recommendation 8 example) is 0.2 x 75 x 2.4 = 36.
    daily = mme(kb, b.order("fentanyl 75 mcg/h patch", 1, "patch", 1))
    every_12 = mme(kb, b.order("fentanyl 75 mcg/h patch", 0.2, "patch", None, every_days=12))
    assert daily["total"] == 180.0
    assert every_12["total"] == 36.0


def test_buprenorphine_is_not_benchmarked(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(b.order("buprenorphine 8 mg sublingual tablet", 1, "tablet", 1)))
    assert mme(kb, b.order("buprenorphine 8 mg sublingual tablet", 1, "tablet", 1)) == {"total": 0.0}
    assert h.by_rule(result, "mme.not-computed") is None
    assert not h.alerts(result, "HD")


def test_the_2016_set_uses_hydromorphone_4_and_methadone_tiers(kb: KnowledgeBase) -> None:
    hydromorphone = b.order("hydromorphone 2 mg tablet", 2, "mg", 4)
    assert mme(kb, hydromorphone, "cdc-2016")["total"] == 32.0  # 8 mg x 4
    # OMTKLogicTests: methadone 10 mg, 2 tablets three times a day = 60 mg/day -> x10 = 600 (2016); 2022: 282
    methadone = b.order("methadone 10 mg tablet", 2, "tablet", 3)
    assert mme(kb, methadone, "cdc-2016")["total"] == 600.0
    assert mme(kb, methadone, "cdc-2022")["total"] == 282.0
    assert mme(kb, methadone, "cdc-data-file-2017")["total"] == 180.0  # x3


@pytest.mark.parametrize(
    ("daily_mg", "expected"),
    [(20, 80.0), (20.5, 164.0), (40, 320.0), (41, 410.0), (60, 600.0), (61, 732.0), (80, 960.0)],
)
def test_methadone_2016_tier_boundaries(kb: KnowledgeBase, daily_mg: float, expected: float) -> None:
    # Bands 1-20 x4, 21-40 x8, 41-60 x10, over 60 x12, read as contiguous (20.5 mg/day gets x8).
    assert mme(kb, b.order("methadone 10 mg tablet", daily_mg, "mg", 1), "cdc-2016")["total"] == expected


def test_tramadol_has_no_2016_factor_and_says_so(kb: KnowledgeBase) -> None:
    data = h.request(b.order("tramadol 50 mg tablet", 50, "mg", 4))
    result = h.screen(kb, data, mme_factor_set="cdc-2016")
    missing = h.by_rule(result, "mme.not-computed")
    assert missing is not None and missing.indicator is Indicator.INFO
    assert "no factor for tramadol" in missing.detail


def test_the_data_file_set_for_analytics(kb: KnowledgeBase) -> None:
    assert mme(kb, b.order("tramadol 50 mg tablet", 100, "mg", 4), "cdc-data-file-2017")["total"] == 40.0  # x0.1
    file_set = knowledge(kb).factor_set("cdc-data-file-2017")
    # Documentation sheet: 10 mg oxycodone x (120 tablets / 30 days) x 1.5 = 60 MME/day
    assert fill_mme(kb, {"oxycodone": (10, "mg")}, 120, 30, file_set) == {"oxycodone": 60.0}
    # 25 ug/h fentanyl patch x (10 patches / 30 days) x 7.2 = 60 MME/day (days supply = patches x 3)
    assert fill_mme(kb, {"fentanyl": (25, "ug/h")}, 10, 30, file_set, form="transdermal") == {"fentanyl": 60.0}
    assert fill_mme(kb, {"buprenorphine": (8, "mg")}, 30, 30, file_set) == {"buprenorphine": None}
    # Non-patch fentanyl has data-file factors only (per microgram): 200 ug buccal x 4 a day x 0.13 = 104
    clinical = knowledge(kb).factor_set(None)
    assert fill_mme(kb, {"fentanyl": (200, "ug")}, 120, 30, file_set, form="buccal") == {"fentanyl": 104.0}
    assert fill_mme(kb, {"fentanyl": (200, "ug")}, 120, 30, clinical, form="buccal") == {"fentanyl": None}


def test_sets_are_versioned_and_the_default_is_cdc_2022_clinical(kb: KnowledgeBase) -> None:
    ck = knowledge(kb)
    default = ck.factor_set(None)
    assert default.id == "mme.factors.cdc-2022" and default.use == "clinical" and default.version == 1
    assert {s.use for s in ck.factor_sets.values()} == {"clinical", "analytic"}
    with pytest.raises(ConfigError, match="unknown factor set"):
        ck.factor_set("cdc-1999")


def test_total_across_all_active_opioids_with_mme_by_drug(kb: KnowledgeBase) -> None:
    current = b.med("morphine sulfate 15 mg tablet", 15, "mg", 2)  # 30 MME
    data = h.request(h.order(h.OXYCODONE_10, 1, "tablet", 3), meds=[current])  # 45 MME
    result = h.screen(kb, data)
    (card,) = h.alerts(result, "HD", "mme.")
    assert card.facts["total_mme_per_day"] == 75.0
    assert card.facts["mme_by_drug"] == {"oxycodone": 45.0, "morphine": 30.0}
    assert card.indicator is Indicator.INFO
    assert {m["ingredient"]: m["mme_per_day"] for m in card.facts["mme_by_medication"]} == {
        "oxycodone": 45.0,
        "morphine": 30.0,
    }
    assert card.facts["mme_factor_set"] == "mme.factors.cdc-2022"


@pytest.mark.parametrize(
    ("tablets_a_day", "indicator"),
    [(3, None), (3.3, None), (3.34, Indicator.INFO), (5.9, Indicator.INFO), (6, Indicator.WARNING)],
)
def test_threshold_boundaries_50_and_90(kb: KnowledgeBase, tablets_a_day: float, indicator: Indicator | None) -> None:
    # oxycodone 10 mg: x 1.5 = 15 MME per tablet; 3.3 -> 49.5, 3.34 -> 50.1, 5.9 -> 88.5, 6 -> 90
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_10, tablets_a_day, "tablet", 1)))
    cards = h.alerts(result, "HD", "mme.")
    if indicator is None:
        assert not cards
    else:
        assert [c.indicator for c in cards] == [indicator]


def test_exactly_50_and_exactly_90(kb: KnowledgeBase) -> None:
    fifty = h.screen(kb, h.request(b.order("morphine sulfate 15 mg tablet", 25, "mg", 2)))
    ninety = h.screen(kb, h.request(b.order("morphine sulfate 15 mg tablet", 45, "mg", 2)))
    assert [c.indicator for c in h.alerts(fifty, "HD", "mme.")] == [Indicator.INFO]
    assert [c.indicator for c in h.alerts(ninety, "HD", "mme.")] == [Indicator.WARNING]


def test_thresholds_are_configurable(kb: KnowledgeBase) -> None:
    data = h.request(h.order(h.OXYCODONE_10, 4, "tablet", 1))  # 60 MME
    result = h.screen(kb, data, mme_caution=70, mme_high=100)
    assert not h.alerts(result, "HD", "mme.")
    result = h.screen(kb, data, mme_caution=40, mme_high=60)
    (card,) = h.alerts(result, "HD", "mme.")
    assert card.indicator is Indicator.WARNING and card.facts["thresholds"] == {"caution": 40.0, "high": 60.0}


def test_current_opioids_without_an_opioid_order_are_information_only(kb: KnowledgeBase) -> None:
    current = b.med("morphine sulfate 30 mg tablet", 30, "mg", 4)  # 120 MME
    result = h.screen(kb, h.request(b.order("paracetamol 500 mg tablet", 2, "tablet", 4), meds=[current]))
    (card,) = h.alerts(result, "HD", "mme.")
    assert card.indicator is Indicator.INFO
    assert card.facts["total_mme_per_day"] == 120.0
    assert "No order being screened contains an opioid" in card.detail


# --- naloxone ----------------------------------------------------------------------------------------------


def test_naloxone_is_suggested_on_the_mme_card_from_50(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_10, 4, "tablet", 1)))
    (card,) = h.alerts(result, "HD", "mme.")
    assert card.facts["naloxone_suggested"] is True
    assert card.facts["naloxone_risk_factors"] == ["60 MME/day (at least 50)"]
    (suggestion,) = card.suggestions
    (action,) = suggestion.actions
    assert action.kind == "create" and action.medication is not None
    assert action.medication.codings[0].code == "1725059"  # naloxone 4 mg nasal spray (Narcan SCD)
    assert suggestion.recommended


def test_no_naloxone_suggestion_when_naloxone_is_on_the_list(kb: KnowledgeBase) -> None:
    naloxone = b.med("naloxone 4 mg nasal spray", 1, "spray", None, rxnorm="1725059")
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_10, 4, "tablet", 1), meds=[naloxone]))
    (card,) = h.alerts(result, "HD", "mme.")
    assert card.facts["naloxone_on_list"] is True
    assert not any(a.suggestions for a in result.alerts)


def test_buprenorphine_naloxone_is_not_rescue_naloxone(kb: KnowledgeBase) -> None:
    suboxone = b.med("buprenorphine 8 mg / naloxone 2 mg sublingual tablet", 1, "tablet", 1, rxnorm="351267")
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_10, 4, "tablet", 1), meds=[suboxone]))
    (card,) = h.alerts(result, "HD", "mme.")
    assert card.facts.get("naloxone_suggested") is True


def test_with_a_benzodiazepine_below_50_the_suggestion_joins_the_interaction_card(kb: KnowledgeBase) -> None:
    alprazolam = h.drug(h.ALPRAZOLAM, 1, "tablet", 3)
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4), meds=[alprazolam]))  # 30 MME
    assert not h.alerts(result, "HD", "mme.")
    (dd,) = [a for a in result.alerts if a.code == "DD"]
    assert dd.rule_id == "ddi.opioid.benzodiazepine" and dd.indicator is Indicator.WARNING  # one card per pair
    assert "mme.naloxone.offer" in h.merged_rule_ids(dd)
    assert len(dd.suggestions) == 1 and "alprazolam" in dd.suggestions[0].label


def test_a_recorded_substance_use_disorder_puts_the_suggestion_on_the_counselling_card(kb: KnowledgeBase) -> None:
    data = h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4), conditions=[b.condition("Alcohol dependence", "66590003")])
    result = h.screen(kb, data)
    (ed,) = h.alerts(result, "ED")
    assert ed.facts["naloxone_suggested"] is True
    assert ed.facts["naloxone_risk_factors"] == ["history of alcohol use disorder (alcohol dependence or abuse)"]
    assert len(ed.suggestions) == 1
    assert sum(len(a.suggestions) for a in result.alerts) == 1  # exactly one card carries it


def test_no_risk_factor_no_suggestion(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(h.order(h.OXYCODONE_5, 1, "tablet", 4)))  # 30 MME
    assert not any(a.suggestions for a in result.alerts)
