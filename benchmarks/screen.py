"""Screening speed: a profile of 10 active medicines, screened many times.

Prints median and p99 latency and screenings per second, twice:
  1. already-parsed domain objects (the pure core: context, checks, ordering);
  2. end to end from the request's JSON text (json.loads, FHIR parsing with strict R4B validation of the
     order, screening, CDS Hooks cards, json.dumps).
and then both again for a stream of distinct requests (every id, dose, quantity, weight, lab value and age
varies; the same medicines by name, as a service sees them), so that no figure rests on screening the very same
objects again: the screener's memos are keyed by what a medicine or code says, never by the request.
Run:  .venv/bin/python benchmarks/screen.py [--n 5000]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
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


def distinct_request_json(rnd: random.Random) -> str:
    """The benchmark's profile with everything a real stream varies: ids, doses, supplies, weight, labs, age."""
    meds = [
        b.med(
            name,
            dose * rnd.choice((1, 1, 2)),
            per_day=rnd.choice((1, 2, 3)),
            quantity=rnd.choice((30, 60, 90)),
            days=30,
        )
        for name, dose, _ in PROFILE
    ]
    req = b.request(
        b.order("Imuran 50 mg tablet", rnd.choice((1, 2, 3)), per_day=rnd.choice((1, 2)), quantity=56, days=28),
        meds=meds,
        age=rnd.randint(60, 90),
        observations=[
            b.weight(rnd.randint(50, 110)),
            b.lab("98979-8", rnd.randint(20, 90), "mL/min/{1.73_m2}"),
            b.lab("6690-2", round(rnd.uniform(2.5, 9.0), 1), "10*3/uL"),
        ],
        conditions=[b.condition("rheumatoid arthritis", "69896004")],
        allergies=[b.allergy("penicillin")],
    )
    return json.dumps(req)


def measure(label: str, fn: Callable[[], object], n: int) -> None:
    measure_stream(label, [fn] * n, [fn] * min(200, n))


def measure_stream(label: str, calls: Sequence[Callable[[], object]], warm_up: Sequence[Callable[[], object]]) -> None:
    for fn in warm_up:
        fn()
    times = []
    for fn in calls:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    n = len(times)
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

    rnd = random.Random(2)  # noqa: S311 - reproducible benchmark data, not security
    texts = [distinct_request_json(rnd) for _ in range(args.n + 200)]
    requests = [parse_request(json.loads(t)) for t in texts]
    screen_calls = [functools.partial(screener.screen, r) for r in requests]
    measure_stream("distinct parsed requests -> alerts", screen_calls[200:], screen_calls[:200])

    def end_to_end_of(text: str) -> str:
        return json.dumps(to_response(screener.screen(parse_request(json.loads(text)))))

    json_calls = [functools.partial(end_to_end_of, t) for t in texts[: max(args.n // 5, 500) + 200]]
    measure_stream("distinct request JSON -> CDS Hooks JSON", json_calls[200:], json_calls[:200])


if __name__ == "__main__":
    main()
