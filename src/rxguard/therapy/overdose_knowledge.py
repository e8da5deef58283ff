"""Knowledge schema for overdose assessment: nomogram lines, units, ingestion thresholds, decisions, facts.

The files live under `knowledge/data/overdose/` and are validated with the rest of the knowledge base.
Every number the assessment uses (the 150 and 100 mg/L lines at 4 h, their 4-hour half-life and 4-24 h
validity, 6.615 umol/L per mg/L, 150 and 75 mg/kg, the 110 kg weight cap, the acetylcysteine regimen) and
every decision and piece of advice is an entry here with its sources; the code only interprets them.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from rxguard.knowledge.extensions import register
from rxguard.knowledge.schema import DrugSet, Rule, Slug, Strict

if TYPE_CHECKING:
    from rxguard.knowledge.base import KnowledgeBase

OVERDOSE_FILE = "overdose.yaml"

LineName = Literal["us", "uk"]
Decision = Literal["treat-now", "treat", "no-treatment-by-nomogram", "level-needed-at-4h"]
Situation = Literal[
    "staggered-or-unknown-time",
    "before-line-starts",
    "after-line-ends",
    "at-or-above-line",
    "below-line",
    "no-level",
    "no-level-late",
]
SITUATIONS: tuple[str, ...] = Situation.__args__  # type: ignore[attr-defined]
Urgency = Literal["emergency", "today", "routine", "self-care"]


class NomogramLine(Rule):
    """A treatment line: level_at_reference mg/L at reference_hours, halving every half_life_hours."""

    line: LineName
    name: str
    ingredient: Slug
    reference_hours: float = Field(gt=0)
    level_at_reference_mg_per_l: float = Field(gt=0)
    half_life_hours: float = Field(gt=0)
    valid_from_hours: float = Field(ge=0)
    valid_to_hours: float = Field(gt=0)
    description: str

    @model_validator(mode="after")
    def _window(self) -> NomogramLine:
        if self.valid_to_hours <= self.valid_from_hours:
            raise ValueError("valid_to_hours must be after valid_from_hours")
        return self


class ConcentrationUnit(Strict):
    """A serum concentration unit: 1 mg/L equals `per_mg_per_l` of it."""

    unit: str
    aliases: list[str] = Field(default_factory=list)
    per_mg_per_l: float = Field(gt=0)


class ConcentrationUnits(Rule):
    """The units a substance's serum level may be given in, with the molar mass behind the molar unit."""

    ingredient: Slug
    molar_mass_g_per_mol: float = Field(gt=0)
    formula: str
    units: list[ConcentrationUnit] = Field(min_length=1)


class DoseThreshold(Rule):
    """An ingested amount per kg of body weight at which a line's guidance acts (toxic dose, assessment)."""

    ingredient: Slug
    line: LineName
    mg_per_kg: float = Field(gt=0)
    meaning: str
    weight_cap_kg: float | None = Field(
        default=None, gt=0, description="weigh heavier patients at this weight when computing mg/kg"
    )


class AmountFact(Rule):
    """A total ingested amount the label names (e.g. liver damage possible at 10 g in adults)."""

    ingredient: Slug
    amount_mg: float = Field(gt=0)
    text: str


class NomogramDecision(Rule):
    """What the nomogram assessment concludes in one situation, and why."""

    ingredient: Slug
    situation: Situation
    decision: Decision
    reason: str
    from_hours: float | None = Field(
        default=None, ge=0, description="for no-level-late: from this many hours a level is not waited for"
    )


class AntidoteStep(Strict):
    mg_per_kg: float = Field(gt=0)
    over_hours: float = Field(gt=0)


class Antidote(Rule):
    """An antidote regimen in mg/kg (rxguard states it; it never computes a patient's dose)."""

    ingredient: Slug
    name: str
    regimen: str
    steps: list[AntidoteStep] = Field(default_factory=list)
    total_mg_per_kg: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _total_adds_up(self) -> Antidote:
        if self.steps and self.total_mg_per_kg is not None:
            total = sum(s.mg_per_kg for s in self.steps)
            if abs(total - self.total_mg_per_kg) > 1e-6:
                raise ValueError(f"steps add up to {total:g} mg/kg, not total_mg_per_kg {self.total_mg_per_kg:g}")
        return self


class OverdoseFact(Rule):
    """A fact about a drug in overdose (signs, course, dialysis, antidote, a reported case), from its label."""

    drugs: DrugSet
    topic: Literal["toxicity", "signs", "course", "management", "dialysis", "antidote", "case"]
    text: str


class OverdoseAdvice(Rule):
    """What to do after an ingestion above the threshold (or one that cannot be compared with it)."""

    applies_to: Literal["drugs", "any-drug", "below-threshold"]
    drugs: DrugSet | None = None
    urgency: Urgency
    advice: str
    adult_min_weight_kg: float | None = Field(
        default=None,
        gt=0,
        description="below-threshold only: adult mg maxima are compared only for non-children of at least this weight",
    )

    @model_validator(mode="after")
    def _drugs_when_needed(self) -> OverdoseAdvice:
        if (self.applies_to == "drugs") != (self.drugs is not None):
            raise ValueError("drugs is required for applies_to 'drugs' and only then")
        return self


class OverdoseFile(Strict):
    nomogram_lines: list[NomogramLine] = Field(default_factory=list)
    concentration_units: list[ConcentrationUnits] = Field(default_factory=list)
    dose_thresholds: list[DoseThreshold] = Field(default_factory=list)
    amount_facts: list[AmountFact] = Field(default_factory=list)
    decisions: list[NomogramDecision] = Field(default_factory=list)
    antidotes: list[Antidote] = Field(default_factory=list)
    facts: list[OverdoseFact] = Field(default_factory=list)
    advice: list[OverdoseAdvice] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        """Every rule of the file, for the knowledge base's ids, sources and counts."""
        return [
            *self.nomogram_lines,
            *self.concentration_units,
            *self.dose_thresholds,
            *self.amount_facts,
            *self.decisions,
            *self.antidotes,
            *self.facts,
            *self.advice,
        ]

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        where = "overdose"
        problems: list[str] = []
        ids = Counter(r.id for r in self.rules())
        problems += [f"{where}: entry {i!r}: field id: defined {n} times" for i, n in ids.items() if n > 1]
        for rule in self.rules():
            ingredient = getattr(rule, "ingredient", None)
            if ingredient is not None and ingredient not in kb.ingredients:
                problems.append(f"{where}: entry {rule.id!r}: field ingredient: unknown ingredient {ingredient!r}")
            drugs = getattr(rule, "drugs", None)
            if isinstance(drugs, DrugSet):
                for ing in drugs.ingredients:
                    if ing not in kb.ingredients:
                        problems.append(f"{where}: entry {rule.id!r}: field drugs: unknown ingredient {ing!r}")
                for cls in drugs.classes:
                    if cls not in kb.classes:
                        problems.append(f"{where}: entry {rule.id!r}: field drugs: unknown class {cls!r}")
        lines = Counter((line.ingredient, line.line) for line in self.nomogram_lines if line.status == "active")
        problems += [f"{where}: nomogram line {k}: {n} active entries" for k, n in lines.items() if n > 1]
        for ingredient in {line.ingredient for line in self.nomogram_lines}:
            have = {d.situation for d in self.decisions if d.ingredient == ingredient and d.status == "active"}
            for situation in SITUATIONS:
                if situation not in have:
                    problems.append(f"{where}: {ingredient}: no active decision for situation {situation!r}")
            if not any(u.ingredient == ingredient for u in self.concentration_units):
                problems.append(f"{where}: {ingredient}: no concentration units")
        for units in self.concentration_units:
            molar = next((u for u in units.units if u.unit == "umol/L"), None)
            if molar is not None and abs(molar.per_mg_per_l * units.molar_mass_g_per_mol / 1000 - 1) > 1e-3:
                problems.append(
                    f"{where}: entry {units.id!r}: field units: umol/L per mg/L {molar.per_mg_per_l} does not "
                    f"match the molar mass {units.molar_mass_g_per_mol} g/mol"
                )
        if self.advice and not any(a.applies_to == "any-drug" for a in self.advice):
            problems.append(f"{where}: advice: no entry for 'any-drug'")
        return problems


register(OVERDOSE_FILE, OverdoseFile)
