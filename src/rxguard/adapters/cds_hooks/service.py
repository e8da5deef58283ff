"""The CDS Hooks services: discovery, order-select / order-sign / medication-verify calls, and feedback.

Framework-free: the HTTP layer hands over the decoded JSON body and the authenticated caller, and gets back
a JSON-ready response or a `CdsError` carrying the HTTP status and a FHIR OperationOutcome. A call
screens exactly as `rxguard screen` does (same parser, screener and cards); then it drops the cards this
patient's prescribers (or pharmacists) overrode within the suppression period, and at order-sign the cards
already shown at order-select for the same draft order, and remembers what it showed so that feedback can
be attributed to the patient.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rxguard.adapters.cds_hooks.auth import Caller
from rxguard.adapters.cds_hooks.cards import card_subject, to_response
from rxguard.adapters.cds_hooks.memory import AlertMemory, FeedbackRecord, PatientKey, ShownCard
from rxguard.adapters.cds_hooks.prefetch import TEMPLATES, FhirFetcher, PrefetchUnavailable, missing_keys, patient_id
from rxguard.adapters.cds_hooks.suggestions import draft_orders
from rxguard.adapters.fhir.request import parse_request
from rxguard.errors import InputError
from rxguard.screen import Screener

CDS_HOOKS_VERSION = "2.0"


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    audience: str  # who sees the cards: alert suppression is kept apart for prescribers and pharmacists


SERVICES: tuple[ServiceDefinition, ...] = (
    ServiceDefinition(
        "rxguard-order-select",
        "order-select",
        "rxguard medication screening (order selected)",
        "Screens the selected medication orders against the patient's medicines, allergies, conditions, labs, "
        "pregnancy and age: doses summed across products, duplications, interactions. Other draft orders are "
        "screened against as context. Every card names its rule, knowledge-base version and sources.",
        "prescriber",
    ),
    ServiceDefinition(
        "rxguard-order-sign",
        "order-sign",
        "rxguard medication screening (order signed)",
        "Screens the draft medication orders before signing. Alerts already shown at order-select for the "
        "same draft order are not repeated; alerts overridden for this patient are not shown again until "
        "their inputs change or the suppression period ends.",
        "prescriber",
    ),
    ServiceDefinition(
        "rxguard-medication-verify",
        "medication-verify",
        "rxguard medication screening (pharmacist verification)",
        "Screens the order a pharmacist is verifying (context.medication, or context.order as some drafts of "
        "the hook name it) against the patient's whole profile before dispensing.",
        "pharmacist",
    ),
)
BY_ID = {s.id: s for s in SERVICES}


class CdsError(Exception):
    """A CDS Hooks call that cannot be answered with cards: HTTP status plus an OperationOutcome."""

    def __init__(self, status: int, outcome: dict[str, Any]) -> None:
        self.status = status
        self.outcome = outcome
        super().__init__(f"{status}: {outcome['issue'][0].get('diagnostics', '')}")


def operation_outcome(
    code: str, text: str, diagnostics: str | None = None, expression: list[str] | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "details": {"text": text}}
    if diagnostics:
        issue["diagnostics"] = diagnostics
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def bad_request(field: str, message: str) -> CdsError:
    return CdsError(400, operation_outcome("invalid", f"{field}: {message}", expression=[field]))


@dataclass(frozen=True, slots=True)
class MemoryPolicy:
    """How long alerts are remembered; all configurable (see docs/readme/service.md)."""

    suppress_overridden_for: timedelta = timedelta(days=90)
    select_sign_window: timedelta = timedelta(hours=12)
    feedback_window: timedelta = timedelta(days=7)

    @property
    def retention(self) -> timedelta:
        return max(self.select_sign_window, self.feedback_window)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _parse_timestamp(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(field, "required: the UTC date and time of the action (RFC 3339)")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(field, f"not an RFC 3339 date-time (value: {value[:40]!r})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CdsHooksService:
    """The three screening services over one screener and one alert memory."""

    def __init__(
        self,
        screener: Screener,
        memory: AlertMemory,
        fetcher: FhirFetcher | None = None,
        policy: MemoryPolicy | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.screener = screener
        self.memory = memory
        self.fetcher = fetcher or FhirFetcher()
        self.policy = policy or MemoryPolicy()
        self.clock = clock
        self._calls = itertools.count(1)

    def discovery(self) -> dict[str, Any]:
        return {
            "services": [
                {
                    "hook": s.hook,
                    "id": s.id,
                    "title": s.title,
                    "description": s.description,
                    "prefetch": dict(TEMPLATES),
                    "version": CDS_HOOKS_VERSION,
                }
                for s in SERVICES
            ]
        }

    def definition(self, service_id: str) -> ServiceDefinition:
        service = BY_ID.get(service_id)
        if service is None:
            raise CdsError(
                404, operation_outcome("not-found", f"no CDS service {service_id!r}", expression=["service"])
            )
        return service

    async def _complete_prefetch(self, body: dict[str, Any]) -> dict[str, Any]:
        prefetch = body.get("prefetch")
        if prefetch is not None and not isinstance(prefetch, dict):
            raise bad_request("prefetch", "must be an object of prefetch key -> resource, Bundle or null")
        missing = missing_keys(prefetch)
        if not missing:
            return body
        try:
            fetched = await self.fetcher.fetch(body, missing)
        except PrefetchUnavailable as exc:
            raise CdsError(
                412,
                operation_outcome(
                    "processing",
                    "Cannot screen: the patient's record is incomplete, neither prefetched nor readable from "
                    "fhirServer.",
                    diagnostics=f"prefetch key(s) {', '.join(exc.keys)} absent; {exc.reason}.",
                    expression=[f"prefetch.{k}" for k in exc.keys],
                ),
            ) from None
        return {**body, "prefetch": {**(prefetch or {}), **fetched}}

    async def call(self, service_id: str, body: Any, caller: Caller) -> dict[str, Any]:
        service = self.definition(service_id)
        if not isinstance(body, dict):
            raise bad_request("(request)", "expected a CDS Hooks request object")
        hook = body.get("hook")
        if hook != service.hook:
            raise bad_request("hook", f"this service answers {service.hook!r} (value: {str(hook)[:60]!r})")
        if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"]:
            raise bad_request("hookInstance", "required: a UUID for this invocation")
        context = body.get("context")
        if not isinstance(context, dict):
            raise bad_request("context", "required: the hook's context object")
        body = await self._complete_prefetch(body)
        now = self.clock()
        try:
            request = parse_request(body, today=now.date(), validation=self.screener.config.fhir_validation)
        except InputError as exc:
            raise CdsError(
                400, operation_outcome("invalid", str(exc), expression=[exc.field.removeprefix("--")])
            ) from None
        result = self.screener.screen(request)
        pid = patient_id(context)
        # Card uuids are scoped to the patient: feedback names only the uuid (see card_uuid).
        response = to_response(result, draft_orders(body), card_subject(body))
        if pid is None:
            return response
        return self._filter_and_remember(service, caller, pid, response, {o.id for o in request.orders}, now)

    def _filter_and_remember(
        self,
        service: ServiceDefinition,
        caller: Caller,
        pid: str,
        response: dict[str, Any],
        order_ids: set[str],
        now: datetime,
    ) -> dict[str, Any]:
        key = PatientKey(caller.scope, pid, service.audience)
        cards: list[dict[str, Any]] = response["cards"]
        uuids = [c["uuid"] for c in cards]
        dropped: list[dict[str, str]] = []
        overridden = self.memory.suppressed(key, uuids, now) if self.policy.suppress_overridden_for else set()
        already: set[str] = set()
        if service.hook == "order-sign" and self.policy.select_sign_window:
            earlier = self.memory.shown(uuids, now - self.policy.select_sign_window, key=key, hook="order-select")
            already = {s.card for s in earlier if set(s.orders) & order_ids}
        kept = []
        for card in cards:
            if card["uuid"] in overridden:
                dropped.append({"uuid": card["uuid"], "reason": "overridden for this patient"})
            elif card["uuid"] in already:
                dropped.append({"uuid": card["uuid"], "reason": "shown at order-select for this draft order"})
            else:
                kept.append(card)
        shown = [
            ShownCard(
                key,
                card["uuid"],
                service.hook,
                tuple(m for m in card["extension"]["rxguard"]["medications"] if m in order_ids),
                now,
            )
            for card in kept
        ]
        self.memory.remember_shown(shown)
        if next(self._calls) % 1000 == 0:
            self.memory.forget_before(now - self.policy.retention)
        out: dict[str, Any] = {"cards": kept}
        if dropped:
            out["extension"] = {"rxguard": {"not_repeated": dropped}}
        return out

    def feedback(self, service_id: str, body: Any, caller: Caller) -> dict[str, Any]:
        service = self.definition(service_id)
        if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
            raise bad_request("feedback", "required: an array of feedback objects")
        now = self.clock()
        parsed = [self._parse_feedback(service, item, f"feedback[{i}]", now) for i, item in enumerate(body["feedback"])]
        suppressed = 0
        for record in parsed:
            shown = self.memory.shown([record.card], now - self.policy.feedback_window)
            keys = {s.key for s in shown if s.key.tenant == caller.scope and s.key.audience == service.audience}
            if not keys:
                self.memory.record_feedback(record)
                continue
            for key in sorted(keys, key=lambda k: k.patient):
                self.memory.record_feedback(_with_key(record, key))
                if record.outcome == "overridden" and self.policy.suppress_overridden_for:
                    base = min(record.outcome_at, now)
                    self.memory.suppress(key, record.card, base + self.policy.suppress_overridden_for)
                    suppressed += 1
        return {"recorded": len(parsed), "suppressed": suppressed}

    @staticmethod
    def _parse_feedback(service: ServiceDefinition, item: Any, where: str, now: datetime) -> FeedbackRecord:
        if not isinstance(item, dict):
            raise bad_request(where, "each feedback item must be an object")
        card = item.get("card")
        if not isinstance(card, str) or not card:
            raise bad_request(f"{where}.card", "required: the card's uuid")
        outcome = item.get("outcome")
        if outcome not in ("accepted", "overridden"):
            raise bad_request(f"{where}.outcome", f"must be 'accepted' or 'overridden' (value: {str(outcome)[:40]!r})")
        outcome_at = _parse_timestamp(item.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
        accepted: list[str] = []
        raw_accepted = item.get("acceptedSuggestions")
        if outcome == "accepted":
            if not isinstance(raw_accepted, list) or not raw_accepted:
                raise bad_request(f"{where}.acceptedSuggestions", "required when the outcome is 'accepted'")
            for j, sug in enumerate(raw_accepted):
                if not isinstance(sug, dict) or not isinstance(sug.get("id"), str) or not sug["id"]:
                    raise bad_request(f"{where}.acceptedSuggestions[{j}].id", "required: the suggestion's uuid")
                accepted.append(sug["id"])
        reason_system = reason_code = comment = None
        reason = item.get("overrideReason")
        if reason is not None:
            if not isinstance(reason, dict):
                raise bad_request(f"{where}.overrideReason", "must be an object with reason and/or userComment")
            coding = reason.get("reason")
            comment_value = reason.get("userComment")
            if coding is None and not comment_value:
                raise bad_request(f"{where}.overrideReason", "needs a reason (Coding) or a userComment")
            if coding is not None:
                if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
                    raise bad_request(f"{where}.overrideReason.reason.code", "required: the override reason code")
                reason_code = coding["code"]
                reason_system = coding.get("system") if isinstance(coding.get("system"), str) else None
            if comment_value is not None:
                if not isinstance(comment_value, str):
                    raise bad_request(f"{where}.overrideReason.userComment", "must be a string")
                comment = comment_value[:2000]
        return FeedbackRecord(
            service=service.id,
            card=card,
            outcome=outcome,
            outcome_at=outcome_at,
            received_at=now,
            reason_system=reason_system,
            reason_code=reason_code,
            comment=comment,
            accepted_suggestions=tuple(accepted),
        )


def _with_key(record: FeedbackRecord, key: PatientKey) -> FeedbackRecord:
    return FeedbackRecord(
        service=record.service,
        card=record.card,
        outcome=record.outcome,
        outcome_at=record.outcome_at,
        received_at=record.received_at,
        key=key,
        reason_system=record.reason_system,
        reason_code=record.reason_code,
        comment=record.comment,
        accepted_suggestions=record.accepted_suggestions,
    )
