"""Alerts as CDS Hooks cards, and a screening result as a CDS Hooks response."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from rxguard.adapters.cds_hooks import suggestions as interactive
from rxguard.adapters.cds_hooks.prefetch import patient_id
from rxguard.checks.common import REASON_CODES, TOPIC_SYSTEM
from rxguard.checks.context import ClinicalContext
from rxguard.domain.model import Alert
from rxguard.screen import ScreeningResult

CARD_NAMESPACE = uuid.UUID("6f1c5a52-2f0e-4b8e-9a57-7d2b3c9e1a40")
SOURCE_LABEL = "rxguard medication screening"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return value
    return value


def card_uuid(alert: Alert, subject: str | None = None) -> str:
    """Stable for the same rule, medicines and facts (and `subject`), so feedback and suppression can refer to it.

    `subject` names whose alert it is (card_subject: the context's patient id; the service's alert memory adds
    the tenant itself): feedback
    carries only the card's uuid, and resource ids may recur across patients, so without it one patient's
    override could be taken for another's identical alert.
    """
    return _card_uuid(alert, _jsonable(alert.facts), subject)


def card_subject(request: Any) -> str | None:
    """Whose alerts a request's cards are, for card_uuid: the CDS Hooks context's patientId (None otherwise).

    The service, the REST API and `rxguard screen` all derive it from the request itself, so the same request
    gives the same card uuids everywhere."""
    context = request.get("context") if isinstance(request, dict) else None
    return patient_id(context) if isinstance(context, dict) else None


def _card_uuid(alert: Alert, facts: Any, subject: str | None = None) -> str:
    """card_uuid() with the alert's facts already made JSON-able (the card needs them too)."""
    parts: list[Any] = [alert.rule_id, sorted(alert.medications), facts]
    if subject is not None:
        parts.append(subject)
    basis = json.dumps(parts, sort_keys=True, default=str)
    return str(uuid.uuid5(CARD_NAMESPACE, basis))


def card_detail(alert: Alert) -> str:
    lines = [alert.detail, "", f"**What to do:** {alert.action}"]
    if alert.sources:
        lines += ["", "**Sources:**"]
        for src in alert.sources:
            year = f" ({src.year})" if src.year else ""
            lines.append(f"- {src.document}{year}, {src.section} — {src.confidence}")
    return "\n".join(lines)


def to_card(
    alert: Alert,
    kb_version: str,
    ctx: ClinicalContext | None = None,
    orders: Mapping[str, Mapping[str, Any]] | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """The card; `ctx` and the raw draft `orders` (by id) let suggestions rewrite the order as sent; `subject`
    scopes its uuid to one patient (see card_uuid)."""
    reason = REASON_CODES.get(alert.code)
    facts = _jsonable(alert.facts)  # once: for the uuid and for the card
    uid = _card_uuid(alert, facts, subject)
    return {
        "uuid": uid,
        "summary": alert.summary,
        "indicator": alert.indicator.label,
        "detail": card_detail(alert),
        "source": {
            "label": SOURCE_LABEL,
            "topic": {
                "system": TOPIC_SYSTEM,
                "code": alert.code,
                "display": reason.display if reason else alert.code,
            },
        },
        "extension": {
            "rxguard": {
                "rule_id": alert.rule_id,
                "rule_version": alert.rule_version,
                "kb_version": kb_version,
                "severity": alert.severity,
                "medications": list(alert.medications),
                "sources": [s.as_dict() for s in alert.sources],
                "facts": facts,
            }
        },
        **interactive.render(alert, uid, ctx, orders),
    }


def to_response(
    result: ScreeningResult, orders: Mapping[str, Mapping[str, Any]] | None = None, subject: str | None = None
) -> dict[str, Any]:
    return {"cards": [to_card(a, result.kb_version, result.context, orders, subject) for a in result.alerts]}


def card_outline(card: dict[str, Any]) -> dict[str, Any]:
    """What golden tests compare: the card's code, indicator, rule and facts."""
    return {
        "code": card["source"]["topic"]["code"],
        "indicator": card["indicator"],
        "rule_id": card["extension"]["rxguard"]["rule_id"],
        "facts": card["extension"]["rxguard"]["facts"],
    }
