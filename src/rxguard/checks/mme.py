"""HD (MME): daily morphine milligram equivalents per opioid and in total, and when to offer naloxone.

Each opioid the patient will be taking (the orders, current prescriptions and other drafts) is converted with
one factor set (CDC 2022 clinical unless configured; sets are never mixed): its daily amount in mg (or ug)
times the factor, or for a patch the delivery rate of the patches worn at once times the factor, so the
patch-change interval does not matter (as in the CDC calculator). Each line is rounded to 0.1 MME like the
CDC calculator. A card is raised at the caution threshold (info) and the high threshold (warning); it is
capped at info when no order contains an opioid (the order does not change the dose).

Naloxone is suggested, unless a naloxone-only product is already on the list, when the patient is on an
opioid with a risk factor: the MME threshold, a concurrent benzodiazepine, or a recorded alcohol or drug use
disorder. The suggestion goes on exactly one card: the MME card when there is one; else the interaction card
of the opioid-benzodiazepine pair (as a companion alert merged into it); else the counselling card of the
opioid order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from rxguard.checks.common import make_alert
from rxguard.checks.context import ClinicalContext, Med
from rxguard.checks.controlled import Settings, knowledge, product_of, settings
from rxguard.domain.model import Alert, Coding, Concept, Dosage, Indicator, SuggestedAction, Suggestion
from rxguard.knowledge import controlled as c
from rxguard.knowledge.base import KnowledgeBase

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
INJECTED = frozenset({"intravenous", "intramuscular", "subcutaneous"})


# --- the arithmetic ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MmeLine:
    """One opioid ingredient of one medicine: its amount, the factor used, and the MME/day (None: not computed)."""

    med: Med
    ingredient: str
    form: str
    amount: float | None
    unit: str | None  # "mg/day", "ug/day" or "ug/h"
    factor: float | None
    mme: float | None
    reason: str | None = None  # why there is no MME
    not_benchmarked: bool = False

    def as_fact(self) -> dict[str, object]:
        fact: dict[str, object] = {
            "id": self.med.id,
            "name": self.med.name,
            "ingredient": self.ingredient,
            "form": self.form,
            "mme_per_day": self.mme,
        }
        if self.amount is not None:
            fact["amount"] = round(self.amount, 3)
            fact["unit"] = self.unit
        if self.factor is not None:
            fact["factor"] = self.factor
        if self.med.entry.dosage is not None and self.med.entry.dosage.as_needed:
            fact["as_needed"] = True
        if self.reason:
            fact["not_computed"] = self.reason
        return fact


@dataclass(frozen=True, slots=True)
class MmeResult:
    factor_set: c.MmeFactorSet
    lines: tuple[MmeLine, ...]

    @property
    def computed(self) -> tuple[MmeLine, ...]:
        return tuple(line for line in self.lines if line.mme is not None)

    @property
    def missing(self) -> tuple[MmeLine, ...]:
        return tuple(line for line in self.lines if line.mme is None and not line.not_benchmarked)

    @property
    def total(self) -> float:
        return round(sum(line.mme for line in self.lines if line.mme is not None), 1)

    def by_drug(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.computed:
            totals[line.ingredient] = round(totals.get(line.ingredient, 0.0) + (line.mme or 0.0), 1)
        return totals


def form_of(kb: KnowledgeBase, med: Med, ingredient: str) -> str:
    """How the opioid is taken, in the factor tables' terms: oral, transdermal, buccal, film, nasal, injected."""
    resolution = med.resolution
    product = product_of(kb, resolution)
    route = resolution.route or (product.route if product else None)
    if route == "transdermal" or resolution.unit == "patch" or ingredient in med.rate_ug_h:
        return "transdermal"
    if route in ("buccal", "sublingual"):
        return "film" if product is not None and product.dose_form == "film" else "buccal"
    if route == "nasal":
        return "nasal"
    if route in INJECTED:
        return "injected"
    if route in (None, "oral"):
        return "oral"
    return route


def factor_for(factor_set: c.MmeFactorSet, ingredient: str, form: str) -> c.MmeFactor | None:
    for factor in factor_set.factors:
        if factor.ingredient == ingredient and (form in factor.forms or "any" in factor.forms):
            return factor
    return None


def _tiered(factor: c.MmeFactor, daily_mg: float) -> float | None:
    for tier in factor.tiers:
        if tier.up_to_daily_mg is None or daily_mg <= tier.up_to_daily_mg + 1e-9:
            return tier.factor
    return None


def mme_line(kb: KnowledgeBase, med: Med, ingredient: str, factor_set: c.MmeFactorSet) -> MmeLine:
    """The daily MME of one opioid ingredient of a medicine, or why it cannot be given."""
    form = form_of(kb, med, ingredient)
    factor = factor_for(factor_set, ingredient, form)
    name = kb.ingredient_name(ingredient)
    if factor is None:
        why = f"{factor_set.name} has no factor for {name} ({form})"
        return MmeLine(med, ingredient, form, None, None, None, None, why)
    if factor.not_benchmarked:
        return MmeLine(med, ingredient, form, None, None, None, None, factor.not_benchmarked, not_benchmarked=True)
    if factor.basis == "ug/h":
        rate = med.rate_ug_h.get(ingredient)
        if rate is None:
            return MmeLine(med, ingredient, form, None, "ug/h", None, None, "the patch strength or count is unknown")
        value = (factor.factor or 0.0) / (factor.patch_days or 1.0)
        return MmeLine(med, ingredient, form, rate, "ug/h", round(value, 4), round(rate * value, 1))
    daily = med.daily_mg.get(ingredient)
    if daily is None:
        return MmeLine(med, ingredient, form, None, None, None, None, "the daily dose is unknown")
    amount, unit = (daily * 1000.0, "ug/day") if factor.basis == "ug/day" else (daily, "mg/day")
    multiplier = factor.factor if factor.factor is not None else _tiered(factor, daily)
    if multiplier is None:
        return MmeLine(
            med, ingredient, form, amount, unit, None, None, f"no tier of {factor.name} fits {daily:g} mg/day"
        )
    return MmeLine(med, ingredient, form, amount, unit, multiplier, round(amount * multiplier, 1))


def is_opioid(kb: KnowledgeBase, ingredient: str) -> bool:
    return kb.in_class(ingredient, "opioid")


def opioid_meds(ctx: ClinicalContext) -> tuple[Med, ...]:
    opioids = ctx.kb.class_members.get("opioid", frozenset())  # the ingredients is_opioid() is true for
    return tuple(m for m in ctx.all_meds() if not opioids.isdisjoint(m.ingredients()))


def compute_mme(kb: KnowledgeBase, meds: tuple[Med, ...], factor_set: c.MmeFactorSet) -> MmeResult:
    """MME/day of every opioid ingredient of the medicines, with one factor set."""
    lines = tuple(
        mme_line(kb, med, ingredient, factor_set)
        for med in meds
        for ingredient in med.ingredients()
        if is_opioid(kb, ingredient)
    )
    return MmeResult(factor_set, lines)


def fill_mme(
    kb: KnowledgeBase,
    strengths: dict[str, tuple[float, str]],
    units: float,
    days_supply: float,
    factor_set: c.MmeFactorSet,
    form: str = "oral",
) -> dict[str, float | None]:
    """Analytics: MME/day of a dispensed supply, the CDC data file's way (strength x units / days supply x factor).

    `strengths` maps each opioid ingredient to its strength per unit ((value, "mg") or (value, "ug/h") for a
    patch). For patches the data-file set's factor assumes days supply = patches x 3; the other sets take the
    patches as worn one at a time (rate x factor).
    """
    out: dict[str, float | None] = {}
    for ingredient, (value, unit) in strengths.items():
        factor = factor_for(factor_set, ingredient, form)
        if factor is None or factor.not_benchmarked or days_supply <= 0:
            out[ingredient] = None
            continue
        if factor.basis == "ug/h":
            # Data file: days supply normalised to patches x patch_days, so units / days supply = 1 / patch_days.
            per_patch = (factor.factor or 0.0) / (factor.patch_days or 1.0)
            out[ingredient] = round(value * per_patch, 1)
            continue
        per_day = value * units / days_supply
        if unit in ("ug", "mcg") and factor.basis == "mg/day":
            per_day /= 1000.0
        if unit == "mg" and factor.basis == "ug/day":
            per_day *= 1000.0
        multiplier = factor.factor if factor.factor is not None else _tiered(factor, per_day)
        out[ingredient] = None if multiplier is None else round(per_day * multiplier, 1)
    return out


# --- naloxone ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NaloxonePlan:
    """Whether naloxone should be suggested, why, and on which card."""

    rule: c.NaloxoneRule
    risk_factors: tuple[str, ...]
    on_list: bool
    host: Literal["HD", "DD", "ED"] | None
    pair: tuple[Med, Med] | None = None
    order: Med | None = None

    @property
    def suggested(self) -> bool:
        return self.host is not None

    def facts(self) -> dict[str, object]:
        if self.on_list:
            return {"naloxone_on_list": True}
        return {"naloxone_suggested": True, "naloxone_risk_factors": list(self.risk_factors)}


def naloxone_on_list(ctx: ClinicalContext, rule: c.NaloxoneRule) -> bool:
    """A naloxone-only product among the orders, drafts or current medicines (combinations do not count)."""
    members = ctx.kb.expand(rule.naloxone)
    return any(m.ingredients() and set(m.ingredients()) <= members for m in ctx.all_meds())


def naloxone_plan(
    ctx: ClinicalContext, result: MmeResult | None = None, cfg: Settings | None = None
) -> NaloxonePlan | None:
    rule = knowledge(ctx.kb).naloxone
    if rule is None:
        return None
    cfg = cfg or settings(ctx)
    kb = ctx.kb
    opioid_set = kb.expand(rule.opioids)
    opioids = [m for m in ctx.all_meds() if set(m.ingredients()) & opioid_set]
    if not opioids:
        return None
    result = result or compute_mme(kb, opioid_meds(ctx), cfg.factor_set)
    risk: list[str] = []
    if result.total >= cfg.naloxone_mme:
        risk.append(f"{result.total:g} MME/day (at least {cfg.naloxone_mme:g})")
    with_set = kb.expand(rule.with_drugs)
    partners = [m for m in ctx.all_meds() if set(m.ingredients()) & with_set]
    if partners:
        risk.append(
            "concurrent "
            + ", ".join(sorted({kb.ingredient_name(i) for m in partners for i in m.ingredients() if i in with_set}))
        )
    recorded = [cid for cid in rule.conditions if cid in ctx.conditions]
    if recorded:
        risk.append("history of " + ", ".join(kb.conditions[cid].name for cid in recorded))
    if not risk:
        return None
    if naloxone_on_list(ctx, rule):
        return NaloxonePlan(rule, tuple(risk), True, None)
    if result.total >= cfg.mme_caution and result.total >= cfg.naloxone_mme:
        return NaloxonePlan(rule, tuple(risk), False, "HD")
    for i, order in enumerate(ctx.orders):
        others = ctx.orders[i + 1 :] + ctx.comeds
        if set(order.ingredients()) & opioid_set:
            partner = next((m for m in others if set(m.ingredients()) & with_set), None)
        elif set(order.ingredients()) & with_set:
            partner = next((m for m in others if set(m.ingredients()) & opioid_set), None)
        else:
            continue
        if partner is not None:
            return NaloxonePlan(rule, tuple(risk), False, "DD", pair=(order, partner))
    opioid_order = next((o for o in ctx.orders if set(o.ingredients()) & opioid_set), None)
    if opioid_order is not None:
        return NaloxonePlan(rule, tuple(risk), False, "ED", order=opioid_order)
    return None


def naloxone_suggestion(ctx: ClinicalContext, plan: NaloxonePlan) -> Suggestion:
    """Order the rule's naloxone product, with its RxNorm codes and the dosing words."""
    product = ctx.kb.products[plan.rule.product]
    codings = tuple(Coding(RXNORM, code, product.name if i == 0 else None) for i, code in enumerate(product.rxnorm))
    action = SuggestedAction(
        kind="create",
        description=f"Add {product.name} for suspected opioid overdose",
        medication=Concept(codings=codings[:1], text=product.name),
        dosage=Dosage(dose=None, doses_per_day=None, as_needed=True, text=plan.rule.dosage_text),
    )
    why = "; ".join(plan.risk_factors)
    return Suggestion(label=f"Co-prescribe naloxone ({why})", actions=(action,), recommended=True)


def naloxone_companion(ctx: ClinicalContext, plan: NaloxonePlan) -> Alert | None:
    """For the DD host: an alert with the opioid-benzodiazepine pair's key, merged into that pair's card."""
    if plan.host != "DD" or plan.pair is None:
        return None
    a, b = plan.pair
    alert = make_alert(
        ctx,
        "DD",
        Indicator.INFO,
        f"Offer naloxone: {a.name} with {b.name}",
        f"{plan.rule.text} Risk factors: {'; '.join(plan.risk_factors)}.",
        "Offer naloxone and teach the patient and family how to use it.",
        [a, b],
        plan.rule,
        plan.facts(),
    )
    return replace(alert, suggestions=(naloxone_suggestion(ctx, plan),))


# --- the check ---------------------------------------------------------------------------------------------


def _line_text(kb: KnowledgeBase, line: MmeLine) -> str:
    name = f"{line.med.name} ({kb.ingredient_name(line.ingredient)})"
    if line.mme is None:
        return f"- {name}: not counted, {line.reason}"
    return f"- {name}: {line.amount:g} {line.unit} x {line.factor:g} = {line.mme:g} MME/day"


def check_mme(ctx: ClinicalContext) -> list[Alert]:
    meds = opioid_meds(ctx)
    if not meds:
        return []
    kb = ctx.kb
    cfg = settings(ctx)
    ck = knowledge(kb)
    result = compute_mme(kb, meds, cfg.factor_set)
    plan = naloxone_plan(ctx, result, cfg)
    alerts: list[Alert] = []
    order_objects = {id(o) for o in ctx.orders}  # by object: a current record may reuse an order's id
    opioid_order = any(id(line.med) in order_objects for line in result.lines)
    missing = [line for line in result.missing if opioid_order or id(line.med) in order_objects]
    if missing:
        alerts.append(
            make_alert(
                ctx,
                "MS",
                Indicator.INFO,
                "Daily MME not worked out for " + ", ".join(dict.fromkeys(line.med.name for line in missing)),
                "Not counted in the total opioid dose: "
                + "; ".join(f"{line.med.name}: {line.reason}" for line in missing)
                + ". The total MME may be higher than shown.",
                "Work out the morphine equivalents by hand before dispensing.",
                [line.med for line in missing],
                rule_id="mme.not-computed",
                facts={"missing": "MME", "mme_factor_set": cfg.factor_set.id},
            )
        )
    total = result.total
    if total >= cfg.mme_caution:
        high = total >= cfg.mme_high
        indicator = Indicator.WARNING if high else Indicator.INFO
        capped = not opioid_order and indicator > Indicator.INFO
        if capped:
            indicator = Indicator.INFO
        threshold = cfg.mme_high if high else cfg.mme_caution
        thresholds = ck.thresholds
        lines = "\n".join(_line_text(kb, line) for line in result.lines)
        why = (
            f"The opioids the patient will be taking add up to **{total:g} MME/day**, at or above "
            f"{threshold:g} MME/day. {thresholds.high_text if high else thresholds.caution_text}\n\n{lines}\n\n"
            f"Factors: {cfg.factor_set.name} (version {cfg.factor_set.version})."
        )
        if capped:
            why += " No order being screened contains an opioid, so the card is for information."
        if plan is not None and plan.on_list:
            why += " Naloxone is already on the medication list."
        elif plan is not None and plan.host == "HD":
            why += f" Naloxone is not on the list; risk factors: {'; '.join(plan.risk_factors)}."
        facts: dict[str, object] = {
            "total_mme_per_day": total,
            "mme_by_drug": result.by_drug(),
            "mme_by_medication": [line.as_fact() for line in result.lines],
            "mme_factor_set": cfg.factor_set.id,
            "mme_factor_set_version": cfg.factor_set.version,
            "threshold_mme_per_day": threshold,
            "thresholds": {"caution": cfg.mme_caution, "high": cfg.mme_high},
        }
        if plan is not None and (plan.on_list or plan.host == "HD"):
            facts.update(plan.facts())
        contributing = list({line.med.id: line.med for line in result.computed}.values())
        alert = make_alert(
            ctx,
            "HD",
            indicator,
            f"Opioid total {total:g} MME/day (at or above {threshold:g})",
            why,
            thresholds.management,
            contributing,
            thresholds,
            facts,
            rule_id=thresholds.id,
        )
        alert = replace(alert, sources=alert.sources + kb.cite(cfg.factor_set.sources))
        if plan is not None and plan.host == "HD":
            alert = replace(
                alert,
                sources=alert.sources + kb.cite(plan.rule.sources),
                suggestions=(naloxone_suggestion(ctx, plan),),
            )
        alerts.append(alert)
    if plan is not None:
        companion = naloxone_companion(ctx, plan)
        if companion is not None:
            alerts.append(companion)
    return alerts
