"""Site rule settings, pure: an admin may change a rule's indicator or switch it off, except for never-off rules.

The never-off list is policy data (`pharmacy/policy.yaml`): contraindicated interactions (and contraindicated
duplications), thiopurine dosing for TPMT or NUDT15 poor metabolizers, and opioid with benzodiazepine. Such a
rule cannot be switched off or given a lower indicator; it may be raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from rxguard.domain.model import Alert, Indicator
from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase
from rxguard.pharmacy.knowledge import policy
from rxguard.pharmacy.records import RuleSetting

POOR = "Poor Metabolizer"


class RuleLocked(Exception):  # noqa: N818 (reads as the condition)
    pass


def _opioid_benzodiazepine(kb: KnowledgeBase, rule: s.Interaction) -> bool:
    a, b = kb.expand(rule.a), kb.expand(rule.b)

    def has(members: frozenset[str], class_id: str) -> bool:
        return any(kb.in_class(i, class_id) for i in members)

    return (has(a, "opioid") and has(b, "benzodiazepine")) or (has(b, "opioid") and has(a, "benzodiazepine"))


def never_off_kind(kb: KnowledgeBase, rule_id: str) -> str | None:
    """Which never-off category a rule falls in (by the policy's list), or None."""
    kinds = {n.kind for n in policy(kb).never_off}
    rule = kb.rules_by_id.get(rule_id)
    if rule is None:
        return None
    if isinstance(rule, s.Interaction):
        if "contraindicated-interaction" in kinds and rule.severity == "contraindicated":
            return "contraindicated-interaction"
        if "opioid-benzodiazepine" in kinds and _opioid_benzodiazepine(kb, rule):
            return "opioid-benzodiazepine"
    if isinstance(rule, s.DuplicationClass) and rule.severity == "contraindicated":
        return "contraindicated-interaction" if "contraindicated-interaction" in kinds else None
    if "thiopurine-poor-metabolizer" in kinds:
        tpmt = getattr(rule, "tpmt", None)
        nudt15 = getattr(rule, "nudt15", None)
        values = [v for v in (tpmt, nudt15) for v in (v if isinstance(v, list) else [v])]
        if type(rule).__name__ in ("Recommendation", "Amendment") and POOR in values:
            return "thiopurine-poor-metabolizer"
    return None


def alert_never_off(kb: KnowledgeBase, alert: Alert) -> bool:
    """An alert of a never-off rule, or a PGX card for a poor metabolizer whatever rule it cites."""
    if never_off_kind(kb, alert.rule_id) is not None:
        return True
    phenotype = alert.facts.get("phenotype")
    if alert.code == "PGX" and isinstance(phenotype, dict) and POOR in phenotype.values():
        return True
    return alert.code == "DD" and alert.severity == "contraindicated"


@dataclass(frozen=True, slots=True)
class Adjusted:
    alert: Alert
    note: str | None


def validate_setting(kb: KnowledgeBase, setting: RuleSetting) -> None:
    """Refuse unknown rules, and switching off or lowering a never-off rule."""
    rule = kb.rules_by_id.get(setting.rule_id)
    if rule is None:
        raise KeyError(setting.rule_id)
    kind = never_off_kind(kb, setting.rule_id)
    if kind is None:
        return
    if not setting.enabled:
        raise RuleLocked(f"{setting.rule_id} is on the never-off list ({kind}) and cannot be switched off")
    if setting.indicator is not None and setting.indicator < Indicator.CRITICAL:
        raise RuleLocked(
            f"{setting.rule_id} is on the never-off list ({kind}): its indicator can only be raised to critical"
        )


def apply_settings(
    kb: KnowledgeBase, alerts: Sequence[Alert], settings: Mapping[str, RuleSetting]
) -> tuple[list[Adjusted], list[Alert]]:
    """(alerts kept, each with a note when the site changed it; alerts the site switched off)."""
    kept: list[Adjusted] = []
    dropped: list[Alert] = []
    for alert in alerts:
        setting = settings.get(alert.rule_id)
        if setting is None:
            kept.append(Adjusted(alert, None))
            continue
        locked = alert_never_off(kb, alert)
        if not setting.enabled and not locked:
            dropped.append(alert)
            continue
        if setting.indicator is not None and setting.indicator != int(alert.indicator):
            wanted = Indicator(setting.indicator)
            if locked and wanted < alert.indicator:
                kept.append(Adjusted(alert, "site setting ignored: never-off rule"))
                continue
            note = f"indicator set by the site: {alert.indicator.label} -> {wanted.label}"
            kept.append(Adjusted(replace(alert, indicator=wanted), note))
            continue
        kept.append(Adjusted(alert, None))
    kept.sort(key=lambda a: (-int(a.alert.indicator), a.alert.code, a.alert.summary))
    return kept, dropped
