"""Overdose assessment: paracetamol against its treatment nomogram, other drugs against their labelled maxima.

Pure: reads the loaded knowledge base and its inputs, no I/O and no clock (the time since ingestion is an
input). Every line, unit, threshold, decision and piece of advice comes from `knowledge/data/overdose/`,
the dose-limit knowledge and the triage knowledge; this module only chooses which applies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rxguard.domain.model import Concept, SourceRef
from rxguard.errors import InputError, NotFoundError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolution, Resolver
from rxguard.knowledge.schema import DoseLimit, Rule
from rxguard.therapy.overdose_knowledge import (
    OVERDOSE_FILE,
    Antidote,
    ConcentrationUnits,
    DoseThreshold,
    NomogramDecision,
    NomogramLine,
    OverdoseAdvice,
    OverdoseFact,
    OverdoseFile,
)
from rxguard.therapy.triage import Medicine, grade_signs, urgency_level, urgency_rank

PARACETAMOL = "paracetamol"
ABOVE_THRESHOLD_SIGNS = ("took-too-much",)
CHILD_SIGNS = ("child-exposed",)
BELOW_THRESHOLD_SIGNS = ("small-accidental-extra-within-daily-max",)


def overdose_knowledge(kb: KnowledgeBase) -> OverdoseFile:
    return kb.extension(OVERDOSE_FILE, OverdoseFile)


def _cite_all(kb: KnowledgeBase, rules: Sequence[Rule]) -> tuple[SourceRef, ...]:
    found: list[SourceRef] = []
    for rule in rules:
        for ref in kb.cite(rule.sources):
            if ref not in found:
                found.append(ref)
    return tuple(found)


def _number(value: float | None, field_name: str, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InputError(
            field_name, value, "must be a number greater than 0" if not allow_zero else "must be 0 or more"
        )


# --- paracetamol and its nomogram ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParacetamolIngestion:
    """What is known: weight, amount, hours from ingestion to the level (None: unknown time), the level."""

    weight_kg: float | None
    amount_mg: float | None = None
    hours: float | None = None
    staggered: bool = False
    level: float | None = None
    unit: str | None = None
    line: str = "us"


@dataclass(frozen=True, slots=True)
class ParacetamolAssessment:
    """The nomogram answer. `as_dict()` has exactly the six documented keys."""

    ingested_mg_per_kg: float | None
    treatment_line_mg_per_l: float | None
    above_line: bool | None
    decision: str
    reason: str
    sources: tuple[SourceRef, ...]
    situation: str
    line: NomogramLine
    hours: float | None
    level_mg_per_l: float | None
    rule_ids: tuple[str, ...]
    threshold_mg_per_kg: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ingested_mg_per_kg": None if self.ingested_mg_per_kg is None else round(self.ingested_mg_per_kg, 1),
            "treatment_line_mg_per_l": (
                None if self.treatment_line_mg_per_l is None else round(self.treatment_line_mg_per_l, 2)
            ),
            "above_line": self.above_line,
            "decision": self.decision,
            "reason": self.reason,
            "sources": [s.as_dict() for s in self.sources],
        }


def line_level(line: NomogramLine, hours: float) -> float:
    """The treatment line (mg/L) at `hours` after ingestion: it halves every `half_life_hours`."""
    return line.level_at_reference_mg_per_l * 2 ** (-(hours - line.reference_hours) / line.half_life_hours)


def nomogram_line(kb: KnowledgeBase, ingredient: str, name: str) -> NomogramLine:
    data = overdose_knowledge(kb)
    for line in data.nomogram_lines:
        if line.ingredient == ingredient and line.line == name and line.status == "active":
            return line
    known = sorted({line.line for line in data.nomogram_lines if line.ingredient == ingredient})
    raise InputError("--line", name, f"expected one of {', '.join(known)}")


def concentration_units(kb: KnowledgeBase, ingredient: str) -> ConcentrationUnits:
    for units in overdose_knowledge(kb).concentration_units:
        if units.ingredient == ingredient and units.status == "active":
            return units
    raise KeyError(f"no concentration units for {ingredient}")  # kb cross-check guarantees them


def _unit_key(text: str) -> str:
    return text.strip().replace("µ", "u").replace("μ", "u").lower().replace(" ", "")


def to_mg_per_l(units: ConcentrationUnits, value: float, unit: str) -> float:
    """A serum level in mg/L; raises InputError naming --unit for a unit the knowledge base does not list."""
    key = _unit_key(unit)
    for u in units.units:
        if key in {_unit_key(a) for a in (u.unit, *u.aliases)}:
            return value / u.per_mg_per_l
    raise InputError("--unit", unit, "expected one of " + ", ".join(u.unit for u in units.units))


def _threshold(kb: KnowledgeBase, ingredient: str, line: str) -> DoseThreshold | None:
    for t in overdose_knowledge(kb).dose_thresholds:
        if t.ingredient == ingredient and t.line == line and t.status == "active":
            return t
    return None


def _decision(kb: KnowledgeBase, ingredient: str, situation: str) -> NomogramDecision:
    for d in overdose_knowledge(kb).decisions:
        if d.ingredient == ingredient and d.situation == situation and d.status == "active":
            return d
    raise KeyError(f"no decision for {ingredient} {situation}")  # kb cross-check guarantees one


def _antidote(kb: KnowledgeBase, ingredient: str) -> Antidote | None:
    return next(
        (a for a in overdose_knowledge(kb).antidotes if a.ingredient == ingredient and a.status == "active"), None
    )


def validate_paracetamol(ingestion: ParacetamolIngestion) -> None:
    """Bad input is an InputError naming the option and the value (exit code 2 on the command line)."""
    _number(ingestion.weight_kg, "--weight-kg")
    _number(ingestion.amount_mg, "--amount-mg")
    _number(ingestion.hours, "--hours", allow_zero=True)
    _number(ingestion.level, "--level", allow_zero=True)
    if ingestion.level is not None and not ingestion.unit:
        raise InputError("--unit", ingestion.unit, "a level needs its unit (mg/L, ug/mL or umol/L)")
    if ingestion.unit and ingestion.level is None:
        raise InputError("--level", None, f"--unit {ingestion.unit} was given without a level")


def _g(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if abs(value - round(value)) > 1e-9 else f"{value:.0f}"


def assess_paracetamol(kb: KnowledgeBase, ingestion: ParacetamolIngestion) -> ParacetamolAssessment:
    """Place the ingestion on the chosen treatment line and decide, with the reason and sources."""
    line = nomogram_line(kb, PARACETAMOL, ingestion.line)
    units = concentration_units(kb, PARACETAMOL)
    if ingestion.unit:
        to_mg_per_l(units, 1.0, ingestion.unit)  # an unknown unit is named before anything else
    validate_paracetamol(ingestion)
    level_mg_per_l = (
        to_mg_per_l(units, ingestion.level, ingestion.unit) if ingestion.level is not None and ingestion.unit else None
    )
    threshold = _threshold(kb, PARACETAMOL, line.line)
    used: list[Rule] = []
    reasons: list[str] = []

    mg_per_kg: float | None = None
    if ingestion.amount_mg is not None and ingestion.weight_kg is not None:
        weight = ingestion.weight_kg
        if threshold is not None and threshold.weight_cap_kg is not None and weight > threshold.weight_cap_kg:
            weight = threshold.weight_cap_kg
        mg_per_kg = ingestion.amount_mg / weight

    hours = None if ingestion.staggered else ingestion.hours
    on_window = hours is not None and line.valid_from_hours <= hours <= line.valid_to_hours
    line_value = line_level(line, hours) if on_window and hours is not None else None
    above: bool | None = None

    if ingestion.staggered or hours is None:
        situation = "staggered-or-unknown-time"
    elif hours < line.valid_from_hours:
        situation = "before-line-starts"
    elif hours > line.valid_to_hours:
        situation = "after-line-ends"
    elif level_mg_per_l is not None and line_value is not None:
        above = level_mg_per_l >= line_value * (1 - 1e-9)
        situation = "at-or-above-line" if above else "below-line"
    else:
        late = _decision(kb, PARACETAMOL, "no-level-late")
        large = mg_per_kg is None or threshold is None or mg_per_kg >= threshold.mg_per_kg
        situation = (
            "no-level-late" if late.from_hours is not None and hours >= late.from_hours and large else "no-level"
        )

    decision = _decision(kb, PARACETAMOL, situation)
    used.append(decision)
    reasons.append(decision.reason)

    if level_mg_per_l is not None and ingestion.level is not None:
        used.append(units)
        given = f"{_g(ingestion.level)} {ingestion.unit}"
        converted = "" if _unit_key(ingestion.unit or "") in ("mg/l", "ug/ml") else f" = {level_mg_per_l:.1f} mg/L"
        if line_value is not None and hours is not None:
            used.append(line)
            relation = "at or above" if above else "below"
            reasons.append(
                f"Level {given}{converted} at {_g(hours)} h is {relation} the {line.name}, which is "
                f"{line_value:.1f} mg/L at {_g(hours)} h."
            )
        else:
            reasons.append(f"The level given ({given}{converted}) was not placed on the nomogram.")
    elif line_value is not None and hours is not None:
        used.append(line)
        reasons.append(f"The {line.name} is {line_value:.1f} mg/L at {_g(hours)} h.")
    if situation in ("before-line-starts", "after-line-ends") and line not in used:
        used.append(line)
        reasons.append(
            f"The {line.name} applies only from {_g(line.valid_from_hours)} to {_g(line.valid_to_hours)} hours "
            f"after ingestion (time given: {_g(hours or 0)} h)."
        )

    if threshold is not None:
        if mg_per_kg is not None and ingestion.amount_mg is not None and ingestion.weight_kg is not None:
            used.append(threshold)
            capped = (
                f" (weighed at {_g(threshold.weight_cap_kg)} kg)"
                if threshold.weight_cap_kg is not None and ingestion.weight_kg > threshold.weight_cap_kg
                else ""
            )
            relation = "at or above" if mg_per_kg >= threshold.mg_per_kg else "below"
            reasons.append(
                f"Ingested {_g(ingestion.amount_mg)} mg by a {_g(ingestion.weight_kg)} kg patient{capped} = "
                f"{mg_per_kg:.1f} mg/kg: {relation} {_g(threshold.mg_per_kg)} mg/kg, {threshold.meaning}."
            )
        else:
            missing = "amount" if ingestion.amount_mg is None else "weight"
            reasons.append(
                f"The {missing} was not given, so the ingested dose could not be compared with "
                f"{_g(threshold.mg_per_kg)} mg/kg ({threshold.meaning})."
            )
    if ingestion.amount_mg is not None:
        facts = sorted(
            (f for f in overdose_knowledge(kb).amount_facts if f.ingredient == PARACETAMOL and f.status == "active"),
            key=lambda f: -f.amount_mg,
        )
        fact = next((f for f in facts if ingestion.amount_mg >= f.amount_mg), None)
        if fact is not None:
            used.append(fact)
            reasons.append(fact.text)
    if decision.decision in ("treat", "treat-now"):
        antidote = _antidote(kb, PARACETAMOL)
        if antidote is not None:
            used.append(antidote)
            reasons.append(f"{antidote.name}: {antidote.regimen}.")
    ids = tuple(dict.fromkeys(r.id for r in used))
    reasons.append(f"Rules: {', '.join(ids)}; knowledge base {kb.version}.")
    return ParacetamolAssessment(
        ingested_mg_per_kg=mg_per_kg,
        treatment_line_mg_per_l=line_value,
        above_line=above,
        decision=decision.decision,
        reason=" ".join(reasons),
        sources=_cite_all(kb, used),
        situation=situation,
        line=line,
        hours=hours,
        level_mg_per_l=level_mg_per_l,
        rule_ids=ids,
        threshold_mg_per_kg=threshold.mg_per_kg if threshold else None,
    )


# --- any catalog drug: amount against the labelled maxima ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    """The most permissive labelled maximum that applies (mg), and the dose rule it came from."""

    mg: float
    text: str
    rule: DoseLimit


@dataclass(frozen=True, slots=True)
class IngredientAssessment:
    ingredient: str
    name: str
    amount_mg: float | None
    mg_per_kg: float | None
    threshold: Threshold | None
    above_threshold: bool | None
    urgency: str
    advice: tuple[str, ...]
    facts: tuple[OverdoseFact, ...]
    rules: tuple[Rule, ...]
    paracetamol: ParacetamolAssessment | None = None
    threshold_note: str = ""

    def as_dict(self, kb: KnowledgeBase) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ingredient": self.ingredient,
            "amount_mg": self.amount_mg,
            "ingested_mg_per_kg": None if self.mg_per_kg is None else round(self.mg_per_kg, 2),
            "threshold_mg": None if self.threshold is None else round(self.threshold.mg, 2),
            "threshold": self.threshold.text if self.threshold else self.threshold_note,
            "threshold_rule_id": self.threshold.rule.id if self.threshold else None,
            "above_threshold": self.above_threshold,
            "urgency": self.urgency,
            "advice": list(self.advice),
            "overdose_facts": [
                {
                    "topic": f.topic,
                    "text": f.text,
                    "rule_id": f.id,
                    "confidence": f.confidence,
                    "sources": [s.as_dict() for s in kb.cite(f.sources)],
                }
                for f in self.facts
            ],
            "rule_ids": [r.id for r in self.rules],
        }
        if self.paracetamol is not None:
            out["paracetamol_nomogram"] = self.paracetamol.as_dict()
        return out


@dataclass(frozen=True, slots=True)
class OverdoseAssessment:
    """An ingestion of any catalog drug: per ingredient, then one urgency and what to do."""

    drug: str
    product: str | None
    urgency: str
    advice: tuple[str, ...]
    ingredients: tuple[IngredientAssessment, ...]
    sources: tuple[SourceRef, ...]
    kb_version: str
    notes: tuple[str, ...] = field(default=())

    def as_dict(self, kb: KnowledgeBase) -> dict[str, Any]:
        return {
            "drug": self.drug,
            "product": self.product,
            "urgency": self.urgency,
            "advice": "\n".join(self.advice),
            "ingredients": [i.as_dict(kb) for i in self.ingredients],
            "notes": list(self.notes),
            "sources": [s.as_dict() for s in self.sources],
            "kb_version": self.kb_version,
        }


def labelled_threshold(
    kb: KnowledgeBase,
    ingredient: str,
    route: str,
    jurisdiction: str,
    weight_kg: float | None,
    adult: bool,
) -> tuple[Threshold | None, str]:
    """The highest labelled daily (or weekly) maximum for the ingredient that can be compared, and why not."""
    limits = [
        lim
        for lim in kb.dose_limits_by_ingredient.get(ingredient, [])
        if route in lim.routes and not lim.not_sourced and not lim.no_fixed_maximum
    ]
    local = [lim for lim in limits if jurisdiction in lim.jurisdictions]
    limits = local or limits
    candidates: list[Threshold] = []
    for lim in limits:
        if lim.max_daily_mg_per_kg is not None and weight_kg is not None:
            candidates.append(
                Threshold(
                    lim.max_daily_mg_per_kg * weight_kg,
                    f"{_g(lim.max_daily_mg_per_kg)} mg/kg/day x {_g(weight_kg)} kg, the labelled maximum "
                    f"({lim.population.description})",
                    lim,
                )
            )
        if lim.max_daily_dose_mg is not None and adult:
            candidates.append(
                Threshold(
                    lim.max_daily_dose_mg,
                    f"{_g(lim.max_daily_dose_mg)} mg/day, the labelled maximum ({lim.population.description})",
                    lim,
                )
            )
    if not candidates:
        for lim in limits:
            if lim.max_weekly_dose_mg is not None and adult:
                candidates.append(
                    Threshold(
                        lim.max_weekly_dose_mg,
                        f"{_g(lim.max_weekly_dose_mg)} mg/week, the labelled weekly maximum "
                        f"({lim.population.description})",
                        lim,
                    )
                )
    if candidates:
        return max(candidates, key=lambda t: t.mg), ""
    if not limits:
        return None, "no labelled maximum in the knowledge base for this route"
    if weight_kg is None and any(lim.max_daily_mg_per_kg for lim in limits):
        return None, "the labelled maximum is per kg of body weight and the weight was not given"
    return (
        None,
        "the labelled maxima are adult doses and the patient is a child, under the adult weight or of unknown weight",
    )


def _advice_rules(kb: KnowledgeBase, ingredient: str, kind: str) -> list[OverdoseAdvice]:
    found = []
    for advice in overdose_knowledge(kb).advice:
        if advice.status != "active" or advice.applies_to != kind:
            continue
        if kind == "drugs" and (advice.drugs is None or ingredient not in kb.expand(advice.drugs)):
            continue
        found.append(advice)
    return found


def _facts(kb: KnowledgeBase, ingredient: str) -> tuple[OverdoseFact, ...]:
    return tuple(f for f in overdose_knowledge(kb).facts if f.status == "active" and ingredient in kb.expand(f.drugs))


def _below_policy(kb: KnowledgeBase) -> OverdoseAdvice | None:
    return next(
        (a for a in overdose_knowledge(kb).advice if a.applies_to == "below-threshold" and a.status == "active"), None
    )


def _amounts(
    resolution: Resolution, drug: str, amount_mg: float | None, tablets: float | None
) -> dict[str, float | None]:
    ids = resolution.ingredient_ids()
    if tablets is not None:
        out: dict[str, float | None] = {}
        for ri in resolution.ingredients:
            strength = ri.strength_mg()
            if strength is None:
                raise InputError(
                    "--tablets", tablets, f"the strength of {drug!r} is not known: give --amount-mg for each ingredient"
                )
            out[ri.ingredient] = strength * tablets
        return out
    if amount_mg is not None and len(ids) > 1:
        raise InputError(
            "--amount-mg", amount_mg, f"{drug!r} has {len(ids)} ingredients ({', '.join(ids)}): give --tablets instead"
        )
    return {i: amount_mg for i in ids}


def assess_ingestion(
    kb: KnowledgeBase,
    drug: str,
    *,
    amount_mg: float | None = None,
    tablets: float | None = None,
    weight_kg: float | None = None,
    hours: float | None = None,
    staggered: bool = False,
    child: bool = False,
    jurisdiction: str = "US",
    resolver: Resolver | None = None,
) -> OverdoseAssessment:
    """Compare an ingestion of any known drug with its labelled maxima and say what to do, with the label's facts."""
    _number(amount_mg, "--amount-mg")
    _number(tablets, "--tablets")
    _number(weight_kg, "--weight-kg")
    _number(hours, "--hours", allow_zero=True)
    if amount_mg is not None and tablets is not None:
        raise InputError("--tablets", tablets, "give either --amount-mg or --tablets, not both")
    resolver = resolver or Resolver(kb)
    resolution = resolver.resolve(Concept(text=drug))
    if not resolution.known:
        raise NotFoundError(
            f"drug: {drug!r} is not a medicine rxguard knows, so it cannot assess it. For any suspected overdose, "
            "call a poison centre (US Poison Help 1-800-222-1222; UK NHS 111) or 999/911 if the person is unwell."
        )
    product = kb.products[resolution.product_id].name if resolution.product_id else None
    route = resolution.route or "oral"
    amounts = _amounts(resolution, drug, amount_mg, tablets)
    below = _below_policy(kb)
    adult_weight = below.adult_min_weight_kg if below and below.adult_min_weight_kg else None
    adult = not child and weight_kg is not None and (adult_weight is None or weight_kg >= adult_weight)
    signs = set(ABOVE_THRESHOLD_SIGNS) | (set(CHILD_SIGNS) if child else set())

    results: list[IngredientAssessment] = []
    for ingredient, amount in amounts.items():
        threshold, why_not = labelled_threshold(kb, ingredient, route, jurisdiction, weight_kg, adult)
        above = None if threshold is None or amount is None else amount > threshold.mg
        if amount is None:
            why_not = why_not or "the amount was not given"
        paracetamol = None
        if ingredient == PARACETAMOL and weight_kg is not None:
            paracetamol = assess_paracetamol(
                kb,
                ParacetamolIngestion(
                    weight_kg=weight_kg,
                    amount_mg=amount,
                    hours=hours,
                    staggered=staggered,
                    line="uk" if jurisdiction == "UK" else "us",
                ),
            )
        single = Medicine(drug, (ingredient,), kb.ingredient_classes.get(ingredient, frozenset()))
        used: list[Rule] = [threshold.rule] if threshold else []
        graded: list[tuple[str, str, Rule]] = []  # (urgency, advice, rule)
        if above is False:
            for rule in grade_signs(kb, [single], BELOW_THRESHOLD_SIGNS):
                graded.append((rule.urgency, rule.advice, rule))
            if not graded and below is not None:
                graded.append((below.urgency, below.advice, below))
        else:
            for rule in grade_signs(kb, [single], signs):
                graded.append((rule.urgency, rule.advice, rule))
            for entry in _advice_rules(kb, ingredient, "drugs"):
                graded.append((entry.urgency, entry.advice, entry))
            if not graded:
                for entry in _advice_rules(kb, ingredient, "any-drug"):
                    graded.append((entry.urgency, entry.advice, entry))
        graded.sort(key=lambda g: -urgency_rank(kb, g[0]))
        urgency = graded[0][0] if graded else "unknown"
        advice_texts = tuple(dict.fromkeys(g[1] for g in graded))
        used.extend(g[2] for g in graded)
        facts = _facts(kb, ingredient)
        used.extend(facts)
        if paracetamol is not None:
            advice_texts = (*advice_texts, f"Nomogram ({paracetamol.line.name}): {paracetamol.decision}.")
        results.append(
            IngredientAssessment(
                ingredient=ingredient,
                name=kb.ingredient_name(ingredient),
                amount_mg=amount,
                mg_per_kg=None if amount is None or weight_kg is None else amount / weight_kg,
                threshold=threshold,
                above_threshold=above,
                urgency=urgency,
                advice=advice_texts,
                facts=facts,
                rules=tuple({r.id: r for r in used}.values()),
                paracetamol=paracetamol,
                threshold_note="" if threshold else why_not,
            )
        )

    overall = max((r.urgency for r in results), key=lambda u: urgency_rank(kb, u), default="unknown")
    advice: list[str] = [urgency_level(kb, overall).action]
    for r in results:
        if r.urgency == overall:
            advice.extend(a for a in r.advice if a not in advice)
    notes = list(resolution.notes)
    for r in results:
        if r.above_threshold is None:
            notes.append(
                f"{r.name}: the amount could not be compared with a labelled maximum ({r.threshold_note}); "
                "treated as above it."
            )
    rules: list[Rule] = [rule for r in results for rule in r.rules]
    sources = list(_cite_all(kb, rules))
    for r in results:
        if r.paracetamol is not None:
            sources.extend(s for s in r.paracetamol.sources if s not in sources)
    for ref in kb.cite(urgency_level(kb, overall).sources):
        if ref not in sources:
            sources.append(ref)
    return OverdoseAssessment(
        drug=drug,
        product=product,
        urgency=overall,
        advice=tuple(advice),
        ingredients=tuple(results),
        sources=tuple(sources),
        kb_version=kb.version,
        notes=tuple(notes),
    )
