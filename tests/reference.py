"""Where the tests find the shared reference data: next to the project if present, else the copy in fixtures."""

from __future__ import annotations

from pathlib import Path

_SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "data"
_COPY = Path(__file__).resolve().parent / "fixtures" / "reference"

REFERENCE = _SHARED if (_SHARED / "thiopurines").is_dir() else _COPY
