"""Genotype to phenotype for TPMT and NUDT15: CPIC terms from a phenotype, a diplotype or rsID genotypes.

A diplotype is looked up in CPIC's table (as shipped by PharmCAT); alleles the table does not list but whose
function is known are assigned by CPIC's allele-function rule, and the result says so. Anything that cannot
be read becomes 'Indeterminate' with the reason, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from rxguard.domain.model import Concept, Observation
from rxguard.errors import InputError
from rxguard.therapy.thiopurine.knowledge import GENES, Gene, PgxIndex, Phenotype

NM: Phenotype = "Normal Metabolizer"
IM: Phenotype = "Intermediate Metabolizer"
PIM: Phenotype = "Possible Intermediate Metabolizer"
PM: Phenotype = "Poor Metabolizer"
IND: Phenotype = "Indeterminate"
NONE: Phenotype = "No Result"

ABBREVIATIONS: dict[Phenotype, str] = {
    NM: "NM",
    IM: "IM",
    PIM: "possible IM",
    PM: "PM",
    IND: "Indeterminate",
    NONE: "none",
}

_PHENOTYPE_WORDS: tuple[tuple[re.Pattern[str], Phenotype], ...] = (
    (re.compile(r"\b(possible\s+intermediate|pim)\b"), PIM),
    (re.compile(r"\b(intermediate|im|heterozygous)\b"), IM),
    (re.compile(r"\b(poor|pm|deficient|homozygous\s+deficient)\b"), PM),
    (re.compile(r"\b(normal|nm|extensive|wild[\s-]?type)\b"), NM),
    (re.compile(r"\b(indeterminate|unknown|uncertain)\b"), IND),
    (re.compile(r"\bno\s+result\b"), NONE),
)
_DIPLOTYPE = re.compile(r"(\*\d+[A-Za-z]?)\s*/\s*(\*\d+[A-Za-z]?)")
_RSID_GENOTYPE = re.compile(r"(rs\d+)\s*[:=]?\s*([ACGT]+)\s*[/|]\s*([ACGT]+)", re.IGNORECASE)
GENOTYPE_LOINC = frozenset({"84413-4", "80738-8", "93193-1"})
PHENOTYPE_LOINC = frozenset({"79713-4", "53040-2"})
GENE_STUDIED_LOINC = "48018-6"
HGNC_GENES = {"HGNC:12014": "TPMT", "HGNC:23063": "NUDT15"}
_GENE_WORD = {gene: re.compile(rf"\b{gene}\b", re.IGNORECASE) for gene in GENES}  # compiled once


@dataclass(frozen=True, slots=True)
class GeneResult:
    """One gene's result: the CPIC phenotype, the diplotype it came from, and how it was obtained."""

    gene: Gene
    phenotype: Phenotype
    diplotype: str | None = None
    basis: str = "phenotype"  # phenotype | diplotype | derived | genotypes | vcf
    notes: tuple[str, ...] = ()
    observation_id: str | None = None
    effective: date | None = None


def normalise_phenotype(text: str) -> Phenotype | None:
    """'IM', 'intermediate metaboliser', 'Possible Intermediate Metabolizer' -> the CPIC term; None if not one."""
    lowered = " ".join(text.lower().replace("_", " ").split())
    if lowered in ("n/a", ""):
        return None
    for pattern, phenotype in _PHENOTYPE_WORDS:
        if pattern.search(lowered):
            return phenotype
    return None


def allele_name(text: str) -> str:
    """'*3a' -> '*3A' (star-allele suffix letters are upper case)."""
    return text[0] + re.sub(r"[a-z]$", lambda m: m.group(0).upper(), text[1:])


def parse_diplotype(text: str) -> tuple[str, str] | None:
    match = _DIPLOTYPE.search(text)
    if match is None:
        return None
    return allele_name(match.group(1)), allele_name(match.group(2))


def phenotype_from_functions(first: str, second: str) -> Phenotype:
    """CPIC's rule (2018 Table 1 with the April 2020 'Indeterminate' addition) from two allele functions."""

    def kind(function: str) -> str:
        if function == "Normal function":
            return "normal"
        if function == "No function":
            return "none"
        return "other"  # uncertain, unknown (and 'decreased', which the current tables do not use)

    pair = sorted((kind(first), kind(second)))
    table: dict[tuple[str, str], Phenotype] = {
        ("normal", "normal"): NM,
        ("none", "normal"): IM,
        ("none", "other"): PIM,
        ("none", "none"): PM,
        ("normal", "other"): IND,
        ("other", "other"): IND,
    }
    return table[(pair[0], pair[1])]


def diplotype_phenotype(index: PgxIndex, gene: Gene, first: str, second: str) -> GeneResult:
    """Phenotype of a diplotype: CPIC's table, else its allele-function rule, else Indeterminate (said why)."""
    diplotype = f"{first}/{second}"
    found = index.diplotypes.get((gene, first, second))
    if found is not None:
        return GeneResult(gene, found, diplotype, "diplotype")
    unknown = [a for a in (first, second) if (gene, a) not in index.functions]
    if unknown:
        return GeneResult(
            gene,
            IND,
            diplotype,
            "diplotype",
            (f"{gene} {', '.join(unknown)} is not a defined allele: no phenotype can be assigned",),
        )
    f1, f2 = index.functions[(gene, first)], index.functions[(gene, second)]
    return GeneResult(
        gene,
        phenotype_from_functions(f1, f2),
        diplotype,
        "derived",
        (
            f"{diplotype} is not in CPIC's diplotype table; phenotype assigned from the allele functions "
            f"({first}: {f1.lower()}, {second}: {f2.lower()}) by CPIC's rule",
        ),
    )


def interpret(index: PgxIndex, gene: Gene, text: str) -> GeneResult:
    """A result as written by a lab or a user: a diplotype, rsID genotypes, or a phenotype."""
    pair = parse_diplotype(text)
    if pair is not None:
        return diplotype_phenotype(index, gene, *pair)
    if _RSID_GENOTYPE.search(text):
        from rxguard.therapy.thiopurine.calling import call_rsid_genotypes

        return call_rsid_genotypes(index, gene, text)
    phenotype = normalise_phenotype(text)
    if phenotype is not None:
        return GeneResult(gene, phenotype, None, "phenotype")
    return GeneResult(gene, IND, None, "phenotype", (f"{gene} result {text!r} could not be read",))


def given_results(index: PgxIndex, tpmt: str | None, nudt15: str | None) -> tuple[GeneResult | None, GeneResult | None]:
    """The TPMT and NUDT15 results a user typed (None: not given); at least one is needed for CPIC's advice."""
    if not tpmt and not nudt15:
        raise InputError(
            "--tpmt",
            tpmt,
            "no TPMT or NUDT15 result: CPIC's advice needs at least one (a diplotype, rsID genotypes or a "
            "phenotype); test before starting",
        )
    return (
        interpret(index, "TPMT", tpmt) if tpmt else None,
        interpret(index, "NUDT15", nudt15) if nudt15 else None,
    )


def rsid_genotypes(text: str) -> list[tuple[str, str, str]]:
    return [(m.group(1).lower(), m.group(2).upper(), m.group(3).upper()) for m in _RSID_GENOTYPE.finditer(text)]


# --- results on the patient's record ---------------------------------------------------------------


def _gene_of(observation: Observation) -> Gene | None:
    for concept, value in observation.components:
        if GENE_STUDIED_LOINC in concept.codes("loinc.org") and isinstance(value, Concept):
            for coding in value.codings:
                gene = HGNC_GENES.get(coding.code) or (coding.display or coding.code).upper()
                if gene in GENES:
                    return gene  # type: ignore[return-value,unused-ignore]
            for text in value.all_text():
                if text.strip().upper() in GENES:
                    return text.strip().upper()  # type: ignore[return-value]
    words = " ".join(
        [*observation.concept.all_text(), *(observation.value_concept.all_text() if observation.value_concept else ())]
    )
    found = [g for g in GENES if _GENE_WORD[g].search(words)]
    return found[0] if len(found) == 1 else None


def results_from_observations(
    index: PgxIndex, observations: Iterable[Observation], now: date
) -> dict[Gene, GeneResult]:
    """The latest TPMT and NUDT15 result on file (genotype preferred over a phenotype of the same date)."""
    found: dict[Gene, GeneResult] = {}
    for obs in observations:
        if obs.effective is not None and obs.effective > now:
            continue
        codes = set(obs.loinc())
        is_genotype = bool(codes & GENOTYPE_LOINC)
        is_phenotype = bool(codes & PHENOTYPE_LOINC)
        if not (is_genotype or is_phenotype) or obs.value_concept is None:
            continue
        gene = _gene_of(obs)
        if gene is None:
            continue
        text = " ".join(obs.value_concept.all_text())
        result = interpret(index, gene, text)
        result = GeneResult(gene, result.phenotype, result.diplotype, result.basis, result.notes, obs.id, obs.effective)
        current = found.get(gene)
        rank = (obs.effective or date.min, result.basis != "phenotype")
        if current is None or rank >= (current.effective or date.min, current.basis != "phenotype"):
            found[gene] = result
    return found
