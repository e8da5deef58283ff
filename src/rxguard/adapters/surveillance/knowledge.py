"""What the surveillance rules know: their own knowledge file, and accessors for the shared knowledge they reuse.

`surveillance.yaml` (registered below) holds the definitions that are the surveillance rules' own: long-term
opioid therapy (Von Korff 2008), the opioid + benzodiazepine overlap flag, and the policy choices each flag needs
(labelled as such). The numbers the point-of-sale checks also use (MME conversion-factor sets, the 50 and 90
MME/day thresholds, the early-refill share, the multiple-provider thresholds, the thiopurine blood-test schedule)
are NOT copied here: `mme_factor_set`, `controlled_defaults` and `thiopurine_schedule` read them from the
knowledge files that the controlled-substance and thiopurine features own, through those features' accessors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator

from rxguard.domain.model import SourceRef
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.extensions import register
from rxguard.knowledge.schema import Rule, RuleId, Slug, Strict

FlagName = Literal[
    "mme-50",
    "mme-90",
    "opioid-benzodiazepine",
    "multiple-provider",
    "early-refill",
    "long-term-opioid",
    "thiopurine-lab-overdue",
]
FLAGS: tuple[FlagName, ...] = (
    "mme-90",
    "mme-50",
    "opioid-benzodiazepine",
    "multiple-provider",
    "early-refill",
    "long-term-opioid",
    "thiopurine-lab-overdue",
)
FACTOR_SETS = ("cdc-2022-clinical", "cdc-2016-clinical", "cdc-file")
KB_FILE = "surveillance.yaml"


class KnowledgeUnavailableError(Exception):
    """A piece of shared knowledge the surveillance rules need is not in this knowledge base (yet)."""


# --- the surveillance knowledge file ----------------------------------------------------------


class PolicyValue(Strict):
    """A number that no source fixes: a documented, configurable policy choice."""

    value: int = Field(ge=0)
    basis: str = Field(min_length=1, description="why this default; says plainly that it is a policy choice")


class LongTermOpioidParameters(Strict):
    longer_than_days: int = Field(ge=1)
    min_fills: int = Field(ge=1)
    min_days_supply: int = Field(ge=1)
    episode_gap_days: PolicyValue


class OverlapParameters(Strict):
    min_overlap_days: PolicyValue


class EarlyRefillParameters(Strict):
    min_early_refills: PolicyValue


class LabIntervalParameters(Strict):
    grace_days: PolicyValue
    schedule: Slug = Field(description="which monitoring schedule of the thiopurine knowledge applies")


class SurveillanceRule(Rule):
    """One surveillance flag: what it means, where its definition comes from, and its own parameters."""

    flag: FlagName
    name: str
    definition: str
    uses: list[RuleId] = Field(
        default_factory=list, description="rules of other knowledge files whose numbers this flag applies"
    )
    long_term_opioid: LongTermOpioidParameters | None = None
    overlap: OverlapParameters | None = None
    early_refill: EarlyRefillParameters | None = None
    lab_interval: LabIntervalParameters | None = None

    @model_validator(mode="after")
    def _parameters_match_flag(self) -> SurveillanceRule:
        needed = {
            "long-term-opioid": "long_term_opioid",
            "opioid-benzodiazepine": "overlap",
            "early-refill": "early_refill",
            "thiopurine-lab-overdue": "lab_interval",
        }.get(self.flag)
        blocks = ("long_term_opioid", "overlap", "early_refill", "lab_interval")
        for block in blocks:
            if (getattr(self, block) is not None) != (block == needed):
                raise ValueError(f"flag {self.flag!r} takes parameters block {needed!r} only")
        return self


class SurveillanceFile(Strict):
    surveillance_rules: list[SurveillanceRule] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        return list(self.surveillance_rules)

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        problems = []
        seen: set[str] = set()
        for rule in self.surveillance_rules:
            if rule.flag in seen:
                problems.append(f"{KB_FILE}: entry {rule.id!r}: field flag: {rule.flag!r} defined twice")
            seen.add(rule.flag)
        missing = set(FLAGS) - seen
        if self.surveillance_rules and missing:
            problems.append(f"{KB_FILE}: flags without a rule: {', '.join(sorted(missing))}")
        for rule in self.surveillance_rules:
            for used in rule.uses:
                if used not in kb.rules_by_id:
                    problems.append(f"{KB_FILE}: entry {rule.id!r}: field uses: unknown rule {used!r}")
        return problems


register(KB_FILE, SurveillanceFile)


def surveillance_rules(kb: KnowledgeBase) -> dict[str, SurveillanceRule]:
    """Flag name -> its rule, from surveillance.yaml."""
    parsed = kb.extension(KB_FILE, SurveillanceFile)
    return {rule.flag: rule for rule in parsed.surveillance_rules if rule.status == "active"}


# --- resolved settings the rules run with ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    """A dose band of a tiered factor (CDC 2016 methadone): min_mg_day <= dose < max_mg_day uses `factor`."""

    min_mg_day: float
    max_mg_day: float | None
    factor: float


@dataclass(frozen=True, slots=True)
class FormFactor:
    """One factor of a set for one ingredient and form (oral, transdermal, buccal, film, nasal, any)."""

    basis: str  # "mg/day", "ug/day" or "ug/h"
    factor: float | None
    tiers: tuple[Tier, ...] = ()
    patch_days: float | None = None  # ug/h factors of the data file: per patch worn this many days


@dataclass(frozen=True, slots=True)
class MmeFactorSet:
    """One set of MME conversion factors. `from_ndc_file` sets take each NDC's own factor from the NDC table."""

    id: str
    label: str
    version: str
    factors: Mapping[tuple[str, str], FormFactor] = field(default_factory=dict)  # (ingredient, form) -> factor
    from_ndc_file: bool = False
    rule_id: str | None = None
    sources: tuple[SourceRef, ...] = ()
    note: str = ""

    def factor(self, ingredient: str, form: str) -> FormFactor | None:
        """The factor for the ingredient taken this way (as the point-of-sale check picks it: the form, else any)."""
        return self.factors.get((ingredient, form)) or self.factors.get((ingredient, "any"))

    @property
    def tiers(self) -> dict[str, tuple[Tier, ...]]:
        return {ing: f.tiers for (ing, _), f in self.factors.items() if f.tiers}


@dataclass(frozen=True, slots=True)
class ControlledDefaults:
    """The point-of-sale controlled-substance thresholds, as the knowledge base gives them."""

    mme_caution: float
    mme_high: float
    early_refill_share: float
    mpe_prescribers: int
    mpe_pharmacies: int
    mpe_window_days: int
    early_refill_ingredients: frozenset[str] | None = None  # None: every controlled substance
    mpe_ingredients: frozenset[str] | None = None
    rule_ids: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, tuple[SourceRef, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SchedulePhase:
    """Until `until_day` days after the start of therapy, a blood test is due every `interval_days` days."""

    until_day: int | None
    interval_days: int


@dataclass(frozen=True, slots=True)
class LabSchedule:
    id: str
    label: str
    phases: tuple[SchedulePhase, ...]
    measures: tuple[str, ...]  # lab measure ids (conditions.yaml) that count as the required blood test
    rule_id: str | None = None
    sources: tuple[SourceRef, ...] = ()

    @property
    def longest_interval(self) -> int:
        return max(p.interval_days for p in self.phases)


# --- accessors for shared knowledge ------------------------------------------------------------
# The controlled-substance feature (issue 4) owns knowledge/data/controlled/ (schema rxguard.knowledge.controlled);
# the thiopurine feature (issue 3) owns knowledge/data/pgx/ (schema rxguard.therapy.thiopurine.knowledge).
# These functions read those files through their schemas; they never hold a number of their own.

_SET_IDS = {  # rxguard's names for the sets -> how the controlled knowledge labels them (use, year)
    "cdc-2022-clinical": ("clinical", "2022"),
    "cdc-2016-clinical": ("clinical", "2016"),
}


def _controlled(kb: KnowledgeBase, filename: str, model_name: str) -> Any:
    try:
        from rxguard.knowledge import controlled
    except ImportError as exc:  # pragma: no cover - the schema module ships with the package
        raise KnowledgeUnavailableError("the controlled-substance knowledge schema is not installed") from exc
    model = getattr(controlled, model_name)
    try:
        return kb.extension(filename, model)
    except KeyError:
        raise KnowledgeUnavailableError(
            f"{filename} is not loaded: the controlled-substance knowledge is not in this knowledge base"
        ) from None


def mme_factor_set(kb: KnowledgeBase, name: str = "cdc-2022-clinical") -> MmeFactorSet:
    """The named MME factor set. `cdc-file` uses the NDC table's own (CDC data-file) factor for each NDC."""
    if name not in FACTOR_SETS:
        raise KnowledgeUnavailableError(f"unknown MME factor set {name!r} (known: {', '.join(FACTOR_SETS)})")
    if name == "cdc-file":
        return MmeFactorSet(
            id="cdc-file",
            label="CDC NDC file factors (each NDC's own factor: Sept 2018 file, Sept 2017 for NDCs only in it)",
            version="CDC Oral MME conversion file, Sept 2018 (NDCs to May 2018) / Sept 2017",
            from_ndc_file=True,
            sources=(
                SourceRef(
                    document="CDC Opioid NDC and Oral MME Conversion File",
                    year=2018,
                    section="Opioids sheet, MME_Conversion_Factor per NDC; Documentation: fentanyl patch 7.2 with "
                    "days supply = patches x 3",
                    confidence="primary",
                ),
            ),
            note="Analytic factors, for comparison with published PDMP analyses; not clinical guidance.",
        )
    mme = _controlled(kb, "controlled/mme.yaml", "MmeFile")
    use, year = _SET_IDS[name]
    candidates = [
        s
        for s in mme.factor_sets
        if s.status == "active" and s.use == use and (year in s.id or year in s.published or year in s.name)
    ]
    if len(candidates) != 1:
        raise KnowledgeUnavailableError(
            f"MME factor set {name!r}: expected one active {use} set of {year} in controlled/mme.yaml, "
            f"found {len(candidates)}"
        )
    chosen = candidates[0]
    factors: dict[tuple[str, str], FormFactor] = {}
    for factor in chosen.factors:
        if factor.not_benchmarked:
            continue
        # Opioids the knowledge base has no ingredient entry for (oxymorphone, pentazocine, ...) are matched by
        # the source's name, so that NDCs of them still convert (the NDC table names them the same way).
        ingredient = factor.ingredient or factor.name.split(",")[0].strip().lower().replace(" ", "-")
        bands = []
        low = 0.0
        for tier in factor.tiers:
            bands.append(Tier(min_mg_day=low, max_mg_day=tier.up_to_daily_mg, factor=tier.factor))
            low = tier.up_to_daily_mg or low
        for form in factor.forms:
            factors.setdefault(
                (ingredient, form),
                FormFactor(basis=factor.basis, factor=factor.factor, tiers=tuple(bands), patch_days=factor.patch_days),
            )
    return MmeFactorSet(
        id=name,
        label=chosen.name,
        version=f"{chosen.id} v{chosen.version} ({chosen.published})",
        factors=factors,
        rule_id=chosen.id,
        sources=kb.cite(chosen.sources),
        note=chosen.notes or "",
    )


def controlled_defaults(kb: KnowledgeBase) -> ControlledDefaults:
    """MME thresholds, early-refill share and multiple-provider thresholds of the point-of-sale checks."""
    mme = _controlled(kb, "controlled/mme.yaml", "MmeFile")
    history = _controlled(kb, "controlled/history.yaml", "HistoryFile")
    thresholds = [t for t in mme.thresholds if t.status == "active"]
    by_kind = {r.kind: r for r in history.rules() if r.status == "active"}
    missing = [k for k in ("early-refill", "multiple-provider") if k not in by_kind]
    if len(thresholds) != 1 or missing:
        raise KnowledgeUnavailableError(
            "controlled-substance defaults incomplete in the knowledge base: "
            + ", ".join([*(["MME thresholds"] if len(thresholds) != 1 else []), *missing])
        )
    t, er, mpe = thresholds[0], by_kind["early-refill"], by_kind["multiple-provider"]
    return ControlledDefaults(
        mme_caution=float(t.caution_mme),
        mme_high=float(t.high_mme),
        early_refill_share=float(er.share),
        mpe_prescribers=int(mpe.prescribers),
        mpe_pharmacies=int(mpe.pharmacies),
        mpe_window_days=int(mpe.window_days),
        early_refill_ingredients=_expand(kb, er.drugs),
        mpe_ingredients=_expand(kb, mpe.drugs),
        rule_ids={"mme": t.id, "early-refill": er.id, "multiple-provider": mpe.id},
        sources={
            "mme": kb.cite(t.sources),
            "early-refill": kb.cite(er.sources),
            "multiple-provider": kb.cite(mpe.sources),
        },
    )


def _expand(kb: KnowledgeBase, drugs: Any) -> frozenset[str] | None:
    return None if drugs is None else kb.expand(drugs)


MONTH_DAYS_MAX = {1: 31, 2: 62, 3: 92, 6: 184, 12: 366}  # the most days m consecutive calendar months can span


def _month_days(months: int) -> int:
    if months in MONTH_DAYS_MAX:
        return MONTH_DAYS_MAX[months]
    return -(-months * 36525 // 1200) + 1  # 365.25/12 days a month, rounded up, plus a day


def thiopurine_schedule(kb: KnowledgeBase, schedule: str) -> LabSchedule:
    """The thiopurine blood-test schedule `schedule` as allowed gaps between tests by time since the start.

    Each phase of the schedule becomes `SchedulePhase(until_day, interval_days)`: tests at given weeks give
    the gaps between them; "every N weeks" gives 7N days; "every N months" the most days N calendar months can
    span (a test on the same date N months later is never late). A phase "until stable for W weeks" is taken to
    end W weeks after the start: dispensing records do not show when the dose became stable.
    """
    try:
        from rxguard.therapy.thiopurine.knowledge import pgx_index
    except ImportError as exc:
        raise KnowledgeUnavailableError("the thiopurine knowledge is not installed") from exc
    try:
        found = pgx_index(kb).schedules.get(schedule)
    except KeyError:
        raise KnowledgeUnavailableError("the thiopurine knowledge (pgx.yaml) is not loaded") from None
    if found is None:
        raise KnowledgeUnavailableError(f"no active thiopurine monitoring schedule {schedule!r}")
    phases: list[SchedulePhase] = []
    day = 0
    for phase in found.phases:
        if phase.at_weeks:
            for week in phase.at_weeks:
                phases.append(SchedulePhase(until_day=week * 7, interval_days=week * 7 - day))
                day = week * 7
            continue
        if phase.every_weeks:
            interval = phase.every_weeks * 7
        elif phase.every_months:
            interval = _month_days(phase.every_months)
        else:
            raise KnowledgeUnavailableError(f"schedule {schedule!r}: phase {phase.description!r} has no interval")
        if phase.ongoing:
            phases.append(SchedulePhase(until_day=None, interval_days=interval))
            break
        if phase.until_stable_weeks:
            end = day + phase.until_stable_weeks * 7
        elif phase.count and phase.every_weeks:
            end = day + phase.count * phase.every_weeks * 7
        elif phase.count and phase.every_months:
            end = day + (phase.count * phase.every_months * 36525 + 1199) // 1200
        else:
            raise KnowledgeUnavailableError(f"schedule {schedule!r}: phase {phase.description!r} has no end")
        phases.append(SchedulePhase(until_day=end, interval_days=interval))
        day = end
    if not phases or phases[-1].until_day is not None:
        raise KnowledgeUnavailableError(f"schedule {schedule!r} has no ongoing phase")
    measures = _schedule_measures(kb, found.tests)
    return LabSchedule(
        id=schedule,
        label=found.title,
        phases=tuple(phases),
        measures=measures,
        rule_id=found.id,
        sources=kb.cite(found.sources),
    )


# Which lab measures (conditions.yaml ids) stand for the test names a schedule lists.
_TEST_MEASURES = {
    "fbc": ("wbc", "neutrophils", "platelets", "hemoglobin", "lymphocytes", "mcv"),
    "cbc": ("wbc", "neutrophils", "platelets", "hemoglobin", "lymphocytes", "mcv"),
}


def _schedule_measures(kb: KnowledgeBase, tests: list[str]) -> tuple[str, ...]:
    """The blood count is the test whose absence the surveillance flag reports (FBC / CBC in every schedule)."""
    found: list[str] = []
    for test in tests:
        key = test.strip().lower()[:3]
        for measure in _TEST_MEASURES.get(key, ()):
            if measure in kb.measures and measure not in found:
                found.append(measure)
    if not found:
        raise KnowledgeUnavailableError(f"no blood-count measure among the schedule's tests {tests}")
    return tuple(found)
