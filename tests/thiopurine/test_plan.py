"""The dose plan and the blood-test calendar against the schedules' own words; the iCalendar file."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from rxguard.therapy.thiopurine.dosing import makeable_doses, round_range, tablets_for
from rxguard.therapy.thiopurine.knowledge import PgxIndex
from rxguard.therapy.thiopurine.phenotype import interpret
from rxguard.therapy.thiopurine.plan import add_months, find_indication, make_plan, next_due, schedule_dates, to_ics

START = date(2026, 1, 5)


def plan_for(
    index: PgxIndex, indication: str, tpmt: str = "*1/*1", nudt15: str = "*1/*1", weight: float = 70, **kw: object
):  # type: ignore[no-untyped-def]
    rule = find_indication(index, "azathioprine", indication)
    assert rule is not None
    return make_plan(
        index,
        "azathioprine",
        weight,
        rule,
        interpret(index, "TPMT", tpmt),
        interpret(index, "NUDT15", nudt15),
        START,
        [25, 50],
        **kw,
    )  # type: ignore[arg-type]


def weeks(dates: list[date]) -> list[float]:
    return [(d - START).days / 7 for d in dates]


def test_rheumatology_schedule_every_2_weeks_until_stable_6_weeks_then_monthly_3_then_12_weekly(
    index: PgxIndex,
) -> None:
    schedule = index.schedules["rheumatology"]
    dates = [d for d, _ in schedule_dates(schedule, START, START, add_months(START, 12))]
    assert weeks(dates[:3]) == [2, 4, 6]  # stable from the start: 6 weeks of fortnightly tests
    assert dates[3:6] == [add_months(dates[2], k) for k in (1, 2, 3)]
    assert [(b - a).days for a, b in itertools.pairwise(dates[5:])] == [84] * (len(dates) - 6)


def test_rheumatology_restarts_fortnightly_tests_after_the_last_dose_step(index: PgxIndex) -> None:
    plan = plan_for(index, "rheumatoid-arthritis")
    last_step = plan.steps[-1].on
    tests = [e.on for e in plan.blood_tests()]
    fortnightly = [d for d in tests if d <= last_step + timedelta(weeks=6)]
    assert all((b - a).days == 14 for a, b in itertools.pairwise(fortnightly))
    assert fortnightly[-1] == last_step + timedelta(weeks=6)


def test_gastroenterology_schedule_weeks_2_4_8_12_then_3_monthly(index: PgxIndex) -> None:
    schedule = index.schedules["gastroenterology"]
    dates = [d for d, _ in schedule_dates(schedule, START, START, add_months(START, 12))]
    assert weeks(dates[:4]) == [2, 4, 8, 12]
    assert dates[4:] == [add_months(dates[3], 3 * k) for k in range(1, len(dates) - 3)]
    plan = plan_for(index, "crohns-disease")
    assert weeks([e.on for e in plan.events if e.kind == "metabolites"]) == [4, 16]


def test_label_schedule_weekly_month_1_twice_monthly_months_2_3_then_monthly(index: PgxIndex) -> None:
    schedule = index.schedules["label"]
    dates = [d for d, _ in schedule_dates(schedule, START, START, add_months(START, 6))]
    assert weeks(dates[:8]) == [1, 2, 3, 4, 6, 8, 10, 12]
    assert dates[8:] == [add_months(dates[7], k) for k in range(1, len(dates) - 7)]


def test_ra_titration_in_whole_tablets(index: PgxIndex) -> None:
    plan = plan_for(index, "RA")
    assert [(s.week, s.mg_per_day) for s in plan.steps] == [(0, 75), (6, 100), (10, 150), (14, 175)]
    assert plan.steps[0].tablets == {50: 1, 25: 1}
    assert all(s.mg_per_day <= 2.5 * 70 for s in plan.steps if s.mg_per_day)  # label maximum 2.5 mg/kg/day


def test_intermediate_tpmt_caps_the_plan_at_cpic_percentages(index: PgxIndex) -> None:
    im = plan_for(index, "rheumatoid-arthritis", tpmt="*1/*3A")
    assert im.ceiling_mg_per_kg_day == 2.4  # 80% of 3 mg/kg/day
    assert max(s.mg_per_day or 0 for s in im.steps) <= 2.4 * 70
    both = plan_for(index, "rheumatoid-arthritis", tpmt="*1/*3A", nudt15="*1/*3")
    assert both.ceiling_mg_per_kg_day == 1.5  # March 2024: 50% of 3 mg/kg/day
    assert max(s.mg_per_day or 0 for s in both.steps) <= 1.5 * 70
    ibd = plan_for(index, "ulcerative colitis", tpmt="*1/*3A")
    assert ibd.steps[0].target_mg_per_kg_day == 1.0  # BSG: low TPMT 1 mg/kg


def test_a_poor_metabolizer_gets_no_plan(index: PgxIndex) -> None:
    plan = plan_for(index, "crohns-disease", tpmt="*3A/*3A")
    assert plan.steps == () and plan.events == ()
    assert "non-thiopurine alternative" in " ".join(plan.notes)


def test_next_due_date(index: PgxIndex) -> None:
    schedule = index.schedules["gastroenterology"]
    assert next_due(schedule, START, None, START) == START + timedelta(weeks=2)
    assert next_due(schedule, START, START + timedelta(weeks=4), START) == START + timedelta(weeks=8)


def test_the_ics_file(index: PgxIndex) -> None:
    plan = plan_for(index, "rheumatoid-arthritis")
    text = to_ics(plan)
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert all(len(line.encode()) <= 75 for line in lines)
    assert text.count("BEGIN:VEVENT") == text.count("END:VEVENT") == len(plan.events)
    unfolded = text.replace("\r\n ", "")
    starts = [line.split(":")[1] for line in unfolded.split("\r\n") if line.startswith("DTSTART;VALUE=DATE:")]
    assert starts == [e.on.strftime("%Y%m%d") for e in plan.events]
    assert to_ics(plan) == text  # deterministic: same plan, same file


@pytest.mark.parametrize(
    ("low", "high", "strengths", "expected"),
    [
        (42, 168, [25, 50], (50, 150)),
        (140, 210, [25, 50], (150, 200)),
        (28, 105, [25, 50], (50, 100)),
        (10, 20, [25, 50], None),  # even one tablet is above the range
        (26, 49, [25, 50], (25, 25)),  # nothing inside: the largest dose not above the range
        (30, 80, [50], (50, 50)),
    ],
)
def test_rounding_never_goes_above_the_range(
    low: float, high: float, strengths: list[float], expected: tuple[float, float] | None
) -> None:
    assert round_range(low, high, strengths) == expected


def test_tablet_arithmetic() -> None:
    assert makeable_doses([25, 50], 100) == [25, 50, 75, 100]
    assert tablets_for(175, [25, 50]) == {50: 3, 25: 1}
    assert tablets_for(30, [25, 50]) is None
    # a strength far below the dose cannot send the search through millions of tablet counts (8 a day at most)
    assert tablets_for(1000, [0.000001, 1000]) == {1000: 1}
    assert tablets_for(1000, [0.000001, 100]) is None
