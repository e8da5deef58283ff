"""PG pregnancy, NR breastfeeding, PA age: rules by gestational week, lactation, and age band."""

from __future__ import annotations

from rxguard.checks.common import LEVEL_INDICATOR, make_alert
from rxguard.checks.context import ClinicalContext
from rxguard.domain.model import Alert


def check_pregnancy(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    alerts: list[Alert] = []
    for order in ctx.orders:
        chosen: dict[str, tuple[int, Alert]] = {}
        for rule in kb.pregnancy:
            if rule.status != "active" or ctx.config.jurisdiction not in rule.jurisdictions:
                continue
            hit = [i for i in order.ingredients() if i in kb.expand(rule.drugs)]
            if not hit:
                continue
            names = ", ".join(kb.ingredient_name(i) for i in hit)
            if rule.applies_to == "pregnancy":
                if not ctx.pregnant:
                    continue
                weeks = ctx.gestational_weeks
                note = ""
                if weeks is None:
                    if rule.from_week is not None or rule.to_week is not None:
                        note = " Gestational age is not recorded, so this rule for part of pregnancy was applied."
                else:
                    if rule.from_week is not None and weeks < rule.from_week:
                        continue
                    if rule.to_week is not None and weeks >= rule.to_week:
                        continue
                stage = f"at {weeks:g} weeks" if weeks is not None else "(gestation unknown)"
                code, summary = "PG", f"{names.capitalize()} in pregnancy {stage}: {rule.level}"
                facts = {"ingredients": hit, "gestational_weeks": weeks, "level": rule.level}
            else:
                if not ctx.breastfeeding:
                    continue
                note = ""
                code, summary = "NR", f"{names.capitalize()} while breastfeeding: {rule.level}"
                facts = {"ingredients": hit, "level": rule.level}
            alert = make_alert(
                ctx,
                code,
                LEVEL_INDICATOR[rule.level],
                summary,
                f"{order.name}: {rule.text}{note}",
                rule.management,
                [order],
                rule,
                facts,
                severity=rule.level,
            )
            rank = int(LEVEL_INDICATOR[rule.level])
            if code not in chosen or rank > chosen[code][0]:
                chosen[code] = (rank, alert)
        alerts.extend(a for _, a in chosen.values())
    return alerts


def check_age(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    alerts: list[Alert] = []
    if ctx.age is None:
        return alerts
    for order in ctx.orders:
        chosen: tuple[int, Alert] | None = None
        for rule in kb.age_rules:
            if rule.status != "active":
                continue
            if rule.min_age_years is not None and ctx.age < rule.min_age_years:
                continue
            if rule.max_age_years is not None and ctx.age >= rule.max_age_years:
                continue
            hit = [i for i in order.ingredients() if i in kb.expand(rule.drugs)]
            if not hit:
                continue
            names = ", ".join(kb.ingredient_name(i) for i in hit)
            alert = make_alert(
                ctx,
                "PA",
                LEVEL_INDICATOR[rule.level],
                f"{names.capitalize()} at age {ctx.age}: {rule.criterion}",
                f"{order.name}, patient aged {ctx.age}: {rule.text}",
                rule.management,
                [order],
                rule,
                {
                    "ingredients": hit,
                    "age": ctx.age,
                    "level": rule.level,
                    "quality_of_evidence": rule.quality_of_evidence,
                    "strength": rule.strength,
                },
                severity=rule.level,
            )
            rank = int(LEVEL_INDICATOR[rule.level])
            if chosen is None or rank > chosen[0]:
                chosen = (rank, alert)
        if chosen is not None:
            alerts.append(chosen[1])
    return alerts
