"""Glue for the two PyPI peers rxguard is compared with: PyPGx and anukriti-pgx-core (optional extra `pgx-peers`).

Imported by benchmarks/thiopurine.py and tests/thiopurine/test_peers.py; each function imports its peer lazily.
PyPGx's cohort calls use its own pipeline steps (import_variants, predict_alleles) and its SimpleGenotyper rule
(first candidate of each haplotype, sorted by name), re-applied here because its call_genotypes step fails under
pandas 3 (a pandas string-array assignment error inside PyPGx 0.27).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def have_pypgx() -> bool:
    try:
        import pypgx  # noqa: F401
    except ImportError:
        return False
    return True


def have_anukriti() -> bool:
    try:
        import anukriti_pgx_core  # noqa: F401
    except ImportError:
        return False
    return True


def pypgx_phenotype(gene: str, first: str, second: str) -> str:
    import pypgx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(pypgx.predict_phenotype(gene, first, second))


def pypgx_recommendation(drug: str, tpmt: str, nudt15: str) -> str:
    import pypgx

    return str(pypgx.get_recommendation(drug, "NUDT15", nudt15, "TPMT", tpmt))


def pypgx_cohort(
    gene: str, vcf: Path, assembly: str, samples: Sequence[str] | None = None
) -> dict[str, tuple[str, str]]:
    """sample -> (diplotype, phenotype) by PyPGx's pipeline on a phased VCF (no bundle needed when phased)."""
    import pypgx
    from pypgx.api import core, utils

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imported = utils.import_variants(gene, str(vcf), assembly=assembly, samples=list(samples) if samples else None)
        alleles = utils.predict_alleles(imported)
        found: dict[str, tuple[str, str]] = {}
        for sample, row in alleles.data.iterrows():
            first = str(row["Haplotype1"]).strip(";").split(";")[0]
            second = str(row["Haplotype2"]).strip(";").split(";")[0]
            pair = core.sort_alleles([first, second], by="name")
            found[str(sample)] = ("/".join(pair), str(pypgx.predict_phenotype(gene, pair[0], pair[1])))
    return found


def anukriti_engine() -> Any:
    from anukriti_pgx_core import PhenotypeEngine

    return PhenotypeEngine()


def anukriti_phenotype(engine: Any, gene: str, first: str, second: str) -> str:
    try:
        return str(engine.infer(gene, first, second).phenotype)
    except Exception as exc:  # its table raises for alleles it does not list
        return f"error: {exc.__class__.__name__}"
