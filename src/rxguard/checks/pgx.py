"""Pharmacogenomic dosing of thiopurine orders (PGX) and the TPMT/NUDT15 test they need (TN).

A thiopurine order with no TPMT result gets a TN card (test before starting); with a result it gets a PGX
card naming each phenotype and CPIC's starting dose as a percentage of the normal dose and in mg/day for
this patient, rounded to whole tablets of the strengths the catalog sells. Other orders are never touched.
"""

from __future__ import annotations

from rxguard.checks.common import make_alert
from rxguard.checks.context import ClinicalContext, Med
from rxguard.domain.model import Alert, Indicator
from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.thiopurine.dosing import catalog_tablet_strengths, recommended_dose
from rxguard.therapy.thiopurine.knowledge import DRUGS, Drug, PgxIndex, TestRule, pgx_index
from rxguard.therapy.thiopurine.phenotype import IND, NM, NONE, GeneResult, results_from_observations
from rxguard.therapy.thiopurine.recommendation import Advice, phenotype_or_none, recommend

MALIGNANT_CONDITIONS = frozenset({"malignancy", "acute-lymphoblastic-leukemia"})


def thiopurine_orders(ctx: ClinicalContext) -> list[tuple[Med, Drug]]:
    """The orders of this request that are thiopurines, with the thiopurine each one is."""
    found: list[tuple[Med, Drug]] = []
    for med in ctx.orders:
        for ingredient in med.ingredients():
            if ingredient in DRUGS:
                found.append((med, ingredient))  # type: ignore[arg-type,unused-ignore]
                break
    return found


def is_malignant(ctx: ClinicalContext) -> bool:
    return bool(MALIGNANT_CONDITIONS & set(ctx.conditions))


def tablet_strengths(kb: KnowledgeBase, med: Med | None, ingredient: str) -> list[float]:
    """Strengths (mg) of the catalog's tablets for this order: the ordered brand's, else the generics'."""
    product = kb.products.get(med.resolution.product_id) if med and med.resolution.product_id else None
    return catalog_tablet_strengths(kb, ingredient, product.brand if product is not None else None)


def _test_rule(index: PgxIndex, test: str) -> TestRule:
    return next(r for r in index.data.test_rules if r.test == test and r.status == "active")


def _gene_phrase(results: dict[str, GeneResult | None]) -> str:
    parts = []
    for gene in ("TPMT", "NUDT15"):
        result = results[gene]
        if result is None:
            continue
        label = "normal" if result.phenotype == NM else result.phenotype.lower()
        parts.append(f"{gene} {label}" + (f" ({result.diplotype})" if result.diplotype else ""))
    return ", ".join(parts)


def _range(values: tuple[float, float] | list[float] | None, unit: str = "") -> str:
    if values is None:
        return "?"
    low, high = values
    text = f"{low:g}" if low == high else f"{low:g}-{high:g}"
    return text + unit


def _pgx_alert(
    ctx: ClinicalContext, index: PgxIndex, med: Med, drug: Drug, results: dict[str, GeneResult | None], malignant: bool
) -> Alert:
    tpmt, nudt15 = results["TPMT"], results["NUDT15"]
    advice: Advice = recommend(index, drug, phenotype_or_none(tpmt), phenotype_or_none(nudt15), malignant)
    weight = ctx.weight.value if ctx.weight else None
    strengths = tablet_strengths(ctx.kb, med, drug)
    dose = recommended_dose(advice, weight, strengths)
    ordered = med.daily_mg.get(drug)
    indicator = Indicator.parse(advice.indicator)
    poor_malignant = advice.rule.action == "poor" and malignant
    if poor_malignant and dose is not None and ordered and ordered <= dose.mg_per_day[1] + 1e-9:
        indicator = Indicator.WARNING  # already drastically reduced, as CPIC asks for malignancy
    genes = _gene_phrase(results)
    rounded = dose.rounded_mg_per_day if dose else None
    if advice.advise_alternative:
        what = "consider a non-thiopurine immunosuppressant (CPIC)"
    elif advice.rule.action == "poor":
        frequency = " 3 times a week" if advice.thrice_weekly else " daily"
        what = (
            f"start at {_range(advice.malignant_start_percent, '%')} of the usual dose{frequency}"
            if advice.malignant_start_percent
            else f"start at {advice.malignant_start_absolute}"
        )
    elif advice.rule.action == "no-dose":
        what = "no genotype-based dose; test erythrocyte TPMT activity"
    elif advice.start_dose_percent == (100, 100):
        what = f"usual {drug} starting dose" + (f" ({_range(rounded)} mg/day)" if rounded else "")
    else:
        what = f"start {drug} at {_range(advice.start_dose_percent, '%')} of the usual dose" + (
            f" ({_range(rounded)} mg/day)" if rounded else ""
        )
    if advice.rule.action != "no-dose" and IND in (phenotype_or_none(tpmt), phenotype_or_none(nudt15)):
        what += "; test to resolve the indeterminate gene"
    summary = f"{genes}: {what}"

    bullets = []
    for gene, result in results.items():
        if result is None:
            bullets.append(f"- **{gene}**: no result on file (CPIC 'No Result').")
            continue
        source = f"{result.diplotype} -> " if result.diplotype else ""
        bullets.append(
            f"- **{gene}**: {source}{result.phenotype}" + (f" ({'; '.join(result.notes)})" if result.notes else "")
        )
    lines = ["\n".join(bullets), f"**CPIC** ({advice.guideline_version}): {advice.summary}"]
    if dose is not None:
        normal = advice.normal_dose.mg_per_kg_day
        basis = f"{_range(dose.percent, '%')} of CPIC's normal {_range(normal, ' mg/kg/day')}"
        if weight is None:
            lines.append(f"Dose: {basis} = {_range(dose.mg_per_kg_day, ' mg/kg/day')} (no weight on file for mg/day).")
        else:
            per_kg, per_day = _range(dose.mg_per_kg_day, " mg/kg/day"), _range(dose.mg_per_day, " mg/day")
            text = f"Dose for {weight:g} kg: {basis} = {per_kg} = {per_day}"
            if rounded:
                text += (
                    f"; in whole {', '.join(f'{s:g}' for s in strengths)} mg tablets: **{_range(rounded, ' mg/day')}**"
                )
            if dose.note:
                text += f" ({dose.note})"
            lines.append(text + ".")
    elif advice.normal_dose.mg_per_kg_day is None and advice.dose_percent():
        lines.append(
            f"Dose: {_range(advice.dose_percent(), '%')} of {advice.normal_dose.text} (needs body surface area)."
        )
    if advice.thrice_weekly and malignant:
        lines.append("Give it three times a week instead of daily.")
    if ordered is not None:
        lines.append(f"The order gives {ordered:g} mg/day.")
        if dose is not None and rounded and ordered > dose.mg_per_day[1] + 1e-9:
            lines.append(f"**That is above the recommended {_range(dose.mg_per_day, ' mg/day')}** for this genotype.")
    if advice.steady_state_weeks:
        lines.append(
            f"Steady state: {'at least ' if advice.rule.steady_state_at_least else ''}"
            f"{_range(advice.steady_state_weeks, ' weeks')} after each dose change."
        )
    if advice.tests:
        lines.append("CPIC suggests: " + "; ".join(advice.tests) + ".")
    for notice in index.data.notices:
        if notice.status == "active":
            lines.append(f"Note: {notice.text}")
    if advice.advise_alternative:
        action = f"Do not start {drug} at a usual dose: discuss a non-thiopurine alternative with the prescriber."
    elif advice.rule.action == "poor":
        action = f"Confirm a drastically reduced {drug} dose with the oncology team."
    elif rounded:
        weeks = _range(advice.steady_state_weeks, " weeks")
        action = f"Check the dose against {_range(rounded, ' mg/day')}; allow {weeks} before judging a change."
    else:
        action = "Check the dose against CPIC's recommendation."
    facts = {
        "drug": drug,
        "phenotype": {"TPMT": phenotype_or_none(tpmt), "NUDT15": phenotype_or_none(nudt15)},
        "diplotype": {g: r.diplotype for g, r in results.items() if r is not None and r.diplotype},
        "start_dose_percent": list(percent) if (percent := advice.dose_percent()) else None,
        "recommended_mg_per_kg_day": list(dose.mg_per_kg_day) if dose else None,
        "recommended_daily_dose_mg": list(rounded) if rounded else None,
        "tablet_strengths_mg": strengths,
        "ordered_daily_dose_mg": ordered,
        "dose_frequency": "three times a week" if (advice.thrice_weekly and malignant) else "daily",
        "malignant": malignant,
        "steady_state_weeks": list(advice.steady_state_weeks) if advice.steady_state_weeks else None,
        "guideline_version": advice.guideline_version,
        "cpic_rule": advice.rule.id,
        "amendment": advice.amendment.id if advice.amendment else None,
    }
    rule = advice.amendment if advice.amendment is not None else advice.rule
    return make_alert(ctx, "PGX", indicator, summary, "\n\n".join(lines), action, [med], rule, facts)


def check_pgx(ctx: ClinicalContext) -> list[Alert]:
    """PGX for thiopurine orders with a TPMT or NUDT15 result; TN when the result is missing."""
    orders = thiopurine_orders(ctx)
    if not orders:
        return []
    index = pgx_index(ctx.kb)
    found = results_from_observations(index, ctx.request.profile.observations, ctx.now)
    results: dict[str, GeneResult | None] = {"TPMT": found.get("TPMT"), "NUDT15": found.get("NUDT15")}
    malignant = is_malignant(ctx)
    alerts: list[Alert] = []
    for med, drug in orders:
        missing = [g for g, r in results.items() if r is None]
        if "TPMT" in missing:
            rule = _test_rule(index, "tpmt")
            also = " or NUDT15" if "NUDT15" in missing else ""
            alerts.append(
                make_alert(
                    ctx,
                    "TN",
                    Indicator.parse(rule.indicator),
                    f"{med.name}: no TPMT{also} result on file: test before starting",
                    rule.text + (" NUDT15 is not on file either." if also else ""),
                    rule.management,
                    [med],
                    rule,
                    {"drug": drug, "missing_tests": missing},
                )
            )
        elif "NUDT15" in missing:
            rule = _test_rule(index, "nudt15")
            alerts.append(
                make_alert(
                    ctx,
                    "TN",
                    Indicator.parse(rule.indicator),
                    f"{med.name}: no NUDT15 result on file (TPMT is known)",
                    rule.text,
                    rule.management,
                    [med],
                    rule,
                    {"drug": drug, "missing_tests": missing},
                )
            )
        if len(missing) == 2:
            continue
        alerts.append(_pgx_alert(ctx, index, med, drug, results, malignant))
    return alerts


__all__ = ["NONE", "check_pgx", "is_malignant", "tablet_strengths", "thiopurine_orders"]
