"""ER, DM, ID, DC: red flags read from the dispensing history (FHIR MedicationDispense records).

- ER (early refill): the order supplies a controlled ingredient again before the configured share (default
  75%) of the latest fill's days supply has passed.
- DM (multiple-provider episode): in the last T days (default 90) the patient's controlled-drug fills came
  from at least N prescribers (the order's prescriber counts) and M pharmacies (defaults 5 and 5).
- ID (overlapping prescriptions): a dispensed supply of the order's controlled ingredient from another
  prescriber still has days left. Supplies from a current prescription are the ingredient-duplication
  check's business and are not repeated here.
- DC (opioid-naive): a long-acting or transdermal opioid is ordered and no opioid was dispensed in the
  look-back window (default 7 days, the labels' definition of tolerance) nor is one current; critical for
  products restricted to opioid-tolerant patients (fentanyl patches).

The prescriber of a fill is the requester of the MedicationRequest it was dispensed against; the pharmacy is
the dispense's performer. A day count "within T days" includes fills exactly T days before screening. Records
from the last year (or a longer configured window) are read.
"""

from __future__ import annotations

import math
from datetime import timedelta

from rxguard.checks.common import make_alert
from rxguard.checks.context import ClinicalContext, Med
from rxguard.checks.controlled import (
    Fill,
    controlled_ingredients,
    fills,
    in_class,
    knowledge,
    prescriber_of,
    product_of,
    settings,
)
from rxguard.domain.model import Alert, Indicator
from rxguard.knowledge import controlled as c

INDICATORS = {"info": Indicator.INFO, "warning": Indicator.WARNING, "critical": Indicator.CRITICAL}


def _screened_orders(ctx: ClinicalContext, rule: c.HistoryRule) -> list[tuple[Med, tuple[str, ...]]]:
    """Orders the rule screens, each with the ingredients it is about (controlled ones unless the rule names drugs)."""
    if not rule.drugs:
        return list(_controlled_orders(ctx))
    found = []
    for order in ctx.orders:
        ingredients = in_class(ctx.kb, order.ingredients(), rule.drugs)
        if ingredients:
            found.append((order, ingredients))
    return found


def _controlled_orders(ctx: ClinicalContext) -> tuple[tuple[Med, tuple[str, ...]], ...]:
    """The orders with controlled ingredients, and those ingredients (once per request: three rules ask)."""

    def build() -> tuple[tuple[Med, tuple[str, ...]], ...]:
        found = ((order, controlled_ingredients(ctx.kb, order.resolution)) for order in ctx.orders)
        return tuple((order, ingredients) for order, ingredients in found if ingredients)

    return ctx.derived("history.controlled-orders", build)


def _name(fill: Fill) -> str:
    return fill.name


def check_early_refill(ctx: ClinicalContext, history: tuple[Fill, ...] | None = None) -> list[Alert]:
    rule = knowledge(ctx.kb).history_rules.get("early-refill")
    if rule is None:
        return []
    share_needed = settings(ctx).early_refill_share
    screened = _screened_orders(ctx, rule)
    if not screened:
        return []
    history = fills(ctx) if history is None else history
    alerts = []
    for order, ingredients in screened:
        worst: tuple[float, Fill, str] | None = None
        for ingredient in ingredients:
            previous = [f for f in history if ingredient in f.resolution.ids and f.days_supply]
            if not previous:
                continue
            latest = previous[-1]
            elapsed = (ctx.now - latest.start).days
            share = elapsed / (latest.days_supply or 1)
            if share < share_needed - 1e-9 and (worst is None or share < worst[0]):
                worst = (share, latest, ingredient)
        if worst is None:
            continue
        share, fill, ingredient = worst
        days = fill.days_supply or 0.0
        earliest = fill.start + timedelta(days=math.ceil(share_needed * days - 1e-9))
        elapsed = (ctx.now - fill.start).days
        name = ctx.kb.ingredient_name(ingredient)
        why = (
            f"{name.capitalize()} was last dispensed on {fill.start.isoformat()} ({fill.name}, {days:g} days' supply"
            f"{f', {fill.pharmacy}' if fill.pharmacy else ''}): {elapsed} day(s) ago, {share:.0%} of the supply. "
            f"A refill is due from {share_needed:.0%} of the supply, on {earliest.isoformat()} or later. {rule.text}"
        )
        alerts.append(
            make_alert(
                ctx,
                "ER",
                INDICATORS[rule.indicator],
                f"Early refill of {name}: {elapsed} of {days:g} days' supply used ({share:.0%})",
                why,
                rule.management,
                [order],
                rule,
                {
                    "ingredient": ingredient,
                    "previous_fill_date": fill.start.isoformat(),
                    "previous_days_supply": days,
                    "days_elapsed": elapsed,
                    "share_elapsed": round(share, 3),
                    "required_share": share_needed,
                    "earliest_refill_date": earliest.isoformat(),
                    "previous_dispense": fill.id,
                    "previous_pharmacy": fill.pharmacy,
                    "previous_prescriber": fill.prescriber,
                },
            )
        )
    return alerts


def check_multiple_providers(ctx: ClinicalContext, history: tuple[Fill, ...] | None = None) -> list[Alert]:
    rule = knowledge(ctx.kb).history_rules.get("multiple-provider")
    if rule is None:
        return []
    screened = _screened_orders(ctx, rule)
    if not screened:
        return []
    cfg = settings(ctx)
    since = ctx.now - timedelta(days=cfg.mpe_days)
    history = fills(ctx) if history is None else history
    window = [f for f in history if f.start >= since and controlled_ingredients(ctx.kb, f.resolution)]
    prescribers = {f.prescriber for f in window if f.prescriber}
    prescribers |= {p for o, _ in screened if (p := prescriber_of(o))}
    pharmacies = {f.pharmacy for f in window if f.pharmacy}
    if len(prescribers) < cfg.mpe_prescribers or len(pharmacies) < cfg.mpe_pharmacies:
        return []
    episode = [
        {"date": f.start.isoformat(), "drug": f.name, "prescriber": f.prescriber, "pharmacy": f.pharmacy, "id": f.id}
        for f in window
    ]
    why = (
        f"In the {cfg.mpe_days} days up to {ctx.now.isoformat()} the patient's controlled-drug supplies came from "
        f"{len(prescribers)} prescribers ({', '.join(sorted(prescribers))}) and {len(pharmacies)} pharmacies "
        f"({', '.join(sorted(pharmacies))}); the threshold is {cfg.mpe_prescribers} prescribers and "
        f"{cfg.mpe_pharmacies} pharmacies. {rule.text}\n\n"
        + "\n".join(
            f"- {e['date']}: {e['drug']} ({e['prescriber'] or 'prescriber unknown'}, {e['pharmacy']})" for e in episode
        )
    )
    orders = [o for o, _ in screened]
    alert = make_alert(
        ctx,
        "DM",
        INDICATORS[rule.indicator],
        f"Multiple providers: {len(prescribers)} prescribers, {len(pharmacies)} pharmacies in {cfg.mpe_days} days",
        why,
        rule.management,
        orders,
        rule,
        {
            "prescribers": sorted(prescribers),
            "pharmacies": sorted(pharmacies),
            "dates": sorted({f.start.isoformat() for f in window}),
            "fills": episode,
            "prescriber_count": len(prescribers),
            "pharmacy_count": len(pharmacies),
            "window_days": cfg.mpe_days,
            "thresholds": {"prescribers": cfg.mpe_prescribers, "pharmacies": cfg.mpe_pharmacies},
        },
    )
    return [alert]


def check_overlap(ctx: ClinicalContext, history: tuple[Fill, ...] | None = None) -> list[Alert]:
    rule = knowledge(ctx.kb).history_rules.get("overlap")
    if rule is None:
        return []
    screened = [(order, ingredients) for order, ingredients in _screened_orders(ctx, rule) if prescriber_of(order)]
    if not screened:
        return []
    current_prescriptions = {m.id for m in ctx.comeds} | {m.id for m, _ in ctx.renewals}
    history = fills(ctx) if history is None else history
    alerts = []
    for order, ingredients in screened:
        prescriber = prescriber_of(order)
        if prescriber is None:
            continue
        for fill in history:
            shared = [i for i in ingredients if i in fill.resolution.ids]
            left = fill.days_left(ctx.now)
            if not shared or left is None or left <= 0 or fill.prescriber in (None, prescriber):
                continue
            if fill.dispense.prescription_id in current_prescriptions:
                continue
            names = ", ".join(ctx.kb.ingredient_name(i) for i in shared)
            alerts.append(
                make_alert(
                    ctx,
                    "ID",
                    INDICATORS[rule.indicator],
                    f"Overlapping {names} prescriptions: {fill.prescriber} and {prescriber}",
                    f"{fill.name} from {fill.prescriber} was dispensed on {fill.start.isoformat()} "
                    f"({fill.days_supply:g} days' supply{f', {fill.pharmacy}' if fill.pharmacy else ''}) and has "
                    f"{left:g} day(s) left; the order is from {prescriber}. {rule.text}",
                    rule.management,
                    [order],
                    rule,
                    {
                        "ingredients": shared,
                        "other_prescriber": fill.prescriber,
                        "order_prescriber": prescriber,
                        "dispense": fill.id,
                        "dispensed_on": fill.start.isoformat(),
                        "days_supply": fill.days_supply,
                        "days_left": left,
                        "pharmacy": fill.pharmacy,
                    },
                    rule_id=rule.id,
                )
            )
    return alerts


def _long_acting(ctx: ClinicalContext, order: Med, rule: c.HistoryRule) -> str | None:
    """Why the order counts as long-acting or transdermal, or None."""
    resolution = order.resolution
    product = product_of(ctx.kb, resolution)
    route = resolution.route or (product.route if product else None)
    if route in rule.routes or resolution.unit == "patch" or order.rate_ug_h:
        return f"{route or 'transdermal'} route"
    if product is not None and product.long_acting:
        return "long-acting product"
    release = resolution.release or (product.release if product else None)
    if release in rule.release:
        return f"{release}-release form"
    return None


def _tolerant_only(ctx: ClinicalContext, order: Med, rule: c.HistoryRule) -> bool:
    product = product_of(ctx.kb, order.resolution)
    if product is not None and product.opioid_tolerant_only:
        return True
    if rule.tolerant_only is None:
        return False
    members = ctx.kb.expand(rule.tolerant_only)
    transdermal = order.resolution.route == "transdermal" or order.resolution.unit == "patch" or bool(order.rate_ug_h)
    return transdermal and any(i in members for i in order.ingredients())


DAILY_UNIT = {"mg": "mg/day", "ug/h": "ug/h"}  # how a daily opioid amount is written, by its unit


def daily_opioid_amounts(
    current: list[Med], exposure: list[Fill], opioids: frozenset[str] | set[str]
) -> tuple[dict[tuple[str, str], float], list[str]]:
    """What the patient took a day of each opioid in the look-back, as (ingredient, "mg" or "ug/h") -> amount:
    the largest of the current prescriptions' doses and the dispensed supplies (quantity x strength / days
    supply). Also what could not be worked out, said plainly."""
    amounts: dict[tuple[str, str], float] = {}
    unknown: list[str] = []

    def keep(key: tuple[str, str], value: float) -> None:
        amounts[key] = max(amounts.get(key, 0.0), value)

    for med in current:
        for ingredient in (i for i in med.ingredients() if i in opioids):
            if ingredient in med.rate_ug_h:
                keep((ingredient, "ug/h"), med.rate_ug_h[ingredient])
            elif ingredient in med.daily_mg:
                keep((ingredient, "mg"), med.daily_mg[ingredient])
            else:
                unknown.append(f"{med.name}: no daily dose")
    for fill in exposure:
        quantity = fill.dispense.quantity.value if fill.dispense.quantity is not None else None
        for ingredient in (i for i in fill.resolution.ids if i in opioids):
            if ingredient in fill.resolution.unit_rate_ug_h:
                keep((ingredient, "ug/h"), fill.resolution.unit_rate_ug_h[ingredient])
            elif ingredient in fill.resolution.unit_mg and quantity and fill.days_supply:
                keep((ingredient, "mg"), fill.resolution.unit_mg[ingredient] * quantity / fill.days_supply)
            else:
                unknown.append(f"{fill.name} (dispensed {fill.start.isoformat()}): no quantity, strength or supply")
    return amounts, unknown


def tolerance_share(amounts: dict[tuple[str, str], float], doses: list[c.ToleranceDose]) -> tuple[float, list[str]]:
    """The sum of each ingredient's share of its tolerance dose (1 or more: opioid-tolerant), and the ingredients
    that have no tolerance dose to compare with."""
    by_key = {(d.ingredient, d.unit): d.daily for d in doses}
    share = 0.0
    missing = []
    for key, amount in amounts.items():
        if key in by_key:
            share += amount / by_key[key]
        else:
            missing.append(key[0])
    return share, missing


def _below_tolerance(
    ctx: ClinicalContext,
    order: Med,
    rule: c.HistoryRule,
    current: list[Med],
    exposure: list[Fill],
    opioids: frozenset[str],
) -> Alert | None:
    """A tolerant-only product for a patient whose opioids in the look-back were below the labels' tolerance
    doses, or whose doses cannot be worked out: not opioid-naive, and not shown to be tolerant either."""
    amounts, unknown = daily_opioid_amounts(current, exposure, opioids)
    share, missing = tolerance_share(amounts, rule.tolerance_doses)
    if share >= 1:
        return None
    cfg = settings(ctx)
    taken = ", ".join(
        f"{ingredient} {amount:.3g} {DAILY_UNIT[unit]}" for (ingredient, unit), amount in sorted(amounts.items())
    )
    gaps = [*unknown, *(f"{i}: no tolerance dose in the knowledge base" for i in sorted(set(missing)))]
    thresholds = ", ".join(f"{d.ingredient} {d.daily:g} {DAILY_UNIT[d.unit]}" for d in rule.tolerance_doses)
    why = (
        f"{order.name} is for opioid-tolerant patients only. Opioids in the {cfg.opioid_naive_days} days before "
        f"{ctx.now.isoformat()}: {taken or 'doses unknown'}, {share:.0%} of the labels' tolerance doses "
        f"(at least one week of {thresholds}, or an equianalgesic dose)."
    )
    if gaps:
        why += " Could not be worked out: " + "; ".join(gaps) + "."
    why += (
        " (The tolerance doses were read in a secondary source quoting the labels; adding up the shares of several"
        " opioids is rxguard's reading of 'equianalgesic', not the labels' words.)"
    )
    return make_alert(
        ctx,
        "DC",
        INDICATORS[rule.tolerance_indicator or rule.indicator],
        f"Opioid tolerance not shown for a tolerant-only product: {order.name}",
        why,
        rule.management,
        [order],
        rule,
        {
            "condition": "opioid-tolerance-not-shown",
            "ingredients": [i for i in order.ingredients() if i in opioids],
            "opioid_tolerant_only": True,
            "tolerance_share": round(share, 2),
            "daily_opioids": {f"{i} ({u})": round(a, 2) for (i, u), a in sorted(amounts.items())},
            "not_worked_out": gaps,
            "lookback_days": cfg.opioid_naive_days,
        },
    )


def check_opioid_naive(ctx: ClinicalContext, history: tuple[Fill, ...] | None = None) -> list[Alert]:
    rule = knowledge(ctx.kb).history_rules.get("opioid-naive")
    if rule is None or rule.drugs is None:
        return []
    opioids = ctx.kb.expand(rule.drugs)
    cfg = settings(ctx)
    # Only a long-acting opioid order can raise the card: without one there is nothing to look up.
    if not any(not opioids.isdisjoint(o.ingredients()) and _long_acting(ctx, o, rule) for o in ctx.orders):
        return []
    since = ctx.now - timedelta(days=cfg.opioid_naive_days)
    history = fills(ctx) if history is None else history
    exposure = [
        f
        for f in history
        if set(f.resolution.ids) & opioids and (f.start >= since or (f.end is not None and f.end > since))
    ]
    drafts = {d.id for d in ctx.request.other_drafts}
    current = [m for m in ctx.comeds if m.id not in drafts and set(m.ingredients()) & opioids]
    current += [m for m, _ in ctx.renewals if set(m.ingredients()) & opioids]
    if exposure or current:
        if not rule.tolerance_doses:
            return []
        checked = [
            _below_tolerance(ctx, order, rule, current, exposure, opioids)
            for order in ctx.orders
            if set(order.ingredients()) & opioids
            and _long_acting(ctx, order, rule)
            and _tolerant_only(ctx, order, rule)
        ]
        return [a for a in checked if a is not None]
    alerts = []
    for order in ctx.orders:
        if not set(order.ingredients()) & opioids:
            continue
        why_long = _long_acting(ctx, order, rule)
        if why_long is None:
            continue
        tolerant_only = _tolerant_only(ctx, order, rule)
        indicator = (
            INDICATORS[rule.tolerant_only_indicator or rule.indicator] if tolerant_only else INDICATORS[rule.indicator]
        )
        restriction = (
            " The product is for opioid-tolerant patients only: it must not be the first opioid."
            if tolerant_only
            else " When starting opioids, an immediate-release opioid is recommended instead."
        )
        received = len(ctx.request.profile.dispenses)
        why = (
            f"{order.name} ({why_long}) is ordered, but no opioid was dispensed in the {cfg.opioid_naive_days} days "
            f"before {ctx.now.isoformat()} ({received} dispensing record(s) received) and none is current: the "
            f"patient looks opioid-naive.{restriction}"
        )
        if received == 0:
            why += " No dispensing history was sent: if the patient is opioid-tolerant, record the evidence."
        alerts.append(
            make_alert(
                ctx,
                "DC",
                indicator,
                f"{'Opioid-tolerant-only product' if tolerant_only else 'Long-acting opioid'} for an opioid-naive "
                f"patient: {order.name}",
                why,
                rule.management,
                [order],
                rule,
                {
                    "condition": "opioid-naive",
                    "ingredients": [i for i in order.ingredients() if i in opioids],
                    "long_acting": why_long,
                    "opioid_tolerant_only": tolerant_only,
                    "lookback_days": cfg.opioid_naive_days,
                    "dispenses_received": received,
                },
            )
        )
    return alerts


def check_history(ctx: ClinicalContext) -> list[Alert]:
    """Every dispensing-history red flag for the orders."""
    if not ctx.orders:
        return []
    # The dispensing records are resolved once for the four rules (fills() is shared through the context), and
    # only when a rule has an order to screen.
    return [
        *check_early_refill(ctx),
        *check_multiple_providers(ctx),
        *check_overlap(ctx),
        *check_opioid_naive(ctx),
    ]
