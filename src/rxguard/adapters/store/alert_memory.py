"""The CDS Hooks alert memory (`rxguard.adapters.cds_hooks.memory.AlertMemory`) on the SQLAlchemy store.

Offered so that a deployment can keep shown cards, feedback and suppressions in the same database as the pharmacy
(PostgreSQL or SQLite); the tables come from the store's migrations. The interface and its records belong to
the CDS Hooks adapter; this is only another implementation of it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from rxguard.adapters.cds_hooks.memory import FeedbackRecord, PatientKey, ShownCard
from rxguard.adapters.store import models as m
from rxguard.adapters.store.repository import utc


class SqlAlertMemory:
    """Thread-safe: every call is its own short transaction on a pooled connection."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def _session(self) -> Session:
        return self._sessions()

    def remember_shown(self, cards: Sequence[ShownCard]) -> None:
        if not cards:
            return
        with self._session() as session, session.begin():
            session.add_all(
                m.ShownCardRow(
                    tenant=c.key.tenant,
                    patient=c.key.patient,
                    audience=c.key.audience,
                    card=c.card,
                    hook=c.hook,
                    orders_json=json.dumps(list(c.orders)),
                    at=c.at,
                )
                for c in cards
            )

    def shown(
        self, cards: Collection[str], since: datetime, key: PatientKey | None = None, hook: str | None = None
    ) -> list[ShownCard]:
        wanted = list(cards)
        if not wanted:
            return []
        query = select(m.ShownCardRow).where(m.ShownCardRow.card.in_(wanted), m.ShownCardRow.at >= since)
        if key is not None:
            query = query.where(
                m.ShownCardRow.tenant == key.tenant,
                m.ShownCardRow.patient == key.patient,
                m.ShownCardRow.audience == key.audience,
            )
        if hook is not None:
            query = query.where(m.ShownCardRow.hook == hook)
        with self._session() as session, session.begin():
            rows = session.scalars(query.order_by(m.ShownCardRow.id)).all()
            return [
                ShownCard(
                    PatientKey(r.tenant, r.patient, r.audience),
                    r.card,
                    r.hook,
                    tuple(json.loads(r.orders_json)),
                    utc(r.at),
                )
                for r in rows
            ]

    def record_feedback(self, record: FeedbackRecord) -> None:
        key = record.key
        with self._session() as session, session.begin():
            session.add(
                m.FeedbackRow(
                    service=record.service,
                    card=record.card,
                    outcome=record.outcome,
                    outcome_at=record.outcome_at,
                    received_at=record.received_at,
                    tenant=key.tenant if key else None,
                    patient=key.patient if key else None,
                    audience=key.audience if key else None,
                    reason_system=record.reason_system,
                    reason_code=record.reason_code,
                    comment=record.comment,
                    accepted_suggestions_json=json.dumps(list(record.accepted_suggestions)),
                )
            )

    def feedback(self) -> list[FeedbackRecord]:
        with self._session() as session, session.begin():
            rows = session.scalars(select(m.FeedbackRow).order_by(m.FeedbackRow.received_at, m.FeedbackRow.id)).all()
            return [
                FeedbackRecord(
                    service=r.service,
                    card=r.card,
                    outcome=r.outcome,
                    outcome_at=utc(r.outcome_at),
                    received_at=utc(r.received_at),
                    key=PatientKey(r.tenant, r.patient or "", r.audience or "") if r.tenant is not None else None,
                    reason_system=r.reason_system,
                    reason_code=r.reason_code,
                    comment=r.comment,
                    accepted_suggestions=tuple(json.loads(r.accepted_suggestions_json)),
                )
                for r in rows
            ]

    def suppress(self, key: PatientKey, card: str, until: datetime) -> None:
        with self._session() as session, session.begin():
            row = session.get(m.SuppressionRow, (key.tenant, key.patient, key.audience, card))
            if row is None:
                session.add(
                    m.SuppressionRow(
                        tenant=key.tenant, patient=key.patient, audience=key.audience, card=card, until=until
                    )
                )
            elif until > utc(row.until):
                row.until = until

    def suppressed(self, key: PatientKey, cards: Collection[str], now: datetime) -> set[str]:
        wanted = list(cards)
        if not wanted:
            return set()
        query = select(m.SuppressionRow.card).where(
            m.SuppressionRow.tenant == key.tenant,
            m.SuppressionRow.patient == key.patient,
            m.SuppressionRow.audience == key.audience,
            m.SuppressionRow.until > now,
            m.SuppressionRow.card.in_(wanted),
        )
        with self._session() as session, session.begin():
            return set(session.scalars(query).all())

    def forget_before(self, before: datetime) -> None:
        with self._session() as session, session.begin():
            session.execute(delete(m.ShownCardRow).where(m.ShownCardRow.at < before))
            session.execute(delete(m.SuppressionRow).where(m.SuppressionRow.until < before))
