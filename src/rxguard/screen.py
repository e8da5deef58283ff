"""Run every check on a request, merge what they found, and order it most severe first.

Checks are independent pure functions; this module only sequences them, de-duplicates (one alert
per code and set of implicated medicines), escalates an ingredient duplication whose total dose is
critically high, and never lets a clinical gap pass silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rxguard.checks.allergy import check_allergies
from rxguard.checks.context import ClinicalContext, build_context
from rxguard.checks.counselling import check_alcohol, check_cns_burden, check_counselling
from rxguard.checks.disease import check_drug_disease
from rxguard.checks.dose import check_doses
from rxguard.checks.duplication import check_ingredient_duplication, check_therapeutic_duplication
from rxguard.checks.history import check_history
from rxguard.checks.interactions import check_interactions
from rxguard.checks.labs import check_thiopurine_labs
from rxguard.checks.missing import check_missing
from rxguard.checks.mme import check_mme
from rxguard.checks.pgx import check_pgx
from rxguard.checks.pregnancy_age import check_age, check_pregnancy
from rxguard.checks.prescription import check_prescriptions
from rxguard.config import ScreeningConfig
from rxguard.domain.model import Alert, Indicator, ScreeningRequest
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolver

Check = Callable[[ClinicalContext], list[Alert]]

CHECKS: tuple[Check, ...] = (
    check_missing,
    check_mme,  # before check_doses: on a tie the MME card leads the merged HD card (its facts stay on top)
    check_doses,
    check_ingredient_duplication,
    check_therapeutic_duplication,
    check_interactions,
    check_allergies,
    check_drug_disease,
    check_pregnancy,
    check_age,
    check_pgx,
    check_thiopurine_labs,
    check_prescriptions,
    check_history,
    check_cns_burden,
    check_alcohol,
    check_counselling,
)


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    alerts: tuple[Alert, ...]
    kb_version: str
    request: ScreeningRequest
    context: ClinicalContext

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.request.warnings


def order_alerts(alerts: Sequence[Alert]) -> tuple[Alert, ...]:
    """One alert per code and implicated medicines, sorted most severe first.

    When two findings share a code and medicines (a combination product above the maximum for both of
    its ingredients), the most severe is kept and the others are named in its detail and facts.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.key, []).append(alert)
    merged = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        group.sort(key=lambda a: -int(a.indicator))
        head, rest = group[0], [a for a in group[1:] if a.summary != group[0].summary]
        if rest:
            also = "\n\n**Also:** " + "; ".join(a.summary for a in rest) + "."
            facts = {**head.facts, "also": [{"rule_id": a.rule_id, "summary": a.summary, **a.facts} for a in rest]}
            suggestions = head.suggestions + tuple(x for a in rest for x in a.suggestions)
            head = replace(head, detail=head.detail + also, facts=facts, suggestions=suggestions)
        merged.append(head)
    return tuple(sorted(merged, key=lambda a: (-int(a.indicator), a.code, a.summary)))


def _escalate_duplications(alerts: list[Alert]) -> list[Alert]:
    critical_doses = {
        str(a.facts.get("ingredient")) for a in alerts if a.code == "HD" and a.indicator is Indicator.CRITICAL
    }
    if not critical_doses:
        return alerts  # nothing to escalate
    out = []
    for found in alerts:
        alert = found
        ingredients = alert.facts.get("ingredients")
        if alert.code == "ID" and isinstance(ingredients, list) and critical_doses & set(ingredients):
            alert = replace(
                alert,
                indicator=Indicator.CRITICAL,
                detail=alert.detail + " The combined dose is critically above the maximum.",
            )
        out.append(alert)
    return out


class Screener:
    """Screens requests against one knowledge base and configuration; reuse it across requests."""

    def __init__(
        self, kb: KnowledgeBase, config: ScreeningConfig | None = None, checks: Sequence[Check] = CHECKS
    ) -> None:
        self.kb = kb
        self.config = config or ScreeningConfig(jurisdiction=kb.manifest.default_jurisdiction)
        self.resolver = Resolver(kb)
        self.checks = tuple(checks)

    def context(self, request: ScreeningRequest) -> ClinicalContext:
        return build_context(request, self.kb, self.resolver, self.config)

    def screen(self, request: ScreeningRequest) -> ScreeningResult:
        ctx = self.context(request)
        found: list[Alert] = []
        for check in self.checks:
            found.extend(check(ctx))
        return ScreeningResult(order_alerts(_escalate_duplications(found)), self.kb.version, request, ctx)
