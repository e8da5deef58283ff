"""The pharmacy's repository on SQLAlchemy: one unit of work per transaction (`rxguard.pharmacy.ports.Store`).

Rows become the plain records of `rxguard.pharmacy.records` on the way out, so nothing outside this module
holds a live ORM object. The audit log is written only by `append_audit`, which takes the chain's head row
first (serialising writers on both databases) and inserts; the database refuses any UPDATE or DELETE of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rxguard.adapters.store import models as m
from rxguard.pharmacy.audit import entry_hash
from rxguard.pharmacy.ports import DuplicateKey
from rxguard.pharmacy.records import (
    AuditRecord,
    CardRecord,
    ConditionRecord,
    InterventionRecord,
    LabRecord,
    MedicationRecord,
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


def utc(moment: datetime) -> datetime:
    """Aware UTC whatever the driver returns (SQLite gives naive UTC, PostgreSQL aware)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _opt_utc(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


def millis(moment: datetime) -> datetime:
    """Audit times are kept to the millisecond so the hash is the same whatever the database stores."""
    moment = utc(moment)
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000)


def _user(row: m.UserRow) -> User:
    return User(row.id, row.username, Role(row.role), row.display_name, row.patient_id, row.password_hash, row.active)


def _patient(row: m.PatientRow) -> PatientRecord:
    return PatientRecord(row.id, row.display_name, row.birth_date, row.sex)


def _prescription(row: m.PrescriptionRow) -> Prescription:
    return Prescription(
        id=row.id,
        patient_id=row.patient_id,
        product_id=row.product_id,
        prescriber_name=row.prescriber_name,
        prescriber_family_name=row.prescriber_family_name,
        prescriber_npi=row.prescriber_npi,
        prescriber_dea=row.prescriber_dea,
        written_on=row.written_on,
        directions=row.directions,
        dose_units=row.dose_units,
        doses_per_day=row.doses_per_day,
        as_needed=row.as_needed,
        quantity=row.quantity,
        refills=row.refills,
        source=row.source,
        entered_by=row.entered_by,
        created_at=utc(row.created_at),
        fhir_id=row.fhir_id,
    )


def _order(row: m.OrderRow) -> Order:
    return Order(
        id=row.id,
        patient_id=row.patient_id,
        product_id=row.product_id,
        quantity=row.quantity,
        unit_price=Decimal(row.unit_price),
        currency=row.currency,
        price_status=row.price_status,
        total=Decimal(row.total).quantize(Decimal("0.01")),
        state=OrderState(row.state),
        idempotency_key=row.idempotency_key,
        fingerprint=row.fingerprint,
        submitted_by=row.submitted_by,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        prescription_id=row.prescription_id,
        refill_of=row.refill_of,
        kb_version=row.kb_version,
        rejection_reason=row.rejection_reason,
        dispensed_at=_opt_utc(row.dispensed_at),
        days_supply=row.days_supply,
        refill_due_on=row.refill_due_on,
    )


def _card(row: m.CardRow) -> CardRecord:
    return CardRecord(
        id=row.id,
        order_id=row.order_id,
        position=row.position,
        stage=row.stage,
        code=row.code,
        indicator=row.indicator,
        summary=row.summary,
        detail=row.detail,
        action=row.action,
        rule_id=row.rule_id,
        rule_version=row.rule_version,
        severity=row.severity,
        sources=tuple(json.loads(row.sources_json)),
        facts=json.loads(row.facts_json),
        site_note=row.site_note,
    )


def _audit(row: m.AuditRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=utc(row.at),
        actor_id=row.actor_id,
        actor=row.actor,
        role=row.role,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        reason=row.reason,
        details=json.loads(row.details_json),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlUnitOfWork:
    """One transaction's worth of repository operations on a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # --- people and sessions --------------------------------------------------------------------------------

    def add_user(
        self, username: str, password_hash: str, role: Role, display_name: str, patient_id: int | None
    ) -> User:
        row = m.UserRow(
            username=username,
            password_hash=password_hash,
            role=role.value,
            display_name=display_name,
            patient_id=patient_id,
            active=True,
            created_at=datetime.now(UTC),
        )
        self.s.add(row)
        self.s.flush()
        return _user(row)

    def user_by_name(self, username: str) -> User | None:
        row = self.s.scalar(select(m.UserRow).where(m.UserRow.username == username))
        return _user(row) if row else None

    def user(self, user_id: int) -> User | None:
        row = self.s.get(m.UserRow, user_id)
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(r) for r in self.s.scalars(select(m.UserRow).order_by(m.UserRow.id))]

    def add_session(self, record: SessionRecord) -> None:
        self.s.add(
            m.SessionRow(
                token_hash=record.token_hash,
                user_id=record.user_id,
                csrf_token=record.csrf_token,
                created_at=record.created_at,
                expires_at=record.expires_at,
            )
        )

    def session(self, token_hash: str) -> SessionRecord | None:
        row = self.s.get(m.SessionRow, token_hash)
        if row is None:
            return None
        return SessionRecord(row.token_hash, row.user_id, row.csrf_token, utc(row.created_at), utc(row.expires_at))

    def delete_session(self, token_hash: str) -> None:
        self.s.execute(delete(m.SessionRow).where(m.SessionRow.token_hash == token_hash))

    def delete_sessions_before(self, moment: datetime) -> None:
        self.s.execute(delete(m.SessionRow).where(m.SessionRow.expires_at < moment))

    # --- patients -------------------------------------------------------------------------------------------

    def add_patient(self, display_name: str, birth_date: object, sex: str | None) -> PatientRecord:
        born = birth_date if isinstance(birth_date, date) else None
        row = m.PatientRow(display_name=display_name, birth_date=born, sex=sex, created_at=datetime.now(UTC))
        self.s.add(row)
        self.s.flush()
        return _patient(row)

    def patient(self, patient_id: int) -> PatientRecord | None:
        row = self.s.get(m.PatientRow, patient_id)
        return _patient(row) if row else None

    def patients(self) -> list[PatientRecord]:
        return [_patient(r) for r in self.s.scalars(select(m.PatientRow).order_by(m.PatientRow.display_name))]

    def profile(self, patient_id: int) -> PatientProfile | None:
        patient = self.patient(patient_id)
        if patient is None:
            return None
        conditions = tuple(
            ConditionRecord(r.text, r.snomed)
            for r in self.s.scalars(select(m.ConditionRow).where(m.ConditionRow.patient_id == patient_id))
        )
        allergies = tuple(
            r.text for r in self.s.scalars(select(m.AllergyRow).where(m.AllergyRow.patient_id == patient_id))
        )
        labs = tuple(
            LabRecord(r.loinc, r.name, r.value, r.unit, r.taken_on)
            for r in self.s.scalars(
                select(m.LabRow).where(m.LabRow.patient_id == patient_id).order_by(m.LabRow.taken_on, m.LabRow.id)
            )
        )
        meds = tuple(
            MedicationRecord(r.text, r.dose_value, r.dose_unit, r.doses_per_day, r.started_on, r.rxnorm, r.active)
            for r in self.s.scalars(select(m.MedicationRow).where(m.MedicationRow.patient_id == patient_id))
        )
        return PatientProfile(patient, conditions, allergies, labs, meds)

    def add_condition(self, patient_id: int, condition: ConditionRecord) -> None:
        self.s.add(m.ConditionRow(patient_id=patient_id, text=condition.text, snomed=condition.snomed))

    def add_allergy(self, patient_id: int, text: str) -> None:
        self.s.add(m.AllergyRow(patient_id=patient_id, text=text))

    def add_lab(self, patient_id: int, lab: LabRecord) -> None:
        self.s.add(
            m.LabRow(
                patient_id=patient_id,
                loinc=lab.loinc,
                name=lab.name,
                value=lab.value,
                unit=lab.unit,
                taken_on=lab.taken_on,
            )
        )

    def add_medication(self, patient_id: int, medication: MedicationRecord) -> None:
        self.s.add(
            m.MedicationRow(
                patient_id=patient_id,
                text=medication.text,
                rxnorm=medication.rxnorm,
                dose_value=medication.dose_value,
                dose_unit=medication.dose_unit,
                doses_per_day=medication.doses_per_day,
                started_on=medication.started_on,
                active=medication.active,
            )
        )

    # --- prescriptions and orders ---------------------------------------------------------------------------

    def add_prescription(self, new: NewPrescription) -> Prescription:
        row = m.PrescriptionRow(**{k: getattr(new, k) for k in new.__dataclass_fields__})
        self.s.add(row)
        self.s.flush()
        return _prescription(row)

    def prescription(self, prescription_id: int) -> Prescription | None:
        row = self.s.get(m.PrescriptionRow, prescription_id)
        return _prescription(row) if row else None

    def prescriptions_for(self, patient_id: int) -> list[Prescription]:
        rows = self.s.scalars(
            select(m.PrescriptionRow)
            .where(m.PrescriptionRow.patient_id == patient_id)
            .order_by(m.PrescriptionRow.written_on.desc(), m.PrescriptionRow.id.desc())
        )
        return [_prescription(r) for r in rows]

    def add_order(self, new: NewOrder) -> Order:
        row = m.OrderRow(
            patient_id=new.patient_id,
            prescription_id=new.prescription_id,
            refill_of=new.refill_of,
            product_id=new.product_id,
            quantity=new.quantity,
            unit_price=new.unit_price,
            currency=new.currency,
            price_status=new.price_status,
            total=new.total,
            state=OrderState.SUBMITTED.value,
            idempotency_key=new.idempotency_key,
            fingerprint=new.fingerprint,
            submitted_by=new.submitted_by,
            days_supply=new.days_supply,
            created_at=new.created_at,
            updated_at=new.created_at,
        )
        try:
            with self.s.begin_nested():
                self.s.add(row)
                self.s.flush()
        except IntegrityError as exc:
            existing = self.order_by_key(new.patient_id, new.idempotency_key)
            if existing is not None:
                raise DuplicateKey(new.idempotency_key) from exc
            raise
        return _order(row)

    def order(self, order_id: int) -> Order | None:
        row = self.s.get(m.OrderRow, order_id)
        return _order(row) if row else None

    def order_by_key(self, patient_id: int, idempotency_key: str) -> Order | None:
        row = self.s.scalar(
            select(m.OrderRow).where(m.OrderRow.patient_id == patient_id, m.OrderRow.idempotency_key == idempotency_key)
        )
        return _order(row) if row else None

    def orders_for_patient(self, patient_id: int) -> list[Order]:
        rows = self.s.scalars(
            select(m.OrderRow).where(m.OrderRow.patient_id == patient_id).order_by(m.OrderRow.id.desc())
        )
        return [_order(r) for r in rows]

    def orders_in(self, states: Sequence[OrderState]) -> list[Order]:
        rows = self.s.scalars(
            select(m.OrderRow).where(m.OrderRow.state.in_([s.value for s in states])).order_by(m.OrderRow.id)
        )
        return [_order(r) for r in rows]

    def update_order(self, order_id: int, **changes: object) -> Order:
        values: dict[str, Any] = {k: (v.value if isinstance(v, OrderState) else v) for k, v in changes.items()}
        self.s.execute(update(m.OrderRow).where(m.OrderRow.id == order_id).values(**values))
        row = self.s.get(m.OrderRow, order_id, populate_existing=True)
        if row is None:
            raise KeyError(order_id)
        return _order(row)

    def refills_of(self, order_id: int) -> list[Order]:
        rows = self.s.scalars(select(m.OrderRow).where(m.OrderRow.refill_of == order_id).order_by(m.OrderRow.id))
        return [_order(r) for r in rows]

    # --- cards and decisions ------------------------------------------------------------------------------------

    def add_cards(self, order_id: int, cards: Sequence[NewCard]) -> list[CardRecord]:
        existing = len(self.cards(order_id))
        rows = [
            m.CardRow(
                order_id=order_id,
                position=existing + i,
                stage=c.stage,
                code=c.code,
                indicator=c.indicator,
                summary=c.summary,
                detail=c.detail,
                action=c.action,
                rule_id=c.rule_id,
                rule_version=c.rule_version,
                severity=c.severity,
                sources_json=json.dumps(list(c.sources), default=str),
                facts_json=json.dumps(c.facts, default=str),
                site_note=c.site_note,
            )
            for i, c in enumerate(cards)
        ]
        self.s.add_all(rows)
        self.s.flush()
        return [_card(r) for r in rows]

    def cards(self, order_id: int) -> list[CardRecord]:
        rows = self.s.scalars(select(m.CardRow).where(m.CardRow.order_id == order_id).order_by(m.CardRow.position))
        return [_card(r) for r in rows]

    def add_override(self, record: OverrideRecord) -> None:
        self.s.add(
            m.OverrideRow(
                card_id=record.card_id,
                order_id=record.order_id,
                reason_system=record.reason_system,
                reason_code=record.reason_code,
                reason_display=record.reason_display,
                comment=record.comment,
                pharmacist_id=record.pharmacist_id,
                at=record.at,
            )
        )
        self.s.flush()

    def overrides(self, order_id: int) -> list[OverrideRecord]:
        rows = self.s.scalars(select(m.OverrideRow).where(m.OverrideRow.order_id == order_id))
        return [
            OverrideRecord(
                r.card_id,
                r.order_id,
                r.reason_system,
                r.reason_code,
                r.reason_display,
                r.comment,
                r.pharmacist_id,
                utc(r.at),
            )
            for r in rows
        ]

    def add_intervention(
        self,
        order_id: int,
        code: str,
        display: str,
        outcome_code: str,
        outcome_display: str,
        note: str | None,
        pharmacist_id: int,
        at: datetime,
    ) -> InterventionRecord:
        row = m.InterventionRow(
            order_id=order_id,
            code=code,
            display=display,
            outcome_code=outcome_code,
            outcome_display=outcome_display,
            note=note,
            pharmacist_id=pharmacist_id,
            at=at,
        )
        self.s.add(row)
        self.s.flush()
        return InterventionRecord(
            row.id, order_id, code, display, outcome_code, outcome_display, note, pharmacist_id, at
        )

    def interventions(self, order_id: int) -> list[InterventionRecord]:
        rows = self.s.scalars(
            select(m.InterventionRow).where(m.InterventionRow.order_id == order_id).order_by(m.InterventionRow.id)
        )
        return [
            InterventionRecord(
                r.id,
                r.order_id,
                r.code,
                r.display,
                r.outcome_code,
                r.outcome_display,
                r.note,
                r.pharmacist_id,
                utc(r.at),
            )
            for r in rows
        ]

    # --- site rules and the audit log ----------------------------------------------------------------------------

    def rule_settings(self) -> list[RuleSetting]:
        rows = self.s.scalars(select(m.RuleSettingRow).order_by(m.RuleSettingRow.rule_id))
        return [RuleSetting(r.rule_id, r.enabled, r.indicator, r.updated_by, _opt_utc(r.updated_at)) for r in rows]

    def set_rule_setting(self, setting: RuleSetting) -> None:
        row = self.s.get(m.RuleSettingRow, setting.rule_id)
        if row is None:
            row = m.RuleSettingRow(rule_id=setting.rule_id)
            self.s.add(row)
        row.enabled = setting.enabled
        row.indicator = setting.indicator
        row.updated_by = setting.updated_by
        row.updated_at = setting.updated_at
        self.s.flush()

    def append_audit(self, event: NewAuditEvent) -> AuditRecord:
        # Taking the head row first serialises writers: PostgreSQL holds its row lock to commit; SQLite's
        # BEGIN IMMEDIATE already holds the write lock.
        head = self.s.execute(
            update(m.AuditHeadRow)
            .where(m.AuditHeadRow.id == 1)
            .values(seq=m.AuditHeadRow.seq + 1)
            .returning(m.AuditHeadRow.seq, m.AuditHeadRow.hash)
        ).one()
        seq, prev = int(head[0]), str(head[1])
        at = millis(event.at)
        stamped = NewAuditEvent(
            at, event.actor_id, event.actor, event.role, event.action, event.entity, event.entity_id,
            event.reason, event.details,
        )  # fmt: skip
        digest = entry_hash(prev, seq, stamped)
        self.s.add(
            m.AuditRow(
                seq=seq,
                at=at,
                actor_id=event.actor_id,
                actor=event.actor,
                role=event.role,
                action=event.action,
                entity=event.entity,
                entity_id=event.entity_id,
                reason=event.reason,
                details_json=json.dumps(event.details, sort_keys=True, default=str),
                prev_hash=prev,
                hash=digest,
            )
        )
        self.s.execute(update(m.AuditHeadRow).where(m.AuditHeadRow.id == 1).values(hash=digest))
        self.s.flush()
        return AuditRecord(
            seq, at, event.actor_id, event.actor, event.role, event.action, event.entity, event.entity_id,
            event.reason, event.details, prev, digest,
        )  # fmt: skip

    def audit(self, limit: int = 200, entity: str | None = None, entity_id: str | None = None) -> list[AuditRecord]:
        query = select(m.AuditRow).order_by(m.AuditRow.seq.desc()).limit(limit)
        if entity is not None:
            query = query.where(m.AuditRow.entity == entity)
        if entity_id is not None:
            query = query.where(m.AuditRow.entity_id == entity_id)
        return [_audit(r) for r in self.s.scalars(query)]

    def audit_all(self) -> Iterator[AuditRecord]:
        for row in self.s.scalars(select(m.AuditRow).order_by(m.AuditRow.seq).execution_options(yield_per=500)):
            yield _audit(row)


class SqlStore:
    """`rxguard.pharmacy.ports.Store` on an engine: `with store.unit() as uow:` is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def unit(self) -> Iterator[SqlUnitOfWork]:
        with self._sessions() as session, session.begin():
            yield SqlUnitOfWork(session)

    def dispose(self) -> None:
        self.engine.dispose()
