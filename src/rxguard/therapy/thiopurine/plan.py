"""A thiopurine dose and monitoring plan: titration in whole tablets and the blood-test calendar.

The indication gives the starting dose, the steps and the schedule (rheumatology, gastroenterology or the
label's); the TPMT/NUDT15 advice caps it (CPIC's percentage of the normal dose) or replaces it (a poor
metabolizer with a non-malignant disease gets no plan: CPIC advises a non-thiopurine alternative). Dates
assume each planned step is taken; the schedule restarts its 'until stable' phase after the last change.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from rxguard.errors import InputError
from rxguard.therapy.thiopurine.dosing import (
    catalog_tablet_strengths,
    checked_strengths,
    checked_weight,
    makeable_doses,
    tablets_for,
)
from rxguard.therapy.thiopurine.knowledge import Drug, IndicationPlan, PgxIndex, Schedule
from rxguard.therapy.thiopurine.phenotype import IM, PIM, GeneResult, given_results
from rxguard.therapy.thiopurine.recommendation import Advice, phenotype_or_none, recommend

if TYPE_CHECKING:
    from rxguard.knowledge.base import KnowledgeBase

MAX_MONTHS = 60
STARTS = (date(1900, 1, 1), date(2999, 12, 31))  # any real start; keeps every calendar date representable


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Step:
    week: int
    on: date
    target_mg_per_kg_day: float
    mg_per_day: float | None
    tablets: dict[float, int] | None
    text: str


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    on: date
    kind: str  # blood-test | dose | metabolites
    summary: str
    description: str


@dataclass(frozen=True, slots=True)
class Plan:
    drug: Drug
    weight_kg: float
    indication: IndicationPlan
    schedule: Schedule
    advice: Advice
    start: date
    steps: tuple[Step, ...]
    events: tuple[CalendarEvent, ...]
    ceiling_mg_per_kg_day: float | None
    strengths: tuple[float, ...]
    notes: tuple[str, ...] = field(default=())

    def blood_tests(self) -> tuple[CalendarEvent, ...]:
        return tuple(e for e in self.events if e.kind == "blood-test")

    def as_dict(self) -> dict[str, Any]:
        """The plan as `rxguard thiopurine plan --format json` and `POST /api/v1/thiopurine/plan` give it."""
        percent = self.advice.dose_percent()
        return {
            "drug": self.drug,
            "weight_kg": self.weight_kg,
            "indication": self.indication.indication,
            "schedule": self.schedule.name,
            "phenotype": self.advice.phenotypes,
            "start_dose_percent": list(percent) if percent is not None else None,
            "ceiling_mg_per_kg_day": self.ceiling_mg_per_kg_day,
            "tablet_strengths_mg": list(self.strengths),
            "steps": [
                {
                    "week": s.week,
                    "date": s.on.isoformat(),
                    "target_mg_per_kg_day": s.target_mg_per_kg_day,
                    "mg_per_day": s.mg_per_day,
                    "tablets": {f"{k:g}": v for k, v in (s.tablets or {}).items()},
                    "text": s.text,
                }
                for s in self.steps
            ],
            "calendar": [{"date": e.on.isoformat(), "kind": e.kind, "summary": e.summary} for e in self.events],
            "notes": list(self.notes),
            "sources": [c.source for c in self.indication.sources] + [c.source for c in self.schedule.sources],
        }


def find_indication(
    index: PgxIndex, drug: Drug, text: str, conditions_in_text: set[str] | None = None
) -> IndicationPlan | None:
    """An indication id, alias or free text ('Crohn's', 'RA') -> the plan entry for this drug."""
    wanted = " ".join(text.lower().replace("-", " ").replace("_", " ").split())
    plans = [p for p in index.data.indications if p.status == "active" and p.drug == drug]
    for plan in plans:
        names = {plan.indication.replace("-", " "), *(a.lower() for a in plan.aliases)}
        if wanted in names:
            return plan
    for plan in plans:
        if conditions_in_text and plan.indication in conditions_in_text:
            return plan
    return None


def schedule_dates(schedule: Schedule, start: date, stable_from: date, until: date) -> list[tuple[date, str]]:
    """Blood-test dates of a schedule from `start` to `until` (the 'until stable' phase counts from `stable_from`)."""
    dates: list[tuple[date, str]] = []
    anchor = start
    for phase in schedule.phases:
        if phase.at_weeks:
            for week in phase.at_weeks:
                day = start + timedelta(weeks=week)
                if day <= until:
                    dates.append((day, phase.description))
                anchor = max(anchor, day)
            continue
        k = 1
        while True:
            if phase.every_weeks is not None:
                day = (
                    anchor + timedelta(weeks=phase.every_weeks * k)
                    if phase.until_stable_weeks is None
                    else start + timedelta(weeks=phase.every_weeks * k)
                )
            elif phase.every_months is not None:
                day = add_months(anchor, phase.every_months * k)
            else:
                break
            if phase.until_stable_weeks is not None and day > stable_from + timedelta(weeks=phase.until_stable_weeks):
                break
            if day > until:
                break
            dates.append((day, phase.description))
            if phase.count is not None and k >= phase.count:
                break
            k += 1
        if dates:
            anchor = dates[-1][0]
        if phase.ongoing:
            break
    return sorted(set(dates))


def next_due(schedule: Schedule, start: date, last_test: date | None, now: date) -> date | None:
    """The first scheduled blood test after the last one done (or after the start); None if none is due."""
    horizon = max(now, last_test or now) + timedelta(days=400)
    for day, _ in schedule_dates(schedule, start, start, horizon):
        if last_test is None or day > last_test:
            return day
    return None


def _nearest_makeable(target: float, ceiling: float, strengths: Sequence[float]) -> float | None:
    doses = makeable_doses(strengths, ceiling)
    if not doses:
        return None
    return min(doses, key=lambda d: (abs(d - target), d))


def make_plan(
    index: PgxIndex,
    drug: Drug,
    weight_kg: float,
    indication: IndicationPlan,
    tpmt: GeneResult | None,
    nudt15: GeneResult | None,
    start: date,
    strengths: Sequence[float],
    schedule_name: str | None = None,
    months: int = 12,
) -> Plan:
    """Titration steps and the monitoring calendar for one patient."""
    if weight_kg <= 0:
        raise ValueError("weight must be positive")
    schedule = index.schedules[schedule_name or indication.schedule]
    tp, nu = phenotype_or_none(tpmt), phenotype_or_none(nudt15)
    advice = recommend(index, drug, tp, nu, indication.malignant)
    notes: list[str] = [advice.summary]
    until = add_months(start, months)
    if advice.advise_alternative:
        notes.append("No thiopurine plan: CPIC advises a non-thiopurine alternative for this non-malignant indication.")
        return Plan(drug, weight_kg, indication, schedule, advice, start, (), (), None, tuple(strengths), tuple(notes))
    percent = advice.dose_percent()
    normal = advice.normal_dose.mg_per_kg_day
    ceiling = None
    if percent is not None and normal is not None and percent[1] < 100:
        ceiling = round(normal[1] * percent[1] / 100, 4)
    start_per_kg = indication.start_mg_per_kg_day
    if indication.start_mg_per_kg_day_low_tpmt is not None and tp in (IM, PIM):
        start_per_kg = indication.start_mg_per_kg_day_low_tpmt
        notes.append(f"Reduced TPMT: the indication's low-TPMT start ({start_per_kg:g} mg/kg/day) is used.")
    maximum = indication.max_mg_per_kg_day
    if ceiling is not None:
        if start_per_kg > ceiling and percent is not None and normal is not None:
            notes.append(
                f"Start capped at {ceiling:g} mg/kg/day ({percent[1]}% of CPIC's normal {normal[1]:g} mg/kg/day)."
            )
        start_per_kg = min(start_per_kg, ceiling)
        maximum = min(maximum, ceiling)
    if advice.thrice_weekly:
        notes.append("Give the dose three times a week, not daily (CPIC, TPMT poor metabolizer with malignancy).")
    targets = [(0, start_per_kg)]
    if indication.step_mg_per_kg_day and indication.first_step_week and indication.step_every_weeks:
        week, level = indication.first_step_week, start_per_kg
        while level + 1e-9 < maximum:
            level = min(round(level + indication.step_mg_per_kg_day, 4), maximum)
            targets.append((week, level))
            week += indication.step_every_weeks
    steps: list[Step] = []
    max_mg = maximum * weight_kg
    for week, per_kg in targets:
        mg = _nearest_makeable(per_kg * weight_kg, max_mg, strengths)
        if steps and mg is not None and steps[-1].mg_per_day == mg:
            continue
        tablets = tablets_for(mg, strengths) if mg is not None else None
        on = start + timedelta(weeks=week)
        if mg is None:
            sizes = ", ".join(f"{s:g}" for s in strengths)
            text = f"{per_kg:g} mg/kg/day = {per_kg * weight_kg:g} mg/day: not makeable with {sizes} mg tablets"
        else:
            what = " + ".join(f"{n} x {s:g} mg" for s, n in sorted((tablets or {}).items(), reverse=True))
            how_often = "three times a week" if advice.thrice_weekly else "a day"
            text = f"{mg:g} mg {how_often} ({what}) ≈ {mg / weight_kg:.2f} mg/kg"
            if week:
                text = f"if the response is not enough: {text}"
        steps.append(Step(week, on, per_kg, mg, tablets, text))
    stable_from = steps[-1].on if steps else start
    events: list[CalendarEvent] = []
    tests = ", ".join(schedule.tests)
    for day, phase in schedule_dates(schedule, start, stable_from, until):
        events.append(
            CalendarEvent(day, "blood-test", f"Blood test for {drug}: {tests}", f"{schedule.title}: {phase}.")
        )
    for step in steps:
        events.append(CalendarEvent(step.on, "dose", f"{drug} dose: {step.text}", indication.text))
    for week in schedule.metabolite_weeks:
        day = start + timedelta(weeks=week)
        if day <= until:
            events.append(
                CalendarEvent(
                    day, "metabolites", "Consider thiopurine metabolites (TGN, MMP:TGN ratio)", schedule.title
                )
            )
    events.sort(key=lambda e: (e.on, e.kind))
    return Plan(
        drug,
        weight_kg,
        indication,
        schedule,
        advice,
        start,
        tuple(steps),
        tuple(events),
        ceiling,
        tuple(strengths),
        tuple(notes),
    )


def plan_for(
    index: PgxIndex,
    kb: KnowledgeBase,
    drug: Drug,
    weight_kg: float,
    indication: str,
    start: date,
    tpmt: str | None,
    nudt15: str | None,
    schedule: str | None = None,
    months: int = 12,
    strengths: Sequence[float] | None = None,
) -> Plan:
    """A plan from what a user types: the indication as an id, alias or free text, TPMT/NUDT15 results as
    diplotypes, rsID genotypes or phenotypes, the catalog's tablet strengths unless given. Bad input is an
    InputError naming the command's option (`--weight-kg`); the REST API renames it to the body field."""
    checked_weight(weight_kg)
    if not STARTS[0] <= start <= STARTS[1]:
        raise InputError("--start", start.isoformat(), f"expected a date from {STARTS[0]} to {STARTS[1]}")
    if months < 1 or months > MAX_MONTHS:
        raise InputError("--months", months, f"expected 1-{MAX_MONTHS}")
    if schedule is not None and schedule not in index.schedules:
        raise InputError("--schedule", schedule, f"expected one of {', '.join(index.schedules)}")
    plan_rule = find_indication(index, drug, indication, set(kb.conditions_in_text(indication)))
    if plan_rule is None:
        known = sorted({p.indication for p in index.data.indications if p.drug == drug})
        raise InputError("--indication", indication, f"no {drug} plan for it; known: {', '.join(known)}")
    if strengths is None:
        sizes = catalog_tablet_strengths(kb, drug)
    else:
        sizes = checked_strengths(strengths, ",".join(f"{s:g}" for s in strengths))
    t, n = given_results(index, tpmt, nudt15)
    return make_plan(index, drug, weight_kg, plan_rule, t, n, start, sizes, schedule, months)


# --- iCalendar ---------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets continue on the next line after CRLF and a space."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = b""
    limit = 75
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            parts.append(current.decode("utf-8"))
            current = b""
            limit = 74  # continuation lines start with a space
        current += encoded
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def to_ics(plan: Plan) -> str:
    """The plan's calendar as an iCalendar file (all-day events) a patient can import."""
    stamp = plan.start.strftime("%Y%m%dT000000Z")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//rxguard//thiopurine plan//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(plan.drug + ' monitoring')}",
    ]
    for event in plan.events:
        digest = hashlib.sha256(
            f"{plan.drug}|{plan.start}|{event.on}|{event.kind}|{event.summary}".encode()
        ).hexdigest()
        lines += [
            "BEGIN:VEVENT",
            f"UID:{digest[:24]}@rxguard",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{event.on.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(event.on + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{_escape(event.summary)}",
            f"DESCRIPTION:{_escape(event.description)}",
            f"CATEGORIES:{event.kind.upper()}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
