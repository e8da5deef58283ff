"""The store on SQLite and PostgreSQL: migrations, an audit log the application cannot edit, idempotent orders."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from rxguard.adapters.cds_hooks.memory import FeedbackRecord, PatientKey, ShownCard
from rxguard.adapters.store.alert_memory import SqlAlertMemory
from rxguard.adapters.store.db import HEAD, current_revision
from rxguard.adapters.store.repository import SqlStore
from rxguard.pharmacy.ports import DuplicateKey
from rxguard.pharmacy.records import NewAuditEvent, NewOrder
from rxguard.pharmacy.service import Actor, PharmacyService
from tests.pharmacy.conftest import NOW, People, imuran_prescription


def test_migrations_reach_the_head_revision(engine: Engine) -> None:
    assert current_revision(engine) == HEAD


def _append(store: SqlStore, action: str) -> None:
    with store.unit() as uow:
        uow.append_audit(NewAuditEvent(NOW, 1, "phil", "pharmacist", action, "order", "1", "why", {"n": 1}))


def test_the_database_refuses_to_change_or_delete_audit_entries(engine: Engine, store: SqlStore) -> None:
    _append(store, "order.approved")
    _append(store, "order.dispensed")
    for statement in ("UPDATE audit_log SET reason = 'edited'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_log"))
    with store.unit() as uow:
        entries = uow.audit()
    assert [e.action for e in entries] == ["order.dispensed", "order.approved"]
    assert [e.seq for e in entries] == [2, 1]


def test_the_hash_chain_reveals_an_edit_made_around_the_triggers(
    engine: Engine, store: SqlStore, screener: object
) -> None:
    _append(store, "order.approved")
    _append(store, "order.dispensed")
    service = PharmacyService(store, screener)  # type: ignore[arg-type]
    assert service.verify_audit() is None
    with engine.begin() as connection:  # what only a database owner could do: drop the trigger, edit, restore
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("UPDATE audit_log SET reason = 'edited' WHERE seq = 1"))
        else:
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
            connection.execute(text("UPDATE audit_log SET reason = 'edited' WHERE seq = 1"))
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change"))
    assert service.verify_audit() == "entry 1: content does not match its hash"


def test_an_idempotency_key_is_unique_per_patient_in_the_database(store: SqlStore, people: People) -> None:
    new = NewOrder(
        people.alice_id, "panadol-500", 16, Decimal("0.08"), "USD", "demo", Decimal("1.28"), "key-aaaaaaaa",
        "f" * 64, people.alice.id, None, None, None, NOW,
    )  # fmt: skip
    with store.unit() as uow:
        first = uow.add_order(new)
    with pytest.raises(DuplicateKey), store.unit() as uow:
        uow.add_order(new)
    with store.unit() as uow:
        other = uow.add_order(replace(new, patient_id=people.bob_id))  # the same key, another patient
    assert first.id != other.id


def test_concurrent_submissions_with_one_key_make_one_order(service: PharmacyService, people: People) -> None:
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            order, created = service.submit_order(
                Actor.of(people.alice), people.alice_id, "imuran-50", "56", rx.id, "same-key-123"
            )
            results.append((order.id, created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({order_id for order_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with service.store.unit() as uow:
        orders = uow.orders_for_patient(people.alice_id)
        submitted = [a for a in uow.audit(100) if a.action == "order.submitted"]
    assert len(orders) == 1 and len(submitted) == 1


def test_sql_alert_memory_offers_the_cds_hooks_interface(engine: Engine) -> None:
    memory = SqlAlertMemory(engine)
    key = PatientKey("https://ehr.example.org|hospital-a", "patient-1", "prescriber")
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    memory.remember_shown([ShownCard(key, "card-1", "order-sign", ("mr-1",), at)])
    assert [s.card for s in memory.shown(["card-1", "card-2"], at - timedelta(hours=1))] == ["card-1"]
    assert memory.shown(["card-1"], at + timedelta(minutes=1)) == []
    memory.suppress(key, "card-1", at + timedelta(days=90))
    memory.suppress(key, "card-1", at + timedelta(days=10))  # an earlier end never shortens a suppression
    assert memory.suppressed(key, ["card-1", "card-2"], at + timedelta(days=50)) == {"card-1"}
    memory.record_feedback(FeedbackRecord("rxguard-order-sign", "card-1", "overridden", at, at, key, "s", "c", "why"))
    assert [f.comment for f in memory.feedback()] == ["why"]
    memory.forget_before(at + timedelta(days=100))
    assert memory.suppressed(key, ["card-1"], at + timedelta(days=50)) == set()
    assert memory.shown(["card-1"], at - timedelta(days=1)) == []
