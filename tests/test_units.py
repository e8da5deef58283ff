"""Unit conversions: mass to mg, presentation words, rates, weights, periods."""

import pytest

from rxguard.domain.units import (
    mass_in_mg,
    normalise_unit,
    period_in_days,
    presentation_unit,
    rate_in_ug_per_h,
    weight_in_kg,
)


@pytest.mark.parametrize(
    ("value", "unit", "mg"),
    [
        (500, "mg", 500),
        (1, "g", 1000),
        (25, "ug", 0.025),
        (25, "mcg", 0.025),
        (2, "{mg}", 2),
        (3, "tablet", None),
    ],
)
def test_mass_in_mg(value: float, unit: str, mg: float | None) -> None:
    result = mass_in_mg(value, unit)
    assert result == pytest.approx(mg) if mg is not None else result is None


def test_presentation_words_are_recognised_with_or_without_ucum_braces() -> None:
    assert presentation_unit("{tablet}") == "tablet"
    assert presentation_unit("TAB") == "tablet"
    assert presentation_unit("{patch}") == "patch"
    assert presentation_unit("capsules") == "capsule"
    assert presentation_unit("mg") is None
    assert normalise_unit(" {Tablet} ") == "tablet"


def test_transdermal_rates() -> None:
    assert rate_in_ug_per_h(25, "ug/h") == pytest.approx(25)
    assert rate_in_ug_per_h(25, "mcg/hr") == pytest.approx(25)
    assert rate_in_ug_per_h(0.025, "mg/h") == pytest.approx(25)
    assert rate_in_ug_per_h(25, "mg") is None


def test_weights_and_periods() -> None:
    assert weight_in_kg(154, "[lb_av]") == pytest.approx(69.85, abs=0.01)
    assert weight_in_kg(70, "stone") is None
    assert period_in_days(12, "h") == pytest.approx(0.5)
    assert period_in_days(1, "wk") == 7
    assert period_in_days(1, "fortnight") is None
