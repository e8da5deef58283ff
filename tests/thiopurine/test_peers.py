"""Agreement with PyPGx (same CPIC tables) and a listing of anukriti-pgx-core's differences.

Needs the optional extra `pgx-peers` (pip install -e '.[pgx-peers]'); skipped with the reason otherwise.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from rxguard.therapy.thiopurine.knowledge import DRUGS, PgxIndex
from rxguard.therapy.thiopurine.phenotype import diplotype_phenotype
from rxguard.therapy.thiopurine.recommendation import recommend
from rxguard.therapy.thiopurine.vcf import call_vcf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import thiopurine_peers as peers

needs_pypgx = pytest.mark.skipif(not peers.have_pypgx(), reason="PyPGx is not installed (optional extra 'pgx-peers')")
needs_anukriti = pytest.mark.skipif(
    not peers.have_anukriti(), reason="anukriti-pgx-core is not installed (optional extra 'pgx-peers')"
)
BOTH_IM = {"Intermediate Metabolizer", "Possible Intermediate Metabolizer"}


def diplotypes(reference: Path, gene: str) -> list[tuple[str, str, str]]:
    with (reference / "thiopurines" / f"{gene}_diplotype_phenotype_pharmcat.tsv").open() as handle:
        return [(*r["diplotype"].split("/"), r["phenotype"]) for r in csv.DictReader(handle, delimiter="\t")]  # type: ignore[misc]


@needs_pypgx
@pytest.mark.parametrize("gene", ["TPMT", "NUDT15"])
def test_pypgx_agrees_on_every_cpic_diplotype(index: PgxIndex, reference: Path, gene: str) -> None:
    wrong = [
        (a, b, ours.phenotype, theirs)
        for a, b, _ in diplotypes(reference, gene)
        if (ours := diplotype_phenotype(index, gene, a, b)).phenotype != (theirs := peers.pypgx_phenotype(gene, a, b))  # type: ignore[arg-type]
    ]
    assert wrong == []


@needs_pypgx
def test_pypgx_recommendations_agree_except_the_amended_rows(index: PgxIndex) -> None:
    """PyPGx carries the same pre-2024 CPIC text: the same start percentages, except IM x IM (amended)."""
    phenotypes = [
        "Normal Metabolizer",
        "Intermediate Metabolizer",
        "Possible Intermediate Metabolizer",
        "Poor Metabolizer",
        "Indeterminate",
    ]
    differing = []
    for drug in DRUGS:
        for tpmt in phenotypes:
            for nudt15 in phenotypes:
                theirs = peers.pypgx_recommendation(drug, tpmt, nudt15)
                advice = recommend(index, drug, tpmt, nudt15)  # type: ignore[arg-type]
                percent = advice.start_dose_percent
                if (
                    percent
                    and percent != (100, 100)
                    and f"{percent[0]}%" not in theirs
                    and f"{percent[0]}% " not in theirs
                ):
                    differing.append((drug, tpmt, nudt15))
    assert differing
    assert all(t in BOTH_IM and n in BOTH_IM for _, t, n in differing)
    assert len(differing) == 3 * 4


@needs_pypgx
@pytest.mark.parametrize("gene", ["TPMT", "NUDT15"])
def test_pypgx_agrees_on_the_cohort_calls(index: PgxIndex, reference: Path, gene: str) -> None:
    """Every distinct call in the 1000 Genomes cohort (up to 3 samples each), called by both tools."""
    vcf = reference / "pgx-1kgp" / "GRCh37" / f"{gene}.vcf.gz"
    calls, _, _ = call_vcf(index, vcf, [gene])  # type: ignore[list-item]
    chosen: dict[str, list[str]] = {}
    for sample, call in calls:
        chosen.setdefault(str(call.diplotype), [])
        if len(chosen[str(call.diplotype)]) < 3:
            chosen[str(call.diplotype)].append(sample)
    samples = [s for group in chosen.values() for s in group]
    ours = {s: (c.diplotype, c.phenotype) for s, c in calls}
    theirs = peers.pypgx_cohort(gene, vcf, "GRCh37", samples)
    assert {s: ours[s] for s in samples} == theirs


@needs_anukriti
@pytest.mark.parametrize("gene", ["TPMT", "NUDT15"])
def test_anukriti_differences_are_listed_with_their_reason(index: PgxIndex, reference: Path, gene: str) -> None:
    """anukriti's table differs from CPIC on rare alleles: listed (printed with -s), not treated as failures."""
    engine = peers.anukriti_engine()
    differences = []
    for a, b, cpic in diplotypes(reference, gene):
        theirs = peers.anukriti_phenotype(engine, gene, a, b)
        if theirs != cpic:
            functions = (index.functions[(gene, a)], index.functions[(gene, b)])  # type: ignore[index]
            differences.append((f"{a}/{b}", cpic, theirs, functions))
    for diplotype, cpic, theirs, functions in differences:
        print(
            f"{gene} {diplotype}: CPIC {cpic}; anukriti {theirs} "
            f"(CPIC allele functions: {functions[0]}, {functions[1]})"
        )
    # the disagreements are about uncertain/unknown-function alleles, never two CPIC-known functions
    assert all("Uncertain function" in f or "Unknown function" in f for *_, f in differences)
    assert rows_agree_on_common_alleles(index, gene)


def rows_agree_on_common_alleles(index: PgxIndex, gene: str) -> bool:
    engine = peers.anukriti_engine()
    common = {
        "TPMT": [("*1", "*1"), ("*1", "*3A"), ("*3A", "*3A"), ("*1", "*3C")],
        "NUDT15": [("*1", "*1"), ("*1", "*3"), ("*3", "*3")],
    }
    return all(
        peers.anukriti_phenotype(engine, gene, a, b) == diplotype_phenotype(index, gene, a, b).phenotype
        for a, b in common[gene]
    )  # type: ignore[arg-type]
