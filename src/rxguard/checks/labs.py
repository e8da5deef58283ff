"""Blood results of patients given a thiopurine (DL), an overdue blood test (TN) and a steroid non-response (SR).

Only thiopurine orders are screened. DL: a recent result past a sourced action threshold, a creatinine rise
from the patient's baseline, or a white count falling steadily (the label's 'rapid fall', defined by a
configurable rule and said so). TN: the next blood test of the schedule for the indication is past due.
SR (information for the prescriber): still on a corticosteroid long after the thiopurine should have worked.
"""

from __future__ import annotations

from datetime import date

from rxguard.checks.common import make_alert
from rxguard.checks.context import ClinicalContext, Med
from rxguard.checks.pgx import thiopurine_orders
from rxguard.domain.model import Alert, Indicator
from rxguard.therapy.thiopurine.knowledge import Drug, PgxIndex, TrendRule, pgx_index
from rxguard.therapy.thiopurine.labs import Finding, LabReport, evaluate, lab_series
from rxguard.therapy.thiopurine.plan import next_due

DEFAULT_SCHEDULE = "label"


def _on_therapy_since(ctx: ClinicalContext, drug: Drug) -> date | None:
    """When the patient started the thiopurine, if they are already taking it (current or renewed)."""
    current = [m for m in ctx.comeds if m.role == "current" and drug in m.ingredients()]
    current += [old for old, _ in ctx.renewals if drug in old.ingredients()]
    dates = [m.entry.authored_on for m in current if m.entry.authored_on]
    ids = {m.id for m in current}
    dates += [d.handed_over for d in ctx.request.profile.dispenses if d.prescription_id in ids and d.handed_over]
    if not current:
        return None
    return min(dates) if dates else None


def schedule_for(index: PgxIndex, ctx: ClinicalContext, drug: Drug) -> str:
    for plan in index.data.indications:
        if plan.status == "active" and plan.drug == drug and plan.indication in ctx.conditions:
            return plan.schedule
    return DEFAULT_SCHEDULE


def unit_label(unit: str) -> str:
    """'10*9/L' -> 'x10^9/L' for people; other units as they are."""
    return unit.replace("10*9/L", "x10^9/L") if unit.startswith("10*") else unit


def _finding_alert(ctx: ClinicalContext, med: Med, finding: Finding, report: LabReport) -> Alert:
    latest = finding.latest
    when = f" on {latest.on.isoformat()}" if latest.on else ""
    unit = unit_label(latest.unit)
    value = "" if isinstance(finding.rule, TrendRule) else f" ({latest.value:g} {unit}{when})"
    summary = f"{med.name}: {finding.text}{value}"
    lines = [f"{finding.text}. Result{when}: {latest.value:g} {unit} (observation {latest.observation_id})."]
    rule = finding.rule
    if isinstance(rule, TrendRule):
        limits = [f"at least {rule.min_results} results each lower than the one before"]
        if rule.min_total_fall_percent is not None:
            limits.append(f"a total fall of at least {rule.min_total_fall_percent:g}%")
        if rule.max_span_days is not None:
            limits.append(f"within {rule.max_span_days} days")
        lines.append(
            f"The label says to '{rule.label_wording}' but does not define 'rapid': rxguard's configurable rule "
            f"counts {', '.join(limits)}. Every value may still be above its own threshold."
        )
    others = [f for f in report.findings if f is not finding]
    if others:
        lines.append("Other results past a limit: " + "; ".join(f.text for f in others) + ".")
    for measure_rule, point in report.unjudged:
        lines.append(
            f"{measure_rule.measure.capitalize()} {point.value:g} {unit_label(point.unit)}: shown, not judged "
            f"({measure_rule.text})"
        )
    facts = {
        "measure": finding.measure,
        "value": latest.value,
        "unit": latest.unit,
        "date": latest.on.isoformat() if latest.on else None,
        "action": finding.action,
        "values": [p.value for p in finding.points],
    }
    if hasattr(rule, "value") and hasattr(rule, "op"):
        facts["threshold"] = f"{rule.op} {rule.value:g} {latest.unit}"
    return make_alert(
        ctx,
        "DL",
        Indicator.parse(finding.indicator),
        summary,
        "\n\n".join(lines),
        finding.management,
        [med],
        rule,
        facts,
    )


def check_thiopurine_labs(ctx: ClinicalContext) -> list[Alert]:
    """DL, TN (overdue blood test) and SR (possible non-response) for thiopurine orders."""
    orders = thiopurine_orders(ctx)
    if not orders:
        return []
    index = pgx_index(ctx.kb)
    series = lab_series(ctx.kb, ctx.request.profile.observations, ctx.now)
    report = evaluate(index, series, ctx.now)
    alerts: list[Alert] = []
    for med, drug in orders:
        alerts.extend(_finding_alert(ctx, med, f, report) for f in report.findings)
        since = _on_therapy_since(ctx, drug)
        if since is None:
            continue
        schedule = index.schedules[schedule_for(index, ctx, drug)]
        fbc = series.get("wbc", ())
        last = fbc[-1].on if fbc else None
        due = next_due(schedule, since, last, ctx.now)
        if due is not None and due < ctx.now:
            rule = next(r for r in index.data.test_rules if r.test == "blood-monitoring" and r.status == "active")
            last_text = f"last FBC {last.isoformat()}" if last else "no FBC on file"
            alerts.append(
                make_alert(
                    ctx,
                    "TN",
                    Indicator.parse(rule.indicator),
                    f"{med.name}: blood test overdue since {due.isoformat()} ({last_text})",
                    f"{rule.text} On {drug} since {since.isoformat()}; schedule: {schedule.title} — {schedule.text} "
                    f"The next test was due on {due.isoformat()} ({(ctx.now - due).days} days ago; {last_text}).",
                    rule.management,
                    [med],
                    rule,
                    {
                        "drug": drug,
                        "schedule": schedule.name,
                        "due_date": due.isoformat(),
                        "last_test_date": last.isoformat() if last else None,
                        "days_overdue": (ctx.now - due).days,
                    },
                )
            )
        for steroid in index.data.steroid_response:
            if steroid.status != "active" or drug not in steroid.drugs or steroid.indication not in ctx.conditions:
                continue
            weeks = (ctx.now - since).days // 7
            steroids = [m for m in ctx.all_meds() if any(ctx.kb.in_class(i, "corticosteroid") for i in m.ingredients())]
            if weeks >= steroid.min_weeks and steroids:
                alerts.append(
                    make_alert(
                        ctx,
                        "SR",
                        Indicator.INFO,
                        f"{med.name}: still on {steroids[0].name} {weeks} weeks after starting {drug}: "
                        "possible non-response",
                        steroid.text,
                        "For the prescriber: review the response to the thiopurine (dose step or another treatment).",
                        [med, *steroids],
                        steroid,
                        {"drug": drug, "weeks_on_thiopurine": weeks, "corticosteroids": [m.name for m in steroids]},
                    )
                )
    return alerts
