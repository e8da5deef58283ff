"""Crash safety against PostgreSQL: an order submitted while the server is killed (kill -9) is stored whole or
not at all, and a retry with the same idempotency key gives exactly one order.

The server runs as its own process (`rxguard serve`) on a fresh schema. Two deterministic kills use the
service's fault-injection points (the submission waits at "before-commit" or "after-commit" and touches a
marker file; the test then sends SIGKILL); five more kills land at increasing delays after the request is
sent, wherever the server happens to be. After every kill the database is checked for a partial order, then
the same request is retried on a restarted server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from rxguard.adapters.store.db import make_engine, migrate
from rxguard.adapters.store.repository import SqlStore
from rxguard.pharmacy.service import Actor, PharmacyService
from rxguard.screen import Screener
from tests.pharmacy.conftest import NO_PG, People, imuran_prescription, pg_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(pg_url() is None, reason=NO_PG)


@dataclass
class Database:
    url: str
    schema: str
    patient_id: int
    prescription_id: int


@pytest.fixture
def database(screener: Screener) -> Iterator[Database]:
    base = pg_url()
    assert base is not None
    schema = f"crash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = (
        make_url(base).update_query_dict({"options": f"-c search_path={schema}"}).render_as_string(hide_password=False)
    )
    engine = make_engine(url)
    migrate(engine)
    service = PharmacyService(SqlStore(engine), screener)
    people = People(service)
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    engine.dispose()
    try:
        yield Database(url, schema, people.alice_id, rx.id)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`rxguard serve` in its own process group, killed with SIGKILL when asked."""

    def __init__(self, db: Database, tmp: Path, fault: str | None = None) -> None:
        self.port = _free_port()
        self.marker = tmp / f"paused-{uuid.uuid4().hex[:6]}"
        env = {
            **os.environ,
            "RXGUARD_DEV_DISABLE_AUTH": "yes-i-understand-this-is-insecure",
            "RXGUARD_DATABASE_URL": db.url,
        }
        if fault:
            env.update({"RXGUARD_FAULT_PAUSE": fault, "RXGUARD_FAULT_MARKER": str(self.marker)})
        self.log = (tmp / f"server-{self.port}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rxguard.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, f"the server exited: {self.log.name}"
            assert time.monotonic() < deadline, "the server did not start within 90 s"
            time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self.log.closed:
            self.log.close()


def _submit(base: str, db: Database, key: str, quantity: int = 56, timeout: float = 30) -> httpx.Response:
    body = {
        "patient_id": db.patient_id,
        "product_id": "imuran-50",
        "quantity": quantity,
        "prescription_id": db.prescription_id,
    }
    return httpx.post(f"{base}/api/v1/pharmacy/orders", json=body, headers={"Idempotency-Key": key}, timeout=timeout)


def _in_background(base: str, db: Database, key: str) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server is killed under the request: expected
            _submit(base, db, key, timeout=130)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _stored(db: Database, key: str) -> dict[str, Any]:
    """What the database holds for this key: orders, their cards, and their audit entries (by action)."""
    engine = make_engine(db.url)
    try:
        with engine.connect() as connection:
            orders = connection.execute(
                text("SELECT id, state FROM orders WHERE idempotency_key = :key"), {"key": key}
            ).all()
            ids = [str(o.id) for o in orders]
            cards = connection.execute(
                text(
                    "SELECT count(*) FROM order_cards "
                    "WHERE order_id IN (SELECT id FROM orders WHERE idempotency_key = :key)"
                ),
                {"key": key},
            ).scalar_one()
            actions = [
                row.action
                for row in connection.execute(
                    text("SELECT action, entity_id FROM audit_log WHERE entity = 'order' ORDER BY seq")
                ).all()
                if row.entity_id in ids
            ]
            submitted_total = connection.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'order.submitted' AND details_json LIKE :k"),
                {"k": f'%"{key}"%'},
            ).scalar_one()
    finally:
        engine.dispose()
    return {"orders": orders, "cards": cards, "actions": actions, "submitted": submitted_total}


def _assert_whole_or_nothing(found: dict[str, Any]) -> None:
    if not found["orders"]:
        assert found["cards"] == 0 and found["actions"] == [] and found["submitted"] == 0, found
        return
    assert len(found["orders"]) == 1, found
    assert found["orders"][0].state == "awaiting-pharmacist", found
    assert found["cards"] > 0, found
    assert found["actions"] == ["order.submitted", "order.screened", "order.queued"], found


def _retry_gives_exactly_one(db: Database, tmp: Path, key: str) -> None:
    server = Server(db, tmp)
    try:
        first = _submit(server.base, db, key)
        assert first.status_code in (200, 201), first.text
        again = _submit(server.base, db, key)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    finally:
        server.stop()
    found = _stored(db, key)
    assert len(found["orders"]) == 1
    _assert_whole_or_nothing(found)


def _wait_for(marker: Path) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the submission never reached the fault point"
        time.sleep(0.02)


def test_killed_inside_the_transaction_stores_nothing_and_the_retry_stores_one(
    database: Database, tmp_path: Path
) -> None:
    key = "crash-before-commit"
    server = Server(database, tmp_path, fault="before-commit")
    _in_background(server.base, database, key)
    _wait_for(server.marker)  # the order, its cards and audit entries are written but not committed
    server.kill()
    found = _stored(database, key)
    assert found["orders"] == [] and found["cards"] == 0 and found["submitted"] == 0
    _retry_gives_exactly_one(database, tmp_path, key)


def test_killed_after_the_commit_keeps_the_whole_order_and_the_retry_returns_it(
    database: Database, tmp_path: Path
) -> None:
    key = "crash-after-commit"
    server = Server(database, tmp_path, fault="after-commit")
    _in_background(server.base, database, key)
    _wait_for(server.marker)  # committed, but the client has no answer yet
    server.kill()
    found = _stored(database, key)
    assert len(found["orders"]) == 1
    _assert_whole_or_nothing(found)
    order_id = found["orders"][0].id
    server = Server(database, tmp_path)
    try:
        retry = _submit(server.base, database, key)
        assert retry.status_code == 200 and retry.json()["id"] == order_id
    finally:
        server.stop()
    assert len(_stored(database, key)["orders"]) == 1


@pytest.mark.parametrize("delay_ms", [0, 5, 15, 40, 120])
def test_killed_at_any_moment_the_order_is_whole_or_absent(database: Database, tmp_path: Path, delay_ms: int) -> None:
    key = f"crash-random-{delay_ms}"
    server = Server(database, tmp_path)
    _in_background(server.base, database, key)
    time.sleep(delay_ms / 1000)
    server.kill()
    _assert_whole_or_nothing(_stored(database, key))
    _retry_gives_exactly_one(database, tmp_path, key)
