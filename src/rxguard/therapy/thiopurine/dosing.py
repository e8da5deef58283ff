"""Doses a patient can actually take: mg ranges from CPIC percentages, rounded to whole tablets.

A range is rounded inwards to doses the available tablet strengths make (sums of whole tablets): the top
never goes above the range; the bottom goes up to the first makeable dose. When no makeable dose fits, the
largest dose not above the range is offered; when even one tablet is too much, there is no rounded range.
`advise_patient` puts CPIC's advice and that dose together for typed results: the document of
`rxguard pgx recommend` and of `POST /api/v1/thiopurine/recommendation`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rxguard.errors import InputError
from rxguard.therapy.thiopurine.knowledge import Drug, PgxIndex
from rxguard.therapy.thiopurine.phenotype import GeneResult, given_results
from rxguard.therapy.thiopurine.recommendation import Advice, phenotype_or_none, recommend

if TYPE_CHECKING:
    from rxguard.knowledge.base import KnowledgeBase

MAX_TABLETS_PER_DAY = 8
MAX_WEIGHT_KG = 400


def checked_weight(weight_kg: float, field: str = "--weight-kg") -> float:
    """A body weight in kg (0-400], else an InputError naming `field`."""
    if not math.isfinite(weight_kg) or weight_kg <= 0 or weight_kg > MAX_WEIGHT_KG:
        raise InputError(field, weight_kg, f"expected a body weight in kg (0-{MAX_WEIGHT_KG})")
    return weight_kg


def checked_strengths(values: Sequence[float], shown: object, field: str = "--strengths") -> list[float]:
    """Tablet strengths in mg: at least one, each a positive number (`shown` is the value as the user wrote it)."""
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise InputError(field, shown, "expected positive mg values, e.g. 25,50")
    return list(values)


def catalog_tablet_strengths(kb: KnowledgeBase, ingredient: str, brand: str | None = None) -> list[float]:
    """Strengths (mg) of the catalog's single-ingredient tablets: the brand's, else the generics', else any."""

    def strengths(wanted: str | None, any_brand: bool) -> list[float]:
        values = set()
        for p in kb.products.values():
            if not p.catalog or p.dose_form != "tablet" or len(p.ingredients) != 1:
                continue
            pi = p.ingredients[0]
            if pi.ingredient != ingredient or pi.strength is None or pi.strength.unit != "mg":
                continue
            if any_brand or p.brand == wanted:
                values.add(pi.strength.value)
        return sorted(values)

    if brand:
        found = strengths(brand, any_brand=False)
        if found:
            return found
    return strengths(None, any_brand=False) or strengths(None, any_brand=True)


def makeable_doses(strengths: Iterable[float], up_to: float, max_tablets: int = MAX_TABLETS_PER_DAY) -> list[float]:
    """Every daily total that whole tablets of these strengths make, up to `up_to` mg (sorted)."""
    sizes = sorted({s for s in strengths if s > 0})
    totals = {0.0}
    for _ in range(max_tablets):
        totals |= {round(t + s, 6) for t in totals for s in sizes if t + s <= up_to + 1e-9}
    return sorted(t for t in totals if t > 0)


def round_range(low: float, high: float, strengths: Sequence[float]) -> tuple[float, float] | None:
    """[low, high] mg -> the makeable doses inside it (never above high); None if not even one tablet fits."""
    doses = makeable_doses(strengths, high)
    if not doses:
        return None
    inside = [d for d in doses if d >= low - 1e-9]
    if not inside:
        return doses[-1], doses[-1]
    return inside[0], inside[-1]


def tablets_for(dose: float, strengths: Sequence[float]) -> dict[float, int] | None:
    """The fewest whole tablets making exactly `dose` mg, as {strength: count}; None if impossible."""
    sizes = sorted({s for s in strengths if s > 0}, reverse=True)
    best: dict[float, int] | None = None

    def search(remaining: float, i: int, used: dict[float, int]) -> None:
        nonlocal best
        if abs(remaining) < 1e-6:
            if best is None or sum(used.values()) < sum(best.values()):
                best = dict(used)
            return
        if i >= len(sizes) or sum(used.values()) >= MAX_TABLETS_PER_DAY:
            return
        size = sizes[i]
        most = min(int(remaining // size + 1e-9), MAX_TABLETS_PER_DAY - sum(used.values()))  # bounds the search
        for count in range(most, -1, -1):
            if count:
                used[size] = count
            else:
                used.pop(size, None)
            search(remaining - count * size, i + 1, used)
        used.pop(size, None)

    search(dose, 0, {})
    return best


def describe_tablets(counts: dict[float, int], unit: str = "tablet") -> str:
    parts = [f"{n} x {s:g} mg {unit}{'s' if n > 1 else ''}" for s, n in sorted(counts.items(), reverse=True)]
    return " + ".join(parts)


@dataclass(frozen=True, slots=True)
class DoseRange:
    """A recommended starting dose for one patient: mg/kg/day, raw mg/day, and whole-tablet mg/day."""

    percent: tuple[int, int]
    mg_per_kg_day: tuple[float, float]
    mg_per_day: tuple[float, float]
    rounded_mg_per_day: tuple[float, float] | None
    note: str | None = None


def recommended_dose(advice: Advice, weight_kg: float | None, strengths: Sequence[float]) -> DoseRange | None:
    """The advice's starting-dose percentage applied to CPIC's normal dose and this patient's weight."""
    percent = advice.dose_percent()
    normal = advice.normal_dose.mg_per_kg_day
    if percent is None or normal is None:
        return None
    per_kg = (round(normal[0] * percent[0] / 100, 4), round(normal[1] * percent[1] / 100, 4))
    if weight_kg is None:
        return DoseRange(percent, per_kg, (0.0, 0.0), None, "no weight on file: mg/day not computed")
    mg = (round(per_kg[0] * weight_kg, 2), round(per_kg[1] * weight_kg, 2))
    rounded = round_range(mg[0], mg[1], strengths) if strengths else None
    note = None
    if strengths and rounded is None:
        note = f"even the smallest tablet ({min(strengths):g} mg) is above {mg[1]:g} mg/day"
    elif rounded is not None and rounded[0] < mg[0] - 1e-9:
        note = f"no whole-tablet dose lies inside {mg[0]:g}-{mg[1]:g} mg/day: the largest below it is offered"
    return DoseRange(percent, per_kg, mg, rounded, note)


@dataclass(frozen=True, slots=True)
class PatientAdvice:
    """CPIC's advice for one patient's results, with the starting dose for their weight: `rxguard pgx recommend`."""

    advice: Advice
    tpmt: GeneResult | None
    nudt15: GeneResult | None
    dose: DoseRange | None

    def as_dict(self) -> dict[str, Any]:
        """As `rxguard pgx recommend --format json` and `POST /api/v1/thiopurine/recommendation` give it."""
        advice, dose = self.advice, self.dose
        percent = advice.dose_percent()
        results = (("TPMT", self.tpmt), ("NUDT15", self.nudt15))
        return {
            "drug": advice.drug,
            "phenotype": advice.phenotypes,
            "diplotype": {gene: r.diplotype for gene, r in results if r and r.diplotype},
            "indicator": advice.indicator,
            "start_dose_percent": list(percent) if percent is not None else None,
            "recommended_mg_per_kg_day": list(dose.mg_per_kg_day) if dose else None,
            "recommended_daily_dose_mg": list(dose.rounded_mg_per_day) if dose and dose.rounded_mg_per_day else None,
            "consider_alternative": advice.advise_alternative,
            "thrice_weekly": advice.thrice_weekly and advice.malignant,
            "steady_state_weeks": list(advice.steady_state_weeks) if advice.steady_state_weeks else None,
            "tests": list(advice.tests),
            "rule_id": advice.rule_id,
            "guideline_version": advice.guideline_version,
            "advice": advice.summary,
            "notes": [note for _, r in results if r for note in r.notes],
        }


def advise_patient(
    index: PgxIndex,
    drug: Drug,
    tpmt: str | None,
    nudt15: str | None,
    malignant: bool = False,
    weight_kg: float | None = None,
    strengths: Sequence[float] = (25, 50),
) -> PatientAdvice:
    """Typed results (diplotype, rsID genotypes or phenotype) -> CPIC's advice and, with a weight, the dose."""
    if weight_kg is not None:
        checked_weight(weight_kg)
    sizes = checked_strengths(strengths, ",".join(f"{s:g}" for s in strengths))
    t, n = given_results(index, tpmt, nudt15)
    advice = recommend(index, drug, phenotype_or_none(t), phenotype_or_none(n), malignant)
    return PatientAdvice(advice, t, n, recommended_dose(advice, weight_kg, sizes))
