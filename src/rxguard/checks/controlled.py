"""What the controlled-substance checks share: their knowledge, the effective settings, schedules, fills.

The knowledge (controlled/*.yaml) is indexed once per knowledge base; the settings are the knowledge base's
sourced defaults overridden by the site's configuration (ScreeningConfig.controlled). A "fill" is one
dispensing record resolved to ingredients, with its supply period, prescriber and pharmacy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from rxguard.checks.context import ClinicalContext, Med, supply_days
from rxguard.config import ScreeningConfig
from rxguard.domain.model import Dispense, MedicationEntry
from rxguard.errors import ConfigError
from rxguard.knowledge import controlled as c
from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolution, Resolver

CONTROLLED = frozenset({"II", "III", "IV", "V", "CD2", "CD3", "CD4", "CD5", "product-dependent"})
# Most restrictive first: when a product has several scheduled ingredients, the strictest schedule rules.
SCHEDULE_ORDER: tuple[str, ...] = ("II", "III", "IV", "V", "CD2", "CD3", "CD4", "CD5")
UK_CATEGORY_SCHEDULE = {"CD2": "CD2", "CD3": "CD3", "CD4": "CD4", "CD5": "CD5"}


@dataclass(frozen=True, slots=True)
class ControlledKnowledge:
    """The four controlled-substance files, indexed."""

    mme: c.MmeFile
    history: c.HistoryFile
    prescriptions: c.PrescriptionsFile
    counselling: c.CounsellingFile
    factor_sets: dict[str, c.MmeFactorSet]
    thresholds: c.MmeThresholds
    naloxone: c.NaloxoneRule | None
    history_rules: dict[str, c.HistoryRule]
    jurisdictions: dict[str, c.RxJurisdiction]
    schedules: dict[tuple[str, str], c.ScheduleEntry]
    controlled_ingredients: frozenset[str]

    def factor_set(self, name: str | None) -> c.MmeFactorSet:
        """A factor set by id ('mme.factors.cdc-2022') or short name ('cdc-2022'); None: the default."""
        if name is None:
            return next(fs for fs in self.factor_sets.values() if fs.default)
        found = self.factor_sets.get(name) or self.factor_sets.get(f"mme.factors.{name}")
        if found is None:
            known = ", ".join(sorted(k.removeprefix("mme.factors.") for k in self.factor_sets))
            raise ConfigError(f"RXGUARD_MME_FACTOR_SET: unknown factor set (value: {name!r}; known: {known})")
        return found


def knowledge(kb: KnowledgeBase) -> ControlledKnowledge:
    return kb.memo("controlled.knowledge", lambda: _index(kb))


def _index(kb: KnowledgeBase) -> ControlledKnowledge:
    mme = kb.extension(c.MME_FILE, c.MmeFile)
    history = kb.extension(c.HISTORY_FILE, c.HistoryFile)
    prescriptions = kb.extension(c.PRESCRIPTIONS_FILE, c.PrescriptionsFile)
    counselling = kb.extension(c.COUNSELLING_FILE, c.CounsellingFile)
    schedules: dict[tuple[str, str], c.ScheduleEntry] = {
        (e.system, e.ingredient): e for e in prescriptions.schedules if e.status == "active"
    }
    return ControlledKnowledge(
        mme=mme,
        history=history,
        prescriptions=prescriptions,
        counselling=counselling,
        factor_sets={fs.id: fs for fs in mme.factor_sets if fs.status == "active"},
        thresholds=next(t for t in mme.thresholds if t.status == "active"),
        naloxone=next((n for n in mme.naloxone if n.status == "active"), None),
        history_rules={r.kind: r for r in history.history_rules if r.status == "active"},
        jurisdictions={j.id: j for j in prescriptions.jurisdictions},
        schedules=schedules,
        controlled_ingredients=frozenset(i for (_, i), e in schedules.items() if e.schedule in CONTROLLED),
    )


def resolver(kb: KnowledgeBase) -> Resolver:
    """One resolver per knowledge base for what the clinical context does not resolve (dispensing records)."""
    return kb.memo("controlled.resolver", lambda: Resolver(kb))


# --- settings ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """The numbers in force: the knowledge base's defaults with the site's overrides applied."""

    factor_set: c.MmeFactorSet
    mme_caution: float
    mme_high: float
    naloxone_mme: float
    early_refill_share: float
    mpe_prescribers: int
    mpe_pharmacies: int
    mpe_days: int
    opioid_naive_days: int
    rx_jurisdiction: str
    overridden: tuple[str, ...] = field(default=())


def settings(ctx: ClinicalContext) -> Settings:
    """The effective settings (knowledge defaults, overridden by configuration), worked out once per config.

    Keyed by the whole screening configuration (the jurisdiction matters), by value: hashing the frozen
    configuration is much cheaper than the repr() this memo used to be keyed by, and it is asked several times
    per screening.
    """
    by_config: dict[ScreeningConfig, Settings] = ctx.kb.memo("controlled-settings", dict)
    found = by_config.get(ctx.config)
    if found is None:
        found = _settings(ctx)
        if len(by_config) < 1_000:  # bounded: a process sees a handful of configurations
            by_config[ctx.config] = found
    return found


def _settings(ctx: ClinicalContext) -> Settings:
    ck = knowledge(ctx.kb)
    cfg = ctx.config.controlled
    history = ck.history_rules
    overridden = tuple(
        name
        for name in (
            "mme_factor_set",
            "mme_caution",
            "mme_high",
            "naloxone_mme",
            "early_refill_share",
            "mpe_prescribers",
            "mpe_pharmacies",
            "mpe_days",
            "opioid_naive_days",
            "rx_jurisdiction",
        )
        if getattr(cfg, name) is not None
    )

    def pick(value: float | int | None, default: float | int | None, fallback: float | int) -> float:
        return float(value if value is not None else default if default is not None else fallback)

    early = history.get("early-refill")
    mpe = history.get("multiple-provider")
    naive = history.get("opioid-naive")
    naloxone = ck.naloxone
    return Settings(
        factor_set=ck.factor_set(cfg.mme_factor_set),
        mme_caution=pick(cfg.mme_caution, ck.thresholds.caution_mme, 50),
        mme_high=pick(cfg.mme_high, ck.thresholds.high_mme, 90),
        naloxone_mme=pick(cfg.naloxone_mme, naloxone.mme_at_least if naloxone else None, 50),
        early_refill_share=pick(cfg.early_refill_share, early.share if early else None, 0.75),
        mpe_prescribers=int(pick(cfg.mpe_prescribers, mpe.prescribers if mpe else None, 5)),
        mpe_pharmacies=int(pick(cfg.mpe_pharmacies, mpe.pharmacies if mpe else None, 5)),
        mpe_days=int(pick(cfg.mpe_days, mpe.window_days if mpe else None, 90)),
        opioid_naive_days=int(pick(cfg.opioid_naive_days, naive.lookback_days if naive else None, 7)),
        rx_jurisdiction=cfg.rx_jurisdiction or ctx.config.jurisdiction,
        overridden=overridden,
    )


# --- schedules ---------------------------------------------------------------------------------------------


def product_of(kb: KnowledgeBase, resolution: Resolution) -> s.Product | None:
    return kb.products.get(resolution.product_id) if resolution.product_id else None


def is_controlled_ingredient(kb: KnowledgeBase, ingredient: str) -> bool:
    return ingredient in knowledge(kb).controlled_ingredients


def controlled_ingredients(kb: KnowledgeBase, resolution: Resolution) -> tuple[str, ...]:
    """The ingredients of a medicine that are controlled somewhere (or scheduled by their product)."""
    found = tuple(i for i in resolution.ids if is_controlled_ingredient(kb, i))
    product = product_of(kb, resolution)
    if not found and product is not None and (product.dea_schedule or product.uk_legal_category in CONTROLLED):
        return resolution.ids
    return found


def is_controlled(kb: KnowledgeBase, resolution: Resolution) -> bool:
    return bool(controlled_ingredients(kb, resolution))


@dataclass(frozen=True, slots=True)
class ScheduleFinding:
    """A medicine's schedule in one system, and the knowledge entries that say so."""

    schedule: str | None  # "II"... "CD5"; None when not controlled there
    product_dependent: bool
    entries: tuple[c.ScheduleEntry, ...]
    from_product: bool


def schedule_in(kb: KnowledgeBase, resolution: Resolution, system: str) -> ScheduleFinding:
    """The strictest schedule of a medicine's ingredients in a schedule system; the product's own wins."""
    ck = knowledge(kb)
    product = product_of(kb, resolution)
    if product is not None:
        own = product.dea_schedule if system == "US-DEA" else UK_CATEGORY_SCHEDULE.get(product.uk_legal_category or "")
        if own is not None:
            return ScheduleFinding(own, False, (), True)
    entries = tuple(e for i in resolution.ids if (e := ck.schedules.get((system, i))) is not None)
    scheduled = [e.schedule for e in entries if e.schedule in SCHEDULE_ORDER]
    dependent = any(e.schedule == "product-dependent" for e in entries)
    schedule = min(scheduled, key=SCHEDULE_ORDER.index) if scheduled else None
    return ScheduleFinding(schedule, dependent and schedule is None, entries, False)


# --- fills -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fill:
    """One dispensing record: what, when, how long it lasts, who prescribed it and where it was dispensed."""

    dispense: Dispense
    resolution: Resolution
    start: date
    days_supply: float | None
    prescriber: str | None
    pharmacy: str | None

    @property
    def id(self) -> str:
        return self.dispense.id

    @property
    def name(self) -> str:
        return self.dispense.concept.first_text() or f"dispense {self.dispense.id}"

    @property
    def end(self) -> date | None:
        """The day after the supply runs out (start + days supply)."""
        if self.days_supply is None:
            return None
        return self.start + timedelta(days=self.days_supply)

    def days_left(self, on: date) -> float | None:
        if self.days_supply is None:
            return None
        return self.days_supply - (on - self.start).days


def _prescriptions(ctx: ClinicalContext) -> dict[str, MedicationEntry]:
    return {m.id: m for m in ctx.request.profile.medications}


HISTORY_DAYS = 366  # dispensing older than a year (or the configured window, if longer) is not read


def fills(ctx: ClinicalContext) -> tuple[Fill, ...]:
    """Dispensing records handed over in the year (or history window) up to the day of screening, oldest first.

    Resolved once per request, on first use, and shared by the checks that read the history."""
    return ctx.derived("controlled.fills", lambda: _fills(ctx))


def _fills(ctx: ClinicalContext) -> tuple[Fill, ...]:
    res = resolver(ctx.kb)
    prescriptions = _prescriptions(ctx)
    cfg = settings(ctx)
    oldest = ctx.now - timedelta(days=max(HISTORY_DAYS, cfg.mpe_days, cfg.opioid_naive_days))
    found = []
    for dispense in ctx.request.profile.dispenses:
        if dispense.handed_over is None or dispense.handed_over > ctx.now or dispense.handed_over < oldest:
            continue
        prescription = prescriptions.get(dispense.prescription_id or "")
        days = dispense.days_supply
        if not days and prescription is not None:
            days = supply_days(prescription)
        prescriber = dispense.prescriber or (prescription.prescriber if prescription is not None else None)
        found.append(
            Fill(
                dispense=dispense,
                resolution=res.resolve(dispense.concept),
                start=dispense.handed_over,
                days_supply=days if days and days > 0 else None,
                prescriber=prescriber,
                pharmacy=dispense.pharmacy,
            )
        )
    return tuple(sorted(found, key=lambda f: (f.start, f.id)))


def prescriber_of(med: Med) -> str | None:
    return med.entry.prescriber


def in_class(kb: KnowledgeBase, ingredients: tuple[str, ...], drugs: s.DrugSet | None) -> tuple[str, ...]:
    """The ingredients that belong to a drug set (all of them when the set is None)."""
    if drugs is None:
        return ingredients
    members = kb.expand(drugs)
    return tuple(i for i in ingredients if i in members)
