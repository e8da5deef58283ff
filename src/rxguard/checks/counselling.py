"""ED, OH, DD: counselling for drugs with abuse potential, alcohol, and three or more CNS-active drugs.

- ED (info): one card per order for a drug with abuse potential, listing the counselling points that apply
  (safe storage, no sharing, no alcohol, disposal, naloxone, warning signs of misuse). The same points are
  what the patient leaflet prints (`counselling_points`). When naloxone should be offered and no MME or
  interaction card carries the suggestion, this card does.
- OH: an order that interacts with alcohol, for a patient whose record shows alcohol use (alcohol dependence or
  abuse), with the rule's severity. Telling every patient on a CNS depressant not to drink is an ED point.
- DD: three or more CNS-active drugs together (AGS Beers 2023 Table 5), one card implicating all of them,
  raised when an order is one of them. The pairs among them keep their own interaction cards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from rxguard.checks.common import SEVERITY_INDICATOR, make_alert
from rxguard.checks.context import ClinicalContext, Med
from rxguard.checks.controlled import knowledge
from rxguard.checks.mme import naloxone_plan, naloxone_suggestion
from rxguard.domain.model import Alert, Indicator, Severity
from rxguard.knowledge import controlled as c
from rxguard.knowledge.base import KnowledgeBase

TOPIC_ORDER = ("safe-storage", "no-sharing", "no-alcohol", "disposal", "naloxone", "misuse-warning-signs")
TOPIC_LABELS = {
    "safe-storage": "storage",
    "no-sharing": "no sharing",
    "no-alcohol": "no alcohol",
    "disposal": "disposal",
    "naloxone": "naloxone",
    "misuse-warning-signs": "misuse signs",
}


def counselling_points(kb: KnowledgeBase, ingredients: Iterable[str], jurisdiction: str) -> list[c.CounsellingPoint]:
    """The counselling points for a medicine's ingredients in a jurisdiction, in the order they are told."""
    wanted = set(ingredients)
    if wanted.isdisjoint(_counselled(kb)):
        return []
    points = [
        p
        for p in knowledge(kb).counselling.points
        if p.status == "active" and jurisdiction in p.jurisdictions and wanted & kb.expand(p.drugs)
    ]
    return sorted(points, key=lambda p: (TOPIC_ORDER.index(p.topic), p.id))


def _counselled(kb: KnowledgeBase) -> frozenset[str]:
    """Every ingredient an active counselling point names (built once per knowledge base)."""

    def build() -> frozenset[str]:
        points = knowledge(kb).counselling.points
        return frozenset(i for p in points if p.status == "active" for i in kb.expand(p.drugs))

    return kb.memo("counselling.ingredients", build)


def check_counselling(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    counselled = [
        (order, points)
        for order in ctx.orders
        if (points := counselling_points(kb, order.ingredients(), ctx.config.jurisdiction))
    ]
    if not counselled:
        return []
    plan = naloxone_plan(ctx)
    alerts: list[Alert] = []
    for order, points in counselled:
        lines = "\n".join(f"- **{p.title}.** {p.text}" for p in points)
        why = f"{order.name} has abuse potential. Tell the patient:\n\n{lines}"
        sources = tuple(ref for p in points for ref in kb.cite(p.sources))
        facts: dict[str, object] = {
            "counselling_points": [p.id for p in points],
            "topics": list(dict.fromkeys(p.topic for p in points)),
        }
        hosts_naloxone = plan is not None and plan.host == "ED" and plan.order is order
        if hosts_naloxone and plan is not None:
            facts.update(plan.facts())
            why += f"\n\nNaloxone is not on the list; risk factors: {'; '.join(plan.risk_factors)}."
        alert = make_alert(
            ctx,
            "ED",
            Indicator.INFO,
            f"Counsel on {order.name}: " + ", ".join(dict.fromkeys(TOPIC_LABELS[p.topic] for p in points)),
            why,
            "Go through these points with the patient when handing over the medicine; they are on the leaflet.",
            [order],
            rule_id="counsel.controlled",
            facts=facts,
        )
        alert = replace(alert, sources=tuple(dict.fromkeys(sources)))
        if hosts_naloxone and plan is not None:
            alert = replace(
                alert,
                sources=alert.sources + kb.cite(plan.rule.sources),
                suggestions=(naloxone_suggestion(ctx, plan),),
            )
        alerts.append(alert)
    return alerts


def check_alcohol(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    rules = [r for r in knowledge(kb).counselling.alcohol if r.status == "active"]
    alerts: list[Alert] = []
    if not any(cid in ctx.conditions for rule in rules for cid in rule.conditions):
        return alerts  # no alcohol use on record: no rule can apply
    for order in ctx.orders:
        matched = [
            rule
            for rule in rules
            if set(order.ingredients()) & kb.expand(rule.drugs)
            and any(cid in ctx.conditions for cid in rule.conditions)
        ]
        if not matched:
            continue
        rule = max(matched, key=lambda r: Severity[r.severity.upper()])
        evidence = [ctx.conditions[cid].evidence for cid in rule.conditions if cid in ctx.conditions]
        ingredients = [i for i in order.ingredients() if i in kb.expand(rule.drugs)]
        names = ", ".join(kb.ingredient_name(i) for i in ingredients)
        why = (
            f"The record shows {'; '.join(evidence)}. {names.capitalize()} with alcohol: {rule.effect} "
            f"Mechanism: {rule.mechanism} Severity: {rule.severity} ({rule.severity_basis})."
        )
        alerts.append(
            make_alert(
                ctx,
                "OH",
                SEVERITY_INDICATOR[rule.severity],
                f"Alcohol use on record, with {names} ({rule.severity}): {rule.effect}",
                why,
                rule.management,
                [order],
                rule,
                {"ingredients": ingredients, "severity": rule.severity, "alcohol_use": evidence},
                severity=rule.severity,
            )
        )
    return alerts


def check_cns_burden(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    alerts: list[Alert] = []
    for rule in knowledge(kb).counselling.cns_burden:
        if rule.status != "active":
            continue
        members = kb.expand(rule.members)
        involved: list[Med] = [m for m in ctx.all_meds() if not members.isdisjoint(m.ingredients())]
        if not any(m is o for m in involved for o in ctx.orders):
            continue
        ingredients = sorted({i for m in involved for i in m.ingredients() if i in members})
        if len(ingredients) < rule.min_count:
            continue
        names = ", ".join(kb.ingredient_name(i) for i in ingredients)
        why = (
            f"The patient would be taking {len(ingredients)} CNS-active drugs: {names} "
            f"({'; '.join(m.name for m in involved)}). {rule.effect} Severity: {rule.severity} ({rule.severity_basis})."
        )
        alerts.append(
            make_alert(
                ctx,
                "DD",
                SEVERITY_INDICATOR[rule.severity],
                f"{len(ingredients)} CNS-active drugs together: {names}",
                why,
                rule.management,
                involved,
                rule,
                {"ingredients": ingredients, "count": len(ingredients), "min_count": rule.min_count},
                severity=rule.severity,
            )
        )
    return alerts
