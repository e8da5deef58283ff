"""The one place that picks concrete adapters and configuration for the entry points."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rxguard.config import ScreeningConfig, config_from_env
from rxguard.errors import ConfigError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.load import cached_knowledge
from rxguard.screen import Screener

if TYPE_CHECKING:  # the service's imports stay out of the command line's start-up
    from fastapi import FastAPI

    from rxguard.adapters.cds_hooks.auth import SqliteReplayGuard
    from rxguard.adapters.cds_hooks.memory import SqliteAlertMemory
    from rxguard.adapters.http.settings import ServiceSettings
    from rxguard.pharmacy.service import PharmacyService


def knowledge_dir() -> str | None:
    """RXGUARD_KB_DIR points at another knowledge directory (for testing a reviewed update)."""
    value = os.environ.get("RXGUARD_KB_DIR")
    return str(Path(value).resolve()) if value else None


def knowledge() -> KnowledgeBase:
    return cached_knowledge(knowledge_dir())


def screening_config(jurisdiction: str | None = None, fhir_validation: str | None = None) -> ScreeningConfig:
    config = config_from_env()
    if jurisdiction:
        config = config.with_jurisdiction(jurisdiction)
    if fhir_validation:
        validated = config_from_env(
            {
                "RXGUARD_FHIR_VALIDATION": fhir_validation,
                "RXGUARD_JURISDICTION": config.jurisdiction,
                "RXGUARD_CURRENCY": config.currency,
            }
        )
        config = replace(validated, controlled=config.controlled)  # keep the controlled-substance settings
    return config


def screener(config: ScreeningConfig | None = None) -> Screener:
    return Screener(knowledge(), config or screening_config())


def service_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The HTTP service: the configured screener; the alert memory and the JWT replay store in the SQLite file
    RXGUARD_FEEDBACK_DB when it is set (so that worker processes share them), in this process otherwise."""
    from rxguard.adapters.cds_hooks.auth import ReplayStore
    from rxguard.adapters.cds_hooks.memory import AlertMemory, InMemoryAlertMemory
    from rxguard.adapters.http.app import create_app
    from rxguard.adapters.http.settings import settings_from_env

    settings = settings or settings_from_env()
    memory: AlertMemory
    replay: ReplayStore | None
    if settings.feedback_db:
        memory, replay = _shared_stores(settings.feedback_db)
    else:
        memory, replay = InMemoryAlertMemory(), None  # the verifier keeps its own in-process replay store
    app = create_app(settings, screener(), memory, replay=replay)
    if pharmacy_enabled():
        from rxguard.adapters.web.pages import mount_pharmacy

        secure = bool(settings.service_url and settings.service_url.startswith("https://"))
        mount_pharmacy(app, pharmacy_service(app.state.screener), secure_cookies=secure)
    return app


def _shared_stores(path: str) -> tuple[SqliteAlertMemory, SqliteReplayGuard]:
    """The alert memory and the JWT replay store in one SQLite file (tables created, WAL on)."""
    import sqlite3

    from rxguard.adapters.cds_hooks.auth import SqliteReplayGuard
    from rxguard.adapters.cds_hooks.memory import SqliteAlertMemory

    try:
        memory = SqliteAlertMemory(path)
    except sqlite3.Error as exc:
        raise ConfigError(f"RXGUARD_FEEDBACK_DB: cannot open the SQLite file ({exc}) (value: {path!r})") from None
    try:
        return memory, SqliteReplayGuard(path)
    except sqlite3.Error as exc:
        memory.close()
        raise ConfigError(f"RXGUARD_FEEDBACK_DB: cannot open the SQLite file ({exc}) (value: {path!r})") from None


def prepare_worker_stores(settings: ServiceSettings) -> None:
    """Before worker processes start: create the shared SQLite tables (and switch on WAL) and bring the pharmacy
    database to the newest revision once, so that workers starting together do not race to do it."""
    if settings.feedback_db:
        memory, replay = _shared_stores(settings.feedback_db)
        memory.close()
        replay.close()
    if pharmacy_enabled():
        from rxguard.adapters.store.db import database_url, make_engine, migrate

        engine = make_engine(database_url())
        migrate(engine)
        engine.dispose()


def pharmacy_enabled() -> bool:
    return os.environ.get("RXGUARD_PHARMACY", "on").strip().lower() not in ("off", "0", "no")


def pharmacy_service(engine_screener: Screener | None = None, url: str | None = None) -> PharmacyService:
    """The pharmacy on RXGUARD_DATABASE_URL (default: a SQLite file in the user's data directory), migrated."""
    from rxguard.adapters.store.db import database_url, make_engine, migrate
    from rxguard.adapters.store.repository import SqlStore
    from rxguard.pharmacy.service import PharmacyService

    engine = make_engine(url or database_url())
    migrate(engine)
    return PharmacyService(SqlStore(engine), engine_screener or screener(), fault=_fault_injection())


def _fault_injection() -> Callable[[str], None] | None:
    """For the crash tests only: RXGUARD_FAULT_PAUSE=before-commit|after-commit makes an order submission touch
    RXGUARD_FAULT_MARKER and then wait there (so the test can kill -9 the server at that point)."""
    point = os.environ.get("RXGUARD_FAULT_PAUSE")
    marker = os.environ.get("RXGUARD_FAULT_MARKER")
    if not point or not marker:
        return None

    def pause(where: str) -> None:
        if where == point:
            Path(marker).touch()
            time.sleep(120)

    return pause
