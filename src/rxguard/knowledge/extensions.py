"""Knowledge kinds that feature packages add (thiopurine pharmacogenomics, controlled substances, triage ...).

A feature declares its data files with their strict schema and registers them here, so the loader parses
and validates them with everything else and they share `kb_version`. A registered model may define
`rules()` (its Rule entries, for ids, sources and counts) and `cross_check(kb) -> list[str]` (references).
Feature code reads its parsed file with `kb.extension(filename, Model)` and keeps indexes with `kb.memo()`.
"""

from __future__ import annotations

import importlib

from rxguard.knowledge.schema import Strict

EXTENSIONS: dict[str, type[Strict]] = {}

# Modules that register knowledge kinds; add one line per feature (imported when the knowledge is loaded).
EXTENSION_MODULES: tuple[str, ...] = (
    "rxguard.therapy.thiopurine.knowledge",
    "rxguard.therapy.triage_knowledge",
    "rxguard.knowledge.controlled",
    "rxguard.therapy.overdose_knowledge",
    "rxguard.adapters.surveillance.knowledge",
    "rxguard.pharmacy.knowledge",
)


def register(filename: str, model: type[Strict]) -> type[Strict]:
    """Declare a knowledge file (or fragment directory) `filename` validated by `model`."""
    EXTENSIONS[filename] = model
    return model


def load_extension_modules() -> dict[str, type[Strict]]:
    for name in EXTENSION_MODULES:
        importlib.import_module(name)
    return dict(EXTENSIONS)
