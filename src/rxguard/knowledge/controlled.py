"""Knowledge schema for controlled substances: MME factor sets, red-flag rules, prescription rules, counselling.

Four files under `knowledge/data/controlled/`, validated with the rest of the knowledge base and sharing its
`kb_version`:

- `mme.yaml`: morphine milligram equivalent conversion factor sets (CDC 2022 clinical, the default; CDC
  2016 clinical; the CDC 2017 data file, for analytics), each versioned and never mixed; the MME thresholds;
  when to offer naloxone.
- `history.yaml`: red flags read from the dispensing history (early refill, multiple-provider episode,
  overlapping prescriptions, a long-acting or transdermal opioid for an opioid-naive patient).
- `prescriptions.yaml`: jurisdictions, the schedule of each ingredient in each schedule system, prescriber
  identifier rules (DEA number, NPI) and per-schedule limits (refills, days supply, prescription age).
- `counselling.yaml`: counselling points for drugs with abuse potential, alcohol rules, and the rule on
  three or more CNS-active drugs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from rxguard.knowledge.extensions import register
from rxguard.knowledge.schema import (
    BOTH_JURISDICTIONS,
    DrugSet,
    Jurisdiction,
    Rule,
    SeverityName,
    Slug,
    Strict,
)

if TYPE_CHECKING:
    from rxguard.knowledge.base import KnowledgeBase

MME_FILE = "controlled/mme.yaml"
HISTORY_FILE = "controlled/history.yaml"
PRESCRIPTIONS_FILE = "controlled/prescriptions.yaml"
COUNSELLING_FILE = "controlled/counselling.yaml"

IndicatorName = Literal["info", "warning", "critical"]
# How an opioid is taken, for choosing its conversion factor: the CDC tables are for oral opioids and
# transdermal fentanyl; the data file adds buccal/sublingual, film and nasal fentanyl.
Form = Literal["oral", "transdermal", "buccal", "film", "nasal", "any"]
Schedule = Literal["II", "III", "IV", "V", "CD2", "CD3", "CD4", "CD5", "not-controlled", "product-dependent"]
JurisdictionId = Annotated[str, Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,6})?$")]


# --- MME ---------------------------------------------------------------------------------------------------


class MmeTier(Strict):
    """A factor that applies up to a daily dose (methadone in the CDC 2016 table)."""

    up_to_daily_mg: float | None = Field(default=None, gt=0, description="inclusive upper bound; None: no bound")
    factor: float = Field(gt=0)


class MmeFactor(Strict):
    """One opioid's conversion factor in one set: what it multiplies (mg/day, ug/day or the patch's ug/h)."""

    ingredient: Slug | None = Field(default=None, description="the knowledge-base ingredient, when there is one")
    name: str = Field(description="the opioid as the source names it")
    rxnorm: str | None = Field(default=None, pattern=r"^\d+$")
    forms: list[Form] = Field(min_length=1)
    basis: Literal["mg/day", "ug/day", "ug/h"] = "mg/day"
    factor: float | None = Field(default=None, gt=0)
    tiers: list[MmeTier] = Field(default_factory=list)
    patch_days: float | None = Field(
        default=None,
        gt=0,
        description="data file only: factor per ug/h with days supply normalised to patches x this many days",
    )
    not_benchmarked: str | None = Field(default=None, description="why the set gives no factor (buprenorphine)")
    note: str | None = None

    @model_validator(mode="after")
    def _one_way_to_convert(self) -> MmeFactor:
        ways = sum(x is not None and x != [] for x in (self.factor, self.tiers or None, self.not_benchmarked))
        if ways != 1:
            raise ValueError("give exactly one of factor, tiers or not_benchmarked")
        return self


class MmeFactorSet(Rule):
    """A complete, published set of conversion factors. Sets are never mixed in one computation."""

    name: str
    use: Literal["clinical", "analytic"]
    default: bool = False
    published: str
    factors: list[MmeFactor] = Field(min_length=1)


class MmeThresholds(Rule):
    """Daily MME at which a card is raised: caution (info) and high (warning)."""

    caution_mme: float = Field(gt=0)
    high_mme: float = Field(gt=0)
    caution_text: str
    high_text: str
    management: str

    @model_validator(mode="after")
    def _ordered(self) -> MmeThresholds:
        if self.high_mme < self.caution_mme:
            raise ValueError("high_mme must be at least caution_mme")
        return self


class NaloxoneRule(Rule):
    """When to suggest co-prescribing naloxone with an opioid, and what to suggest."""

    opioids: DrugSet
    mme_at_least: float = Field(gt=0)
    with_drugs: DrugSet = Field(description="concurrent drugs that are a risk factor (benzodiazepines)")
    conditions: list[Slug] = Field(default_factory=list, description="recorded conditions that are risk factors")
    naloxone: DrugSet = Field(description="what counts as naloxone already on the list")
    product: Slug = Field(description="the product the suggestion orders")
    dosage_text: str
    text: str


class MmeFile(Strict):
    factor_sets: list[MmeFactorSet] = Field(default_factory=list)
    thresholds: list[MmeThresholds] = Field(default_factory=list)
    naloxone: list[NaloxoneRule] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        return [*self.factor_sets, *self.thresholds, *self.naloxone]

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        problems: list[str] = []
        where = MME_FILE
        active_sets = [s for s in self.factor_sets if s.status == "active"]
        defaults = [s for s in active_sets if s.default]
        if len(defaults) != 1:
            problems.append(f"{where}: exactly one active factor set must be the default (found {len(defaults)})")
        elif defaults[0].use != "clinical":
            problems.append(f"{where}: entry {defaults[0].id!r}: field default: the default set must be clinical")
        for factor_set in self.factor_sets:
            seen: set[tuple[str, str]] = set()
            for factor in factor_set.factors:
                if factor.ingredient is not None and factor.ingredient not in kb.ingredients:
                    problems.append(
                        f"{where}: entry {factor_set.id!r}: field factors: unknown ingredient {factor.ingredient!r}"
                    )
                for form in factor.forms:
                    key = (factor.ingredient or factor.name, form)
                    if key in seen:
                        problems.append(f"{where}: entry {factor_set.id!r}: field factors: {key} given twice")
                    seen.add(key)
        if len([t for t in self.thresholds if t.status == "active"]) != 1:
            problems.append(f"{where}: exactly one active thresholds entry is needed")
        for rule in self.naloxone:
            problems.extend(_drug_refs(kb, rule.opioids, f"{where}: entry {rule.id!r}: field opioids"))
            problems.extend(_drug_refs(kb, rule.with_drugs, f"{where}: entry {rule.id!r}: field with_drugs"))
            problems.extend(_drug_refs(kb, rule.naloxone, f"{where}: entry {rule.id!r}: field naloxone"))
            problems.extend(_condition_refs(kb, rule.conditions, f"{where}: entry {rule.id!r}: field conditions"))
            if rule.product not in kb.products:
                problems.append(f"{where}: entry {rule.id!r}: field product: unknown product {rule.product!r}")
        return problems


# --- dispensing history ------------------------------------------------------------------------------------


class ToleranceDose(Strict):
    """A label's opioid-tolerance dose: at least this much a day of one ingredient (mg/day, or ug/h for patches)."""

    ingredient: Slug
    daily: float = Field(gt=0, description="mg per day, or the patch's rate in ug/h")
    unit: Literal["mg", "ug/h"]


class HistoryRule(Rule):
    """A red flag read from the dispensing history; its numbers are defaults a site may configure."""

    kind: Literal["early-refill", "multiple-provider", "overlap", "opioid-naive"]
    code: Literal["ER", "DM", "ID", "DC"]
    indicator: IndicatorName
    drugs: DrugSet | None = Field(default=None, description="which orders the rule screens (None: controlled)")
    share: float | None = Field(default=None, gt=0, le=1, description="early refill: share of days supply")
    prescribers: int | None = Field(default=None, ge=1)
    pharmacies: int | None = Field(default=None, ge=1)
    window_days: int | None = Field(default=None, ge=1)
    lookback_days: int | None = Field(default=None, ge=1)
    routes: list[str] = Field(default_factory=list, description="opioid-naive: routes that make the order qualify")
    release: list[Literal["modified", "extended"]] = Field(default_factory=list)
    tolerant_only_indicator: IndicatorName | None = Field(
        default=None, description="opioid-naive: indicator when the product is for opioid-tolerant patients only"
    )
    tolerant_only: DrugSet | None = Field(
        default=None, description="opioid-naive: ingredients whose products by these routes are tolerant-only"
    )
    tolerance_doses: list[ToleranceDose] = Field(
        default_factory=list,
        description="opioid-naive: the doses that make a patient opioid-tolerant (for tolerant-only products)",
    )
    tolerance_indicator: IndicatorName | None = Field(
        default=None, description="opioid-naive: indicator when opioids were taken but below the tolerance doses"
    )
    text: str
    management: str

    @model_validator(mode="after")
    def _parameters(self) -> HistoryRule:
        needed = {
            "early-refill": ("share",),
            "multiple-provider": ("prescribers", "pharmacies", "window_days"),
            "overlap": (),
            "opioid-naive": ("lookback_days", "drugs"),
        }[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} rule needs {', '.join(missing)}")
        return self


class HistoryFile(Strict):
    history_rules: list[HistoryRule] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        return list(self.history_rules)

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        problems: list[str] = []
        for rule in self.history_rules:
            for name, drugs in (("drugs", rule.drugs), ("tolerant_only", rule.tolerant_only)):
                if drugs is not None:
                    problems.extend(_drug_refs(kb, drugs, f"{HISTORY_FILE}: entry {rule.id!r}: field {name}"))
            for i, dose in enumerate(rule.tolerance_doses):
                if dose.ingredient not in kb.ingredients:
                    problems.append(
                        f"{HISTORY_FILE}: entry {rule.id!r}: field tolerance_doses[{i}].ingredient: "
                        f"unknown ingredient {dose.ingredient!r}"
                    )
        kinds = [r.kind for r in self.history_rules if r.status == "active"]
        for kind in set(kinds):
            if kinds.count(kind) > 1:
                problems.append(f"{HISTORY_FILE}: more than one active {kind} rule")
        return problems


# --- prescriptions -----------------------------------------------------------------------------------------


class RxJurisdiction(Strict):
    """A jurisdiction whose prescription rules rxguard knows; `extends` inherits another's rules."""

    id: JurisdictionId
    name: str
    schedule_system: Literal["US-DEA", "UK-MDR"]
    extends: JurisdictionId | None = None
    notes: str | None = None


class ScheduleEntry(Rule):
    """An ingredient's schedule in one schedule system (products may override, e.g. codeine combinations)."""

    ingredient: Slug
    system: Literal["US-DEA", "UK-MDR"]
    schedule: Schedule


class IdentifierRule(Rule):
    """A prescriber identifier the jurisdiction checks on controlled-drug prescriptions."""

    jurisdictions: list[JurisdictionId] = Field(min_length=1)
    identifier: Literal["DEA", "NPI"]
    required_for: list[Schedule] = Field(default_factory=list, description="schedules where a missing one is MS")
    registrant_types: list[Annotated[str, Field(pattern=r"^[A-Z]$")]] = Field(default_factory=list)
    indicator: IndicatorName
    text: str
    management: str


class PrescriptionLimit(Rule):
    """A per-schedule rule on a controlled-drug prescription (refills, days supply, age at filling)."""

    jurisdictions: list[JurisdictionId] = Field(min_length=1)
    schedules: list[Schedule] = Field(min_length=1)
    kind: Literal["max-refills", "max-days-supply", "max-age"]
    value: float = Field(ge=0)
    unit: Literal["refills", "days", "months"]
    indicator: IndicatorName
    text: str
    management: str

    @model_validator(mode="after")
    def _unit_fits(self) -> PrescriptionLimit:
        allowed = {"max-refills": {"refills"}, "max-days-supply": {"days"}, "max-age": {"days", "months"}}
        if self.unit not in allowed[self.kind]:
            raise ValueError(f"a {self.kind} limit is measured in {' or '.join(sorted(allowed[self.kind]))}")
        return self


class PrescriptionsFile(Strict):
    jurisdictions: list[RxJurisdiction] = Field(default_factory=list)
    schedules: list[ScheduleEntry] = Field(default_factory=list)
    identifiers: list[IdentifierRule] = Field(default_factory=list)
    limits: list[PrescriptionLimit] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        return [*self.schedules, *self.identifiers, *self.limits]

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        problems: list[str] = []
        where = PRESCRIPTIONS_FILE
        known = {j.id for j in self.jurisdictions}
        for j in self.jurisdictions:
            if j.extends is not None and j.extends not in known:
                problems.append(f"{where}: jurisdiction {j.id!r}: field extends: unknown jurisdiction {j.extends!r}")
        for entry in self.schedules:
            if entry.ingredient not in kb.ingredients:
                problems.append(f"{where}: entry {entry.id!r}: field ingredient: unknown {entry.ingredient!r}")
        seen: set[tuple[str, str]] = set()
        for entry in self.schedules:
            key = (entry.ingredient, entry.system)
            if entry.status == "active" and key in seen:
                problems.append(
                    f"{where}: entry {entry.id!r}: {entry.ingredient} has two active {entry.system} entries"
                )
            seen.add(key)
        ruled: list[tuple[str, list[str]]] = [(r.id, r.jurisdictions) for r in self.identifiers]
        ruled += [(r.id, r.jurisdictions) for r in self.limits]
        for rule_id, jurisdictions in ruled:
            for jid in jurisdictions:
                if jid not in known:
                    problems.append(f"{where}: entry {rule_id!r}: field jurisdictions: unknown jurisdiction {jid!r}")
        return problems


# --- counselling, alcohol, CNS burden ----------------------------------------------------------------------


class CounsellingPoint(Rule):
    """One thing to tell the patient when dispensing a drug with abuse potential (card ED, and the leaflet)."""

    topic: Literal["safe-storage", "no-sharing", "no-alcohol", "disposal", "naloxone", "misuse-warning-signs"]
    title: str
    drugs: DrugSet
    jurisdictions: list[Jurisdiction] = Field(default_factory=lambda: list(BOTH_JURISDICTIONS))
    text: str = Field(description="for the patient, plain words")


class AlcoholRule(Rule):
    """A drug-alcohol interaction (card OH), raised when the record shows the patient drinks.

    Advice not to drink for everyone taking a CNS depressant is a counselling point (card ED), not an OH card.
    """

    drugs: DrugSet
    severity: SeverityName
    severity_basis: str
    mechanism: str
    effect: str
    management: str
    conditions: list[Slug] = Field(min_length=1, description="recorded conditions that mean the patient drinks")


class CnsBurdenRule(Rule):
    """A combination of several CNS-active drugs that is a hazard beyond the pairwise interactions (card DD)."""

    members: DrugSet
    min_count: int = Field(ge=3)
    severity: SeverityName
    severity_basis: str
    effect: str
    management: str


class CounsellingFile(Strict):
    points: list[CounsellingPoint] = Field(default_factory=list)
    alcohol: list[AlcoholRule] = Field(default_factory=list)
    cns_burden: list[CnsBurdenRule] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        return [*self.points, *self.alcohol, *self.cns_burden]

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        problems: list[str] = []
        where = COUNSELLING_FILE
        for point in self.points:
            problems.extend(_drug_refs(kb, point.drugs, f"{where}: entry {point.id!r}: field drugs"))
        for alcohol in self.alcohol:
            problems.extend(_drug_refs(kb, alcohol.drugs, f"{where}: entry {alcohol.id!r}: field drugs"))
            problems.extend(_condition_refs(kb, alcohol.conditions, f"{where}: entry {alcohol.id!r}: field conditions"))
        for burden in self.cns_burden:
            problems.extend(_drug_refs(kb, burden.members, f"{where}: entry {burden.id!r}: field members"))
        return problems


# --- shared ------------------------------------------------------------------------------------------------


def _drug_refs(kb: KnowledgeBase, drugs: DrugSet, where: str) -> list[str]:
    problems = [f"{where}: unknown ingredient {i!r}" for i in drugs.ingredients if i not in kb.ingredients]
    problems += [f"{where}: unknown class {c!r}" for c in drugs.classes if c not in kb.classes]
    return problems


def _condition_refs(kb: KnowledgeBase, conditions: list[str], where: str) -> list[str]:
    return [f"{where}: unknown condition {c!r}" for c in conditions if c not in kb.conditions]


register(MME_FILE, MmeFile)
register(HISTORY_FILE, HistoryFile)
register(PRESCRIPTIONS_FILE, PrescriptionsFile)
register(COUNSELLING_FILE, CounsellingFile)
