"""Blood results of a patient on a thiopurine: thresholds, a rise from baseline, a falling white count.

Each measure's series is read from the record (LOINC code, unit converted to the measure's own unit). The
latest recent value is judged against the sourced action thresholds; creatinine against the patient's own
baseline; the white count's trend against the label's 'rapid fall' rule (whose definition is rxguard's,
configurable, and said so). A measure without a sourced threshold (lymphocytes) is shown, never judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, Literal, Protocol

from rxguard.domain.model import Observation
from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.thiopurine.knowledge import (
    IndicatorName,
    LabThreshold,
    PgxIndex,
    RelativeChangeRule,
    TrendRule,
    UnjudgedMeasure,
)

RECENT_DAYS = 90
"""How old a result may be and still count as 'recent' for screening: an operational default (the longest
maintenance interval of the schedules is 12 weeks), not a clinical threshold; pass another to evaluate()."""

Verdict = Literal["continue", "check", "repeat", "withhold"]
VERDICT_ORDER: dict[str, int] = {"continue": 0, "check": 1, "repeat": 2, "withhold": 3}
INDICATOR_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
MONITORED = ("wbc", "neutrophils", "lymphocytes", "platelets", "mcv", "alt", "ast", "albumin", "creatinine", "egfr")


@dataclass(frozen=True, slots=True)
class LabPoint:
    measure: str
    value: float
    unit: str
    on: date | None
    observation_id: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A result past a sourced limit, or a trend: what it is and what to do."""

    rule: LabThreshold | RelativeChangeRule | TrendRule
    measure: str
    points: tuple[LabPoint, ...]
    indicator: IndicatorName
    action: Verdict
    text: str
    management: str

    @property
    def latest(self) -> LabPoint:
        return self.points[-1]


@dataclass(frozen=True, slots=True)
class LabReport:
    series: dict[str, tuple[LabPoint, ...]]
    findings: tuple[Finding, ...]
    unjudged: tuple[tuple[UnjudgedMeasure, LabPoint], ...]
    stale: tuple[str, ...] = ()
    recent_days: int = RECENT_DAYS
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        if not self.findings:
            return "continue"
        return max((f.action for f in self.findings), key=lambda a: VERDICT_ORDER[a])

    def latest(self, measure: str) -> LabPoint | None:
        points = self.series.get(measure)
        return points[-1] if points else None


def lab_series(kb: KnowledgeBase, observations: Iterable[Observation], now: date) -> dict[str, tuple[LabPoint, ...]]:
    """Every dated result of every known measure up to `now`, oldest first, in the measure's unit."""
    found: dict[str, list[LabPoint]] = {}
    for obs in observations:
        if obs.value is None or (obs.effective is not None and obs.effective > now):
            continue
        measure_id = kb.measure_of(obs.concept)
        if measure_id is None:
            continue
        measure = kb.measures[measure_id]
        unit = obs.value.unit
        factor = measure.accepted_units.get(unit, 1.0 if unit == measure.unit else None)
        if factor is None:
            continue
        found.setdefault(measure_id, []).append(
            LabPoint(measure_id, round(obs.value.value * factor, 6), measure.unit, obs.effective, obs.id)
        )
    return {m: tuple(sorted(p, key=lambda x: x.on or date.min)) if len(p) > 1 else tuple(p) for m, p in found.items()}


def crosses(rule: LabThreshold, value: float) -> bool:
    """Strictly past the limit, as the sources write it ('< 3.5', '> 100')."""
    return value < rule.value if rule.op == "<" else value > rule.value


def _recent(point: LabPoint, now: date, days: int) -> bool:
    return point.on is None or (now - point.on).days <= days


def _fall(rule: TrendRule, points: tuple[LabPoint, ...], now: date, days: int) -> tuple[LabPoint, ...] | None:
    """The last `min_results` points when each is lower than the one before and the rule's limits hold."""
    dated = [p for p in points if p.on is not None]
    if len(dated) < rule.min_results:
        return None
    last = tuple(dated[-rule.min_results :])
    if not _recent(last[-1], now, days):
        return None
    if any(b.value >= a.value for a, b in pairwise(last)):
        return None
    first_on, last_on = last[0].on, last[-1].on
    assert first_on is not None and last_on is not None  # noqa: S101 - filtered to dated points above
    if rule.max_span_days is not None and (last_on - first_on).days > rule.max_span_days:
        return None
    if rule.min_total_fall_percent is not None and last[0].value > 0:
        fall = round(100 * (last[0].value - last[-1].value) / last[0].value, 6)
        if fall < rule.min_total_fall_percent:
            return None
    return last


MeasureRules = tuple[tuple[LabThreshold, ...], tuple[RelativeChangeRule, ...], tuple[TrendRule, ...]]


def _rules_by_measure(index: PgxIndex) -> dict[str, MeasureRules]:
    """The active threshold, change and trend rules of each measure, in file order (derived once per index)."""
    found: dict[str, MeasureRules] | None = index.cache.get("labs.rules_by_measure")
    if found is None:
        data = index.data
        measures = (
            {r.measure for r in data.lab_thresholds}
            | {r.measure for r in data.relative_changes}
            | {r.measure for r in data.trends}
        )
        found = {
            m: (
                tuple(r for r in data.lab_thresholds if r.status == "active" and r.measure == m),
                tuple(r for r in data.relative_changes if r.status == "active" and r.measure == m),
                tuple(r for r in data.trends if r.status == "active" and r.measure == m),
            )
            for m in measures
        }
        index.cache["labs.rules_by_measure"] = found
    return found


def evaluate(
    index: PgxIndex,
    series: dict[str, tuple[LabPoint, ...]],
    now: date,
    recent_days: int = RECENT_DAYS,
    trend_overrides: dict[str, float | int | None] | None = None,
) -> LabReport:
    """Judge the latest recent result of each monitored measure; find rises and falls."""
    data = index.data
    by_measure = _rules_by_measure(index)
    findings: list[Finding] = []
    stale: list[str] = []
    for measure, points in series.items():
        latest = points[-1]
        if not _recent(latest, now, recent_days):
            if measure in MONITORED:
                stale.append(measure)
            continue
        rules = by_measure.get(measure)
        if rules is None:
            continue  # no rule judges this measure
        thresholds, changes, trends = rules
        for rule in thresholds:
            if rule.status == "active" and rule.measure == measure and crosses(rule, latest.value):
                findings.append(
                    Finding(rule, measure, (latest,), rule.indicator, rule.action, rule.text, rule.management)
                )
        for change in changes:
            if change.status != "active" or change.measure != measure or latest.on is None:
                continue
            window = [p for p in points if p.on is not None and (latest.on - p.on).days <= change.window_days]
            baseline = window[0] if window else None
            if baseline is not None and baseline is not latest and baseline.value > 0:
                rise = round(100 * (latest.value - baseline.value) / baseline.value, 6)
                if rise > change.rise_percent:
                    findings.append(
                        Finding(
                            change,
                            measure,
                            (baseline, latest),
                            change.indicator,
                            change.action,
                            f"{change.text} ({baseline.value:g} -> {latest.value:g} {latest.unit}, +{rise:.0f}%)",
                            change.management,
                        )
                    )
        for trend in trends:
            if trend.status != "active" or trend.measure != measure:
                continue
            applied = trend.model_copy(update=trend_overrides) if trend_overrides else trend
            fall = _fall(applied, points, now, recent_days)
            if fall is not None:
                values = " -> ".join(f"{p.value:g}" for p in fall)
                findings.append(
                    Finding(
                        applied,
                        measure,
                        fall,
                        applied.indicator,
                        "check",
                        f"{applied.text} ({values} {fall[-1].unit})",
                        applied.management,
                    )
                )
    unjudged = tuple(
        (measure_rule, series[measure_rule.measure][-1])
        for measure_rule in data.unjudged_measures
        if measure_rule.status == "active" and measure_rule.measure in series
    )
    findings.sort(key=lambda f: (-INDICATOR_ORDER[f.indicator], f.measure))
    return LabReport(series, tuple(findings), unjudged, tuple(sorted(stale)), recent_days)


class LabRecord(Protocol):
    """What the labs interpretation reads from a patient's record (the FHIR adapter's `PatientRecord`)."""

    @property
    def observations(self) -> tuple[Observation, ...]: ...

    def latest_date(self) -> date | None: ...

    def metabolites(self, index: PgxIndex) -> list[dict[str, Any]]: ...

    def dose_timeline(self) -> list[tuple[date, float | None, str]]: ...


@dataclass(frozen=True, slots=True)
class LabsInterpretation:
    """A record's blood results judged as of one day, its metabolites and its thiopurine dose timeline."""

    as_of: date
    report: LabReport
    metabolites: tuple[dict[str, Any], ...]
    doses: tuple[tuple[date, float | None, str], ...]

    def as_dict(self) -> dict[str, Any]:
        """As `rxguard thiopurine labs --format json` and `POST /api/v1/thiopurine/labs` give it."""
        report = self.report
        return {
            "as_of": self.as_of.isoformat(),
            "verdict": report.verdict,
            "latest": {
                m: {"value": p[-1].value, "unit": p[-1].unit, "date": p[-1].on.isoformat() if p[-1].on else None}
                for m, p in sorted(report.series.items())
            },
            "findings": [
                {
                    "rule_id": f.rule.id,
                    "measure": f.measure,
                    "indicator": f.indicator,
                    "action": f.action,
                    "text": f.text,
                    "management": f.management,
                    "values": [p.value for p in f.points],
                }
                for f in report.findings
            ],
            "not_judged": [{"measure": r.measure, "value": p.value, "why": r.text} for r, p in report.unjudged],
            "stale": list(report.stale),
            "metabolites": list(self.metabolites),
            "doses": [{"date": d.isoformat(), "mg_per_day": mg, "text": t} for d, mg, t in self.doses],
        }


def interpret_labs(
    kb: KnowledgeBase, index: PgxIndex, record: LabRecord, as_of: date | None, today: date
) -> LabsInterpretation:
    """Judge a record as of `as_of` (default: its latest result or order, else `today`)."""
    now = as_of or record.latest_date() or today
    report = evaluate(index, lab_series(kb, record.observations, now), now)
    return LabsInterpretation(now, report, tuple(record.metabolites(index)), tuple(record.dose_timeline()))


def days_ago(now: date, days: int) -> date:
    return now - timedelta(days=days)
