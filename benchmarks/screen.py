"""Screening speed: a profile of 10 active medicines, screened many times.

Prints median and p99 latency and screenings per second, twice:
  1. already-parsed domain objects (the pure core: context, checks, ordering);
  2. end to end from the request's JSON text (json.loads, FHIR parsing with strict R4B validation of the
     order, screening, CDS Hooks cards, json.dumps).
Run:  .venv/bin/python benchmarks/screen.py [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import builders as b

from rxguard.adapters.cds_hooks.cards import to_response
from rxguard.adapters.fhir.request import parse_request
from rxguard.bootstrap import knowledge
from rxguard.screen import Screener

PROFILE = [
    ("allopurinol 100 mg tablet", 1, 1),
    ("lisinopril 10 mg tablet", 1, 1),
    ("furosemide 40 mg tablet", 1, 1),
    ("sertraline 50 mg tablet", 1, 1),
    ("Panadol 500 mg tablets", 2, 3),
    ("prednisolone 5 mg tablet", 1, 1),
    ("warfarin 5 mg tablet", 1, 1),
    ("gabapentin 300 mg capsule", 1, 3),
    ("mesalazine 800 mg tablet", 1, 2),
    ("aspirin 81 mg tablet", 1, 1),
]


def request_json() -> str:
    meds = [b.med(name, dose, per_day=per_day, quantity=90, days=30) for name, dose, per_day in PROFILE]
    req = b.request(
        b.order("Imuran 50 mg tablet", 1, per_day=2, quantity=56, days=28),
        meds=meds,
        age=67,
        observations=[b.weight(72), b.lab("98979-8", 52, "mL/min/{1.73_m2}"), b.lab("6690-2", 6.1, "10*3/uL")],
        conditions=[b.condition("rheumatoid arthritis", "69896004")],
        allergies=[b.allergy("penicillin")],
    )
    return json.dumps(req)


def measure(label: str, fn: Callable[[], object], n: int) -> None:
    for _ in range(min(200, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    median = statistics.median(times) * 1000
    p99 = times[int(0.99 * (len(times) - 1))] * 1000
    print(f"{label:<44} n={n:<6} median {median:7.3f} ms   p99 {p99:7.3f} ms   {n / sum(times):8.0f} screenings/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    screener = Screener(knowledge())
    text = request_json()
    parsed = parse_request(json.loads(text))
    result = screener.screen(parsed)
    print(
        f"rxguard screening benchmark: 1 order + {len(PROFILE)} active medicines, {len(result.alerts)} alerts, "
        f"kb {screener.kb.version}, {os.cpu_count()} cpu(s), Python {sys.version.split()[0]}, one core"
    )
    measure("parsed domain objects -> alerts", lambda: screener.screen(parsed), args.n)

    def end_to_end() -> str:
        return json.dumps(to_response(screener.screen(parse_request(json.loads(text)))))

    measure("request JSON -> CDS Hooks response JSON", end_to_end, max(args.n // 5, 500))


if __name__ == "__main__":
    main()
