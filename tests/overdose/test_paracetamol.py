"""The paracetamol nomogram with the sources' numbers: 150 and 100 mg/L at 4 h halving every 4 h, valid 4-24 h."""

from __future__ import annotations

import pytest

from rxguard.errors import InputError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.overdose import (
    ParacetamolIngestion,
    assess_paracetamol,
    concentration_units,
    line_level,
    nomogram_line,
    to_mg_per_l,
)

# The reference sheet (section 4.2): US line 150 ug/mL at 4 h, UK line 100 mg/L at 4 h, both with a 4-hour half-life.
US_LINE = {4: 150.0, 8: 75.0, 12: 37.5, 16: 18.75, 24: 4.6875}
UK_LINE = {4: 100.0, 8: 50.0, 12: 25.0, 16: 12.5, 24: 3.125}
UMOL_PER_MG = 6.615  # 1 mg/L = 6.615 umol/L (C8H9NO2, 151.165 g/mol)
IN_UNIT = {"mg/L": 1.0, "ug/mL": 1.0, "umol/L": UMOL_PER_MG}


def run(kb: KnowledgeBase, **kw: object) -> dict[str, object]:
    ingestion = ParacetamolIngestion(**{"weight_kg": 70.0, **kw})  # type: ignore[arg-type]
    return assess_paracetamol(kb, ingestion).as_dict()


@pytest.mark.parametrize(("line", "table"), [("us", US_LINE), ("uk", UK_LINE)])
def test_the_lines_halve_every_four_hours(kb: KnowledgeBase, line: str, table: dict[int, float]) -> None:
    nomogram = nomogram_line(kb, "paracetamol", line)
    for hours, level in table.items():
        assert line_level(nomogram, hours) == pytest.approx(level)
    assert (nomogram.valid_from_hours, nomogram.valid_to_hours) == (4, 24)


def test_the_uk_line_passes_15_mg_per_l_at_15_hours(kb: KnowledgeBase) -> None:
    # MHRA 2012 defines the line as 100 mg/L at 4 h to 15 mg/L at 15 h; a 4-hour half-life gives 14.9.
    assert line_level(nomogram_line(kb, "paracetamol", "uk"), 15) == pytest.approx(15, abs=0.2)


def test_the_us_line_at_24_hours_is_about_4_7(kb: KnowledgeBase) -> None:
    assert line_level(nomogram_line(kb, "paracetamol", "us"), 24) == pytest.approx(4.7, abs=0.05)


def test_molar_mass_and_umol_conversion_match_the_formula(kb: KnowledgeBase) -> None:
    units = concentration_units(kb, "paracetamol")
    c, h, n, o = 12.011, 1.008, 14.007, 15.999
    assert units.molar_mass_g_per_mol == pytest.approx(8 * c + 9 * h + n + 2 * o, abs=1e-9)  # 151.165
    assert to_mg_per_l(units, 661.5, "umol/L") == pytest.approx(100)
    assert to_mg_per_l(units, 992.3, "µmol/L") == pytest.approx(150, abs=0.01)
    assert to_mg_per_l(units, 1323, "micromol/L") == pytest.approx(200, abs=0.01)
    assert to_mg_per_l(units, 150, "ug/mL") == 150
    assert to_mg_per_l(units, 150, "mcg/mL") == 150
    assert 1000 / units.molar_mass_g_per_mol == pytest.approx(UMOL_PER_MG, abs=1e-3)


@pytest.mark.parametrize("unit", ["mg/L", "ug/mL", "umol/L"])
@pytest.mark.parametrize("hours", [4, 8, 12, 16, 24])
@pytest.mark.parametrize(("line", "table"), [("us", US_LINE), ("uk", UK_LINE)])
@pytest.mark.parametrize(
    ("factor", "above", "decision"),
    [(1.0, True, "treat"), (1.1, True, "treat"), (0.9, False, "no-treatment-by-nomogram")],
    ids=["at", "above", "below"],
)
def test_levels_at_above_and_below_the_line(
    kb: KnowledgeBase,
    unit: str,
    hours: int,
    line: str,
    table: dict[int, float],
    factor: float,
    above: bool,
    decision: str,
) -> None:
    level = table[hours] * factor * IN_UNIT[unit]
    out = run(kb, amount_mg=10_000, hours=hours, level=level, unit=unit, line=line)
    assert out["above_line"] is above
    assert out["decision"] == decision
    assert out["treatment_line_mg_per_l"] == pytest.approx(table[hours], abs=0.005)


@pytest.mark.parametrize("unit", ["mg/L", "ug/mL", "umol/L"])
@pytest.mark.parametrize("line", ["us", "uk"])
def test_just_before_4_hours_the_nomogram_does_not_answer(kb: KnowledgeBase, unit: str, line: str) -> None:
    out = run(kb, amount_mg=10_000, hours=3.9, level=300 * IN_UNIT[unit], unit=unit, line=line)
    assert out["above_line"] is None
    assert out["treatment_line_mg_per_l"] is None
    assert out["decision"] == "level-needed-at-4h"
    assert "cannot be interpreted" in str(out["reason"])


@pytest.mark.parametrize("unit", ["mg/L", "ug/mL", "umol/L"])
@pytest.mark.parametrize("line", ["us", "uk"])
def test_just_after_24_hours_the_nomogram_does_not_answer(kb: KnowledgeBase, unit: str, line: str) -> None:
    out = run(kb, amount_mg=10_000, hours=24.1, level=1 * IN_UNIT[unit], unit=unit, line=line)
    assert out["above_line"] is None
    assert out["treatment_line_mg_per_l"] is None
    assert out["decision"] == "treat-now"  # fail closed: a late level never rules treatment out


@pytest.mark.parametrize("line", ["us", "uk"])
def test_a_staggered_ingestion_never_gets_a_nomogram_answer(kb: KnowledgeBase, line: str) -> None:
    for level in (1.0, 500.0):  # even a level far below or above the line
        out = run(kb, amount_mg=10_000, hours=8, staggered=True, level=level, unit="mg/L", line=line)
        assert out["above_line"] is None
        assert out["treatment_line_mg_per_l"] is None
        assert out["decision"] == "treat-now"
        assert "staggered" in str(out["reason"]).lower()


@pytest.mark.parametrize("line", ["us", "uk"])
def test_an_unknown_time_never_gets_a_nomogram_answer(kb: KnowledgeBase, line: str) -> None:
    out = run(kb, amount_mg=5_000, hours=None, level=10, unit="mg/L", line=line)
    assert (out["above_line"], out["treatment_line_mg_per_l"], out["decision"]) == (None, None, "treat-now")


def test_ingested_mg_per_kg_and_the_thresholds(kb: KnowledgeBase) -> None:
    # 10 g in 70 kg = 142.9 mg/kg: below the US 150 mg/kg toxic dose, above the UK 75 mg/kg assessment threshold.
    us = run(kb, amount_mg=10_000, hours=4, level=100, unit="mg/L")
    assert us["ingested_mg_per_kg"] == 142.9
    assert "below 150 mg/kg" in str(us["reason"])
    uk = run(kb, amount_mg=10_000, hours=4, level=100, unit="mg/L", line="uk")
    assert "at or above 75 mg/kg" in str(uk["reason"])
    assert "10 g or more" in str(us["reason"])  # SmPC 4.9: liver damage possible at 10 g in adults


def test_the_uk_threshold_weighs_heavy_patients_at_110_kg(kb: KnowledgeBase) -> None:
    uk = run(kb, weight_kg=130, amount_mg=9_000, hours=6, line="uk")
    assert uk["ingested_mg_per_kg"] == pytest.approx(9_000 / 110, abs=0.05)  # 81.8, not 69.2
    us = run(kb, weight_kg=130, amount_mg=9_000, hours=6, line="us")
    assert us["ingested_mg_per_kg"] == pytest.approx(9_000 / 130, abs=0.05)


def test_without_a_level_the_level_is_needed_and_late_large_ingestions_are_treated_now(kb: KnowledgeBase) -> None:
    assert run(kb, amount_mg=10_000, hours=2)["decision"] == "level-needed-at-4h"
    assert run(kb, amount_mg=10_000, hours=6)["decision"] == "level-needed-at-4h"
    assert run(kb, amount_mg=12_000, hours=10)["decision"] == "treat-now"  # 171 mg/kg >= 150, past 8 h
    assert run(kb, amount_mg=3_000, hours=10)["decision"] == "level-needed-at-4h"  # 43 mg/kg
    assert run(kb, amount_mg=None, hours=10)["decision"] == "treat-now"  # amount unknown: fail closed
    no_level = run(kb, amount_mg=10_000, hours=8)
    assert no_level["above_line"] is None
    assert no_level["treatment_line_mg_per_l"] == 75.0


def test_json_has_exactly_the_documented_keys_and_cited_sources(kb: KnowledgeBase) -> None:
    out = run(kb, amount_mg=10_000, hours=4, level=200, unit="mg/L")
    assert list(out) == [
        "ingested_mg_per_kg",
        "treatment_line_mg_per_l",
        "above_line",
        "decision",
        "reason",
        "sources",
    ]
    sources = out["sources"]
    assert isinstance(sources, list) and sources
    assert all(set(s) == {"document", "year", "section", "confidence"} for s in sources)
    assert "overdose.paracetamol.line.us" in str(out["reason"])
    assert "150 mg/kg over 60 minutes" in str(out["reason"])  # the acetylcysteine regimen when treating


@pytest.mark.parametrize(
    ("kw", "field", "value"),
    [
        ({"weight_kg": -5.0}, "--weight-kg", -5.0),
        ({"weight_kg": 0.0}, "--weight-kg", 0.0),
        ({"amount_mg": -1.0}, "--amount-mg", -1.0),
        ({"hours": -2.0}, "--hours", -2.0),
        ({"level": 50.0, "unit": "mmol/L", "hours": 4.0}, "--unit", "mmol/L"),
        ({"level": 50.0, "hours": 4.0}, "--unit", None),
        ({"unit": "mg/L", "hours": 4.0}, "--level", None),
    ],
)
def test_bad_input_names_the_field_and_the_value(
    kb: KnowledgeBase, kw: dict[str, object], field: str, value: object
) -> None:
    with pytest.raises(InputError) as err:
        run(kb, **kw)
    assert err.value.field == field
    assert err.value.value == value


def test_an_unknown_line_is_bad_input(kb: KnowledgeBase) -> None:
    with pytest.raises(InputError) as err:
        run(kb, hours=4.0, line="fr")
    assert err.value.field == "--line"
