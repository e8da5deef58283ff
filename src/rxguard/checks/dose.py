"""HD: single, daily, weekly and mg/kg/day doses against the sourced limits, summed across products.

For each ingredient of an order the daily amount from every current product is added (paracetamol
from Panadol plus co-codamol). The limits that apply are chosen by jurisdiction, route, release and
population (age, weight, renal function, hepatic impairment, indication); the worst breach is
reported once per ingredient. A limit that needs something unknown (weight for mg/kg) is an MS card.
"""

from __future__ import annotations

from dataclasses import dataclass

from rxguard.checks.common import make_alert, round_mg
from rxguard.checks.context import ClinicalContext, Med
from rxguard.domain.model import Alert, Indicator
from rxguard.knowledge import schema as s

RELEASE_ALIASES = {"extended": "modified", "n/a": "immediate", None: "immediate"}


@dataclass(frozen=True, slots=True)
class Breach:
    rule: s.DoseLimit
    kind: str  # "single", "daily", "per-kg", "weekly", "frequency"
    value: float
    limit: float
    facts: dict[str, object]

    @property
    def ratio(self) -> float:
        return self.value / self.limit if self.limit else float("inf")


def _release(med: Med) -> str:
    release = med.resolution.release
    return RELEASE_ALIASES.get(release, release or "immediate")


def _route_matches(limit: s.DoseLimit, med: Med) -> bool:
    route = med.resolution.route or "oral"
    if route not in limit.routes:
        return False
    if limit.release:
        wanted = {RELEASE_ALIASES.get(r, r) for r in limit.release}
        return _release(med) in wanted
    return True


def _population_fits(
    limit: s.DoseLimit,
    ctx: ClinicalContext,
    notes: list[str],
    assume_normal_renal: bool = False,
    ignore_indication: bool = False,
) -> bool:
    pop = limit.population
    if pop.min_age_years is not None or pop.max_age_years is not None:
        if ctx.age is None:
            return False
        if pop.min_age_years is not None and ctx.age < pop.min_age_years:
            return False
        if pop.max_age_years is not None and ctx.age >= pop.max_age_years:
            return False
    weight = ctx.weight.value if ctx.weight else None
    if pop.max_weight_kg is not None and (weight is None or weight >= pop.max_weight_kg):
        return False
    if pop.min_weight_kg is not None:
        if weight is None:
            notes.append(f"weight not recorded: the limit for patients of at least {pop.min_weight_kg:g} kg applied")
        elif weight < pop.min_weight_kg:
            return False
    if pop.renal is not None:
        lab = ctx.labs.get(pop.renal.measure)
        if lab is None:
            if not (assume_normal_renal and pop.renal.max is None):
                return False
            notes.append(
                f"{ctx.kb.measures[pop.renal.measure].name} unknown: the limit for normal renal function applied"
            )
        elif (pop.renal.min is not None and lab.value < pop.renal.min) or (
            pop.renal.max is not None and lab.value >= pop.renal.max
        ):
            return False
    if pop.hepatic_impairment is not None:
        wanted = f"{pop.hepatic_impairment}-hepatic-impairment"
        if wanted not in ctx.conditions:
            return False
    return not (pop.conditions and not ignore_indication and not any(c in ctx.conditions for c in pop.conditions))


def _special_population(pop: s.Population) -> bool:
    """A population narrower than 'adults': renal or hepatic impairment, low weight, old or young age."""
    return bool(
        pop.renal is not None
        or pop.hepatic_impairment is not None
        or pop.max_weight_kg is not None
        or (pop.min_age_years is not None and pop.min_age_years >= 65)
        or (pop.max_age_years is not None and pop.max_age_years <= 18)
    )


def _maximum(limit: s.DoseLimit) -> float:
    values = [
        v
        for v in (
            limit.max_daily_dose_mg,
            limit.max_daily_mg_per_kg,
            limit.max_weekly_dose_mg,
            limit.max_single_dose_mg,
        )
        if v is not None
    ]
    return max(values) if values else 0.0


def _select(pool: list[s.DoseLimit], ctx: ClinicalContext) -> tuple[list[s.DoseLimit], list[str]]:
    """The limits of one jurisdiction that fit the patient; indication-specific ones override general ones."""
    notes: list[str] = []
    fitting = [lim for lim in pool if _population_fits(lim, ctx, notes)]
    if any(lim.population.conditions for lim in fitting):
        fitting = [lim for lim in fitting if lim.population.conditions or _special_population(lim.population)]
    if fitting:
        return fitting, notes
    # Renal function unknown: the band for normal renal function, said so on the card.
    notes = []
    fitting = [lim for lim in pool if _population_fits(lim, ctx, notes, assume_normal_renal=True)]
    if fitting:
        return fitting, notes
    # No indication on record: the most permissive indication-specific limit, said so on the card.
    notes = []
    candidates = [
        lim
        for lim in pool
        if lim.population.conditions and _population_fits(lim, ctx, notes, True, ignore_indication=True)
    ]
    if candidates:
        chosen = max(candidates, key=_maximum)
        notes.append(f"indication not recorded: the highest labelled limit ({chosen.population.description}) applied")
        return [chosen], notes
    return [], []


def _limits_for(ctx: ClinicalContext, ingredient: str, med: Med) -> tuple[list[s.DoseLimit], list[s.DoseLimit]]:
    """(this jurisdiction's, the others') limits for the ingredient by the medicine's route and release form.

    A pure function of the knowledge base and (ingredient, route, release, jurisdiction): worked out once for each.
    """
    jurisdiction = ctx.config.jurisdiction
    key = (ingredient, med.resolution.route or "oral", _release(med), jurisdiction)
    by_key: dict[tuple[str, str, str, str], tuple[list[s.DoseLimit], list[s.DoseLimit]]] = ctx.kb.memo(
        "dose.limits-by-route", dict
    )
    found = by_key.get(key)
    if found is None:
        all_limits = [lim for lim in ctx.kb.dose_limits_by_ingredient.get(ingredient, []) if _route_matches(lim, med)]
        found = (
            [lim for lim in all_limits if jurisdiction in lim.jurisdictions],
            [lim for lim in all_limits if jurisdiction not in lim.jurisdictions],
        )
        if len(by_key) < 10_000:  # bounded: ingredients x routes x release forms x jurisdictions
            by_key[key] = found
    return found


def applicable_limits(ctx: ClinicalContext, ingredient: str, med: Med) -> tuple[list[s.DoseLimit], list[str]]:
    """The dose limits for this ingredient, route and patient, with notes on what was assumed."""
    jurisdiction = ctx.config.jurisdiction
    local, foreign = _limits_for(ctx, ingredient, med)
    fitting, notes = _select(local, ctx)
    if fitting:
        return fitting, notes
    fitting, notes = _select(foreign, ctx)
    if fitting:
        names = ", ".join(sorted({j for lim in fitting for j in lim.jurisdictions}))
        notes.insert(0, f"no {jurisdiction} limit on file for this product and patient: the {names} limit applied")
    return fitting, notes


def _breaches(
    limit: s.DoseLimit, ctx: ClinicalContext, ingredient: str, orders_with: list[Med], total: float | None
) -> tuple[list[Breach], list[Alert]]:
    breaches: list[Breach] = []
    missing: list[Alert] = []
    for med in orders_with:
        single = med.per_dose_mg.get(ingredient)
        if limit.max_single_dose_mg is not None and single is not None and single > limit.max_single_dose_mg + 1e-9:
            breaches.append(
                Breach(
                    limit,
                    "single",
                    single,
                    limit.max_single_dose_mg,
                    {"single_dose_mg": round_mg(single), "max_single_dose_mg": limit.max_single_dose_mg},
                )
            )
        if limit.weekly_dosing_only and med.doses_per_day is not None:
            per_week = med.doses_per_day * 7
            if per_week > 1 + 1e-9:
                breaches.append(
                    Breach(
                        limit,
                        "frequency",
                        per_week,
                        1.0,
                        {"doses_per_week": round(per_week, 2), "max_doses_per_week": 1},
                    )
                )
            if limit.max_weekly_dose_mg is not None and single is not None:
                weekly = single * max(per_week, 1.0)
                if weekly > limit.max_weekly_dose_mg + 1e-9:
                    breaches.append(
                        Breach(
                            limit,
                            "weekly",
                            weekly,
                            limit.max_weekly_dose_mg,
                            {
                                "weekly_dose_mg": round_mg(weekly),
                                "max_weekly_dose_mg": limit.max_weekly_dose_mg,
                            },
                        )
                    )
    if total is not None and limit.max_daily_dose_mg is not None and total > limit.max_daily_dose_mg + 1e-9:
        breaches.append(
            Breach(
                limit,
                "daily",
                total,
                limit.max_daily_dose_mg,
                {"daily_dose_mg": round_mg(total), "max_daily_dose_mg": limit.max_daily_dose_mg},
            )
        )
    if limit.max_daily_mg_per_kg is not None and total is not None:
        if ctx.weight is None:
            missing.append(
                make_alert(
                    ctx,
                    "MS",
                    Indicator.WARNING,
                    f"Weight needed to check the {ctx.kb.ingredient_name(ingredient)} dose (mg/kg/day limit)",
                    f"The limit for {ctx.kb.ingredient_name(ingredient)} ({limit.population.description}) is "
                    f"{limit.max_daily_mg_per_kg:g} mg/kg/day, and no body weight (LOINC 29463-7) is on record "
                    "within the last year, so the dose was not checked against it.",
                    "Record the patient's weight and screen again before dispensing.",
                    orders_with,
                    rule_id="rxguard.ms.weight-needed",
                    facts={
                        "ingredient": ingredient,
                        "missing": "body weight",
                        "max_mg_per_kg_per_day": limit.max_daily_mg_per_kg,
                        "daily_dose_mg": round_mg(total),
                    },
                )
            )
        else:
            per_kg = total / ctx.weight.value
            if per_kg > limit.max_daily_mg_per_kg + 1e-9:
                breaches.append(
                    Breach(
                        limit,
                        "per-kg",
                        per_kg,
                        limit.max_daily_mg_per_kg,
                        {
                            "daily_dose_mg": round_mg(total),
                            "weight_kg": ctx.weight.value,
                            "dose_mg_per_kg_per_day": round(per_kg, 3),
                            "max_mg_per_kg_per_day": limit.max_daily_mg_per_kg,
                            "max_daily_dose_mg": round_mg(limit.max_daily_mg_per_kg * ctx.weight.value),
                        },
                    )
                )
    return breaches, missing


def _indicator(breach: Breach) -> Indicator:
    if breach.kind == "frequency":
        return Indicator.CRITICAL
    if breach.ratio >= 2 and not breach.rule.soft_maximum:
        return Indicator.CRITICAL
    return Indicator.WARNING


def _describe(breach: Breach, name: str) -> str:
    kind = breach.kind
    if kind == "frequency":
        return f"{name} is a once-weekly medicine ordered {breach.value:g} times a week"
    unit = {"single": "mg per dose", "daily": "mg/day", "per-kg": "mg/kg/day", "weekly": "mg/week"}[kind]
    what = {"single": "Single dose", "daily": "Daily dose", "per-kg": "Daily dose", "weekly": "Weekly dose"}[kind]
    return f"{what} of {name} {breach.value:.4g} {unit} is above the maximum of {breach.limit:g} {unit}"


def check_doses(ctx: ClinicalContext) -> list[Alert]:
    alerts: list[Alert] = []
    seen: set[str] = set()
    for order in ctx.orders:
        for ingredient in order.ingredients():
            if ingredient in seen:
                continue
            seen.add(ingredient)
            alerts.extend(_check_ingredient(ctx, ingredient))
    return alerts


def _check_ingredient(ctx: ClinicalContext, ingredient: str) -> list[Alert]:
    kb = ctx.kb
    name = kb.ingredient_name(ingredient)
    total, contributing, unknown = ctx.daily_total(ingredient)
    orders_with = [m for m in ctx.orders if ingredient in m.ingredients()]
    limits, notes = applicable_limits(ctx, ingredient, orders_with[0])
    alerts: list[Alert] = []
    if not limits:
        return [
            make_alert(
                ctx,
                "MS",
                Indicator.INFO,
                f"No sourced dose limit for {name} by this route for this patient",
                f"The knowledge base has no dose limit for {name} that applies to this route and patient "
                f"({', '.join(n for n in notes) or 'no matching route or population'}); the dose was not checked.",
                "Check the dose against the product's label.",
                orders_with,
                rule_id="rxguard.ms.no-dose-limit",
                facts={"ingredient": ingredient, "missing": "dose limit"},
            )
        ]
    for limit in limits:
        if limit.not_sourced:
            alerts.append(
                make_alert(
                    ctx,
                    "MS",
                    Indicator.INFO,
                    f"Dose of {name} not checked: no sourced limit",
                    limit.not_sourced,
                    "Check the dose against the product's label.",
                    orders_with,
                    limit,
                    facts={"ingredient": ingredient, "missing": "dose limit"},
                )
            )
    if unknown:
        others = [m for m in unknown if m.role != "order"]
        if others:
            alerts.append(
                make_alert(
                    ctx,
                    "MS",
                    Indicator.INFO,
                    f"Cumulative {name} dose only partly known",
                    f"The daily amount of {name} in {', '.join(m.name for m in others)} could not be worked out "
                    f"({'; '.join(i for m in others for i in m.issues) or 'no dose or frequency recorded'}), "
                    "so the total daily dose counts only the other products.",
                    "Confirm how the patient takes it before dispensing.",
                    others,
                    rule_id="rxguard.ms.cumulative-dose-unknown",
                    facts={"ingredient": ingredient},
                )
            )
    breaches: list[Breach] = []
    for limit in limits:
        found, missing = _breaches(limit, ctx, ingredient, orders_with, total)
        breaches.extend(found)
        alerts.extend(missing)
    if not breaches:
        return alerts
    worst = max(breaches, key=lambda b: (_indicator(b), b.ratio))
    indicator = _indicator(worst)
    limit = worst.rule
    jurisdiction_note = f"Limit applied: {', '.join(limit.jurisdictions)} ({limit.population.description})."
    products = [m.name for m in contributing]
    why = _describe(worst, name) + "."
    if len(contributing) > 1:
        why += (
            f" {name.capitalize()} comes from {len(contributing)} products: "
            + "; ".join(f"{m.name} {m.daily_mg.get(ingredient, 0):g} mg/day" for m in contributing)
            + "."
        )
    why += f" {jurisdiction_note}"
    if notes:
        why += " " + " ".join(n[0].upper() + n[1:] + "." for n in notes)
    if limit.usual_dose:
        why += f" Usual dose: {limit.usual_dose}."
    if limit.soft_maximum:
        why += " The source words this maximum as 'no added benefit' above it, so it is not a hard stop."
    action = (
        "Do not dispense as written: confirm the intended dose with the prescriber."
        if indicator is Indicator.CRITICAL
        else "Check the dose with the prescriber before dispensing."
    )
    if len(contributing) > 1:
        action += f" Count every product that contains {name}."
    facts: dict[str, object] = {
        "ingredient": ingredient,
        "jurisdiction": ", ".join(limit.jurisdictions),
        "products": products,
    }
    if total is not None:
        facts["daily_dose_mg"] = round_mg(total)
    if limit.max_daily_dose_mg is not None:
        facts["max_daily_dose_mg"] = limit.max_daily_dose_mg
    facts.update(worst.facts)
    alerts.append(
        make_alert(ctx, "HD", indicator, _describe(worst, name), why, action, list(contributing), limit, facts)
    )
    return alerts
