"""Calling TPMT and NUDT15 from VCFs: PharmCAT's test files and small files written here for each case."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rxguard.therapy.thiopurine.calling import Caller, SampleGenotype
from rxguard.therapy.thiopurine.knowledge import PgxIndex
from rxguard.therapy.thiopurine.phenotype import interpret
from rxguard.therapy.thiopurine.vcf import VcfError, call_vcf

HEADER38 = '##fileformat=VCFv4.2\n##reference=GRCh38\n##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
HEADER37 = '##fileformat=VCFv4.2\n##reference=GRCh37\n##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"
# TPMT GRCh38 definition positions: *3C rs1142345 18130687 T>C, *3B rs1800460 18138997 C>T, *2 rs1800462 18143724 C>G
TPMT3C, TPMT3B, TPMT2 = (
    ("chr6", 18130687, "rs1142345", "T", "C"),
    ("chr6", 18138997, "rs1800460", "C", "T"),
    (
        "chr6",
        18143724,
        "rs1800462",
        "C",
        "G",
    ),
)


def write_vcf(
    path: Path, rows: list[tuple[tuple[str, int, str, str, str], list[str]]], samples: list[str], header: str = HEADER38
) -> Path:
    lines = [header.rstrip("\n"), "\t".join([COLUMNS, *samples])]
    for (chrom, pos, rsid, ref, alt), gts in rows:
        lines.append("\t".join([chrom, str(pos), rsid, ref, alt, ".", "PASS", ".", "GT", *gts]))
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def one(index: PgxIndex, path: Path, gene: str = "TPMT", **kw: object) -> object:
    calls, _, _ = call_vcf(index, path, [gene], **kw)  # type: ignore[arg-type, list-item]
    assert len(calls) == 1
    return calls[0][1]


# --- PharmCAT's test VCFs (EXPECTED.md) ---------------------------------------------------------

PHARMCAT = [
    ("TPMT/s1s1.vcf", "*1/*1", "Normal Metabolizer", ("*1/*1",)),
    ("TPMT/s1s1s.vcf", "*1/*1", "Normal Metabolizer", ("*1/*1",)),
    ("TPMT/s3bs3c.vcf", "*1/*3A", "Intermediate Metabolizer", ("*1/*3A", "*3B/*3C")),
    ("TPMT/s3as3b.vcf", "*3A/*3B", "Poor Metabolizer", ("*3A/*3B",)),
    ("TPMT/s16s22.vcf", "*16/*22", "Indeterminate", ("*16/*22",)),
    ("TPMT/s1ss1ss3.vcf", "*1/*3A", "Intermediate Metabolizer", ("*1/*3A", "*3B/*3C")),
    ("TPMT/het3a.vcf", "*1/*3A", "Intermediate Metabolizer", ("*1/*3A", "*3B/*3C")),
    ("NUDT15/refref.vcf", "*1/*1", "Normal Metabolizer", ("*1/*1",)),
    ("NUDT15/s3ref.vcf", "*1/*3", "Intermediate Metabolizer", ("*1/*3",)),
    ("NUDT15/s2ref.vcf", "*1/*2", "Intermediate Metabolizer", ("*1/*2", "*3/*6")),
]


@pytest.mark.parametrize(("name", "diplotype", "phenotype", "possible"), PHARMCAT)
def test_pharmcat_test_files(
    index: PgxIndex, reference: Path, name: str, diplotype: str, phenotype: str, possible: tuple[str, ...]
) -> None:
    call = one(index, reference / "pgx-tests" / name, name.split("/", maxsplit=1)[0])
    assert (call.diplotype, call.phenotype, call.possible_diplotypes) == (diplotype, phenotype, possible)  # type: ignore[attr-defined]


def test_an_unexpected_alt_is_reported_not_ignored(index: PgxIndex, reference: Path) -> None:
    call = one(index, reference / "pgx-tests" / "TPMT" / "unexpected.allele.vcf")
    assert call.unexpected_alleles == ("g.18147910A>T",)  # type: ignore[attr-defined]
    assert call.phenotype == "Indeterminate"  # type: ignore[attr-defined]
    with_s9 = one(index, reference / "pgx-tests" / "TPMT" / "unexpected.allele.with.s9.vcf")
    assert with_s9.unexpected_alleles == ("g.18147910A>T",) and with_s9.phenotype == "Indeterminate"  # type: ignore[attr-defined]


def test_rs1800462_c_to_t_is_not_star2(index: PgxIndex, tmp_path: Path) -> None:
    """PharmCAT: *2 is C>G; C>T at the same position is unexpected: '*1/g.18143724C>T', no phenotype."""
    path = write_vcf(tmp_path / "x.vcf", [(("chr6", 18143724, "rs1800462", "C", "T"), ["0/1"])], ["S"])
    call = one(index, path)
    assert call.diplotype == "*1/g.18143724C>T" and call.phenotype == "Indeterminate"  # type: ignore[attr-defined]


# --- small VCFs ---------------------------------------------------------------------------------------


def test_heterozygous_and_homozygous(index: PgxIndex, tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "x.vcf", [(TPMT2, ["0/1", "1/1", "0/0"])], ["HET", "HOM", "REF"])
    calls = {s: c for s, c in call_vcf(index, path, ["TPMT"])[0]}
    assert (calls["HET"].diplotype, calls["HET"].phenotype) == ("*1/*2", "Intermediate Metabolizer")
    assert (calls["HOM"].diplotype, calls["HOM"].phenotype) == ("*2/*2", "Poor Metabolizer")
    assert (calls["REF"].diplotype, calls["REF"].phenotype) == ("*1/*1", "Normal Metabolizer")
    assert calls["REF"].missing_positions  # the file has 3 of the 43 positions: the others are listed
    assert "*5" in calls["REF"].unassessed_alleles


def test_phased_cis_and_trans(index: PgxIndex, tmp_path: Path) -> None:
    path = write_vcf(
        tmp_path / "x.vcf.gz",
        [(TPMT3C, ["1|0", "1|0", "1/0"]), (TPMT3B, ["1|0", "0|1", "0/1"])],
        ["CIS", "TRANS", "UNPHASED"],
    )
    calls = {s: c for s, c in call_vcf(index, path, ["TPMT"])[0]}
    assert (calls["CIS"].diplotype, calls["CIS"].possible_diplotypes, calls["CIS"].phased) == (
        "*1/*3A",
        ("*1/*3A",),
        True,
    )
    assert (calls["TRANS"].diplotype, calls["TRANS"].phenotype) == ("*3B/*3C", "Poor Metabolizer")
    unphased = calls["UNPHASED"]
    assert unphased.possible_diplotypes == ("*1/*3A", "*3B/*3C") and unphased.diplotype == "*1/*3A"
    assert not unphased.phased
    assert any("*3B/*3C (Poor Metabolizer)" in n for n in unphased.notes)


def test_a_missing_call_makes_the_position_missing(index: PgxIndex, tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "x.vcf", [(TPMT3C, ["0/1"]), (TPMT3B, ["./."])], ["S"])
    call = one(index, path)
    assert "chr6:18138997 (rs1800460)" in call.missing_positions  # type: ignore[attr-defined]
    assert {"*3A", "*3B"} <= set(call.unassessed_alleles)  # type: ignore[attr-defined]
    assert call.diplotype == "*1/*3C"  # type: ignore[attr-defined]


def test_multi_sample_and_sample_choice(index: PgxIndex, tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "x.vcf", [(TPMT2, ["0/1", "0/0"])], ["A", "B"])
    calls, build, _ = call_vcf(index, path, ["TPMT", "NUDT15"], samples=["B"])
    assert [(s, c.gene) for s, c in calls] == [("B", "TPMT"), ("B", "NUDT15")]
    assert build == "GRCh38"
    assert calls[1][1].diplotype is None and "nothing could be called" in calls[1][1].notes[0]


def test_grch37_positions_and_rsids(index: PgxIndex, tmp_path: Path) -> None:
    rows = [(("6", 18130918, "rs1142345", "T", "C"), ["0|1"]), (("6", 18139228, "rs1800460", "C", "T"), ["0|1"])]
    path = write_vcf(tmp_path / "x.vcf", rows, ["S"], header=HEADER37)
    call = one(index, path)
    assert (call.diplotype, call.phased) == ("*1/*3A", True)  # type: ignore[attr-defined]


def test_rsid_matching_when_the_position_is_not_a_definition_position(index: PgxIndex, tmp_path: Path) -> None:
    """NUDT15 *21 (rs1185228044) has no GRCh37 coordinate in the sources: found by its rsID."""
    rows = [(("13", 48620000, "rs1185228044", "G", "C"), ["0/1"]), (("13", 48619855, "rs116855232", "C", "T"), ["0/0"])]
    path = write_vcf(tmp_path / "x.vcf", rows, ["S"], header=HEADER37)
    call = one(index, path, "NUDT15")
    assert call.diplotype == "*1/*21" and call.phenotype == "Indeterminate"  # type: ignore[attr-defined]


def test_the_wrong_genome_build_is_an_error(index: PgxIndex, tmp_path: Path) -> None:
    rows = [(("chr6", 18130918, "rs1142345", "T", "C"), ["0/1"]), (("chr6", 18143955, "rs1800462", "C", "G"), ["0/0"])]
    # GRCh37 coordinates in a file that says GRCh38: the REF bases at GRCh38 positions do not fit
    grch38_site_with_grch37_ref = (("chr6", 18138997, ".", "G", "A"), ["0/0"])
    path = write_vcf(tmp_path / "x.vcf", [*rows, grch38_site_with_grch37_ref], ["S"])
    with pytest.raises(VcfError, match="wrong genome build"):
        call_vcf(index, path, ["TPMT"])


def test_a_vcf_without_the_relevant_positions_is_an_error(index: PgxIndex, tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "x.vcf", [(("chr1", 1000, ".", "A", "G"), ["0/1"])], ["S"])
    with pytest.raises(VcfError, match="no TPMT or NUDT15 definition position"):
        call_vcf(index, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hello\n", "not a VCF"),
        (
            HEADER38 + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr6\t18143724\t.\tC\tG\t.\t.\t.\n",
            "no sample columns",
        ),
        (HEADER38 + COLUMNS + "\tS\nchr6\tabc\t.\tC\tG\t.\t.\t.\tGT\t0/1\n", "POS 'abc' is not a number"),
    ],
)
def test_bad_files_say_what_is_wrong(index: PgxIndex, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.vcf"
    path.write_text(content)
    with pytest.raises(VcfError, match=message):
        call_vcf(index, path)


def test_an_unknown_sample_is_an_error(index: PgxIndex, tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "x.vcf", [(TPMT2, ["0/1"])], ["A"])
    with pytest.raises(VcfError, match="--sample: Z not in"):
        call_vcf(index, path, samples=["Z"])


def test_rsid_genotypes_as_text(index: PgxIndex) -> None:
    result = interpret(index, "TPMT", "rs1800460 C/T; rs1142345 T/C")
    assert (result.diplotype, result.phenotype, result.basis) == ("*1/*3A", "Intermediate Metabolizer", "genotypes")


def test_a_cohort_pattern_is_called_once(index: PgxIndex) -> None:
    caller = Caller(index, "TPMT")
    first = caller.call(SampleGenotype({0: ("C", None)}, phased=False))
    assert caller.call(SampleGenotype({0: ("C", None)}, phased=False)) is first


def test_the_1000_genomes_cohort_calls_every_sample(index: PgxIndex, reference: Path) -> None:
    calls, build, _ = call_vcf(index, reference / "pgx-1kgp" / "GRCh37" / "NUDT15.vcf.gz", ["NUDT15"])
    assert build == "GRCh37" and len(calls) == 2504
    counts: dict[str, int] = {}
    for _, call in calls:
        counts[call.phenotype] = counts.get(call.phenotype, 0) + 1
    assert counts["Poor Metabolizer"] == 13 and counts["Intermediate Metabolizer"] == 171
