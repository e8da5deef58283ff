"""Doses a patient can actually take: mg ranges from CPIC percentages, rounded to whole tablets.

A range is rounded inwards to doses the available tablet strengths make (sums of whole tablets): the top
never goes above the range; the bottom goes up to the first makeable dose. When no makeable dose fits, the
largest dose not above the range is offered; when even one tablet is too much, there is no rounded range.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rxguard.therapy.thiopurine.recommendation import Advice

MAX_TABLETS_PER_DAY = 8


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
        for count in range(int(remaining // size + 1e-9), -1, -1):
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
