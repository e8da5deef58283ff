"""Surveillance speed: synthetic dispensing records through the full rule set, end to end.

For each size (default 1, 10 and 30 million records) it generates the synthetic data once (not timed), then
times `rxguard surveil` end to end on DuckDB: read and validate the Parquet file, identify drugs, compute MME,
run every rule (daily MME, opioid + benzodiazepine, multiple providers, early refills, long-term opioid therapy,
thiopurine blood tests), and write flags.parquet, rejects.csv, summary.json and report.html. It prints records
per second and the time of each step, checks that the planted cases were found, and (with --spark-at) runs the
same data on Spark local[2] in the same process.

    .venv/bin/python benchmarks/surveillance.py                         # 1M, 10M, 30M on DuckDB; Spark at 10M
    .venv/bin/python benchmarks/surveillance.py --sizes 1 --spark-at 1  # quick
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rxguard.adapters.surveillance import synth
from rxguard.adapters.surveillance.knowledge import thiopurine_schedule
from rxguard.adapters.surveillance.pipeline import RunResult, spark_session, surveil
from rxguard.knowledge.load import cached_knowledge

RECORDS_PER_PATIENT = 3.13  # measured mean of the synthetic distributions


def recall(result: RunResult, planted: Path) -> tuple[int, int, int]:
    with planted.open(encoding="utf-8") as handle:
        expected = {(r["patient_id"], r["flag"]) for r in csv.DictReader(handle)}
    flags = result.flags
    got = set(zip(flags.column("patient_id").to_pylist(), flags.column("flag").to_pylist(), strict=True))
    return len(expected & got), len(expected), len(got - expected)


def report(label: str, result: RunResult, seconds: float, planted: Path) -> None:
    found, expected, extra = recall(result, planted)
    steps = ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
    print(
        f"{label}: {result.records:,} records in {seconds:.1f} s = {result.records / seconds:,.0f} records/s; "
        f"planted found {found}/{expected}, other flags {extra}"
    )
    print(f"    steps (s): {steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,30", help="millions of records, comma-separated")
    parser.add_argument("--spark-at", type=float, default=10.0, help="also run Spark at this size (0: never)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the data (default: a temp folder)")
    args = parser.parse_args()
    kb = cached_knowledge(None)
    phases = thiopurine_schedule(kb, "label").phases
    work = args.work or Path(tempfile.mkdtemp(prefix="rxguard-bench-"))
    print(f"machine: {os.cpu_count()} cores; work folder {work}")
    results: list[tuple[float, int, float]] = []
    try:
        for size in [float(x) for x in args.sizes.split(",")]:
            patients = round(size * 1_000_000 / RECORDS_PER_PATIENT)
            folder = work / f"{size:g}M"
            started = time.perf_counter()
            data = synth.generate(patients, phases)
            paths = synth.write(data, folder, "parquet")
            del data
            print(f"\n{size:g}M: generated {patients:,} patients in {time.perf_counter() - started:.1f} s (not timed)")
            started = time.perf_counter()
            result = surveil(kb, paths["dispensing"], labs=paths["labs"], out=folder / "duckdb")
            seconds = time.perf_counter() - started
            report("  duckdb", result, seconds, paths["planted"])
            results.append((size, result.records, seconds))
            if args.spark_at and abs(size - args.spark_at) < 1e-9:
                started = time.perf_counter()
                session = spark_session(master="local[2]", work=folder / "spark")
                session.sparkContext.setLogLevel("ERROR")
                print(f"  spark session started in {time.perf_counter() - started:.1f} s (not counted below)")
                started = time.perf_counter()
                result = surveil(kb, paths["dispensing"], labs=paths["labs"], engine="spark", spark=session)
                seconds = time.perf_counter() - started
                report("  spark local[2]", result, seconds, paths["planted"])
                session.stop()
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if len(results) > 1:
        print("\ngrowth (DuckDB):")
        _, base_records, base_seconds = results[0]
        for size, records, seconds in results:
            print(
                f"  {size:g}M: {seconds:.1f} s, {records / seconds:,.0f} records/s, time x{seconds / base_seconds:.1f} "
                f"for records x{records / base_records:.1f}"
            )


if __name__ == "__main__":
    main()
