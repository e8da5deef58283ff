"""Controlled-substance screening speed: an opioid order for a patient with a long dispensing history.

Prints median and p99 latency of:
  1. the whole screen (every check) of one opioid order with 6 current medicines (3 opioids, a benzodiazepine,
     gabapentin, no naloxone) and N dispensing records spread over the last year (the history the checks read),
     from 6 prescribers and 5 pharmacies;
  2. each controlled-substance check alone on the request's clinical context (MME, history, prescription validity,
     counselling, alcohol, CNS burden), a fresh context for every call: a context remembers what its checks
     derive from the request (the dispensing history's fills), and a real screen builds it once;
  3. the MME arithmetic alone (compute_mme over the opioids).
Run:  .venv/bin/python benchmarks/controlled.py [--n 2000] [--fills 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import builders as b
from tests.controlled import helpers as h

from rxguard.adapters.fhir.request import parse_request
from rxguard.bootstrap import knowledge
from rxguard.checks.controlled import settings
from rxguard.checks.counselling import check_alcohol, check_cns_burden, check_counselling
from rxguard.checks.history import check_history
from rxguard.checks.mme import check_mme, compute_mme, opioid_meds
from rxguard.checks.prescription import check_prescriptions
from rxguard.screen import Screener


def request(fills: int) -> dict[str, object]:
    meds = [
        b.med("morphine sulfate 15 mg tablet", 15, "mg", 2),
        b.med("fentanyl 25 mcg/h patch", 1, "patch", None, every_days=3),
        b.med("tramadol 50 mg tablet", 50, "mg", 4),
        b.med("alprazolam 0.5 mg oral tablet", 1, "tablet", 2, rxnorm="308048"),
        b.med("gabapentin 300 mg capsule", 1, "capsule", 3),
        b.med("lisinopril 10 mg tablet", 1, "tablet", 1),
    ]
    history = [
        h.fill(h.OXYCODONE_5, 2 + i * 360 // fills, 14, prescriber=f"dr-{i % 6}", pharmacy=f"pharmacy-{i % 5}")
        for i in range(fills)
    ]
    order = h.prescribed_by(h.order(h.OXYCODONE_10, 1, "tablet", 4, quantity=120, days=30, refills=1), "dr-brown")
    doctor = h.practitioner("dr-brown", "Brown", dea="AB1234563", npi="1234567893")
    return h.request(order, meds=meds, fills=history, practitioners=[doctor], age=67)


def measure(label: str, fn: Callable[[], object], n: int) -> None:
    for _ in range(min(100, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    median = statistics.median(times) * 1000
    p99 = times[int(0.99 * (len(times) - 1))] * 1000
    print(f"{label:<40} n={n:<6} median {median:7.3f} ms   p99 {p99:7.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--fills", type=int, default=50)
    args = parser.parse_args()
    kb = knowledge()
    screener = Screener(kb)
    parsed = parse_request(request(args.fills))
    result = screener.screen(parsed)
    ctx = result.context
    print(
        f"controlled-substance benchmark: 1 opioid order, {len(ctx.comeds)} current medicines, "
        f"{args.fills} dispensing records, {len(result.alerts)} alerts "
        f"({', '.join(sorted({a.code for a in result.alerts}))}); kb {kb.version}"
    )
    measure("whole screen (all checks)", lambda: screener.screen(parsed), args.n)
    for name, check in (
        ("check_mme", check_mme),
        ("check_history (ER, DM, ID, DC)", check_history),
        ("check_prescriptions (PP, MS)", check_prescriptions),
        ("check_counselling (ED)", check_counselling),
        ("check_alcohol (OH)", check_alcohol),
        ("check_cns_burden (DD)", check_cns_burden),
    ):
        contexts = iter([screener.context(parsed) for _ in range(args.n + min(100, args.n))])
        measure(name, lambda c=check, fresh=contexts: c(next(fresh)), args.n)  # type: ignore[misc]
    factor_set = settings(ctx).factor_set
    measure("compute_mme", lambda: compute_mme(kb, opioid_meds(ctx), factor_set), args.n)


if __name__ == "__main__":
    main()
