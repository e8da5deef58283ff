"""Lab thresholds at, just above and just below each limit; the falling-count rule; metabolites."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.thiopurine.knowledge import PgxIndex, pgx_index
from rxguard.therapy.thiopurine.labs import LabPoint, crosses, evaluate
from rxguard.therapy.thiopurine.metabolites import interpret_metabolites

NOW = date(2026, 11, 20)
# (measure, limit, operator) as the BSR/BHPR 2017 list (thiopurines.md section 3) states them
SOURCED = [
    ("wbc", 3.5, "<"),
    ("neutrophils", 1.6, "<"),
    ("neutrophils", 1.0, "<"),
    ("platelets", 140, "<"),
    ("mcv", 105, ">"),
    ("alt", 100, ">"),
    ("ast", 100, ">"),
    ("albumin", 30, "<"),
    ("egfr", 60, "<"),
]


def series(measure: str, *values: float, step_days: int = 14) -> dict[str, tuple[LabPoint, ...]]:
    n = len(values)
    return {
        measure: tuple(
            LabPoint(measure, v, "u", NOW - timedelta(days=step_days * (n - 1 - i)), f"o{i}")
            for i, v in enumerate(values)
        )
    }


def test_the_knowledge_holds_exactly_the_sourced_thresholds(index: PgxIndex) -> None:
    active = sorted((r.measure, r.value, r.op) for r in index.data.lab_thresholds if r.status == "active")
    assert active == sorted(SOURCED)


@pytest.mark.parametrize(("measure", "limit", "op"), SOURCED)
def test_at_just_past_and_just_inside_each_limit(index: PgxIndex, measure: str, limit: float, op: str) -> None:
    rule = next(r for r in index.data.lab_thresholds if r.measure == measure and r.value == limit)
    step = 0.1 if limit < 10 else 1
    past = limit - step if op == "<" else limit + step
    inside = limit + step if op == "<" else limit - step
    assert not crosses(rule, limit)  # 'below 3.5' does not include 3.5
    assert crosses(rule, past)
    assert not crosses(rule, inside)
    found = evaluate(index, series(measure, past), NOW).findings
    assert rule.id in {f.rule.id for f in found}
    assert rule.id not in {f.rule.id for f in evaluate(index, series(measure, limit), NOW).findings}


def test_verdicts(index: PgxIndex) -> None:
    assert evaluate(index, series("wbc", 6.0), NOW).verdict == "continue"
    assert evaluate(index, series("wbc", 3.0), NOW).verdict == "withhold"
    assert evaluate(index, series("egfr", 55), NOW).verdict == "repeat"
    assert evaluate(index, series("mcv", 110), NOW).verdict == "check"
    critical = evaluate(index, series("neutrophils", 0.9), NOW).findings
    assert [f.indicator for f in critical] == ["critical", "warning"]


def test_an_old_result_is_stale_not_judged(index: PgxIndex) -> None:
    old = {"wbc": (LabPoint("wbc", 2.0, "u", NOW - timedelta(days=200), "o"),)}
    report = evaluate(index, old, NOW)
    assert report.findings == () and report.stale == ("wbc",)


def test_lymphocytes_are_shown_not_judged(index: PgxIndex) -> None:
    report = evaluate(index, series("lymphocytes", 0.2), NOW)
    assert report.findings == ()
    assert [(r.measure, p.value) for r, p in report.unjudged] == [("lymphocytes", 0.2)]


def test_a_steady_fall_is_found_though_every_value_is_above_the_threshold(index: PgxIndex) -> None:
    falling = evaluate(index, series("wbc", 7.0, 6.0, 5.0), NOW).findings
    assert [f.rule.id for f in falling] == ["thiopurine.trend.wbc-falling"]
    assert falling[0].points[0].value == 7.0
    # not a fall: one rise; too small (under 25%); too slow (over 90 days)
    assert evaluate(index, series("wbc", 7.0, 7.1, 5.0), NOW).findings == ()
    assert evaluate(index, series("wbc", 7.0, 6.5, 6.0), NOW).findings == ()
    assert evaluate(index, series("wbc", 7.0, 6.0, 5.0, step_days=50), NOW).findings == ()


def test_the_trend_rule_is_configurable(index: PgxIndex) -> None:
    small = series("wbc", 7.0, 6.5, 6.0)
    assert evaluate(index, small, NOW, trend_overrides={"min_total_fall_percent": 10}).findings


def test_a_creatinine_rise_over_30_percent_within_a_year(index: PgxIndex) -> None:
    assert evaluate(index, series("creatinine", 1.0, 1.31, step_days=100), NOW).findings
    assert not evaluate(index, series("creatinine", 1.0, 1.30, step_days=100), NOW).findings
    assert not evaluate(index, series("creatinine", 1.0, 1.5, step_days=400), NOW).findings


def test_the_threshold_file_is_not_everything_a_kb_needs(kb: KnowledgeBase) -> None:
    assert pgx_index(kb).schedules.keys() == {"rheumatology", "gastroenterology", "label"}


# --- metabolites (BSG 2019 Table 10) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tgn", "mmp", "rule_id"),
    [
        (0, 0, "thiopurine.metabolites.non-adherence"),
        (200, 2000, "thiopurine.metabolites.subtherapeutic"),  # MMP:TGN 10
        (200, 6000, "thiopurine.metabolites.shunter"),
        (200, 2300, "thiopurine.metabolites.shunter"),  # MMP:TGN 11.5 > 11
        (200, 2200, "thiopurine.metabolites.subtherapeutic"),  # ratio 11 exactly: not above
        (235, 5700, "thiopurine.metabolites.therapeutic"),
        (450, 5701, "thiopurine.metabolites.possibly-supratherapeutic"),
        (451, 5701, "thiopurine.metabolites.supratherapeutic"),
        (234, 100, "thiopurine.metabolites.subtherapeutic"),
    ],
)
def test_each_row_of_the_metabolite_table(index: PgxIndex, tgn: float, mmp: float, rule_id: str) -> None:
    result = interpret_metabolites(index, tgn, mmp)
    assert result.row is not None and result.row.id == rule_id


def test_a_combination_outside_the_table_is_not_guessed(index: PgxIndex) -> None:
    result = interpret_metabolites(index, 500, 1000)
    assert result.row is None and "does not cover" in result.interpretation
