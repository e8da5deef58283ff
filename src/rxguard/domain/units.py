"""Units: mass doses to mg, unit-of-presentation words, body weight to kg, time periods to days.

Orders arrive with UCUM codes ("mg", "ug", "{tablet}"), HL7 orderable-form codes ("TAB") or
plain words ("tablets"). Anything we cannot convert is reported, never guessed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

MASS_TO_MG: dict[str, float] = {
    "mg": 1.0,
    "g": 1000.0,
    "gm": 1000.0,
    "gram": 1000.0,
    "grams": 1000.0,
    "ug": 0.001,
    "mcg": 0.001,
    "µg": 0.001,
    "microgram": 0.001,
    "micrograms": 0.001,
    "ng": 0.000001,
    "kg": 1_000_000.0,
    "milligram": 1.0,
    "milligrams": 1.0,
}

# Words that mean "one unit of the product" (a tablet, a capsule, a patch); value = canonical name.
PRESENTATION_UNITS: dict[str, str] = {}
for _canonical, _words in {
    "tablet": ("tablet", "tablets", "tab", "tabs", "tbl", "tablet(s)", "caplet", "caplets", "film"),
    "capsule": ("capsule", "capsules", "cap", "caps"),
    "patch": ("patch", "patches", "transdermal patch", "system"),
    "spray": ("spray", "sprays", "actuation", "actuations", "actuat", "puff", "puffs"),
    "suppository": ("suppository", "suppositories", "supp"),
    "dose": ("dose", "doses", "each", "unit", "units", "ea"),
}.items():
    for _word in _words:
        PRESENTATION_UNITS[_word] = _canonical

VOLUME_TO_ML: dict[str, float] = {"ml": 1.0, "l": 1000.0, "cl": 10.0}

WEIGHT_TO_KG: dict[str, float] = {
    "kg": 1.0,
    "g": 0.001,
    "[lb_av]": 0.45359237,
    "lb": 0.45359237,
    "lbs": 0.45359237,
}

PERIOD_TO_DAYS: dict[str, float] = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1.0,
    "wk": 7.0,
    "mo": 30.0,
    "a": 365.0,
}

_BRACES = re.compile(r"^\{(.*)\}$")


@lru_cache(maxsize=4096)
def normalise_unit(unit: str) -> str:
    """Lower-case, strip UCUM curly braces and surrounding spaces: '{Tablet}' -> 'tablet'."""
    text = unit.strip()
    match = _BRACES.match(text)
    if match:
        text = match.group(1)
    return text.strip().lower()


def mass_in_mg(value: float, unit: str) -> float | None:
    """The mass in mg, or None when the unit is not a mass."""
    factor = _mass_factor(unit)
    return None if factor is None else value * factor


@lru_cache(maxsize=4096)
def _mass_factor(unit: str) -> float | None:
    return MASS_TO_MG.get(normalise_unit(unit))


@lru_cache(maxsize=4096)
def presentation_unit(unit: str) -> str | None:
    """'tablet', 'capsule', 'patch'... when the unit counts product units, else None."""
    return PRESENTATION_UNITS.get(normalise_unit(unit))


def volume_in_ml(value: float, unit: str) -> float | None:
    factor = _volume_factor(unit)
    return None if factor is None else value * factor


@lru_cache(maxsize=4096)
def _volume_factor(unit: str) -> float | None:
    return VOLUME_TO_ML.get(normalise_unit(unit))


class UnitReading(NamedTuple):
    """Every way a dose unit can be read, worked out once per unit text (see read_unit)."""

    normalised: str
    mg: float | None  # mg in one of the unit (a mass), as mass_in_mg
    mg_per_h: float | None  # mg per hour in one of the unit (a delivery rate), as rate_in_ug_per_h / 1000
    presentation: str | None  # the product unit it counts ('tablet'), as presentation_unit
    ml: float | None  # mL in one of the unit (a volume), as volume_in_ml


@lru_cache(maxsize=4096)
def read_unit(unit: str) -> UnitReading:
    """The unit as a mass, a rate, a product unit and a volume at once (a dose is read one way or another)."""
    return UnitReading(
        normalise_unit(unit), _mass_factor(unit), _rate_factor(unit), presentation_unit(unit), _volume_factor(unit)
    )


def weight_in_kg(value: float, unit: str) -> float | None:
    factor = WEIGHT_TO_KG.get(unit.strip().lower())
    return None if factor is None else value * factor


def period_in_days(value: float, unit: str) -> float | None:
    factor = PERIOD_TO_DAYS.get(unit.strip())
    return None if factor is None else value * factor


def rate_in_ug_per_h(value: float, unit: str) -> float | None:
    """Transdermal delivery rates: 'ug/h', 'mcg/h', 'mcg/hr', 'mg/h' to micrograms per hour."""
    factor = _rate_factor(unit)
    return None if factor is None else value * factor * 1000.0


@lru_cache(maxsize=4096)
def _rate_factor(unit: str) -> float | None:
    """mg per hour for one of `unit` (a mass per hour), else None."""
    text = normalise_unit(unit).replace("hr", "h").replace(" ", "")
    if "/" not in text:
        return None
    mass, per = text.split("/", 1)
    if per not in {"h", "1h"}:
        return None
    return _mass_factor(mass)
