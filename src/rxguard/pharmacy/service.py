"""The pharmacy's service layer: each use case is one transaction on the store, with its audit entries.

Submitting an order stores it, runs the controlled-substance validity rules, then (if they pass) screens it
and puts it in the pharmacist's queue, all in one transaction: after a crash the order is either there with
its cards and audit trail, or not there at all. A retried submission with the same idempotency key returns
the order already stored (a different order under the same key is refused). Every decision is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rxguard.domain.model import Alert
from rxguard.errors import NotFoundError
from rxguard.knowledge import schema as s
from rxguard.pharmacy import accounts, queue
from rxguard.pharmacy.audit import verify
from rxguard.pharmacy.catalog import Catalog, catalog
from rxguard.pharmacy.charts import Fill, Series, lab_series, mme_series
from rxguard.pharmacy.knowledge import policy
from rxguard.pharmacy.orders import (
    FieldProblem,
    Invalid,
    PrescriptionInput,
    blocks,
    check_transition,
    days_supply,
    fingerprint,
    refill_due_on,
    screening_request,
    total,
    validate_order,
    validate_prescription,
    validity_alerts,
)
from rxguard.pharmacy.ports import DuplicateKey, Store, UnitOfWork
from rxguard.pharmacy.records import (
    AuditRecord,
    CardRecord,
    InterventionRecord,
    NewAuditEvent,
    NewCard,
    NewOrder,
    NewPrescription,
    Order,
    OrderState,
    OverrideRecord,
    PatientProfile,
    PatientRecord,
    Prescription,
    Role,
    RuleSetting,
    SessionRecord,
    User,
)
from rxguard.pharmacy.site_rules import apply_settings, validate_setting
from rxguard.screen import Screener

SESSION_HOURS = 12
SYSTEM = "rxguard"
THIOPURINES = frozenset({"azathioprine", "mercaptopurine", "thioguanine"})


class Forbidden(Exception):  # noqa: N818 (reads as the HTTP status it becomes)
    pass


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in person, an EHR caller of the API, or rxguard itself."""

    id: int | None
    name: str
    role: str
    user: User | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.id, user.username, user.role.value, user)

    @classmethod
    def system(cls) -> Actor:
        return cls(None, SYSTEM, "system")

    @classmethod
    def api(cls, caller: str) -> Actor:
        return cls(None, caller, "api")


@dataclass
class OrderView:
    order: Order
    product: s.Product
    patient: PatientRecord
    prescription: Prescription | None
    cards: list[CardRecord]
    overrides: dict[int, OverrideRecord]
    interventions: list[InterventionRecord]
    audit: list[AuditRecord]
    refills: list[Order]
    refills_left: int | None

    @property
    def open_critical(self) -> list[CardRecord]:
        return [c for c in self.cards if c.indicator >= queue.CRITICAL and c.id not in self.overrides]


@dataclass
class PatientPage:
    patient: PatientRecord
    profile: PatientProfile
    orders: list[Order]
    prescriptions: list[Prescription]
    lab_charts: list[Series]
    mme_chart: Series | None
    thiopurine_patient: bool
    opioid_patient: bool
    products: dict[str, s.Product] = field(default_factory=dict)


def _alert_card(stage: str, alert: Alert, note: str | None = None) -> NewCard:
    return NewCard(
        stage=stage,
        code=alert.code,
        indicator=int(alert.indicator),
        summary=alert.summary,
        detail=alert.detail,
        action=alert.action,
        rule_id=alert.rule_id,
        rule_version=alert.rule_version,
        severity=alert.severity,
        sources=tuple(src.as_dict() for src in alert.sources),
        facts=alert.facts,
        site_note=note,
    )


class PharmacyService:
    def __init__(
        self,
        store: Store,
        screener: Screener,
        clock: Callable[[], datetime] | None = None,
        fault: Callable[[str], None] | None = None,
    ) -> None:
        """`fault` is for crash tests only: called at "before-commit" and "after-commit" of an order submission."""
        self.fault = fault
        self.store = store
        self.screener = screener
        self.kb = screener.kb
        self.catalog: Catalog = catalog(self.kb)
        self.policy = policy(self.kb)
        self.clock = clock or (lambda: datetime.now(UTC))

    # --- helpers ---------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: object,
        reason: str | None = None,
        **details: Any,
    ) -> AuditRecord:
        return uow.append_audit(
            NewAuditEvent(self.now(), actor.id, actor.name, actor.role, action, entity, str(entity_id), reason, details)
        )

    @staticmethod
    def _require_staff(actor: Actor) -> None:
        if actor.role not in (Role.PHARMACIST.value, Role.ADMIN.value, "system"):
            raise Forbidden("pharmacy staff only")

    @staticmethod
    def _require_admin(actor: Actor) -> None:
        if actor.role not in (Role.ADMIN.value, "system"):
            raise Forbidden("administrators only")

    @staticmethod
    def _may_see_patient(actor: Actor, patient_id: int) -> bool:
        if actor.role in ("system", "api"):
            return True
        return actor.user is not None and accounts.can_see_patient(actor.user, patient_id)

    # --- people and sessions -------------------------------------------------------------------------------

    def create_user(
        self,
        actor: Actor,
        username: str,
        password: str,
        role: Role,
        display_name: str,
        patient_id: int | None = None,
    ) -> User:
        self._require_admin(actor)
        name = username.strip().lower()
        if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise Invalid([FieldProblem("username", "letters, digits, '.', '-' or '_' (at most 100)")])
        try:
            hashed = accounts.hash_password(password)
        except ValueError as exc:
            raise Invalid([FieldProblem("password", str(exc))]) from None
        if role is Role.PATIENT and patient_id is None:
            raise Invalid([FieldProblem("patient_id", "a patient account needs its patient record")])
        with self.store.unit() as uow:
            if uow.user_by_name(name) is not None:
                raise Invalid([FieldProblem("username", f"{name!r} is taken")])
            user = uow.add_user(name, hashed, role, display_name.strip() or name, patient_id)
            self._audit(uow, actor, "user.created", "user", user.id, None, username=name, role=role.value)
        return user

    def login(self, username: str, password: str) -> tuple[User, str, str] | None:
        """(user, session token, CSRF token) for the right password; None otherwise (audited either way)."""
        name = username.strip().lower()
        with self.store.unit() as uow:
            user = uow.user_by_name(name)
            ok = accounts.verify_password(user.password_hash if user else None, password)
            if user is None or not ok or not user.active:
                self._audit(
                    uow, Actor(None, name[:100] or "(blank)", "anonymous"), "session.login-failed", "user", name[:80]
                )
                return None
            token, csrf = accounts.new_token(), accounts.new_token()
            now = self.now()
            uow.add_session(
                SessionRecord(accounts.token_hash(token), user.id, csrf, now, now + timedelta(hours=SESSION_HOURS))
            )
            uow.delete_sessions_before(now)
            self._audit(uow, Actor.of(user), "session.login", "user", user.id)
        return user, token, csrf

    def session(self, token: str | None) -> tuple[User, str] | None:
        """The signed-in user and the session's CSRF token, or None (unknown or expired)."""
        if not token:
            return None
        with self.store.unit() as uow:
            record = uow.session(accounts.token_hash(token))
            if record is None:
                return None
            if record.expires_at <= self.now():
                uow.delete_session(record.token_hash)
                return None
            user = uow.user(record.user_id)
            if user is None or not user.active:
                return None
            return user, record.csrf_token

    def logout(self, token: str | None) -> None:
        if not token:
            return
        with self.store.unit() as uow:
            record = uow.session(accounts.token_hash(token))
            if record is not None:
                uow.delete_session(record.token_hash)
                user = uow.user(record.user_id)
                if user is not None:
                    self._audit(uow, Actor.of(user), "session.logout", "user", user.id)

    def users(self, actor: Actor) -> list[User]:
        self._require_admin(actor)
        with self.store.unit() as uow:
            return uow.users()

    # --- patients and prescriptions --------------------------------------------------------------------------

    def patients(self, actor: Actor) -> list[PatientRecord]:
        self._require_staff(actor)
        with self.store.unit() as uow:
            return uow.patients()

    def prescriptions(self, actor: Actor, patient_id: int) -> list[Prescription]:
        if not self._may_see_patient(actor, patient_id):
            raise NotFoundError(f"patient: no patient {patient_id}")
        with self.store.unit() as uow:
            return uow.prescriptions_for(patient_id)

    def _product(self, product_id: str) -> s.Product:
        product = self.catalog.product(product_id)
        if product is None:
            raise Invalid([FieldProblem("product_id", f"not a product of the catalog (value: {product_id!r})")])
        return product

    def enter_prescription(
        self,
        actor: Actor,
        patient_id: int,
        product_id: str,
        form: PrescriptionInput,
        *,
        fhir: tuple[str, str] | None = None,
    ) -> Prescription:
        """A prescription entered by the pharmacy, or (`fhir`: id and JSON) received from an EHR through the API."""
        if fhir is None:
            self._require_staff(actor)
        product = self._product(product_id)
        valid = validate_prescription(product, form, self.now().date())
        with self.store.unit() as uow:
            if uow.patient(patient_id) is None:
                raise Invalid([FieldProblem("patient_id", f"no patient {patient_id}")])
            prescription = uow.add_prescription(
                NewPrescription(
                    patient_id=patient_id,
                    product_id=product.id,
                    prescriber_name=valid.prescriber_name,
                    prescriber_family_name=valid.prescriber_family_name,
                    prescriber_npi=valid.prescriber_npi,
                    prescriber_dea=valid.prescriber_dea,
                    written_on=valid.written_on,
                    directions=valid.directions,
                    dose_units=valid.dose_units,
                    doses_per_day=valid.doses_per_day,
                    as_needed=valid.as_needed,
                    quantity=valid.quantity,
                    refills=valid.refills,
                    source="fhir" if fhir else "pharmacy",
                    entered_by=actor.id,
                    created_at=self.now(),
                    fhir_id=fhir[0] if fhir else None,
                    fhir_json=fhir[1] if fhir else None,
                )
            )
            self._audit(
                uow,
                actor,
                "prescription.received" if fhir else "prescription.entered",
                "prescription",
                prescription.id,
                None,
                patient_id=patient_id,
                product_id=product.id,
                prescriber_npi=valid.prescriber_npi,
                prescriber_dea=valid.prescriber_dea,
                quantity=valid.quantity,
                refills=valid.refills,
                fhir_id=fhir[0] if fhir else None,
            )
        return prescription

    # --- orders ----------------------------------------------------------------------------------------------

    def submit_order(
        self,
        actor: Actor,
        patient_id: int,
        product_id: str,
        quantity: str,
        prescription_id: int | None,
        idempotency_key: str,
        refill_of: int | None = None,
    ) -> tuple[Order, bool]:
        """(the order, True if this call created it). Idempotent on (patient, idempotency key)."""
        if not self._may_see_patient(actor, patient_id):
            raise Forbidden("a patient orders only for themselves")
        product = self.catalog.product(product_id)
        key = (idempotency_key or "").strip()
        with self.store.unit() as uow:
            existing = uow.order_by_key(patient_id, key) if key else None
            prescription = uow.prescription(prescription_id) if prescription_id is not None else None
            try:
                qty_for_print = int(quantity)
            except ValueError:
                qty_for_print = -1
            print_ = fingerprint(patient_id, product_id, qty_for_print, prescription_id, refill_of)
            if existing is not None:
                if existing.fingerprint != print_:
                    raise Invalid([FieldProblem("idempotency_key", "already used for a different order")])
                return existing, False
            used = 0
            if refill_of is not None:
                earlier = uow.order(refill_of)
                if earlier is None or earlier.patient_id != patient_id or earlier.state is not OrderState.REFILL_DUE:
                    raise Invalid([FieldProblem("refill_of", "not an order of this patient that is due a refill")])
                used = 1
                cursor = earlier
                while cursor.refill_of is not None and (parent := uow.order(cursor.refill_of)) is not None:
                    used += 1
                    cursor = parent
            offer = self.catalog.offer(product) if product is not None else None
            has_price = offer is not None and offer.unit_price is not None
            qty = validate_order(product, quantity, prescription, key, patient_id, has_price, used)
            assert product is not None and offer is not None and offer.unit_price is not None  # noqa: S101
            now = self.now()
            new = NewOrder(
                patient_id=patient_id,
                product_id=product.id,
                quantity=qty,
                unit_price=offer.unit_price,
                currency=offer.currency or "USD",
                price_status=offer.price_status or "demo",
                total=total(offer.unit_price, qty),
                idempotency_key=key,
                fingerprint=print_,
                submitted_by=actor.id,
                prescription_id=prescription.id if prescription else None,
                refill_of=refill_of,
                days_supply=days_supply(prescription, qty),
                created_at=now,
            )
            try:
                order = uow.add_order(new)
            except DuplicateKey:
                raced = uow.order_by_key(patient_id, key)
                if raced is None or raced.fingerprint != print_:
                    raise Invalid([FieldProblem("idempotency_key", "already used for a different order")]) from None
                return raced, False
            self._audit(
                uow,
                actor,
                "order.submitted",
                "order",
                order.id,
                None,
                patient_id=patient_id,
                product_id=product.id,
                quantity=qty,
                total=str(order.total),
                currency=order.currency,
                price_status=order.price_status,
                prescription_id=new.prescription_id,
                refill_of=refill_of,
                idempotency_key=key,
            )
            order = self._screen(uow, order, product, prescription)
            if self.fault is not None:
                self.fault("before-commit")
        if self.fault is not None:
            self.fault("after-commit")
        return order, True

    def _screen(self, uow: UnitOfWork, order: Order, product: s.Product, prescription: Prescription | None) -> Order:
        profile = uow.profile(order.patient_id)
        assert profile is not None  # noqa: S101 (the patient exists: the order references it)
        history = []
        for earlier in uow.orders_for_patient(order.patient_id):
            if earlier.id == order.id or earlier.dispensed_at is None:
                continue
            earlier_product = self.kb.products.get(earlier.product_id)
            if earlier_product is not None:
                rx = uow.prescription(earlier.prescription_id) if earlier.prescription_id else None
                history.append((earlier, earlier_product, rx))
        today = self.now().date()
        request = screening_request(f"order-{order.id}", product, prescription, order.quantity, profile, history, today)
        system = Actor.system()
        validity = validity_alerts(self.screener, request)
        if blocks(validity):
            uow.add_cards(order.id, [_alert_card("validity", a) for a in validity])
            reason = "prescription invalid: " + "; ".join(a.summary for a in validity if a.code == "PP")
            order = uow.update_order(
                order.id,
                state=OrderState.REJECTED,
                rejection_reason=reason,
                updated_at=self.now(),
                kb_version=self.kb.version,
            )
            self._audit(
                uow,
                system,
                "order.rejected",
                "order",
                order.id,
                reason,
                stage="validity",
                rules=[a.rule_id for a in validity],
            )
            return order
        result = self.screener.screen(request)
        settings = {r.rule_id: r for r in uow.rule_settings()}
        kept, dropped = apply_settings(self.kb, result.alerts, settings)
        uow.add_cards(order.id, [_alert_card("screening", a.alert, a.note) for a in kept])
        check_transition(order.state, OrderState.SCREENED)
        order = uow.update_order(order.id, state=OrderState.SCREENED, updated_at=self.now(), kb_version=self.kb.version)
        counts = {
            name: sum(1 for a in kept if a.alert.indicator.label == name) for name in ("critical", "warning", "info")
        }
        self._audit(
            uow,
            system,
            "order.screened",
            "order",
            order.id,
            None,
            kb_version=self.kb.version,
            cards=counts,
            switched_off_by_site=[a.rule_id for a in dropped],
        )
        check_transition(order.state, OrderState.AWAITING_PHARMACIST)
        order = uow.update_order(order.id, state=OrderState.AWAITING_PHARMACIST, updated_at=self.now())
        self._audit(uow, system, "order.queued", "order", order.id)
        return order

    def order_view(self, actor: Actor, order_id: int) -> OrderView:
        """The order with everything about it; NotFoundError when it does not exist or is not the actor's to see."""
        with self.store.unit() as uow:
            order = uow.order(order_id)
            if order is None or not self._may_see_patient(actor, order.patient_id):
                raise NotFoundError(f"order: no order {order_id}")
            patient = uow.patient(order.patient_id)
            assert patient is not None  # noqa: S101
            prescription = uow.prescription(order.prescription_id) if order.prescription_id else None
            refills = uow.refills_of(order.id)
            left = None
            if prescription is not None:
                used = 0
                cursor = order
                while cursor.refill_of is not None and (parent := uow.order(cursor.refill_of)) is not None:
                    used += 1
                    cursor = parent
                left = max(prescription.refills - used, 0)
            return OrderView(
                order=order,
                product=self.kb.products[order.product_id],
                patient=patient,
                prescription=prescription,
                cards=uow.cards(order.id),
                overrides={o.card_id: o for o in uow.overrides(order.id)},
                interventions=uow.interventions(order.id),
                audit=uow.audit(500, "order", str(order.id)),
                refills=refills,
                refills_left=left,
            )

    def orders_for(self, actor: Actor, patient_id: int) -> list[Order]:
        if not self._may_see_patient(actor, patient_id):
            raise NotFoundError(f"patient: no patient {patient_id}")
        with self.store.unit() as uow:
            return uow.orders_for_patient(patient_id)

    def queue(self, actor: Actor) -> list[queue.QueueItem]:
        self._require_staff(actor)
        with self.store.unit() as uow:
            items = [
                queue.QueueItem(o, tuple(uow.cards(o.id)), frozenset(x.card_id for x in uow.overrides(o.id)))
                for o in uow.orders_in([OrderState.AWAITING_PHARMACIST])
            ]
        return queue.order_queue(items)

    def orders_in(self, actor: Actor, states: Sequence[OrderState]) -> list[Order]:
        self._require_staff(actor)
        with self.store.unit() as uow:
            return uow.orders_in(states)

    def _awaiting(self, uow: UnitOfWork, order_id: int) -> Order:
        order = uow.order(order_id)
        if order is None:
            raise NotFoundError(f"order: no order {order_id}")
        if order.state is not OrderState.AWAITING_PHARMACIST:
            raise Invalid([FieldProblem("order", f"the order is {order.state.label}, not awaiting a pharmacist")])
        return order

    def override_card(
        self, actor: Actor, order_id: int, card_id: int, reason_code: str | None, comment: str | None
    ) -> None:
        self._require_staff(actor)
        with self.store.unit() as uow:
            self._awaiting(uow, order_id)
            card = next((c for c in uow.cards(order_id) if c.id == card_id), None)
            if card is None:
                raise NotFoundError(f"card: no card {card_id} on order {order_id}")
            if any(o.card_id == card_id for o in uow.overrides(order_id)):
                raise Invalid([FieldProblem("card_id", "this card is already overridden")])
            reason, text = queue.override_reason(card, self.policy.override_reasons, reason_code, comment)
            uow.add_override(
                OverrideRecord(
                    card_id,
                    order_id,
                    reason.system if reason else None,
                    reason.code if reason else None,
                    reason.display if reason else None,
                    text,
                    actor.id or 0,
                    self.now(),
                )
            )
            why = " - ".join(x for x in ((reason.display if reason else None), text) if x) or None
            self._audit(
                uow,
                actor,
                "card.overridden",
                "order",
                order_id,
                why,
                card_id=card_id,
                card=card.summary,
                code=card.code,
                indicator=card.indicator_label,
                rule_id=card.rule_id,
                reason_code=reason.code if reason else None,
                reason_system=reason.system if reason else None,
            )

    def approve(self, actor: Actor, order_id: int, note: str | None = None) -> Order:
        self._require_staff(actor)
        with self.store.unit() as uow:
            order = self._awaiting(uow, order_id)
            queue.can_approve(uow.cards(order_id), {o.card_id: o for o in uow.overrides(order_id)})
            check_transition(order.state, OrderState.APPROVED)
            order = uow.update_order(order_id, state=OrderState.APPROVED, updated_at=self.now())
            self._audit(uow, actor, "order.approved", "order", order_id, (note or "").strip() or None)
        return order

    def reject(self, actor: Actor, order_id: int, reason: str | None) -> Order:
        self._require_staff(actor)
        text = queue.rejection_reason(reason)
        with self.store.unit() as uow:
            order = self._awaiting(uow, order_id)
            check_transition(order.state, OrderState.REJECTED)
            order = uow.update_order(order_id, state=OrderState.REJECTED, rejection_reason=text, updated_at=self.now())
            self._audit(uow, actor, "order.rejected", "order", order_id, text)
        return order

    def record_intervention(
        self, actor: Actor, order_id: int, code: str, outcome_code: str, note: str | None
    ) -> InterventionRecord:
        self._require_staff(actor)
        interventions = {c.code: c for c in self.policy.interventions}
        outcomes = {c.code: c for c in self.policy.outcomes}
        problems = []
        if code not in interventions:
            problems.append(FieldProblem("intervention_code", f"unknown intervention code {code!r}"))
        if outcome_code not in outcomes:
            problems.append(FieldProblem("outcome_code", f"unknown outcome code {outcome_code!r}"))
        if problems:
            raise Invalid(problems)
        with self.store.unit() as uow:
            if uow.order(order_id) is None:
                raise NotFoundError(f"order: no order {order_id}")
            text = (note or "").strip() or None
            record = uow.add_intervention(
                order_id,
                code,
                interventions[code].display,
                outcome_code,
                outcomes[outcome_code].display,
                text,
                actor.id or 0,
                self.now(),
            )
            self._audit(
                uow,
                actor,
                "intervention.recorded",
                "order",
                order_id,
                text,
                intervention=code,
                intervention_display=interventions[code].display,
                outcome=outcome_code,
                outcome_display=outcomes[outcome_code].display,
            )
        return record

    def dispense(self, actor: Actor, order_id: int) -> Order:
        self._require_staff(actor)
        with self.store.unit() as uow:
            order = uow.order(order_id)
            if order is None:
                raise NotFoundError(f"order: no order {order_id}")
            check_transition(order.state, OrderState.DISPENSED)
            now = self.now()
            due = None
            prescription = uow.prescription(order.prescription_id) if order.prescription_id else None
            if prescription is not None and prescription.refills > 0:
                due = refill_due_on(now, order.days_supply)
            order = uow.update_order(
                order_id, state=OrderState.DISPENSED, dispensed_at=now, refill_due_on=due, updated_at=now
            )
            self._audit(
                uow, actor, "order.dispensed", "order", order_id, None, refill_due_on=due.isoformat() if due else None
            )
        return order

    def mark_refills_due(self, today: date | None = None) -> list[Order]:
        """Dispensed orders whose supply has run to its refill date, with refills left: refill due (audited)."""
        day = today or self.now().date()
        changed = []
        with self.store.unit() as uow:
            for order in uow.orders_in([OrderState.DISPENSED]):
                if order.refill_due_on is None or order.refill_due_on > day:
                    continue
                due = uow.update_order(order.id, state=OrderState.REFILL_DUE, updated_at=self.now())
                self._audit(uow, Actor.system(), "order.refill-due", "order", due.id, None, due=str(due.refill_due_on))
                changed.append(due)
        return changed

    def request_refill(self, actor: Actor, order_id: int, idempotency_key: str) -> tuple[Order, bool]:
        with self.store.unit() as uow:
            order = uow.order(order_id)
        if order is None or not self._may_see_patient(actor, order.patient_id):
            raise NotFoundError(f"order: no order {order_id}")
        return self.submit_order(
            actor,
            order.patient_id,
            order.product_id,
            str(order.quantity),
            order.prescription_id,
            idempotency_key,
            order.id,
        )

    # --- site rules and the audit log ------------------------------------------------------------------------

    def rule_settings(self, actor: Actor) -> list[RuleSetting]:
        self._require_admin(actor)
        with self.store.unit() as uow:
            return uow.rule_settings()

    def set_rule(self, actor: Actor, rule_id: str, enabled: bool, indicator: int | None) -> RuleSetting:
        self._require_admin(actor)
        setting = RuleSetting(rule_id.strip(), enabled, indicator, actor.id, self.now())
        try:
            validate_setting(self.kb, setting)
        except KeyError:
            raise Invalid([FieldProblem("rule_id", f"no rule {rule_id!r} in the knowledge base")]) from None
        with self.store.unit() as uow:
            before = next((r for r in uow.rule_settings() if r.rule_id == setting.rule_id), None)
            uow.set_rule_setting(setting)
            self._audit(
                uow,
                actor,
                "rule.setting-changed",
                "rule",
                setting.rule_id,
                None,
                before={"enabled": before.enabled, "indicator": before.indicator} if before else None,
                after={"enabled": setting.enabled, "indicator": setting.indicator},
            )
        return setting

    def audit_log(self, actor: Actor, limit: int = 200) -> list[AuditRecord]:
        self._require_staff(actor)
        with self.store.unit() as uow:
            return uow.audit(limit)

    def verify_audit(self) -> str | None:
        with self.store.unit() as uow:
            return verify(uow.audit_all())

    # --- the patient page --------------------------------------------------------------------------------------

    def patient_page(self, actor: Actor, patient_id: int) -> PatientPage:
        if not self._may_see_patient(actor, patient_id):
            raise NotFoundError(f"patient: no patient {patient_id}")
        with self.store.unit() as uow:
            profile = uow.profile(patient_id)
            if profile is None:
                raise NotFoundError(f"patient: no patient {patient_id}")
            orders = uow.orders_for_patient(patient_id)
            prescriptions = uow.prescriptions_for(patient_id)
        resolver = self.screener.resolver
        from rxguard.domain.model import Concept

        ingredients: set[str] = set()
        for med in profile.medications:
            if med.active:
                ingredients.update(resolver.resolve(Concept((), med.text)).ingredient_ids())
        for order in orders:
            product = self.kb.products.get(order.product_id)
            if product is not None and order.state is not OrderState.REJECTED:
                ingredients.update(pi.ingredient for pi in product.ingredients)
        thiopurine = bool(THIOPURINES & ingredients)
        opioid = any(self.kb.in_class(i, "opioid") for i in ingredients)
        labs = (
            lab_series(self.kb, [(x.loinc, x.value, x.unit, x.taken_on) for x in profile.labs]) if profile.labs else []
        )
        fills = [
            Fill(o.dispensed_at.date(), o.days_supply, float(o.quantity), self.kb.products[o.product_id])
            for o in orders
            if o.dispensed_at is not None and o.days_supply and o.product_id in self.kb.products
        ]
        mme = mme_series(self.kb, fills, self.now().date()) if fills else None
        products = {o.product_id: self.kb.products[o.product_id] for o in orders if o.product_id in self.kb.products}
        products.update(
            {p.product_id: self.kb.products[p.product_id] for p in prescriptions if p.product_id in self.kb.products}
        )
        return PatientPage(profile.patient, profile, orders, prescriptions, labs, mme, thiopurine, opioid, products)
