"""What every check shares: the card codes, severity-to-indicator rules, and how an alert is made."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rxguard.checks.context import ClinicalContext, Med
from rxguard.domain.model import Alert, Indicator
from rxguard.knowledge import schema as s


@dataclass(frozen=True, slots=True)
class ReasonCode:
    """One card code: what it means, which issue owns it, how its indicator is chosen."""

    code: str
    display: str
    owner: str
    indicator_rule: str


# source.topic.code of every card: NCPDP Reason for Service codes, plus rxguard's own PGX.
REASON_CODES: dict[str, ReasonCode] = {
    c.code: c
    for c in (
        ReasonCode(
            "DD",
            "Drug-drug interaction",
            "foundation",
            "contraindicated -> critical; major -> warning; moderate, minor -> info",
        ),
        ReasonCode(
            "DA",
            "Drug-allergy",
            "foundation",
            "documented allergy to the ingredient -> critical; class cross-sensitivity -> warning",
        ),
        ReasonCode(
            "MC",
            "Drug-disease (reported)",
            "foundation",
            "contraindicated -> critical; avoid -> warning; caution -> info",
        ),
        ReasonCode(
            "DC",
            "Drug-disease (inferred)",
            "foundation",
            "contraindicated -> critical; avoid -> warning; caution -> info",
        ),
        ReasonCode(
            "PG",
            "Drug-pregnancy",
            "foundation",
            "contraindicated -> critical; avoid -> warning; caution -> info",
        ),
        ReasonCode(
            "NR",
            "Lactation/nursing interaction",
            "foundation",
            "contraindicated -> critical; avoid -> warning; caution -> info",
        ),
        ReasonCode("PA", "Drug-age", "foundation", "contraindicated -> critical; 'avoid' -> warning; otherwise info"),
        ReasonCode(
            "HD",
            "High dose",
            "foundation",
            "above a maximum -> warning; at least twice a maximum or a known fatal pattern -> critical "
            "('no added benefit' maxima stay warning)",
        ),
        ReasonCode("LD", "Low dose", "foundation", "info"),
        ReasonCode(
            "ID",
            "Ingredient duplication",
            "foundation",
            "warning; critical if the duplicated ingredient's dose is critically high",
        ),
        ReasonCode(
            "TD",
            "Therapeutic duplication",
            "foundation",
            "the class's (or the pair's interaction) severity: contraindicated -> critical; "
            "major, moderate -> warning; minor -> info",
        ),
        ReasonCode(
            "MS",
            "Missing information / cannot screen",
            "foundation",
            "warning; info where only a part was not checked",
        ),
        ReasonCode(
            "PGX",
            "Pharmacogenomic dosing (rxguard's own code)",
            "thiopurines",
            "poor metabolizer, non-malignant indication -> critical; intermediate or possible intermediate -> warning; "
            "normal -> info; indeterminate -> info with the test CPIC suggests",
        ),
        ReasonCode(
            "TN",
            "Laboratory test needed",
            "thiopurines",
            "no TPMT result for a thiopurine order -> warning; no NUDT15 result -> info; blood test overdue -> warning",
        ),
        ReasonCode(
            "DL",
            "Drug-lab conflict",
            "thiopurines",
            "result past a sourced action threshold or a steadily falling white count -> the rule's indicator "
            "(warning; neutrophils < 1.0 -> critical)",
        ),
        ReasonCode(
            "SR",
            "Suboptimal regimen",
            "thiopurines",
            "info: still on a corticosteroid long after the thiopurine should have worked (possible non-response)",
        ),
        ReasonCode(
            "ER",
            "Overuse (early refill)",
            "controlled",
            "warning: a controlled drug supplied again before the configured share (75%) of the last fill's days "
            "supply has passed",
        ),
        ReasonCode(
            "DM",
            "Apparent drug misuse (multiple-provider episode)",
            "controlled",
            "warning: controlled drugs from at least N prescribers and M pharmacies in T days (5, 5, 90)",
        ),
        ReasonCode(
            "PP",
            "Plan protocol (controlled-drug prescription rule)",
            "controlled",
            "the rule's indicator: invalid DEA number or NPI, refills, days supply or age beyond the schedule's limit "
            "-> warning; UK good-practice supply limit -> info",
        ),
        ReasonCode(
            "ED",
            "Patient education/instruction",
            "controlled",
            "info: counselling points for a drug with abuse potential",
        ),
        ReasonCode(
            "OH",
            "Alcohol conflict",
            "controlled",
            "with recorded alcohol use: major -> warning; moderate -> info",
        ),
    )
}

TOPIC_SYSTEM = "https://rxguard.dev/fhir/CodeSystem/reason-for-service"

SEVERITY_INDICATOR: dict[str, Indicator] = {
    "contraindicated": Indicator.CRITICAL,
    "major": Indicator.WARNING,
    "moderate": Indicator.INFO,
    "minor": Indicator.INFO,
    "none": Indicator.INFO,
}
LEVEL_INDICATOR: dict[str, Indicator] = {
    "contraindicated": Indicator.CRITICAL,
    "avoid": Indicator.WARNING,
    "caution": Indicator.INFO,
}
DUPLICATION_INDICATOR: dict[str, Indicator] = {
    "contraindicated": Indicator.CRITICAL,
    "major": Indicator.WARNING,
    "moderate": Indicator.WARNING,
    "minor": Indicator.INFO,
    "none": Indicator.INFO,
}


def shorten(text: str, limit: int = 139) -> str:
    """CDS Hooks summaries must stay under 140 characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def med_label(med: Med) -> str:
    role = {"order": "ordered", "current": "current", "draft": "also being ordered"}[med.role]
    return f"{med.name} ({role})"


def names(meds: Iterable[Med]) -> str:
    return " + ".join(m.name for m in meds)


def make_alert(
    ctx: ClinicalContext,
    code: str,
    indicator: Indicator,
    summary: str,
    why: str,
    action: str,
    meds: Sequence[Med] = (),
    rule: s.Rule | None = None,
    facts: dict[str, Any] | None = None,
    severity: str | None = None,
    rule_id: str | None = None,
) -> Alert:
    """Build an alert with its provenance; rule-less alerts (MS) cite no knowledge source."""
    sources = ctx.kb.cite(rule.sources) if rule is not None else ()
    detail = why
    if rule is not None and rule.confidence != "primary":
        detail += (
            f"\n\n*Evidence level: {rule.confidence}* — the sources for this rule are "
            f"{'secondary' if rule.confidence == 'secondary' else 'not verified against the primary text'}."
        )
    # Positional, in Alert's field order (code, indicator, summary, detail, action, rule_id, rule_version, sources,
    # medications, facts, severity): a frozen dataclass is built measurably faster so, and every alert comes here.
    return Alert(
        code,
        indicator,
        shorten(summary),
        detail,
        action,
        rule.id if rule is not None else (rule_id or f"rxguard.{code.lower()}"),
        rule.version if rule is not None else 1,
        sources,
        tuple([m.id for m in meds]),
        dict(facts or {}),
        severity,
    )


def round_mg(value: float) -> float:
    return round(value, 3)
