"""The one place that picks concrete adapters and configuration for the entry points."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rxguard.config import ScreeningConfig, config_from_env
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.load import cached_knowledge
from rxguard.screen import Screener

if TYPE_CHECKING:  # the service's imports stay out of the command line's start-up
    from fastapi import FastAPI

    from rxguard.adapters.http.settings import ServiceSettings


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
    """The HTTP service: the configured screener, and the alert memory in SQLite when RXGUARD_FEEDBACK_DB is set."""
    from rxguard.adapters.cds_hooks.memory import AlertMemory, InMemoryAlertMemory, SqliteAlertMemory
    from rxguard.adapters.http.app import create_app
    from rxguard.adapters.http.settings import settings_from_env

    settings = settings or settings_from_env()
    memory: AlertMemory = SqliteAlertMemory(settings.feedback_db) if settings.feedback_db else InMemoryAlertMemory()
    return create_app(settings, screener(), memory)
