"""One deterministic test base: a non-UTC zone, no network, the real knowledge base loaded once."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

os.environ["TZ"] = "Pacific/Auckland"
time.tzset()

from rxguard.adapters.fhir.request import parse_request  # noqa: E402
from rxguard.config import ScreeningConfig  # noqa: E402
from rxguard.knowledge.base import KnowledgeBase  # noqa: E402
from rxguard.knowledge.load import cached_knowledge  # noqa: E402
from rxguard.screen import Screener, ScreeningResult  # noqa: E402


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return cached_knowledge(None)


@pytest.fixture(scope="session")
def screener(kb: KnowledgeBase) -> Screener:
    return Screener(kb, ScreeningConfig())


@pytest.fixture(scope="session")
def uk_screener(kb: KnowledgeBase) -> Screener:
    return Screener(kb, ScreeningConfig(jurisdiction="UK"))


@pytest.fixture(scope="session")
def screen(screener: Screener) -> Any:
    def run(data: dict[str, Any], **kw: Any) -> ScreeningResult:
        return screener.screen(parse_request(data, **kw))

    return run


def codes(result: ScreeningResult) -> list[str]:
    return [a.code for a in result.alerts]


def only(result: ScreeningResult, code: str) -> Any:
    found = [a for a in result.alerts if a.code == code]
    assert len(found) == 1, f"expected one {code} alert, got {[(a.code, a.summary) for a in result.alerts]}"
    return found[0]
