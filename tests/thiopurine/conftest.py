"""Fixtures for the thiopurine tests: the indexed knowledge and the reference data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.thiopurine.knowledge import PgxIndex, pgx_index
from tests.reference import REFERENCE


@pytest.fixture(scope="session")
def index(kb: KnowledgeBase) -> PgxIndex:
    return pgx_index(kb)


@pytest.fixture(scope="session")
def reference() -> Path:
    if not (REFERENCE / "thiopurines").is_dir():
        pytest.skip(f"the shared reference data is not at {REFERENCE}")
    return REFERENCE
