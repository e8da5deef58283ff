"""The clinical picture every check reads, derived once per request.

From the raw request: which medicines are current, what each one is (resolved against the knowledge
base), how much of each ingredient it delivers per dose and per day, and the patient's age, weight,
pregnancy, conditions (recorded or inferred from labs), renal function and allergies. Anything that
could not be worked out is kept as an issue, so the screen can say what it could not check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, TypeVar

from rxguard.config import ScreeningConfig
from rxguard.domain.model import Concept, Dispense, MedicationEntry, Observation, ScreeningRequest
from rxguard.domain.units import mass_in_mg, normalise_unit, presentation_unit, read_unit
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolution, Resolver
from rxguard.knowledge.schema import ConditionConcept

T = TypeVar("T")
Role = Literal["order", "current", "draft"]
CURRENT_STATUSES = frozenset({"active", "intended", "on-hold"})
SNOMED_PREGNANT = "77386006"
SNOMED_NOT_PREGNANT = "60001007"


@dataclass(frozen=True, slots=True)
class Med:
    """A medicine with what it is and how much of each ingredient it delivers."""

    entry: MedicationEntry
    resolution: Resolution
    role: Role
    per_dose_mg: dict[str, float] = field(default_factory=dict)
    daily_mg: dict[str, float] = field(default_factory=dict)
    rate_ug_h: dict[str, float] = field(default_factory=dict)
    doses_per_day: float | None = None
    units_per_dose: float | None = None
    issues: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def name(self) -> str:
        return self.entry.name

    def ingredients(self) -> tuple[str, ...]:
        return self.resolution.ids


@dataclass(frozen=True, slots=True)
class LabValue:
    measure: str
    value: float
    unit: str
    on: date | None
    observation_id: str


@dataclass(frozen=True, slots=True)
class ConditionEvidence:
    condition: str
    recorded: bool
    evidence: str


@dataclass(frozen=True, slots=True)
class ResolvedAllergy:
    allergy_id: str
    text: str
    ingredients: frozenset[str]
    classes: frozenset[str]
    recognised: bool
    drug_related: bool


@dataclass(frozen=True, slots=True)
class ClinicalContext:
    """Everything derived from one request; checks read it and never change it."""

    request: ScreeningRequest
    kb: KnowledgeBase
    config: ScreeningConfig
    orders: tuple[Med, ...]
    comeds: tuple[Med, ...]
    renewals: tuple[tuple[Med, Med], ...]
    age: int | None
    sex: str | None
    weight: LabValue | None
    pregnant: bool | None
    gestational_weeks: float | None
    breastfeeding: bool
    conditions: dict[str, ConditionEvidence]
    labs: dict[str, LabValue]
    allergies: tuple[ResolvedAllergy, ...]
    notes: tuple[str, ...] = ()
    _derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def now(self) -> date:
        return self.request.now

    def derived(self, key: str, factory: Callable[[], T]) -> T:
        """Something several checks need, worked out from this request once (on first use) and shared.

        The value must be a pure function of this context; it lives and dies with the context (one request).
        """
        try:
            return self._derived[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._derived[key] = factory()
            return value

    def all_meds(self) -> tuple[Med, ...]:
        return self.orders + self.comeds

    def daily_total(self, ingredient: str) -> tuple[float | None, tuple[Med, ...], tuple[Med, ...]]:
        """(total mg/day, medicines contributing, medicines whose amount is unknown) for an ingredient."""
        contributing = tuple(m for m in self.all_meds() if ingredient in m.ingredients())
        known = [m for m in contributing if ingredient in m.daily_mg]
        unknown = tuple(m for m in contributing if ingredient not in m.daily_mg)
        total = sum(m.daily_mg[ingredient] for m in known) if known else None
        return total, contributing, unknown


# --- dose arithmetic ----------------------------------------------------------------------------


def _strength_mg(resolution: Resolution) -> dict[str, float]:
    """mg of each ingredient per product unit (worked out once per resolution; read-only)."""
    return resolution.unit_mg


def _per_unit(resolution: Resolution) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per product unit: (mg of each ingredient, ug/h for patches, mg/mL for liquids); read-only."""
    return resolution.unit_mg, resolution.unit_rate_ug_h, resolution.unit_mg_per_ml


def _units_for_mass(resolution: Resolution, mg: float) -> tuple[float | None, str | None]:
    """How many product units a mass dose means, for a combination product; None if ambiguous."""
    strengths = _strength_mg(resolution)
    if not strengths:
        return None, "the product's strength is unknown"
    fits = [mg / s for s in strengths.values() if s > 0 and abs(mg / s - round(mg / s)) < 1e-6 and round(mg / s) >= 1]
    if len(fits) == 1:
        return fits[0], None
    return None, f"a {mg:g} mg dose of a combination product does not say which ingredient it measures"


def dose_amounts(entry: MedicationEntry, resolution: Resolution, role: Role | None = None) -> Med:
    """Work out mg per dose and per day of each ingredient, or say why not."""
    issues: list[str] = []
    per_dose: dict[str, float] = {}
    rate: dict[str, float] = {}
    units: float | None = None
    dosage = entry.dosage
    dose = dosage.dose if dosage else None
    per_day = dosage.doses_per_day if dosage else None
    unit_mg, unit_rate, unit_per_ml = _per_unit(resolution)
    ingredients = resolution.ingredient_ids()

    if dose is not None:
        # The unit is read as a mass, else a rate (one ingredient), else product units, else a volume: each
        # reading is only tried when the ones before it did not apply.
        normalised, mg, mg_per_h, presentation, ml = read_unit(dose.unit)  # = mass_in_mg(), rate_in_ug_per_h()...
        mass = None if mg is None else dose.value * mg
        dose_rate: float | None = None
        counted: str | None = None
        volume: float | None = None
        if mass is None:
            if len(ingredients) == 1 and mg_per_h is not None:
                dose_rate = dose.value * mg_per_h * 1000.0
            if dose_rate is None:
                counted = presentation or (normalised if resolution.unit and normalised == resolution.unit else None)
                if counted is None and ml is not None:
                    volume = dose.value * ml
        if mass is not None:
            if len(ingredients) == 1:
                per_dose[ingredients[0]] = mass
                strength = unit_mg.get(ingredients[0])
                units = mass / strength if strength else None
            else:
                units, why = _units_for_mass(resolution, mass)
                if units is None:
                    issues.append(why or "cannot split a mass dose between ingredients")
                else:
                    per_dose.update({i: units * s for i, s in unit_mg.items()})
        elif dose_rate is not None:
            rate[ingredients[0]] = dose_rate
        elif counted is not None:
            units = dose.value
            if unit_rate:
                rate.update({i: units * r for i, r in unit_rate.items()})
            if unit_mg:
                per_dose.update({i: units * m for i, m in unit_mg.items()})
            if not unit_mg and not unit_rate:
                issues.append(
                    f"the strength of {entry.name!r} is unknown, so {dose.value:g} {dose.unit} "
                    "cannot be converted to mg"
                )
        elif volume is not None and unit_per_ml:
            per_dose.update({i: volume * c for i, c in unit_per_ml.items()})
        else:
            issues.append(
                f"dose unit {dose.unit!r} cannot be converted to an amount of "
                f"{', '.join(ingredients) or 'the ingredient'}"
            )

    daily: dict[str, float] = {}
    if per_dose and per_day is not None:
        daily = {i: v * per_day for i, v in per_dose.items()}
    elif not rate and not issues:
        fallback = _daily_from_supply(entry, unit_mg)
        if fallback:
            daily = fallback
        elif dose is None:
            issues.append(
                "no dose in the order (dosageInstruction.doseAndRate) and no quantity and supply "
                "duration to derive one from"
            )
        elif per_day is None:
            issues.append("no frequency in the order (dosageInstruction.timing)")
    # Positional (in field order: entry, resolution, role, per_dose_mg, daily_mg, rate_ug_h, doses_per_day,
    # units_per_dose, issues): a frozen dataclass is built measurably faster so, once per medicine per request.
    return Med(
        entry,
        resolution,
        "order" if entry.is_order else "current",
        per_dose,
        daily,
        rate,
        per_day,
        units,
        tuple(issues),
    )


def _daily_from_supply(entry: MedicationEntry, unit_mg: dict[str, float]) -> dict[str, float]:
    """Average daily amount from quantity dispensed over days supply, when the order gives no dose."""
    if entry.quantity is None or not entry.days_supply or not unit_mg:
        return {}
    unit = entry.quantity.unit
    if unit and presentation_unit(unit) is None and mass_in_mg(1, unit) is None:
        return {}
    mass = mass_in_mg(entry.quantity.value, unit) if unit else None
    if mass is not None and len(unit_mg) == 1:
        return {next(iter(unit_mg)): mass / entry.days_supply}
    per_day_units = entry.quantity.value / entry.days_supply
    return {i: per_day_units * m for i, m in unit_mg.items()}


# --- what is current ----------------------------------------------------------------------------


def supply_days(entry: MedicationEntry) -> float | None:
    """Days one fill lasts: the stated supply, else quantity divided by units taken per day."""
    if entry.days_supply:
        return entry.days_supply
    dosage = entry.dosage
    if not (entry.quantity and dosage and dosage.dose and dosage.doses_per_day):
        return None
    same_unit = normalise_unit(entry.quantity.unit) == normalise_unit(dosage.dose.unit)
    per_day = dosage.dose.value * dosage.doses_per_day
    if (presentation_unit(dosage.dose.unit) or same_unit) and per_day > 0:
        return entry.quantity.value / per_day
    return None


def _plus_days(start: date, days: float) -> date:
    """start + days, saturating at date.max for absurd supplies (quantity 500 at 0.01 a day)."""
    try:
        return start + timedelta(days=days)
    except OverflowError:
        return date.max


def is_current(entry: MedicationEntry, dispenses: Iterable[Dispense], now: date) -> bool:
    """Active, and its supply covers `now` (from authoredOn or the latest dispense); unknown supply: trust status."""
    if entry.status not in CURRENT_STATUSES:
        return False
    days = supply_days(entry)
    if days is None:
        return True
    end: date | None = None  # the latest end of supply
    if entry.authored_on:
        end = _plus_days(entry.authored_on, days * (1 + max(entry.refills or 0, 0)))
    for d in dispenses:
        if d.prescription_id == entry.id and d.handed_over:
            until = _plus_days(d.handed_over, d.days_supply or days)
            if end is None or until > end:
                end = until
    if end is None:
        return True
    return now <= end


# --- the patient ---------------------------------------------------------------------------------


def _latest(kb: KnowledgeBase, observations: Iterable[Observation], now: date) -> dict[str, LabValue]:
    latest: dict[str, LabValue] = {}
    for obs in observations:
        if obs.value is None or (obs.effective and obs.effective > now):
            continue
        measure_id = kb.measure_of(obs.concept)
        if measure_id is None:
            continue
        measure = kb.measures[measure_id]
        unit = obs.value.unit
        factor = measure.accepted_units.get(unit, 1.0 if unit == measure.unit else None)
        if factor is None:
            continue
        if measure.max_age_days and obs.effective and (now - obs.effective).days > measure.max_age_days:
            continue
        current = latest.get(measure_id)
        if current is None or (obs.effective or date.min) >= (current.on or date.min):  # built only when kept
            latest[measure_id] = LabValue(measure_id, obs.value.value * factor, measure.unit, obs.effective, obs.id)
    return latest


def _concept_conditions(kb: KnowledgeBase, concept: Concept) -> set[str]:
    found: set[str] = set()
    for code in concept.codes("snomed.info/sct"):
        found.update(kb.snomed_conditions.get(code, []))
    for text in concept.all_text():
        found |= kb.conditions_in_text(text)
    return found


def _pregnancy(
    request: ScreeningRequest, labs: dict[str, LabValue], recorded: set[str]
) -> tuple[bool | None, float | None]:
    pregnant: bool | None = True if "pregnancy" in recorded else None
    for obs in request.profile.observations:
        if "82810-3" in obs.loinc() and obs.value_concept is not None:
            codes = set(obs.value_concept.codes("snomed.info/sct"))
            text = " ".join(obs.value_concept.all_text()).lower()
            if SNOMED_NOT_PREGNANT in codes or "not pregnant" in text:
                pregnant = False if pregnant is None else pregnant
            elif SNOMED_PREGNANT in codes or "pregnant" in text:
                pregnant = True
    weeks = labs.get("gestational-age")
    if weeks is not None:
        pregnant = True
    return pregnant, weeks.value if weeks else None


def _crcl(
    kb: KnowledgeBase, age: int | None, sex: str | None, weight: LabValue | None, labs: dict[str, LabValue]
) -> LabValue | None:
    creatinine = labs.get("creatinine")
    if creatinine is None or age is None or weight is None or creatinine.value <= 0 or sex not in ("male", "female"):
        return None
    cg = kb.manifest.cockcroft_gault
    value = (cg.age_offset - age) * weight.value / (cg.creatinine_divisor * creatinine.value)
    if sex == "female":
        value *= cg.female_factor
    return LabValue(
        "crcl", round(value, 1), "mL/min", creatinine.on, f"Cockcroft-Gault from {creatinine.observation_id}"
    )


def _inferable(kb: KnowledgeBase) -> tuple[tuple[str, ...], tuple[ConditionConcept, ...]]:
    """(every measure some condition is inferred from, the conditions inferred from labs), once per KB."""

    def build() -> tuple[tuple[str, ...], tuple[ConditionConcept, ...]]:
        conditions = tuple(c for c in kb.conditions.values() if c.inferred_from)
        return tuple({p.measure for c in conditions for p in c.inferred_from}), conditions

    return kb.memo("context.inferable-conditions", build)


def _infer_conditions(kb: KnowledgeBase, labs: dict[str, LabValue]) -> dict[str, ConditionEvidence]:
    inferred: dict[str, ConditionEvidence] = {}
    measures, conditions = _inferable(kb)
    if not any(m in labs for m in measures):
        return inferred
    for condition in conditions:
        for pred in condition.inferred_from:
            lab = labs.get(pred.measure)
            if lab is None:
                continue
            hit = {
                "<": lab.value < pred.value,
                "<=": lab.value <= pred.value,
                ">": lab.value > pred.value,
                ">=": lab.value >= pred.value,
            }[pred.op]
            if hit:
                when = f" on {lab.on.isoformat()}" if lab.on else ""
                inferred[condition.id] = ConditionEvidence(
                    condition.id,
                    False,
                    f"{kb.measures[pred.measure].name} {lab.value:g} {lab.unit}{when} ({pred.op} {pred.value:g})",
                )
                break
    return inferred


def build_context(
    request: ScreeningRequest, kb: KnowledgeBase, resolver: Resolver, config: ScreeningConfig
) -> ClinicalContext:
    """Derive the clinical picture of one request."""
    now = request.now
    profile = request.profile
    orders = tuple(dose_amounts(o, resolver.resolve(o.concept)) for o in request.orders)
    drafts = tuple(dose_amounts(d, resolver.resolve(d.concept), "draft") for d in request.other_drafts)
    dispensed: dict[str | None, list[Dispense]] = {}  # by prescription, so each record reads only its own
    for dispense in profile.dispenses:
        dispensed.setdefault(dispense.prescription_id, []).append(dispense)
    current_all = [
        dose_amounts(m, resolver.resolve(m.concept), "current")
        for m in profile.medications
        if is_current(m, dispensed.get(m.id, ()), now)
    ]
    order_prints = {o.resolution.fingerprint: o for o in orders if o.resolution.known}
    renewals = []
    current = []
    for med in current_all:
        renewed_by = order_prints.get(med.resolution.fingerprint) if med.resolution.known else None
        if renewed_by is not None:
            renewals.append((med, renewed_by))
        else:
            current.append(med)

    age = profile.patient.age_years(now)
    labs = _latest(kb, profile.observations, now)
    weight = labs.get("weight")
    crcl = _crcl(kb, age, profile.patient.sex, weight, labs)
    if crcl is not None:
        labs["crcl"] = crcl

    conditions: dict[str, ConditionEvidence] = {}
    recorded: set[str] = set()
    for cond in profile.conditions:
        if not cond.active:
            continue
        for cid in _concept_conditions(kb, cond.concept):
            for ancestor in kb.condition_ancestors(cid):
                recorded.add(ancestor)
                conditions.setdefault(
                    ancestor,
                    ConditionEvidence(ancestor, True, f"recorded condition: {cond.concept.text or cid}"),
                )
    for order in request.orders:
        if order.reason is not None:
            for cid in _concept_conditions(kb, order.reason):
                for ancestor in kb.condition_ancestors(cid):
                    conditions.setdefault(
                        ancestor,
                        ConditionEvidence(ancestor, True, f"indication on the order: {order.reason.text or cid}"),
                    )
    for cid, evidence in _infer_conditions(kb, labs).items():
        conditions.setdefault(cid, evidence)

    pregnant, weeks = _pregnancy(request, labs, recorded)
    breastfeeding = "lactation" in conditions or any(
        "breastfeed" in t.lower() or "lactat" in t.lower()
        for obs in profile.observations
        if obs.value_concept is None or "not" not in " ".join(obs.value_concept.all_text()).lower()
        for t in obs.concept.all_text()
    )

    non_drug = kb.memo(
        "context.non-drug-allergens", lambda: frozenset(a.lower() for a in kb.manifest.non_drug_allergens)
    )
    allergies = []
    for allergy in profile.allergies:
        if not allergy.active:
            continue
        ingredients, classes = resolver.allergen(allergy.concept)
        text = " ".join(allergy.concept.all_text()) or "(no substance given)"
        drug_related = not (set(allergy.category) & {"food", "environment"}) and text.strip().lower() not in non_drug
        allergies.append(
            ResolvedAllergy(allergy.id, text, ingredients, classes, bool(ingredients or classes), drug_related)
        )

    return ClinicalContext(
        request=request,
        kb=kb,
        config=config,
        orders=orders,
        comeds=tuple(current) + drafts,
        renewals=tuple(renewals),
        age=age,
        sex=profile.patient.sex,
        weight=weight,
        pregnant=pregnant,
        gestational_weeks=weeks,
        breastfeeding=breastfeeding,
        conditions=conditions,
        labs=labs,
        allergies=tuple(allergies),
    )
