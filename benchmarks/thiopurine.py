"""Thiopurine pharmacogenomics speed and agreement, rxguard vs PyPGx and anukriti-pgx-core, in one run.

    .venv/bin/python benchmarks/thiopurine.py [--pypgx-samples 200 | --full] [--lookups 200000]

Prints: cohort calling time for the 1000 Genomes VCFs (both genes, GRCh37 2,504 and GRCh38 3,202 samples);
PyPGx's pipeline on a sample of the cohort (all of it with --full: minutes per gene) with its agreement;
genotype-to-recommendation lookups per second in-process for rxguard and the two peers; and agreement on
every CPIC diplotype. Peers are optional (`pip install -e '.[pgx-peers]'`): absent ones are reported as such.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from rxguard.bootstrap import knowledge
from rxguard.therapy.thiopurine.knowledge import pgx_index
from rxguard.therapy.thiopurine.phenotype import diplotype_phenotype
from rxguard.therapy.thiopurine.recommendation import lookup
from rxguard.therapy.thiopurine.vcf import call_vcf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import thiopurine_peers as peers

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "reference" / "data"
COHORT = DATA / "pgx-1kgp"


def per_second(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s ({seconds / n * 1e6:,.2f} us each)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypgx-samples", type=int, default=200, help="cohort samples per gene for PyPGx")
    parser.add_argument("--full", action="store_true", help="run PyPGx on the whole cohort (minutes per gene)")
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    if not COHORT.is_dir():
        print(f"no cohort data at {COHORT}", file=sys.stderr)
        return 2
    index = pgx_index(knowledge())

    print("== Cohort calling (rxguard, whole cohort, both genes)")
    ours: dict[tuple[str, str], dict[str, tuple[str | None, str]]] = {}
    for build in ("GRCh37", "GRCh38"):
        started = time.perf_counter()
        total = 0
        for gene in ("TPMT", "NUDT15"):
            calls, _, _ = call_vcf(index, COHORT / build / f"{gene}.vcf.gz", [gene])  # type: ignore[list-item]
            ours[(build, gene)] = {s: (c.diplotype, c.phenotype) for s, c in calls}
            total += len(calls)
        elapsed = time.perf_counter() - started
        samples = total // 2
        print(f"  {build}: {samples} samples x 2 genes in {elapsed:.2f} s ({total / elapsed:,.0f} gene calls/s)")

    print("== PyPGx pipeline on the GRCh37 cohort (import_variants + predict_alleles + its SimpleGenotyper rule)")
    if not peers.have_pypgx():
        print("  PyPGx not installed: skipped")
    else:
        rng = random.Random(20261120)  # noqa: S311 - sampling for a benchmark, not security
        for gene in ("TPMT", "NUDT15"):
            everyone = sorted(ours[("GRCh37", gene)])
            chosen = everyone if args.full else rng.sample(everyone, min(args.pypgx_samples, len(everyone)))
            started = time.perf_counter()
            theirs = peers.pypgx_cohort(gene, COHORT / "GRCh37" / f"{gene}.vcf.gz", "GRCh37", chosen)
            elapsed = time.perf_counter() - started
            agree = sum(theirs[s] == ours[("GRCh37", gene)][s] for s in chosen)
            estimate = elapsed / len(chosen) * len(everyone)
            print(
                f"  {gene}: {len(chosen)} samples in {elapsed:.1f} s -> {estimate / 60:.1f} min for all {len(everyone)}"
                f"{' (measured)' if args.full else ' (extrapolated)'}; agreement with rxguard {agree}/{len(chosen)}"
            )

    print("== Genotype -> recommendation lookups in-process")
    diplotypes = {g: [f"{a}/{b}" for (gg, a, b) in index.diplotypes if gg == g] for g in ("TPMT", "NUDT15")}
    rng = random.Random(7)  # noqa: S311 - sampling for a benchmark, not security
    pairs = [(rng.choice(diplotypes["TPMT"]), rng.choice(diplotypes["NUDT15"])) for _ in range(2000)]
    for tpmt, nudt15 in pairs:  # warm the memo, as a long-running service would be
        lookup(index, "azathioprine", tpmt, nudt15)
    started = time.perf_counter()
    for i in range(args.lookups):
        tpmt, nudt15 = pairs[i % len(pairs)]
        lookup(index, "azathioprine", tpmt, nudt15)
    print(f"  rxguard lookup (diplotypes -> CPIC advice): {per_second(args.lookups, time.perf_counter() - started)}")
    started = time.perf_counter()
    for i in range(args.lookups):
        tpmt, nudt15 = pairs[i % len(pairs)]
        a, b = tpmt.split("/")
        c, d = nudt15.split("/")
        diplotype_phenotype(index, "TPMT", a, b)
        diplotype_phenotype(index, "NUDT15", c, d)
    print(
        f"  rxguard phenotype pair, unmemoised table lookups: {per_second(args.lookups, time.perf_counter() - started)}"
    )
    if peers.have_pypgx():
        n = 200
        started = time.perf_counter()
        for i in range(n):
            tpmt, nudt15 = pairs[i]
            t = peers.pypgx_phenotype("TPMT", *tpmt.split("/"))
            p = peers.pypgx_phenotype("NUDT15", *nudt15.split("/"))
            peers.pypgx_recommendation("azathioprine", t, p)
        print(f"  PyPGx predict_phenotype x2 + get_recommendation: {per_second(n, time.perf_counter() - started)}")
    else:
        print("  PyPGx not installed: skipped")
    if peers.have_anukriti():
        engine = peers.anukriti_engine()
        n = 20_000
        started = time.perf_counter()
        for i in range(n):
            tpmt, nudt15 = pairs[i % len(pairs)]
            peers.anukriti_phenotype(engine, "TPMT", *tpmt.split("/"))
            peers.anukriti_phenotype(engine, "NUDT15", *nudt15.split("/"))
        print(
            "  anukriti PhenotypeEngine.infer x2 (phenotype only, no dosing): "
            f"{per_second(n, time.perf_counter() - started)}"
        )
    else:
        print("  anukriti-pgx-core not installed: skipped")

    print("== Agreement on every CPIC diplotype")
    for gene in ("TPMT", "NUDT15"):
        rows = [(a, b) for (g, a, b) in index.diplotypes if g == gene and a <= b]
        if peers.have_pypgx():
            same = sum(
                diplotype_phenotype(index, gene, a, b).phenotype == peers.pypgx_phenotype(gene, a, b) for a, b in rows
            )  # type: ignore[arg-type]
            print(f"  {gene} PyPGx: {same}/{len(rows)} identical")
        if peers.have_anukriti():
            engine = peers.anukriti_engine()
            same = sum(
                diplotype_phenotype(index, gene, a, b).phenotype == peers.anukriti_phenotype(engine, gene, a, b)
                for a, b in rows
            )  # type: ignore[arg-type]
            print(f"  {gene} anukriti: {same}/{len(rows)} identical (differences: uncertain/unknown-function alleles)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
