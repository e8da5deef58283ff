"""Regenerate the golden screening cases under tests/golden/ (developer tool, not part of the package).

Requests are built with the shared case builder (../shared/cases/casegen.py) with deterministic ids, from
the case list in tests/golden/cases.py. `--expect` also writes each case's expected.json from the current
output: review every changed file before committing (the point of a golden file is that a human checked it).

    .venv/bin/python scripts/golden.py            # requests only
    .venv/bin/python scripts/golden.py --expect   # requests and expected cards
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import subprocess
import sys
import uuid
from pathlib import Path

from rxguard.adapters.cds_hooks.cards import card_outline

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "cases"
GOLDEN = ROOT / "tests" / "golden"


def load(path: Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(SHARED))
    casegen = load(SHARED / "casegen.py", "casegen")
    cases = load(GOLDEN / "cases.py", "golden_cases").CASES
    for item in cases:
        counter = itertools.count(1)
        casegen._id = lambda: f"id{next(counter):04d}"  # deterministic resource ids
        casegen.uuid.uuid4 = lambda: uuid.UUID(int=0)
        folder = GOLDEN / item["name"]
        folder.mkdir(parents=True, exist_ok=True)
        request = casegen.request(item["case"])
        (folder / "request.json").write_text(json.dumps(request, indent=1) + "\n")
        if args.expect:
            run = subprocess.run(
                [
                    str(ROOT / ".venv/bin/rxguard"),
                    "screen",
                    str(folder / "request.json"),
                    "--format",
                    "cds-hooks",
                    *item.get("args", []),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            cards = json.loads(run.stdout)["cards"]
            (folder / "expected.json").write_text(json.dumps([card_outline(c) for c in cards], indent=1) + "\n")
        print(f"wrote {folder.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
