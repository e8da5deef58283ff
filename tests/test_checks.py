"""Each check against the numbers in its source, including the cases that must not alert."""

from __future__ import annotations

from typing import Any

import pytest

from rxguard.domain.model import Indicator
from tests import builders as b
from tests.conftest import codes, only


def facts(alert: Any) -> dict[str, Any]:
    return dict(alert.facts)


# --- HD: doses ---------------------------------------------------------------------------------------


def test_paracetamol_is_summed_across_products(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("co-codamol 30/500 tablets", 2, per_day=4),
            meds=[b.med("Panadol 500 mg tablets", 2, per_day=4)],
            observations=[b.weight(72)],
        )
    )
    hd = only(result, "HD")
    assert facts(hd)["ingredient"] == "paracetamol"
    assert facts(hd)["daily_dose_mg"] == 8000 and facts(hd)["max_daily_dose_mg"] == 4000
    assert hd.indicator is Indicator.CRITICAL  # twice the maximum
    assert "ID" in codes(result)


@pytest.mark.parametrize(("tablets_a_day", "indicator"), [(8, None), (9, Indicator.WARNING), (16, Indicator.CRITICAL)])
def test_paracetamol_boundaries(screen: Any, tablets_a_day: int, indicator: Indicator | None) -> None:
    result = screen(b.request(b.order("Panadol 500 mg tablets", 1, per_day=tablets_a_day), observations=[b.weight(70)]))
    hd = [a for a in result.alerts if a.code == "HD"]
    assert (hd[0].indicator if hd else None) is indicator


def test_a_renewal_of_the_current_product_is_not_counted_twice(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("Imuran 50 mg tablet", 1, per_day=2),
            meds=[b.med("Imuran 50 mg tablet", 1, per_day=2, days=28, refills=11)],
            observations=[b.weight(75)],
            conditions=[b.condition("rheumatoid arthritis")],
        )
    )
    assert codes(result) == ["TN"]  # only the missing TPMT result (thiopurine checks); no HD or ID: not counted twice
    assert len(result.context.renewals) == 1


def test_azathioprine_mg_per_kg_against_the_ra_label(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("Imuran 50 mg tablet", 2, per_day=2),
            observations=[b.weight(60)],
            conditions=[b.condition("rheumatoid arthritis")],
        )
    )
    hd = only(result, "HD")
    assert facts(hd)["dose_mg_per_kg_per_day"] == pytest.approx(3.333, abs=0.001)
    assert facts(hd)["max_mg_per_kg_per_day"] == 2.5


def test_a_mg_per_kg_limit_without_weight_is_a_missing_information_card(screen: Any) -> None:
    result = screen(b.request(b.order("Imuran 50 mg tablet", 1, per_day=2)))
    ms = only(result, "MS")
    assert facts(ms)["missing"] == "body weight"
    assert ms.indicator is Indicator.WARNING


def test_the_card_says_which_jurisdiction_applied(screen: Any, uk_screener: Any) -> None:
    from rxguard.adapters.fhir.request import parse_request

    req = b.request(b.order("Voltarol 50mg tab", 1, per_day=4), observations=[b.weight(70)])
    assert "HD" not in codes(screen(req))  # 200 mg/day is the US maximum
    hd = only(uk_screener.screen(parse_request(req)), "HD")
    assert facts(hd)["max_daily_dose_mg"] == 150 and facts(hd)["jurisdiction"] == "UK"


def test_codeine_us_360_uk_240(screen: Any, uk_screener: Any) -> None:
    from rxguard.adapters.fhir.request import parse_request

    order = b.order("codeine 30 mg tablet", 2, per_day=5)  # 300 mg/day
    req = b.request(order, observations=[b.weight(70)])
    assert "HD" not in codes(screen(req))
    hd = only(uk_screener.screen(parse_request(req)), "HD")
    assert facts(hd)["daily_dose_mg"] == 300 and facts(hd)["max_daily_dose_mg"] == 240


def test_daily_methotrexate_is_critical(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("methotrexate 2.5 mg tablet", 4, per_day=1),
            observations=[b.weight(70)],
            conditions=[b.condition("rheumatoid arthritis")],
        )
    )
    hd = only(result, "HD")
    assert hd.indicator is Indicator.CRITICAL
    assert facts(hd)["doses_per_week"] == 7


def test_weekly_methotrexate_within_the_cap_is_silent(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("methotrexate 2.5 mg tablet", 6, every_days=7),
            observations=[b.weight(70)],
            conditions=[b.condition("rheumatoid arthritis")],
        )
    )
    assert "HD" not in codes(result)


def test_tramadol_renal_band_from_cockcroft_gault(screen: Any) -> None:
    # CrCl = (140 - 80) x 60 / (72 x 2.0) x 0.85 = 21.25 mL/min -> the CrCl < 30 band: 200 mg/day
    result = screen(
        b.request(
            b.order("tramadol 50 mg tablet", 1, per_day=6),
            age=80,
            sex="female",
            observations=[b.weight(60), b.lab("2160-0", 2.0, "mg/dL")],
        )
    )
    hd = only(result, "HD")
    assert facts(hd)["max_daily_dose_mg"] == 200 and facts(hd)["daily_dose_mg"] == 300
    assert result.context.labs["crcl"].value == pytest.approx(21.2, abs=0.1)


def test_an_unconvertible_dose_unit_fails_closed(screen: Any) -> None:
    result = screen(b.request(b.order("Panadol 500 mg tablets", 2, unit="teaspoon", per_day=3)))
    assert facts(only(result, "MS"))["missing"] == "dose"


# --- ID / TD / DD ------------------------------------------------------------------------------------


def test_same_ingredient_in_two_brands(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("Voveran SR 75 tablets", 1, per_day=1),
            meds=[b.med("Voltarol 50mg tab", 1, per_day=2)],
            observations=[b.weight(70)],
        )
    )
    assert facts(only(result, "ID"))["ingredients"] == ["diclofenac"]
    assert "HD" not in codes(result)  # 175 mg/day


def test_two_nsaids_are_one_td_card_with_the_interaction_severity(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("ibuprofen 400 mg tablet", 1, per_day=3),
            meds=[b.med("naproxen 500 mg tablet", 1, per_day=2)],
            observations=[b.weight(70)],
        )
    )
    assert codes(result) == ["TD"]
    assert facts(only(result, "TD"))["severity"] == "major"


def test_allopurinol_with_azathioprine_gives_the_dose_reduction(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("Imuran 50 mg tablet", 1, per_day=2),
            observations=[b.weight(70)],
            meds=[b.med("allopurinol 100 mg tablet")],
            conditions=[b.condition("rheumatoid arthritis")],
        )
    )
    dd = only(result, "DD")
    assert dd.indicator is Indicator.WARNING and dd.rule_id == "ddi.azathioprine.allopurinol"
    assert "1/3" in dd.action or "third" in dd.action or "quarter" in dd.action or "25%" in dd.action


def test_low_dose_aspirin_with_ibuprofen_is_the_fda_2006_interaction(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("ibuprofen 400 mg tablet", 1, per_day=3),
            meds=[b.med("aspirin 81 mg tablet", 1, per_day=1)],
            observations=[b.weight(70)],
        )
    )
    assert [(a.code, facts(a)["severity"]) for a in result.alerts] == [("DD", "moderate")]


def test_steroid_dose_condition_for_live_vaccines(screen: Any) -> None:
    high = screen(
        b.request(
            b.order("MMR vaccine", 1, unit="dose", per_day=None), meds=[b.med("prednisolone 5 mg tablet", 5, per_day=1)]
        )
    )
    low = screen(
        b.request(
            b.order("MMR vaccine", 1, unit="dose", per_day=None), meds=[b.med("prednisolone 5 mg tablet", 1, per_day=1)]
        )
    )
    assert only(high, "DD").indicator is Indicator.CRITICAL
    assert "DD" not in codes(low)


def test_a_pair_is_reported_once(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("oxycodone 5 mg tablet", 1, per_day=4),
            meds=[b.med("alprazolam 0.5 mg tablet", 1, per_day=3)],
            observations=[b.weight(80)],
        )
    )
    assert codes(result).count("DD") == 1


# --- DA ----------------------------------------------------------------------------------------------


def test_documented_allergy_is_critical_and_class_cross_sensitivity_a_warning(screen: Any) -> None:
    direct = screen(b.request(b.order("ibuprofen 400 mg tablet", 1, per_day=3), allergies=[b.allergy("Ibuprofen")]))
    cross = screen(b.request(b.order("ibuprofen 400 mg tablet", 1, per_day=3), allergies=[b.allergy("aspirin")]))
    assert only(direct, "DA").indicator is Indicator.CRITICAL
    assert only(cross, "DA").indicator is Indicator.WARNING


def test_an_unreadable_allergy_is_reported_but_food_allergies_are_not(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("Panadol 500 mg tablets", 1, per_day=3), allergies=[b.allergy("Zorblex"), b.allergy("peanut")]
        )
    )
    ms = only(result, "MS")
    assert facts(ms)["allergies"] == ["Zorblex"]


# --- MC / DC / PG / NR / PA --------------------------------------------------------------------------


def test_recorded_gi_bleeding_and_inferred_renal_failure(screen: Any) -> None:
    recorded = screen(
        b.request(
            b.order("Voltarol 50mg tab", 1, per_day=2),
            conditions=[b.condition("gastrointestinal hemorrhage", "74474003")],
        )
    )
    inferred = screen(
        b.request(b.order("Voltarol 50mg tab", 1, per_day=2), observations=[b.lab("98979-8", 22, "mL/min/{1.73_m2}")])
    )
    assert "MC" in codes(recorded)
    assert only(inferred, "DC").facts["condition"] == "severe-renal-impairment"


def test_resolved_conditions_do_not_alert(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("Voltarol 50mg tab", 1, per_day=2),
            conditions=[b.condition("peptic ulcer", "13200003", status="resolved")],
        )
    )
    assert codes(result) == []


@pytest.mark.parametrize(("weeks", "indicator"), [(19, None), (20, Indicator.WARNING), (34, Indicator.WARNING)])
def test_nsaids_in_pregnancy_from_20_weeks_us(screen: Any, weeks: int, indicator: Indicator | None) -> None:
    result = screen(b.request(b.order("Voltarol 50mg tab", 1, per_day=2), observations=b.pregnant(weeks)))
    pg = [a for a in result.alerts if a.code == "PG"]
    assert (pg[0].indicator if pg else None) is indicator


def test_nsaids_contraindicated_late_in_pregnancy_uk(uk_screener: Any) -> None:
    from rxguard.adapters.fhir.request import parse_request

    result = uk_screener.screen(
        parse_request(b.request(b.order("Voltarol 50mg tab", 1, per_day=2), observations=b.pregnant(32)))
    )
    assert only(result, "PG").indicator is Indicator.CRITICAL


def test_codeine_while_breastfeeding_uk(uk_screener: Any) -> None:
    from rxguard.adapters.fhir.request import parse_request

    req = b.request(
        b.order("co-codamol 30/500 tablets", 2, per_day=4),
        conditions=[b.condition("breastfeeding")],
        observations=[b.weight(65)],
    )
    assert only(uk_screener.screen(parse_request(req)), "NR").indicator is Indicator.CRITICAL


@pytest.mark.parametrize(("age", "expected"), [(64, None), (65, Indicator.WARNING)])
def test_beers_benzodiazepines_from_65(screen: Any, age: int, expected: Indicator | None) -> None:
    result = screen(b.request(b.order("lorazepam 1 mg tablet", 1, per_day=1), age=age, observations=[b.weight(70)]))
    pa = [a for a in result.alerts if a.code == "PA"]
    assert (pa[0].indicator if pa else None) is expected


# --- MS and silence ----------------------------------------------------------------------------------


def test_an_unknown_current_medicine_is_reported(screen: Any) -> None:
    result = screen(
        b.request(
            b.order("Panadol 500 mg tablets", 1, per_day=3),
            observations=[b.weight(70)],
            meds=[b.med("Frobozz 10 mg capsule")],
        )
    )
    assert facts(only(result, "MS"))["medicines"] == ["Frobozz 10 mg capsule"]


def test_a_clean_order_on_a_clean_profile_gives_no_card(screen: Any) -> None:
    result = screen(b.request(b.order("Panadol 500 mg tablets", 2, per_day=3), age=35, observations=[b.weight(68)]))
    assert result.alerts == ()


def test_expired_prescriptions_are_not_current(screen: Any) -> None:
    old = b.med("naproxen 500 mg tablet", 1, per_day=2, quantity=20, days=10, authored=b.TODAY.replace(year=2025))
    result = screen(
        b.request(b.order("ibuprofen 400 mg tablet", 1, per_day=3), meds=[old], observations=[b.weight(70)])
    )
    assert result.alerts == ()
