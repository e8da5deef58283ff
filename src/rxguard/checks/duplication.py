"""ID: the same ingredient in two products; TD: two drugs of a class where duplication is a hazard.

A renewal of the very product already current is not a duplication (the order replaces it). A pair
that is both a duplication and an interaction is reported once, as TD, with the interaction's
severity and text.
"""

from __future__ import annotations

from rxguard.checks.common import DUPLICATION_INDICATOR, make_alert
from rxguard.checks.context import ClinicalContext
from rxguard.checks.interactions import duplication_class_for, duplication_partners, matching_interactions, pairs
from rxguard.domain.model import Alert, Indicator, Severity
from rxguard.knowledge import schema as s


def check_ingredient_duplication(ctx: ClinicalContext) -> list[Alert]:
    alerts: list[Alert] = []
    for a, b in pairs(ctx):
        if set(a.ingredients()).isdisjoint(b.ingredients()):
            continue
        shared = sorted(set(a.ingredients()) & set(b.ingredients()))
        names = ", ".join(ctx.kb.ingredient_name(i) for i in shared)
        why = (
            f"{a.name} and {b.name} both contain {names}. Taking both doubles up the same medicine; "
            "the dose check adds the amounts together."
        )
        alerts.append(
            make_alert(
                ctx,
                "ID",
                Indicator.WARNING,
                f"Same ingredient twice: {names} in {a.name} and {b.name}",
                why,
                f"Confirm the patient should take both; if so, keep the total {names} dose within the maximum.",
                [a, b],
                rule_id="rxguard.id.same-ingredient",
                facts={"ingredients": shared, "products": [a.name, b.name]},
            )
        )
    return alerts


def check_therapeutic_duplication(ctx: ClinicalContext) -> list[Alert]:
    alerts: list[Alert] = []
    paired = duplication_partners(ctx.kb)  # a pair is looked up only when it shares a class
    for a, b in pairs(ctx):
        best = None
        for x in a.ingredients():
            with_x = paired.get(x)
            if not with_x:
                continue
            for y in b.ingredients():
                if y not in with_x:
                    continue  # no duplication class has both
                dup = duplication_class_for(ctx, x, y)
                if dup is not None and (
                    best is None or Severity[dup.severity.upper()] > Severity[best[0].severity.upper()]
                ):
                    best = (dup, x, y)
        if best is None:
            continue
        dup, x, y = best
        kb = ctx.kb
        pair = f"{kb.ingredient_name(x)} + {kb.ingredient_name(y)}"
        interactions = [f for f in matching_interactions(ctx, a, b) if {f[1], f[2]} == {x, y}]
        severity = dup.severity
        why = f"{a.name} and {b.name} are both {dup.name}: {dup.hazard}"
        action = dup.management
        rule: s.Rule = dup
        if interactions:
            interactions.sort(key=lambda f: Severity[f[0].severity.upper()], reverse=True)
            inter = interactions[0][0]
            severity = inter.severity
            why += f" Interaction: {inter.effect} ({inter.severity}; {inter.severity_basis})."
            action = inter.management
            rule = inter
        if dup.exceptions:
            why += f" Exceptions: {dup.exceptions}"
        alerts.append(
            make_alert(
                ctx,
                "TD",
                DUPLICATION_INDICATOR[severity],
                f"Two {dup.name} ({severity}): {pair}",
                why,
                action,
                [a, b],
                rule,
                {"class": dup.id, "ingredients": [x, y], "severity": severity, "duplication_rule": dup.id},
                severity=severity,
            )
        )
    return alerts
