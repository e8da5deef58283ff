"""PG pregnancy, NR breastfeeding, PA age: rules by gestational week, lactation, and age band."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from rxguard.checks.common import LEVEL_INDICATOR, make_alert
from rxguard.checks.context import ClinicalContext
from rxguard.domain.model import Alert
from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase

R = TypeVar("R", s.PregnancyRule, s.AgeRule)


def _rules_by_ingredient(kb: KnowledgeBase, name: str, rules: Sequence[R]) -> dict[str, tuple[int, ...]]:
    """Positions of the active rules that name each ingredient (directly or by class), built once per KB."""

    def build() -> dict[str, tuple[int, ...]]:
        found: dict[str, list[int]] = {}
        for position, rule in enumerate(rules):
            if rule.status == "active":
                for ingredient in kb.expand(rule.drugs):
                    found.setdefault(ingredient, []).append(position)
        return {ingredient: tuple(positions) for ingredient, positions in found.items()}

    return kb.memo(f"{name}.by_ingredient", build)


def _candidates(kb: KnowledgeBase, name: str, rules: Sequence[R], ingredients: tuple[str, ...]) -> list[R]:
    """The rules that name one of the ingredients, in the knowledge file's order (no other rule can fire)."""
    indexed = _rules_by_ingredient(kb, name, rules)
    if len(ingredients) == 1:
        return [rules[i] for i in indexed.get(ingredients[0], ())]
    return [rules[i] for i in sorted({i for ingredient in ingredients for i in indexed.get(ingredient, ())})]


def check_pregnancy(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    alerts: list[Alert] = []
    if not ctx.pregnant and not ctx.breastfeeding:
        return alerts  # every rule is for pregnancy or breastfeeding
    for order in ctx.orders:
        chosen: dict[str, tuple[int, Alert]] = {}
        for rule in _candidates(kb, "pregnancy", kb.pregnancy, order.ingredients()):
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
        for rule in _candidates(kb, "age", kb.age_rules, order.ingredients()):
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
