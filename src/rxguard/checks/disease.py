"""MC / DC: drug-disease contraindications, from recorded conditions (MC) or inferred from labs (DC)."""

from __future__ import annotations

from rxguard.checks.common import LEVEL_INDICATOR, make_alert
from rxguard.checks.context import ClinicalContext
from rxguard.domain.model import Alert


def check_drug_disease(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    alerts: list[Alert] = []
    for order in ctx.orders:
        route = order.resolution.route or "oral"
        best: dict[str, tuple[int, object]] = {}
        for rule in kb.drug_disease:
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
