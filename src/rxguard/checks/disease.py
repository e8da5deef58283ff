"""MC / DC: drug-disease contraindications, from recorded conditions (MC) or inferred from labs (DC)."""

from __future__ import annotations

from rxguard.checks.common import LEVEL_INDICATOR, make_alert
from rxguard.checks.context import ClinicalContext
from rxguard.domain.model import Alert
from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase


def _rules_by_condition(kb: KnowledgeBase) -> dict[str, tuple[tuple[int, s.DrugDisease], ...]]:
    """Active drug-disease rules by condition, each with its place in the knowledge file (built once per KB)."""

    def build() -> dict[str, tuple[tuple[int, s.DrugDisease], ...]]:
        found: dict[str, list[tuple[int, s.DrugDisease]]] = {}
        for position, rule in enumerate(kb.drug_disease):
            if rule.status == "active":
                found.setdefault(rule.condition, []).append((position, rule))
        return {condition: tuple(rules) for condition, rules in found.items()}

    return kb.memo("drug_disease.by_condition", build)


def check_drug_disease(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    alerts: list[Alert] = []
    if not ctx.orders or not ctx.conditions:
        return alerts
    # Only the rules for a condition the patient has can fire; they are read in the knowledge file's order.
    indexed = _rules_by_condition(kb)
    candidates = sorted(
        (pair for condition in ctx.conditions for pair in indexed.get(condition, ())), key=lambda pair: pair[0]
    )
    for order in ctx.orders:
        route = order.resolution.route or "oral"
        best: dict[str, tuple[int, object]] = {}
        for _, rule in candidates:
            if rule.status != "active" or ctx.config.jurisdiction not in rule.jurisdictions:
                continue
            if rule.routes and route not in rule.routes:
                continue
            if rule.min_age_years is not None and (ctx.age is None or ctx.age < rule.min_age_years):
                continue
            if rule.max_age_years is not None and (ctx.age is None or ctx.age >= rule.max_age_years):
                continue
            evidence = ctx.conditions.get(rule.condition)
            if evidence is None:
                continue
            hit = [i for i in order.ingredients() if i in kb.expand(rule.drugs)]
            if not hit:
                continue
            code = "MC" if evidence.recorded else "DC"
            names = ", ".join(kb.ingredient_name(i) for i in hit)
            condition = kb.conditions[rule.condition].name
            why = f"{order.name} ({names}) with {condition} — {evidence.evidence}. {rule.text}"
            alert = make_alert(
                ctx,
                code,
                LEVEL_INDICATOR[rule.level],
                f"{names.capitalize()} and {condition}: {rule.level}",
                why,
                rule.management,
                [order],
                rule,
                {
                    "ingredients": hit,
                    "condition": rule.condition,
                    "level": rule.level,
                    "evidence": evidence.evidence,
                },
                severity=rule.level,
            )
            key = f"{code}:{rule.condition}"
            rank = int(LEVEL_INDICATOR[rule.level])
            if key not in best or rank > best[key][0]:
                best[key] = (rank, alert)
        alerts.extend(a for _, a in best.values() if isinstance(a, Alert))
    return alerts
