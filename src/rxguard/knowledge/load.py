"""Load the knowledge base once: parse every file against the schema, cross-check references, index.

Errors name the file, the entry (by id, or by position when it has none) and the field, so a
reviewer can fix the data without reading code.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.extensions import load_extension_modules

# libyaml's C loader when available (5-10x faster); both are the *safe* loaders.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KnowledgeError(Exception):
    """The knowledge base is invalid; `problems` lists every problem found, each self-contained."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def default_data_dir() -> Path:
    return Path(str(resources.files("rxguard.knowledge") / "data"))


def _entry_label(raw: Any, loc: tuple[int | str, ...]) -> tuple[str, str]:
    """'entry <id>' and the remaining field path for a pydantic error location."""
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(raw, dict):
        section = raw.get(str(loc[0]))
        if isinstance(section, list) and loc[1] < len(section):
            item = section[loc[1]]
            ident = item.get("id") if isinstance(item, dict) else None
            label = f"entry {ident!r}" if ident else f"entry #{loc[1] + 1} of {loc[0]}"
            return label, ".".join(str(p) for p in loc[2:]) or "(entry)"
    return "top level", ".".join(str(p) for p in loc) or "(file)"


def _parse_file(path: Path, model: type[s.Strict]) -> tuple[BaseModel | None, list[str]]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    except FileNotFoundError:
        return None, [f"{path.name}: file missing"]
    except yaml.YAMLError as exc:
        return None, [f"{path.name}: not valid YAML: {exc}"]
    if isinstance(raw, dict):
        # Top-level keys starting with "x-" hold YAML anchors shared by the entries below.
        raw = {k: v for k, v in raw.items() if not str(k).startswith("x-")}
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            entry, field = _entry_label(raw, tuple(err["loc"]))
            value = err.get("input")
            shown = "" if isinstance(value, dict | list) else f" (value: {value!r})"
            problems.append(f"{_display(path)}: {entry}: field {field}: {err['msg']}{shown}")
        return None, problems


def _display(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name != "data" else path.name


def _fragments(directory: Path, filename: str) -> list[Path]:
    """A kind of knowledge lives in `<stem>.yaml` and/or in fragment files under `<stem>/`."""
    stem = filename.removesuffix(".yaml")
    paths = [directory / filename] if (directory / filename).exists() else []
    if (directory / stem).is_dir():
        paths.extend(sorted((directory / stem).glob("*.yaml")))
    return paths


def _merge(parts: list[BaseModel], model: type[s.Strict]) -> BaseModel:
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, list[Any]] = {}
    for part in parts:
        for name in model.model_fields:
            merged.setdefault(name, []).extend(getattr(part, name))
    return model.model_validate(merged)


def load_knowledge(data_dir: Path | None = None) -> KnowledgeBase:
    """Parse and cross-validate every knowledge file; raise KnowledgeError listing all problems."""
    directory = data_dir or default_data_dir()
    parsed: dict[str, BaseModel] = {}
    problems: list[str] = []
    kinds = {**s.FILES, **load_extension_modules()}
    for filename, model in kinds.items():
        paths = _fragments(directory, filename)
        stem_dir = directory / filename.removesuffix(".yaml")
        if not paths and stem_dir.is_dir():
            parsed[filename] = model.model_validate({})  # an empty fragment directory: no entries yet
            continue
        if not paths:
            problems.append(f"{filename}: file missing")
            continue
        if len(paths) > 1 and model is s.KbManifest:
            problems.append(f"{filename}: the manifest cannot be split into fragments")
            continue
        parts = []
        for path in paths:
            result, errors = _parse_file(path, model)
            problems.extend(errors)
            if result is not None:
                parts.append(result)
        if parts and len(parts) == len(paths):
            parsed[filename] = _merge(parts, model)
    if problems:
        raise KnowledgeError(problems)
    kb = KnowledgeBase.build(parsed)
    cross = kb.cross_check()
    if cross:
        raise KnowledgeError(cross)
    return kb


@lru_cache(maxsize=4)
def cached_knowledge(data_dir: str | None = None) -> KnowledgeBase:
    """The knowledge base for this process, loaded once per data directory."""
    return load_knowledge(Path(data_dir) if data_dir else None)
