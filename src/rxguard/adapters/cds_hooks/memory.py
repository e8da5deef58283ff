"""What the CDS Hooks service remembers between calls: cards shown, feedback received, alerts suppressed.

A small repository interface (`AlertMemory`) with two implementations: in memory (the default, lost on
restart) and SQLite (stdlib sqlite3, one file). It stores card uuids, patient ids as the EHR sends them,
hook names and feedback codes; never tokens. The interface is kept narrow so that a SQLAlchemy-backed
store can replace these without touching the service.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PatientKey:
    """Whose alerts: the calling organisation (JWT issuer and tenant), the patient, and who sees the cards.

    `audience` separates prescribers (order-select, order-sign) from pharmacists (medication-verify): a
    prescriber's override does not hide the alert from the pharmacist who verifies the order.
    """

    tenant: str
    patient: str
    audience: str


@dataclass(frozen=True, slots=True)
class ShownCard:
    key: PatientKey
    card: str
    hook: str
    orders: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One feedback item as received; `key` is None when the card was never shown (or is forgotten)."""

    service: str
    card: str
    outcome: str
    outcome_at: datetime
    received_at: datetime
    key: PatientKey | None = None
    reason_system: str | None = None
    reason_code: str | None = None
    comment: str | None = None
    accepted_suggestions: tuple[str, ...] = ()


class AlertMemory(Protocol):
    """The repository the CDS Hooks service needs; implementations must be safe to call from threads."""

    def remember_shown(self, cards: Sequence[ShownCard]) -> None: ...

    def shown(
        self, cards: Collection[str], since: datetime, key: PatientKey | None = None, hook: str | None = None
    ) -> list[ShownCard]: ...

    def record_feedback(self, record: FeedbackRecord) -> None: ...

    def suppress(self, key: PatientKey, card: str, until: datetime) -> None: ...

    def suppressed(self, key: PatientKey, cards: Collection[str], now: datetime) -> set[str]: ...

    def forget_before(self, before: datetime) -> None: ...


class InMemoryAlertMemory:
    """Everything in dictionaries behind one lock; for the demo, tests and single-process deployments."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # card uuid -> patient -> shown records (the same uuid recurs across patients on the same medicines)
        self._shown: dict[str, dict[PatientKey, list[ShownCard]]] = defaultdict(dict)
        self._feedback: list[FeedbackRecord] = []
        self._suppressed: dict[tuple[PatientKey, str], datetime] = {}

    def remember_shown(self, cards: Sequence[ShownCard]) -> None:
        with self._lock:
            for card in cards:
                self._shown[card.card].setdefault(card.key, []).append(card)

    def shown(
        self, cards: Collection[str], since: datetime, key: PatientKey | None = None, hook: str | None = None
    ) -> list[ShownCard]:
        with self._lock:
            found: list[ShownCard] = []
            for card in cards:
                by_patient = self._shown.get(card)
                if not by_patient:
                    continue
                groups = [by_patient.get(key, [])] if key is not None else list(by_patient.values())
                found.extend(s for g in groups for s in g if s.at >= since and (hook is None or s.hook == hook))
            return found

    def record_feedback(self, record: FeedbackRecord) -> None:
        with self._lock:
            self._feedback.append(record)

    def feedback(self) -> list[FeedbackRecord]:
        with self._lock:
            return list(self._feedback)

    def suppress(self, key: PatientKey, card: str, until: datetime) -> None:
        with self._lock:
            current = self._suppressed.get((key, card))
            if current is None or until > current:
                self._suppressed[(key, card)] = until

    def suppressed(self, key: PatientKey, cards: Collection[str], now: datetime) -> set[str]:
        with self._lock:
            return {c for c in cards if (until := self._suppressed.get((key, c))) is not None and until > now}

    def forget_before(self, before: datetime) -> None:
        with self._lock:
            for card in list(self._shown):
                by_patient = self._shown[card]
                for key in list(by_patient):
                    kept = [s for s in by_patient[key] if s.at >= before]
                    if kept:
                        by_patient[key] = kept
                    else:
                        del by_patient[key]
                if not by_patient:
                    del self._shown[card]
            self._suppressed = {k: v for k, v in self._suppressed.items() if v > before}


SCHEMA = """
CREATE TABLE IF NOT EXISTS shown_card (
    tenant TEXT NOT NULL, patient TEXT NOT NULL, audience TEXT NOT NULL,
    card TEXT NOT NULL, hook TEXT NOT NULL, orders TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS shown_card_by_card ON shown_card (card, at);
CREATE INDEX IF NOT EXISTS shown_card_by_patient ON shown_card (tenant, patient, audience, card, at);
CREATE TABLE IF NOT EXISTS feedback (
    service TEXT NOT NULL, card TEXT NOT NULL, outcome TEXT NOT NULL,
    outcome_at REAL NOT NULL, received_at REAL NOT NULL,
    tenant TEXT, patient TEXT, audience TEXT,
    reason_system TEXT, reason_code TEXT, comment TEXT, accepted_suggestions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS suppression (
    tenant TEXT NOT NULL, patient TEXT NOT NULL, audience TEXT NOT NULL, card TEXT NOT NULL,
    until REAL NOT NULL,
    PRIMARY KEY (tenant, patient, audience, card)
);
"""


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def connect_shared(path: str, schema: str, busy_timeout_s: float = 5.0) -> sqlite3.Connection:
    """A connection to a SQLite file that several worker processes share: WAL (readers never block the writer),
    autocommit, a busy timeout so a worker waits for another's write instead of failing; `schema` is applied."""
    db = sqlite3.connect(path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


class SqliteAlertMemory:
    """One SQLite file (WAL); a single connection shared under a lock, which is enough for one process."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = connect_shared(self.path, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def remember_shown(self, cards: Sequence[ShownCard]) -> None:
        if not cards:
            return
        rows = [
            (c.key.tenant, c.key.patient, c.key.audience, c.card, c.hook, json.dumps(list(c.orders)), _ts(c.at))
            for c in cards
        ]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO shown_card VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def shown(
        self, cards: Collection[str], since: datetime, key: PatientKey | None = None, hook: str | None = None
    ) -> list[ShownCard]:
        cards = list(cards)
        if not cards:
            return []
        marks = ",".join("?" * len(cards))
        # Only "?" placeholders are formatted into the SQL; every value is a bound parameter.
        sql = "SELECT tenant, patient, audience, card, hook, orders, at FROM shown_card WHERE card IN (%s) AND at >= ?"
        sql %= marks
        params: list[object] = [*cards, _ts(since)]
        if key is not None:
            sql += " AND tenant = ? AND patient = ? AND audience = ?"
            params += [key.tenant, key.patient, key.audience]
        if hook is not None:
            sql += " AND hook = ?"
            params.append(hook)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [ShownCard(PatientKey(r[0], r[1], r[2]), r[3], r[4], tuple(json.loads(r[5])), _dt(r[6])) for r in rows]

    def record_feedback(self, record: FeedbackRecord) -> None:
        key = record.key
        row = (
            record.service,
            record.card,
            record.outcome,
            _ts(record.outcome_at),
            _ts(record.received_at),
            key.tenant if key else None,
            key.patient if key else None,
            key.audience if key else None,
            record.reason_system,
            record.reason_code,
            record.comment,
            json.dumps(list(record.accepted_suggestions)),
        )
        with self._lock:
            self._db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def feedback(self) -> list[FeedbackRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM feedback ORDER BY received_at").fetchall()
        return [
            FeedbackRecord(
                service=r[0],
                card=r[1],
                outcome=r[2],
                outcome_at=_dt(r[3]),
                received_at=_dt(r[4]),
                key=PatientKey(r[5], r[6], r[7]) if r[5] is not None else None,
                reason_system=r[8],
                reason_code=r[9],
                comment=r[10],
                accepted_suggestions=tuple(json.loads(r[11])),
            )
            for r in rows
        ]

    def suppress(self, key: PatientKey, card: str, until: datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO suppression VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (tenant, patient, audience, card) DO UPDATE SET until = max(until, excluded.until)",
                (key.tenant, key.patient, key.audience, card, _ts(until)),
            )

    def suppressed(self, key: PatientKey, cards: Collection[str], now: datetime) -> set[str]:
        cards = list(cards)
        if not cards:
            return set()
        marks = ",".join("?" * len(cards))
        sql = "SELECT card FROM suppression WHERE tenant = ? AND patient = ? AND audience = ? AND until > ?"
        sql += " AND card IN (%s)"
        sql %= marks  # only "?" placeholders; every value is a bound parameter
        with self._lock:
            rows = self._db.execute(sql, [key.tenant, key.patient, key.audience, _ts(now), *cards]).fetchall()
        return {r[0] for r in rows}

    def forget_before(self, before: datetime) -> None:
        with self._lock:
            self._db.execute("DELETE FROM shown_card WHERE at < ?", (_ts(before),))
            self._db.execute("DELETE FROM suppression WHERE until < ?", (_ts(before),))
