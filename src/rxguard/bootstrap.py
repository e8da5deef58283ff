"""The one place that picks concrete adapters and configuration for the entry points."""

from __future__ import annotations

import os
from pathlib import Path

from rxguard.config import ScreeningConfig, config_from_env
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.load import cached_knowledge
from rxguard.screen import Screener


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
        config = config_from_env(
            {
                "RXGUARD_FHIR_VALIDATION": fhir_validation,
                "RXGUARD_JURISDICTION": config.jurisdiction,
                "RXGUARD_CURRENCY": config.currency,
            }
        )
    return config


def screener(config: ScreeningConfig | None = None) -> Screener:
    return Screener(knowledge(), config or screening_config())
