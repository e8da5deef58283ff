"""DD: interactions between each order and the patient's other medicines (and the other drafts).

Pairs that are also a therapeutic duplication (two NSAIDs) are left to the duplication check, which
reports them once as TD with the interaction's severity and text.
"""

from __future__ import annotations

from rxguard.checks.common import SEVERITY_INDICATOR, make_alert
from rxguard.checks.context import ClinicalContext, Med
from rxguard.domain.model import Alert, Severity
from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase


def duplication_class_for(ctx: ClinicalContext, a: str, b: str) -> s.DuplicationClass | None:
    """The most severe duplication class both (different) ingredients belong to."""
    return None if a == b else ctx.kb.duplication_index.get(frozenset((a, b)))


def duplication_partners(kb: KnowledgeBase) -> dict[str, frozenset[str]]:
    """Each ingredient -> the ingredients it shares a duplication class with (built once per knowledge base)."""

    def build() -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        for pair in kb.duplication_index:
            for x in pair:
                found.setdefault(x, set()).update(pair - {x})
        return {x: frozenset(ys) for x, ys in found.items()}

    return kb.memo("duplication.partners", build)


def conditions_hold(rule: s.Interaction, ctx: ClinicalContext, meds: tuple[Med, Med]) -> tuple[bool, list[str]]:
    """Dose conditions on the rule; an unknown dose counts as meeting them (fail closed)."""
    notes: list[str] = []
    for cond in rule.when:
        doses = [m.daily_mg[cond.ingredient] for m in meds if cond.ingredient in m.daily_mg]
        holders = [m for m in meds if cond.ingredient in m.ingredients()]
        if not holders:
            continue
        if not doses:
            notes.append(f"applies when {cond.description}; the daily dose is unknown, so it is assumed to apply")
            continue
        dose = sum(doses)
        if cond.min_daily_dose_mg is not None and dose < cond.min_daily_dose_mg:
            return False, notes
        if cond.max_daily_dose_mg is not None and dose > cond.max_daily_dose_mg:
            return False, notes
        notes.append(f"applies because {cond.description} ({dose:g} mg/day)")
    return True, notes


def matching_interactions(ctx: ClinicalContext, a: Med, b: Med) -> list[tuple[s.Interaction, str, str, list[str]]]:
    """Every interaction rule between two medicines: (rule, ingredient of a, ingredient of b, notes)."""
    found = []
    index = ctx.kb.interaction_index
    for x in a.ingredients():
        for y in b.ingredients():
            for rule in index.get(frozenset((x, y)), ()):
                if rule.severity == "none":
                    continue
                holds, notes = conditions_hold(rule, ctx, (a, b)) if rule.when else (True, [])
                if holds:
                    found.append((rule, x, y, notes))
    return found


def pairs(ctx: ClinicalContext) -> tuple[tuple[Med, Med], ...]:
    """Each order with every other medicine: current, other drafts, and later orders (once per pair).

    Worked out once per request: the interaction check and both duplication checks read it.
    """
    return ctx.derived("interactions.pairs", lambda: _pairs(ctx))


def _pairs(ctx: ClinicalContext) -> tuple[tuple[Med, Med], ...]:
    result = []
    for i, order in enumerate(ctx.orders):
        for other in ctx.orders[i + 1 :] + ctx.comeds:
            result.append((order, other))
    return tuple(result)


def check_interactions(ctx: ClinicalContext) -> list[Alert]:
    alerts: list[Alert] = []
    for a, b in pairs(ctx):
        found = [f for f in matching_interactions(ctx, a, b) if duplication_class_for(ctx, f[1], f[2]) is None]
        if not found:
            continue
        if len(found) > 1:
            found.sort(key=lambda f: Severity[f[0].severity.upper()], reverse=True)
        rule, x, y, notes = found[0]
        kb = ctx.kb
        pair = f"{kb.ingredient_name(x)} + {kb.ingredient_name(y)}"
        why = f"{a.name} with {b.name}: {rule.effect} Mechanism: {rule.mechanism}"
        if notes:
            why += " (" + "; ".join(notes) + ")"
        why += f" Severity: {rule.severity} ({rule.severity_basis})."
        others = {r.id for r, *_ in found[1:] if r.id != rule.id}
        if others:
            why += f" Also matched: {', '.join(sorted(others))}."
        facts = {"ingredients": [x, y], "severity": rule.severity}
        alerts.append(
            make_alert(
                ctx,
                "DD",
                SEVERITY_INDICATOR[rule.severity],
                f"Interaction ({rule.severity}): {pair}",
                why,
                rule.management,
                [a, b],
                rule,
                facts,
                severity=rule.severity,
            )
        )
    return alerts
