"""Pharmacy timings: guide pages, order submission (stored, validated, screened, audited in one transaction), the
queue, and a page render through the ASGI app. SQLite always; PostgreSQL too when RXGUARD_TEST_DATABASE_URL is set.

    .venv/bin/python benchmarks/pharmacy.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from rxguard.adapters.store.db import make_engine, migrate
from rxguard.adapters.store.repository import SqlStore
from rxguard.bootstrap import screener
from rxguard.pharmacy.catalog import Catalog
from rxguard.pharmacy.orders import PrescriptionInput
from rxguard.pharmacy.records import MedicationRecord, Role
from rxguard.pharmacy.service import Actor, PharmacyService

ORDERS = 200


def timed(label: str, runs: int, fn: Callable[[int], object]) -> None:
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{label:<58} median {statistics.median(samples):7.2f} ms   p99 {p99:7.2f} ms   ({runs} runs)")


def bench_store(name: str, url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    engine_screener = screener()
    service = PharmacyService(SqlStore(engine), engine_screener)
    system = Actor.system()
    with service.store.unit() as uow:
        patient = uow.add_patient("Bench Patient", None, "female")
        uow.add_medication(patient.id, MedicationRecord("febuxostat 80 mg tablet", 80, "mg", 1, None))
    pharmacist = service.create_user(system, f"ph-{uuid.uuid4().hex[:6]}", "bench-password-1", Role.PHARMACIST, "Ph")
    user = service.create_user(system, f"pt-{uuid.uuid4().hex[:6]}", "bench-password-1", Role.PATIENT, "Pt", patient.id)
    rx = service.enter_prescription(
        Actor.of(pharmacist),
        patient.id,
        "imuran-50",
        PrescriptionInput("Dr Jane Smith", "1234567893", "2026-01-02", "2 daily", "2", "1", "56", "11"),
    )
    actor = Actor.of(user)
    timed(
        f"{name}: submit an order (validate, screen, store, audit)",
        ORDERS,
        lambda i: service.submit_order(actor, patient.id, "imuran-50", "56", rx.id, f"bench-{uuid.uuid4().hex}"),
    )
    timed(f"{name}: idempotent retry of a stored order", 100, lambda i: service.submit_order(
        actor, patient.id, "imuran-50", "56", rx.id, "bench-retry-key"))  # fmt: skip
    timed(f"{name}: load the queue ({ORDERS} orders)", 20, lambda i: service.queue(Actor.of(pharmacist)))
    timed(f"{name}: verify the audit hash chain", 5, lambda i: service.verify_audit())
    engine.dispose()


def main() -> None:
    kb = screener().kb
    catalog = Catalog(kb)
    families = list(catalog.families)
    timed(f"guide page for each of {len(families)} families", 5, lambda i: [catalog.guide_page(f) for f in families])
    timed("search 'pain' (brand, generic, condition)", 200, lambda i: catalog.search("pain"))
    with tempfile.TemporaryDirectory() as tmp:
        bench_store("SQLite", f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
    pg = os.environ.get("RXGUARD_TEST_DATABASE_URL")
    if pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in pg else "?"
            bench_store("PostgreSQL", f"{pg}{sep}options=-c%20search_path%3D{schema}")
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    else:
        print("PostgreSQL: skipped (set RXGUARD_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
