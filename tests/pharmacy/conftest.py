"""The pharmacy under test: a fresh database per test (SQLite file, and PostgreSQL when configured), a fixed clock.

PostgreSQL runs whenever RXGUARD_TEST_DATABASE_URL is set (`.ci/run` sets it); each test gets its own schema,
dropped afterwards. Without it the PostgreSQL variants are skipped with that reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from rxguard.adapters.store.db import make_engine, migrate
from rxguard.adapters.store.repository import SqlStore
from rxguard.pharmacy.orders import PrescriptionInput
from rxguard.pharmacy.records import ConditionRecord, LabRecord, MedicationRecord, Role, User
from rxguard.pharmacy.service import Actor, PharmacyService
from rxguard.screen import Screener

PG_VARIABLE = "RXGUARD_TEST_DATABASE_URL"
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
NPI = "1234567893"  # CMS's example NPI: valid check digit
DEA_JONES = "AJ1234563"  # registrant type A, family name Jones, valid check digit
NO_PG = f"PostgreSQL not configured: set {PG_VARIABLE} (`.ci/run` installs PostgreSQL and sets it)"


def pg_url() -> str | None:
    return os.environ.get(PG_VARIABLE) or None


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'pharmacy.sqlite'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    url = pg_url()
    if url is None:
        pytest.skip(NO_PG)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(
        url, connect_args={"options": f"-c search_path={schema} -c timezone=UTC"}, pool_pre_ping=True
    )
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(engine: Engine) -> SqlStore:
    return SqlStore(engine)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def service(store: SqlStore, screener: Screener, clock: Clock) -> PharmacyService:
    return PharmacyService(store, screener, clock=clock)


class People:
    """A pharmacist, an admin and two patients (Alice on febuxostat with Crohn's disease; Bob)."""

    def __init__(self, service: PharmacyService) -> None:
        system = Actor.system()
        with service.store.unit() as uow:
            self.alice_id = uow.add_patient("Alice Example", date(1972, 3, 14), "female").id
            self.bob_id = uow.add_patient("Bob Sample", date(1985, 7, 2), "male").id
            uow.add_condition(self.alice_id, ConditionRecord("Crohn's disease", "34000006"))
            uow.add_medication(
                self.alice_id, MedicationRecord("febuxostat 80 mg tablet", 80, "mg", 1, date(2026, 1, 1))
            )
            uow.add_lab(self.alice_id, LabRecord("29463-7", "Body weight", 68, "kg", date(2026, 11, 1)))
        self.pharmacist: User = service.create_user(system, "phil", "pharmacist-pass-1", Role.PHARMACIST, "Phil")
        self.admin: User = service.create_user(system, "ada", "admin-password-1", Role.ADMIN, "Ada")
        self.alice: User = service.create_user(
            system, "alice", "alice-password-1", Role.PATIENT, "Alice", self.alice_id
        )
        self.bob: User = service.create_user(system, "bob", "bob-password-12", Role.PATIENT, "Bob", self.bob_id)


@pytest.fixture
def people(service: PharmacyService) -> People:
    return People(service)


def imuran_prescription(**changes: str) -> PrescriptionInput:
    values = {
        "prescriber_name": "Dr Jane Smith",
        "prescriber_family_name": "Smith",
        "prescriber_npi": NPI,
        "written_on": "2026-11-18",
        "directions": "Take 2 tablets once a day with food",
        "dose_units": "2",
        "doses_per_day": "1",
        "quantity": "56",
        "refills": "2",
    }
    values.update(changes)
    return PrescriptionInput(**values)  # type: ignore[arg-type]


def oxycodone_prescription(**changes: str) -> PrescriptionInput:
    values = {
        "prescriber_name": "Dr Robert Jones",
        "prescriber_family_name": "Jones",
        "prescriber_npi": NPI,
        "prescriber_dea": DEA_JONES,
        "written_on": "2026-11-18",
        "directions": "Take 1 tablet every 6 hours for pain",
        "dose_units": "1",
        "doses_per_day": "4",
        "quantity": "56",
        "refills": "0",
    }
    values.update(changes)
    return PrescriptionInput(**values)  # type: ignore[arg-type]
