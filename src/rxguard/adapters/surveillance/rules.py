"""The surveillance rules, written once in Ibis; the same expressions compile to DuckDB and to Spark SQL.

Days are integers (days since 1970-01-01) and MME is kept in integer thousandths (milli-MME) so that both
engines add the same numbers and agree exactly at the thresholds. A fill covers the days
[fill_day, fill_day + days_supply). Every rule returns rows of the same shape (`FLAG_COLUMNS`): one row per
patient and flag, with the first and last day the condition held, a headline number, a day count, and the
evidence (the dispensing records, prescribers and pharmacies involved).

Techniques: daily MME, opioid + benzodiazepine overlap and the multiple-provider window are "sweeps" (an event
+x where a supply starts, -x where it ends, a running sum per patient) instead of expanding fills into days;
early refills and episodes use lag/lead over each patient's fills. No distinct counts inside windows (Spark
cannot run them): the multiple-provider count is a sweep over each prescriber's (and pharmacy's) merged window
of activity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from rxguard.adapters.surveillance.knowledge import SchedulePhase, Tier

FLAG_COLUMNS = (
    "patient_id",
    "flag",
    "first_day",
    "last_day",
    "value",
    "days",
    "evidence",
    "prescribers",
    "pharmacies",
)
MILLI = 1000
CONTROLLED = ("II", "III", "IV", "V")  # DEA schedules
Cache = Callable[[ir.Table], ir.Table]


def _keep(t: ir.Table) -> ir.Table:
    return t


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Every number the rules use, resolved from the knowledge base (or overridden by the user)."""

    as_of_day: int
    mme_caution: float
    mme_high: float
    tiers: Mapping[str, tuple[Tier, ...]] = field(default_factory=dict)
    overlap_min_days: int = 1
    mpe_prescribers: int = 0
    mpe_pharmacies: int = 0
    mpe_window_days: int = 0
    mpe_ingredients: frozenset[str] | None = None
    early_refill_share: float = 0.0
    early_refill_min: int = 1
    early_refill_ingredients: frozenset[str] | None = None
    ltot_longer_than_days: int = 0
    ltot_min_fills: int = 0
    ltot_min_days_supply: int = 0
    ltot_gap_days: int = 0
    lab_phases: tuple[SchedulePhase, ...] = ()
    lab_measures: tuple[str, ...] = ()
    lab_grace_days: int = 0

    @property
    def caution_milli(self) -> int:
        return round(self.mme_caution * MILLI)

    @property
    def high_milli(self) -> int:
        return round(self.mme_high * MILLI)

    @property
    def share_milli(self) -> int:
        return round(self.early_refill_share * MILLI)


# --- preparation -------------------------------------------------------------------------------------------


def prepare_fills(fills: ir.Table, drugs: ir.Table, s: RuleSettings, cache: Cache = _keep) -> ir.Table:
    """Accepted fills joined to the drug table, with milli-MME per day for opioid fills that have a factor.

    Each fill's class and subsets are worked out here once, as booleans (`is_opioid`, `is_benzodiazepine`,
    `is_thiopurine`, `is_controlled`: DEA schedule II-V, `in_mpe` and `in_early_refill`: the fills those rules
    look at), and its ingredient as a number (`ingredient_key`, None when the drug is not identified), so the
    table the rules read again and again holds no repeated text but the patient, prescriber and pharmacy. The
    classes are worked out on the drug table (one row per code), and the join brings only what the fills need.
    `cache` materialises the table; `fill_end` (fill day + days supply) is added on top of it, cheaper to work out
    when read than to store (`mme_end` is stored: a join condition on a computed column would keep the engine
    from filtering the scan with the join's keys).
    """
    key = ibis.ifelse(fills.ndc.notnull(), fills.ndc, "rx:" + fills.rxnorm)
    f = fills.mutate(drug_key=key)
    controlled = drugs.dea_schedule.isin(list(CONTROLLED)).fill_null(False)
    tiered = {"mme_tier": drugs.mme_tier} if s.tiers else {}
    d = drugs.select(
        drug_key=ibis.ifelse(drugs.code_system == "ndc", drugs.code, "rx:" + drugs.code),
        ingredient_key=ibis.ifelse(
            drugs.ingredient.notnull(), ibis.dense_rank().over(order_by=drugs.ingredient), ibis.null("int64")
        ).cast("int64"),
        d_opioid=(drugs.drug_class == "opioid").fill_null(False),
        d_benzodiazepine=(drugs.drug_class == "benzodiazepine").fill_null(False),
        d_thiopurine=(drugs.drug_class == "thiopurine").fill_null(False),
        d_controlled=controlled,
        d_mpe=_subset(drugs, controlled, s.mpe_ingredients),
        d_early_refill=_subset(drugs, controlled, s.early_refill_ingredients) & drugs.ingredient.notnull(),
        strength=drugs.strength,
        mme_k=drugs.mme_k,
        mme_rate=drugs.mme_rate,
        mme_days_per_unit=drugs.mme_days_per_unit,
        **tiered,
    )
    j = f.left_join(d, "drug_key")
    mme_days = ibis.ifelse(
        j.mme_days_per_unit.notnull(), (j.quantity * j.mme_days_per_unit + 0.5).floor(), j.days_supply.cast("int64")
    ).cast("int64")
    per_day = j.strength * j.quantity / j.days_supply.cast("float64")
    k: ir.NumericValue = j.mme_k
    for ingredient, bands in s.tiers.items():
        cases = []
        for band in bands:
            cond = j.mme_tier == ingredient
            if band.max_mg_day is not None:
                cond = cond & (per_day <= band.max_mg_day + 1e-9)
            cases.append((cond, ibis.literal(band.factor, "float64")))
        k = ibis.coalesce(k, ibis.cases(*cases, else_=ibis.null("float64")))
    mme = ibis.coalesce(j.strength * j.mme_rate, per_day * k)
    is_opioid = j.d_opioid.fill_null(False)
    # Each fill's MME/day rounded to 0.1 (as the point-of-sale check rounds each line), kept in thousandths.
    mme_milli = ibis.ifelse(
        is_opioid & mme.notnull(), (mme * 10 + 0.5).floor().cast("int64") * (MILLI // 10), ibis.null("int64")
    )
    day = j.fill_day.cast("int64")
    stored = j.select(
        record_id=j.line.cast("int64"),
        patient_id=j.patient_id,
        prescriber_id=j.prescriber_id,
        pharmacy_id=j.pharmacy_id,
        fill_day=day,
        days_supply=j.days_supply.cast("int64"),
        ingredient_key=j.ingredient_key,
        is_opioid=is_opioid,
        is_benzodiazepine=j.d_benzodiazepine.fill_null(False),
        is_thiopurine=j.d_thiopurine.fill_null(False),
        is_controlled=j.d_controlled.fill_null(False),
        in_mpe=j.d_mpe.fill_null(False),
        in_early_refill=j.d_early_refill.fill_null(False),
        mme_milli=mme_milli,
        mme_end=day + mme_days,
    )
    t = cache(stored)
    return t.mutate(fill_end=t.fill_day + t.days_supply)


def _subset(d: ir.Table, controlled: ir.BooleanValue, ingredients: frozenset[str] | None) -> ir.BooleanValue:
    """The drugs a rule looks at: those of the ingredients listed, or (no list) every controlled substance."""
    if ingredients is None:
        return controlled
    return d.ingredient.isin(sorted(ingredients)).fill_null(False)


def _flag(
    t: ir.Table,
    flag: str,
    first_day: ir.Value,
    last_day: ir.Value,
    value: ir.Value,
    days: ir.Value,
    evidence: ir.Value,
    prescribers: ir.Value,
    pharmacies: ir.Value,
) -> ir.Table:
    return t.select(
        patient_id=t.patient_id,
        flag=ibis.literal(flag, "string"),
        first_day=first_day.cast("int64"),
        last_day=last_day.cast("int64"),
        value=value.cast("float64"),
        days=days.cast("int64"),
        evidence=evidence.cast("array<int64>"),
        prescribers=prescribers.cast("array<string>"),
        pharmacies=pharmacies.cast("array<string>"),
    )


def _evidence_at(subset: ir.Table, anchors: ir.Table, start: str, end: str) -> ir.Table:
    """Per patient of `anchors` (patient_id, day): the fills of `subset` whose [start, end) covers that day."""
    j = subset.join(anchors, "patient_id").filter(lambda r: (r[start] <= r.anchor_day) & (r[end] > r.anchor_day))
    return j.group_by("patient_id").aggregate(
        evidence=j.record_id.collect().unique().sort(),
        prescribers=j.prescriber_id.collect().unique().sort(),
        pharmacies=j.pharmacy_id.collect().unique().sort(),
    )


# --- daily MME and opioid + benzodiazepine overlap (sweeps) -----------------------------------------------


def _sweep(events: ir.Table, deltas: tuple[str, ...]) -> ir.Table:
    """Per patient, the runs of days between consecutive event days, with the running sum of each delta.

    `events` has patient_id, day and the delta columns (+x where something starts, -x where it ends). The sum
    over a range frame counts every event of the day at once, so no per-day aggregation is needed; of the rows
    of one day only the one whose next event falls on a later day is kept (the others would be empty runs).
    Columns: patient_id, day, next_day (None after the last event), one running sum per delta.
    """
    ordered = ibis.window(group_by="patient_id", order_by="day")
    upto_today = ibis.window(group_by="patient_id", order_by="day", range=(None, 0))
    runs = events.select(
        "patient_id",
        "day",
        next_day=events.day.lead().over(ordered),
        **{d: events[d].sum().over(upto_today) for d in deltas},
    )
    return runs.filter(runs.next_day.isnull() | (runs.next_day > runs.day))


def mme_segments(f: ir.Table) -> ir.Table:
    """Per patient, runs of days with a constant total MME of current opioid supplies, where it is above 0.

    Columns: patient_id, day, next_day (the run is day .. next_day - 1), mme (milli-MME/day). Only the opioid
    fills with an MME (> 0) take part; the others would add 0 and only split runs.
    """
    op = f.filter(f.is_opioid & (f.mme_milli > 0))
    events = ibis.union(
        op.select("patient_id", day=op.fill_day, mme=op.mme_milli),
        op.select("patient_id", day=op.mme_end, mme=-op.mme_milli),
        distinct=False,
    )
    runs = _sweep(events, ("mme",))
    return runs.filter(runs.next_day.notnull() & (runs.mme > 0))


def mme_flags(f: ir.Table, seg: ir.Table, s: RuleSettings, cache: Cache = _keep) -> ir.Table:
    """mme-50 / mme-90: patients with at least one day at or above the caution / high daily MME.

    `seg` is mme_segments(f).
    """
    live = seg.filter(seg.next_day.notnull() & (seg.mme > 0))
    # Only patients with a day at or above the caution level are flagged: the others' runs are left out first.
    reached = live.filter(live.mme >= s.caution_milli).select("patient_id").distinct()
    live = live.semi_join(reached, "patient_id")
    length = live.next_day - live.day
    stats = live.group_by("patient_id").aggregate(
        max_mme=live.mme.max(),
        days_caution=ibis.ifelse(live.mme >= s.caution_milli, length, 0).sum(),
        days_high=ibis.ifelse(live.mme >= s.high_milli, length, 0).sum(),
        first_caution=ibis.ifelse(live.mme >= s.caution_milli, live.day, ibis.null("int64")).min(),
        last_caution=ibis.ifelse(live.mme >= s.caution_milli, live.next_day - 1, ibis.null("int64")).max(),
        first_high=ibis.ifelse(live.mme >= s.high_milli, live.day, ibis.null("int64")).min(),
        last_high=ibis.ifelse(live.mme >= s.high_milli, live.next_day - 1, ibis.null("int64")).max(),
    )
    flagged = cache(stats.filter(stats.days_caution > 0))
    peak = live.join(flagged.select("patient_id", "max_mme"), "patient_id").filter(lambda r: r.mme == r.max_mme)
    anchors = peak.group_by("patient_id").aggregate(anchor_day=peak.day.min())
    op = f.filter(f.is_opioid & f.mme_milli.notnull())
    ev = _evidence_at(op, anchors, "fill_day", "mme_end")
    both = flagged.join(ev, "patient_id")
    caution = _flag(
        both,
        "mme-50",
        both.first_caution,
        both.last_caution,
        both.max_mme / MILLI,
        both.days_caution,
        both.evidence,
        both.prescribers,
        both.pharmacies,
    )
    high_rows = both.filter(both.days_high > 0)
    high = _flag(
        high_rows,
        "mme-90",
        high_rows.first_high,
        high_rows.last_high,
        high_rows.max_mme / MILLI,
        high_rows.days_high,
        high_rows.evidence,
        high_rows.prescribers,
        high_rows.pharmacies,
    )
    return ibis.union(high, caution, distinct=False)


def overlap_flags(f: ir.Table, s: RuleSettings, cache: Cache = _keep) -> ir.Table:
    """opioid-benzodiazepine: days on which an opioid and a benzodiazepine supply were both current.

    Only patients with both an opioid and a benzodiazepine fill can have such a day: the sweep runs on theirs.
    """
    op = f.filter(f.is_opioid)
    bz = f.filter(f.is_benzodiazepine)
    cols = ("patient_id", "prescriber_id", "pharmacy_id", "record_id", "fill_day", "fill_end")
    # The patients with both (found from the patient column alone), then their opioid and benzodiazepine fills.
    both = op.select("patient_id").semi_join(bz.select("patient_id"), "patient_id").distinct()
    fills = f.filter(f.is_opioid | f.is_benzodiazepine).semi_join(both, "patient_id")
    subset = cache(fills.select(*cols, is_opioid=ibis.ifelse(fills.is_opioid, 1, 0).cast("int64")))
    n_bz = 1 - subset.is_opioid
    events = ibis.union(
        subset.select("patient_id", day=subset.fill_day, n_op=subset.is_opioid, n_bz=n_bz),
        subset.select("patient_id", day=subset.fill_end, n_op=-subset.is_opioid, n_bz=-n_bz),
        distinct=False,
    )
    runs = _sweep(events, ("n_op", "n_bz"))
    both = runs.filter(runs.next_day.notnull() & (runs.n_op > 0) & (runs.n_bz > 0))
    stats = both.group_by("patient_id").aggregate(
        days=(both.next_day - both.day).sum(), first_day=both.day.min(), last_day=(both.next_day - 1).max()
    )
    flagged = cache(stats.filter(stats.days >= s.overlap_min_days))
    anchors = flagged.select("patient_id", anchor_day=flagged.first_day)
    ev = _evidence_at(subset, anchors, "fill_day", "fill_end")
    j = flagged.join(ev, "patient_id")
    return _flag(
        j, "opioid-benzodiazepine", j.first_day, j.last_day, j.days, j.days, j.evidence, j.prescribers, j.pharmacies
    )


def daily_mme(seg: ir.Table) -> ir.Table:
    """Per patient, the runs of days with their total MME (the per-day series, compactly)."""
    live = seg.filter(seg.next_day.notnull() & (seg.mme > 0))
    return live.select("patient_id", start_day=live.day, end_day=live.next_day - 1, mme=live.mme / MILLI)


# --- multiple-provider episodes ----------------------------------------------------------------------------


def _activity_events(f: ir.Table, who: str, window: int, column: str) -> ir.Table:
    """+1 when `who` becomes active in the patient's window, -1 when it stops (merged T-day windows)."""
    w = ibis.window(group_by=["patient_id", who], order_by=["fill_day", "record_id"])
    t = f.select("patient_id", who, "fill_day", "record_id").mutate(
        prev_day=f.fill_day.lag().over(w), next_fill=f.fill_day.lead().over(w)
    )
    zero = ibis.literal(0, "int64")
    one = ibis.literal(1, "int64")
    starts = t.filter(t.prev_day.isnull() | (t.fill_day - t.prev_day >= window))
    ends = t.filter(t.next_fill.isnull() | (t.next_fill - t.fill_day >= window))
    other = "d_pharm" if column == "d_presc" else "d_presc"
    return ibis.union(
        starts.select("patient_id", day=starts.fill_day, **{column: one, other: zero}),
        ends.select("patient_id", day=ends.fill_day + window, **{column: -one, other: zero}),
        distinct=False,
    )


def multiple_provider_flags(f: ir.Table, s: RuleSettings, cache: Cache = _keep) -> ir.Table:
    """multiple-provider: at least N prescribers and M pharmacies among the fills "within T days" of some day.

    As the point-of-sale check counts it (checks/history.py): on day d, the fills from d - T to d inclusive.
    """
    # Only patients with at least N prescribers and M pharmacies over the whole period can have an episode: the
    # distinct (patient, pharmacy) pairs (prescribers, when more of those are needed) are counted first, and
    # the other distinct count is taken on the few patients left, so the windowed work is kept to the candidates.
    c = f.select("patient_id", "prescriber_id", "pharmacy_id", "fill_day", "record_id", "in_mpe")
    c = c.filter(c.in_mpe).drop("in_mpe")
    need = {"prescriber_id": s.mpe_prescribers, "pharmacy_id": s.mpe_pharmacies}
    first, second = "pharmacy_id", "prescriber_id"
    if s.mpe_prescribers > s.mpe_pharmacies:
        first, second = second, first
    pairs = c.select("patient_id", first).distinct()
    per_patient = pairs.group_by("patient_id").aggregate(n=pairs.count())
    some = c.semi_join(per_patient.filter(per_patient.n >= need[first]).select("patient_id"), "patient_id")
    totals = some.group_by("patient_id").aggregate(n=some[second].nunique())
    candidates = cache(totals.filter(totals.n >= need[second]).select("patient_id"))
    c = cache(c.semi_join(candidates, "patient_id"))
    window = s.mpe_window_days + 1  # days d - T .. d
    events = ibis.union(
        _activity_events(c, "prescriber_id", window, "d_presc"),
        _activity_events(c, "pharmacy_id", window, "d_pharm"),
        distinct=False,
    )
    per_day = events.group_by("patient_id", "day").aggregate(d_presc=events.d_presc.sum(), d_pharm=events.d_pharm.sum())
    running = ibis.cumulative_window(group_by="patient_id", order_by="day")
    ordered = ibis.window(group_by="patient_id", order_by="day")
    counts = per_day.select(
        "patient_id",
        "day",
        next_day=per_day.day.lead().over(ordered),
        n_presc=per_day.d_presc.sum().over(running),
        n_pharm=per_day.d_pharm.sum().over(running),
    )
    counts = counts.mutate(hit=(counts.n_presc >= s.mpe_prescribers) & (counts.n_pharm >= s.mpe_pharmacies))
    counts = counts.mutate(prev_hit=counts.hit.lag().over(ordered))
    hits = counts.filter(counts.hit)
    stats = hits.group_by("patient_id").aggregate(
        first_day=hits.day.min(),
        last_day=(hits.next_day - 1).max(),
        episodes=ibis.ifelse(hits.prev_hit.fill_null(False), 0, 1).sum(),
        days=(hits.next_day - hits.day).sum(),
        max_presc=hits.n_presc.max(),
    )
    stats = cache(stats)
    anchors = stats.select("patient_id", anchor_day=stats.first_day)
    j = c.join(anchors, "patient_id").filter(
        lambda r: (r.fill_day <= r.anchor_day) & (r.fill_day > r.anchor_day - window)
    )
    ev = j.group_by("patient_id").aggregate(
        evidence=j.record_id.collect().unique().sort(),
        prescribers=j.prescriber_id.collect().unique().sort(),
        pharmacies=j.pharmacy_id.collect().unique().sort(),
    )
    out = stats.join(ev, "patient_id")
    return _flag(
        out,
        "multiple-provider",
        out.first_day,
        out.last_day,
        out.episodes,
        out.days,
        out.evidence,
        out.prescribers,
        out.pharmacies,
    )


# --- early refills -----------------------------------------------------------------------------------------


def early_refill_flags(f: ir.Table, s: RuleSettings) -> ir.Table:
    """early-refill: a fill of the same ingredient before `share` of the previous fill's days supply elapsed."""
    c = f.filter(f.in_early_refill).select("patient_id", "ingredient_key", "fill_day", "record_id", "days_supply")
    w = ibis.window(group_by=["patient_id", "ingredient_key"], order_by=["fill_day", "record_id"])
    t = c.select(
        "patient_id",
        "fill_day",
        "record_id",
        prev_day=c.fill_day.lag().over(w),
        prev_supply=c.days_supply.lag().over(w),
        prev_record=c.record_id.lag().over(w),
    )
    early = t.filter(t.prev_day.notnull() & ((t.fill_day - t.prev_day) * MILLI < t.prev_supply * s.share_milli))
    stats = early.group_by("patient_id").aggregate(
        n_early=early.count(),
        first_day=early.fill_day.min(),
        last_day=early.fill_day.max(),
        records=early.record_id.collect(),
        prev_records=early.prev_record.collect(),
    )
    flagged = stats.filter(stats.n_early >= s.early_refill_min)
    # Prescribers and pharmacies of the early fills and of the fills they came too soon after (looked up by
    # patient and record id, so the windowed table is not read twice and the lookup reads only those patients).
    involved = flagged.select("patient_id", record_id=flagged.records.concat(flagged.prev_records).unnest())
    who = f.select("patient_id", "record_id", "prescriber_id", "pharmacy_id").join(
        involved, ["patient_id", "record_id"]
    )
    people = who.group_by("patient_id").aggregate(
        evidence=who.record_id.collect().unique().sort(),
        prescribers=who.prescriber_id.collect().unique().sort(),
        pharmacies=who.pharmacy_id.collect().unique().sort(),
    )
    j = flagged.join(people, "patient_id")
    return _flag(
        j, "early-refill", j.first_day, j.last_day, j.n_early, j.n_early, j.evidence, j.prescribers, j.pharmacies
    )


# --- episodes (long-term opioid therapy, thiopurine courses) -----------------------------------------------


def episodes(f: ir.Table, gap_days: int) -> ir.Table:
    """Fills numbered into episodes: a new episode starts when a fill comes more than `gap_days` after every
    earlier supply of the patient's subset has run out. Adds `episode` (1, 2, ...) to each fill."""
    order = ["fill_day", "record_id"]
    before = ibis.window(group_by="patient_id", order_by=order, rows=(None, -1))  # the patient's earlier fills
    covered = f.mutate(prev_end=f.fill_end.max().over(before))
    starts = covered.mutate(
        new=ibis.ifelse(covered.prev_end.isnull() | (covered.fill_day > covered.prev_end + gap_days), 1, 0)
    )
    return starts.mutate(episode=starts.new.sum().over(ibis.cumulative_window(group_by="patient_id", order_by=order)))


def episode_spans(f: ir.Table, gap_days: int) -> ir.Table:
    """The episodes of `episodes` as spans, without numbering every fill: patient_id, episode, start (its first
    fill day) and end (when its last supply runs out).

    An episode starts at a fill that comes more than `gap_days` after every earlier supply has run out, so the
    supplies before the next start are exactly those of the episode and earlier ones (which end before it
    starts): its end is the latest end before the next start, or the latest of all for the last episode.
    """
    order = ["fill_day", "record_id"]
    before = ibis.window(group_by="patient_id", order_by=order, rows=(None, -1))
    whole = ibis.window(group_by="patient_id", order_by=order, rows=(None, None))
    t = f.select(
        "patient_id", "fill_day", prev_end=f.fill_end.max().over(before), last_end=f.fill_end.max().over(whole)
    )
    starts = t.filter(t.prev_end.isnull() | (t.fill_day > t.prev_end + gap_days))
    w = ibis.window(group_by="patient_id", order_by="fill_day")  # one start a day at most
    return starts.select(
        "patient_id",
        episode=ibis.row_number().over(w) + 1,
        start=starts.fill_day,
        end=starts.prev_end.lead().over(w).fill_null(starts.last_end),
    )


def long_term_opioid_flags(f: ir.Table, s: RuleSettings, cache: Cache = _keep) -> ir.Table:
    """long-term-opioid: an episode lasting longer than N days with at least F fills or D days supplied."""
    opioids = f.filter(f.is_opioid)
    # An episode has at most the patient's fills and days supplied: patients below both minimums are skipped.
    # (Counted from the two columns needed, not from `opioids`: a table read twice in one query may be copied.)
    supplies = f.select("patient_id", "days_supply", "is_opioid")
    supplies = supplies.filter(supplies.is_opioid)
    totals = supplies.group_by("patient_id").aggregate(n=supplies.count(), supplied=supplies.days_supply.sum())
    candidates = totals.filter((totals.n >= s.ltot_min_fills) | (totals.supplied >= s.ltot_min_days_supply))
    op = episodes(opioids.semi_join(candidates.select("patient_id"), "patient_id"), s.ltot_gap_days)
    ep = op.group_by("patient_id", "episode").aggregate(
        start=op.fill_day.min(),
        end=op.fill_end.max(),
        fills=op.count(),
        supplied=op.days_supply.sum(),
        evidence=op.record_id.collect(),
        prescribers=op.prescriber_id.collect(),
        pharmacies=op.pharmacy_id.collect(),
    )
    ep = ep.mutate(duration=ep.end - ep.start)
    long = cache(
        ep.filter(
            (ep.duration > s.ltot_longer_than_days)
            & ((ep.fills >= s.ltot_min_fills) | (ep.supplied >= s.ltot_min_days_supply))
        )
    )
    first = long.group_by("patient_id").aggregate(first_episode=long.episode.min(), n=long.count())
    chosen = long.join(first, "patient_id").filter(lambda r: r.episode == r.first_episode)
    return _flag(
        chosen,
        "long-term-opioid",
        chosen.start,
        chosen.end - 1,
        chosen.duration,
        chosen.supplied,
        chosen.evidence.unique().sort(),
        chosen.prescribers.unique().sort(),
        chosen.pharmacies.unique().sort(),
    )


def _allowed_interval(since_start: ir.IntegerValue, phases: tuple[SchedulePhase, ...]) -> ir.IntegerValue:
    cases = [
        (since_start < p.until_day, ibis.literal(p.interval_days, "int64")) for p in phases if p.until_day is not None
    ]
    last = ibis.literal(phases[-1].interval_days, "int64")
    return ibis.cases(*cases, else_=last) if cases else last


def thiopurine_lab_flags(f: ir.Table, labs: ir.Table, s: RuleSettings, cache: Cache = _keep) -> ir.Table:
    """thiopurine-lab-overdue: on a thiopurine, a blood count not done within the schedule's interval.

    A course starts at the first fill and restarts after a break longer than the schedule's longest interval.
    From the start and from each blood count, the next is due within the interval of the phase it falls in (or
    of the next phase, when that is where the next test falls: the last test of a phase); the last one must be
    followed by another before the course ends or the as-of day, whichever is first.
    """
    restart = max(p.interval_days for p in s.lab_phases)
    thiopurine = f.filter(f.is_thiopurine)
    courses = episode_spans(thiopurine.select("patient_id", "fill_day", "fill_end", "record_id"), restart)
    courses = courses.mutate(stop=ibis.least(courses.end, ibis.literal(s.as_of_day, "int64")))
    courses = cache(courses.filter(courses.stop > courses.start))
    tests = labs.filter(labs.measure.isin(list(s.lab_measures)))
    # Not made distinct: a second test on the same day is a gap of 0 days, never late (allowed >= 0).
    tests = tests.select("patient_id", day=tests.test_day.cast("int64"))
    in_course = (
        courses.select("patient_id", "episode", "start", "stop")
        .join(tests, "patient_id")
        .filter(lambda r: (r.day > r.start) & (r.day <= r.stop))
    )
    points = ibis.union(
        courses.select("patient_id", "episode", "start", "stop", day=courses.start),
        in_course.select("patient_id", "episode", "start", "stop", "day"),
        distinct=False,
    )
    w = ibis.window(group_by=["patient_id", "episode"], order_by="day")
    points = points.mutate(next_day=points.day.lead().over(w))
    since = points.day - points.start
    base = _allowed_interval(since, s.lab_phases)
    # When the next test would fall in the next phase (the last test of a phase), that phase's interval applies.
    allowed = ibis.greatest(base, _allowed_interval(since + base, s.lab_phases))
    points = points.mutate(until=points.next_day.fill_null(points.stop), allowed=allowed + s.lab_grace_days)
    late = points.filter(points.until - points.day > points.allowed)
    stats = late.group_by("patient_id", "episode").aggregate(
        first_due=(late.day + late.allowed).min(),
        last_until=late.until.max(),
        gaps=late.count(),
        overdue_days=(late.until - late.day - late.allowed).sum(),
        worst=(late.until - late.day - late.allowed).max(),
    )
    j = stats.join(courses, ["patient_id", "episode"])
    j = j.mutate(first_episode=j.episode.min().over(ibis.window(group_by="patient_id")))
    chosen = j.filter(j.episode == j.first_episode)
    # The fills of a course are the patient's thiopurine fills from its start to its end (the next course starts
    # more than `restart` days after every supply of this one has run out): only the flagged courses' are read.
    ev = thiopurine.join(chosen.select("patient_id", "start", "end"), "patient_id").filter(
        lambda r: (r.fill_day >= r.start) & (r.fill_day < r.end)
    )
    people = ev.group_by("patient_id").aggregate(
        evidence=ev.record_id.collect().unique().sort(),
        prescribers=ev.prescriber_id.collect().unique().sort(),
        pharmacies=ev.pharmacy_id.collect().unique().sort(),
    )
    out = chosen.join(people, "patient_id")
    return _flag(
        out,
        "thiopurine-lab-overdue",
        out.first_due,
        out.last_until,
        out.worst,
        out.overdue_days,
        out.evidence,
        out.prescribers,
        out.pharmacies,
    )


def all_flags(
    f: ir.Table, seg: ir.Table, labs: ir.Table | None, s: RuleSettings, cache: Cache = _keep
) -> list[tuple[str, Callable[[], ir.Table]]]:
    """(rule name, a function building its flags) for every rule that can run with the data given.

    `cache` materialises an intermediate table that a rule reads twice (engines may otherwise compute it twice).
    """
    out: list[tuple[str, Callable[[], ir.Table]]] = [
        ("daily MME", lambda: mme_flags(f, seg, s, cache)),
        ("opioid + benzodiazepine", lambda: overlap_flags(f, s, cache)),
        ("multiple providers", lambda: multiple_provider_flags(f, s, cache)),
        ("early refills", lambda: early_refill_flags(f, s)),
        ("long-term opioid therapy", lambda: long_term_opioid_flags(f, s, cache)),
    ]
    if labs is not None and s.lab_phases:
        out.append(("thiopurine blood tests", lambda: thiopurine_lab_flags(f, labs, s, cache)))
    return out
