"""PP / MS: is a controlled-drug prescription valid, before it is screened clinically?

For each order that is controlled in the prescription jurisdiction (RXGUARD_RX_JURISDICTION, else the
screening jurisdiction; a jurisdiction may extend another): the prescriber's identifiers (US: the DEA
registration number by format, check digit, registrant type and last-name letter; the NPI by its Luhn check
digit with the 80840 prefix) and the per-schedule limits (refills, days supply, prescription age at filling).
A rule that fails is a PP card with the rule's indicator; information the rule needs but the request lacks
(the DEA number, the schedule of a product-dependent ingredient, the date written) is an MS card (info).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta

from rxguard.checks.common import make_alert
from rxguard.checks.context import ClinicalContext, Med, supply_days
from rxguard.checks.controlled import ScheduleFinding, knowledge, schedule_in, settings
from rxguard.domain.identifiers import IdentifierCheck, check_dea, check_npi
from rxguard.domain.model import Alert, Indicator
from rxguard.errors import ConfigError
from rxguard.knowledge import controlled as c
from rxguard.knowledge.base import KnowledgeBase

INDICATORS = {"info": Indicator.INFO, "warning": Indicator.WARNING, "critical": Indicator.CRITICAL}


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the last day of the month when it has fewer days): 31 Aug + 6 -> 28/29 Feb."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def jurisdiction_chain(kb: KnowledgeBase, jurisdiction: str) -> tuple[c.RxJurisdiction, ...]:
    """The jurisdiction and those it extends, nearest first; an unknown one is a configuration error."""
    known = knowledge(kb).jurisdictions
    chain: list[c.RxJurisdiction] = []
    current: str | None = jurisdiction
    while current is not None and current not in {j.id for j in chain}:
        found = known.get(current)
        if found is None:
            names = ", ".join(sorted(known))
            raise ConfigError(
                f"RXGUARD_RX_JURISDICTION: no prescription rules for {current!r} in the knowledge base (known: {names})"
            )
        chain.append(found)
        current = found.extends
    return tuple(chain)


def _applies(rule_jurisdictions: list[str], chain: tuple[c.RxJurisdiction, ...]) -> bool:
    return any(j.id in rule_jurisdictions for j in chain)


def _identifier_alerts(
    ctx: ClinicalContext, order: Med, schedule: str, rules: list[c.IdentifierRule], jurisdiction: str
) -> list[Alert]:
    alerts: list[Alert] = []
    requester = order.entry.requester
    family = requester.family_name if requester else None
    for rule in rules:
        numbers = (requester.dea_numbers if rule.identifier == "DEA" else requester.npis) if requester else ()
        if not numbers:
            if schedule in rule.required_for:
                who = (requester.display or requester.id) if requester else None
                alerts.append(
                    make_alert(
                        ctx,
                        "MS",
                        Indicator.INFO,
                        f"Prescriber's {rule.identifier} number not in the request: {order.name}",
                        f"{order.name} is Schedule {schedule} ({jurisdiction}); the request does not carry the "
                        f"prescriber's {rule.identifier} number"
                        f"{f' ({who})' if who else ''}, so it could not be checked. {rule.text}",
                        "Verify the prescriber's registration before dispensing.",
                        [order],
                        rule,
                        {"missing": f"prescriber {rule.identifier} number", "schedule": schedule},
                    )
                )
            continue
        checks: list[IdentifierCheck] = [
            check_dea(n, family, set(rule.registrant_types) or None) if rule.identifier == "DEA" else check_npi(n)
            for n in numbers
        ]
        if any(result.valid for result in checks):
            continue
        failed = checks[0]
        problems = "; ".join(p.message for p in failed.problems)
        not_checked = f" Not checked: {', '.join(failed.not_checked)}." if failed.not_checked else ""
        alerts.append(
            make_alert(
                ctx,
                "PP",
                INDICATORS[rule.indicator],
                f"Invalid prescriber {rule.identifier} number {failed.value} on {order.name}",
                f"{problems}.{not_checked} {rule.text}",
                rule.management,
                [order],
                rule,
                {
                    "identifier": rule.identifier,
                    "value": failed.value,
                    "problems": [p.code for p in failed.problems],
                    "not_checked": list(failed.not_checked),
                    "schedule": schedule,
                },
            )
        )
    return alerts


def _limit_alert(
    ctx: ClinicalContext, order: Med, schedule: str, rule: c.PrescriptionLimit, jurisdiction: str
) -> Alert | None:
    entry = order.entry
    facts: dict[str, object] = {"schedule": schedule, "jurisdiction": jurisdiction, "limit": rule.value}
    if rule.kind == "max-refills":
        refills = entry.refills or 0
        if refills <= rule.value:
            return None
        summary = f"Schedule {schedule}: {refills} refill(s) ordered, at most {rule.value:g} allowed"
        facts.update({"refills": refills, "max_refills": rule.value})
    elif rule.kind == "max-days-supply":
        days = supply_days(entry)
        if days is None or days <= rule.value + 1e-9:
            return None
        summary = f"Schedule {schedule}: {days:g} days' supply, at most {rule.value:g} allowed"
        facts.update({"days_supply": days, "max_days_supply": rule.value})
    else:
        written = entry.authored_on
        if written is None:
            return make_alert(
                ctx,
                "MS",
                Indicator.INFO,
                f"Date written unknown: prescription age not checked for {order.name}",
                f"{rule.text} The order has no authoredOn date, so its age could not be checked.",
                "Check the date the prescription was written before dispensing.",
                [order],
                rule,
                {"missing": "date written", "schedule": schedule},
            )
        if rule.unit == "months":
            expiry = add_months(written, int(rule.value))
        else:
            expiry = written + timedelta(days=int(rule.value))
        if ctx.now <= expiry:
            return None
        age = (ctx.now - written).days
        summary = f"Schedule {schedule} prescription written {written.isoformat()} expired on {expiry.isoformat()}"
        facts.update(
            {"date_written": written.isoformat(), "age_days": age, "expires_on": expiry.isoformat(), "unit": rule.unit}
        )
    return make_alert(
        ctx,
        "PP",
        INDICATORS[rule.indicator],
        f"{summary}: {order.name}",
        f"{order.name} is Schedule {schedule} ({jurisdiction}). {rule.text}",
        rule.management,
        [order],
        rule,
        facts,
    )


def _schedule_missing(ctx: ClinicalContext, order: Med, finding: ScheduleFinding, jurisdiction: str) -> Alert:
    entry = finding.entries[0] if finding.entries else None
    alert = make_alert(
        ctx,
        "MS",
        Indicator.INFO,
        f"Controlled-drug schedule of {order.name} depends on the product: prescription rules not checked",
        f"The schedule of {order.name} in {jurisdiction} depends on the product (strength, form, combination), "
        "and the order does not name a product rxguard knows, so refills, days supply and prescription age were "
        f"not checked.{f' {entry.notes}' if entry is not None and entry.notes else ''}",
        "Check the product's schedule and the prescription's validity by hand.",
        [order],
        entry,
        {"missing": "controlled-drug schedule", "jurisdiction": jurisdiction},
        rule_id="rx.schedule-unknown",
    )
    return replace(alert, rule_id="rx.schedule-unknown")


@dataclass(frozen=True, slots=True)
class JurisdictionRules:
    """The prescription rules in force in one jurisdiction (with those it extends)."""

    chain: tuple[c.RxJurisdiction, ...]
    identifiers: list[c.IdentifierRule]
    limits: list[c.PrescriptionLimit]


def jurisdiction_rules(kb: KnowledgeBase, jurisdiction: str) -> JurisdictionRules:
    """Worked out once per knowledge base and jurisdiction; an unknown jurisdiction is a configuration error."""

    def build() -> JurisdictionRules:
        ck = knowledge(kb)
        chain = jurisdiction_chain(kb, jurisdiction)
        return JurisdictionRules(
            chain,
            [r for r in ck.prescriptions.identifiers if r.status == "active" and _applies(r.jurisdictions, chain)],
            [r for r in ck.prescriptions.limits if r.status == "active" and _applies(r.jurisdictions, chain)],
        )

    return kb.memo(f"prescriptions.rules:{jurisdiction}", build)


def check_prescriptions(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    jurisdiction = settings(ctx).rx_jurisdiction
    rules = jurisdiction_rules(kb, jurisdiction)
    system = rules.chain[0].schedule_system
    identifiers, limits = rules.identifiers, rules.limits
    alerts: list[Alert] = []
    for order in ctx.orders:
        if not order.resolution.known:
            continue
        finding = schedule_in(kb, order.resolution, system)
        if finding.product_dependent:
            alerts.append(_schedule_missing(ctx, order, finding, jurisdiction))
            continue
        schedule = finding.schedule
        if schedule is None:
            continue
        alerts.extend(_identifier_alerts(ctx, order, schedule, identifiers, jurisdiction))
        for rule in limits:
            if schedule in rule.schedules:
                alert = _limit_alert(ctx, order, schedule, rule, jurisdiction)
                if alert is not None:
                    alerts.append(alert)
    return alerts
