"""Overdose assessment and warning-sign triage speed.

Prints median and p99 latency and calls per second for:
  1. paracetamol nomogram assessment (level in umol/L, amount, weight);
  2. overdose assessment of a catalog product by tablets (co-codamol 30/500: two ingredients);
  3. triage of 3 medicines x 4 free-text symptoms (one not recognised), with a new resolver each call;
  4. building the triage vocabulary index (once per knowledge base; shown for a fresh build).
Run:  .venv/bin/python benchmarks/overdose_triage.py [--n 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rxguard.bootstrap import knowledge
from rxguard.therapy.overdose import ParacetamolIngestion, assess_ingestion, assess_paracetamol
from rxguard.therapy.triage import _vocabulary, triage, triage_knowledge


def measure(label: str, fn: Callable[[], object], n: int) -> None:
    for _ in range(min(200, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    median = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{label:<58} median {median * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us   {1 / median:10,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    n = parser.parse_args().n
    start = time.perf_counter()
    kb = knowledge()
    print(f"knowledge base {kb.version} loaded in {time.perf_counter() - start:.2f} s; n = {n}")
    ingestion = ParacetamolIngestion(weight_kg=70, amount_mg=10_000, hours=8, level=560, unit="umol/L")
    measure("paracetamol nomogram (umol/L level, 70 kg, 10 g, 8 h)", lambda: assess_paracetamol(kb, ingestion), n)
    measure(
        "assess co-codamol 30/500 x 16 tablets",
        lambda: assess_ingestion(kb, "co-codamol 30/500", tablets=16, weight_kg=60, hours=6),
        n,
    )
    drugs = ["Imuran 50mg", "oxycodone 5mg", "Voltarol 50mg"]
    symptoms = ["my eyes look yellow", "black stools", "very sleepy and breathing slowly", "purple toes"]
    measure("triage 3 medicines x 4 symptoms", lambda: triage(kb, drugs, symptoms), n)
    data = triage_knowledge(kb)
    measure("build the triage vocabulary index", lambda: _vocabulary(data), max(50, n // 50))


if __name__ == "__main__":
    main()
