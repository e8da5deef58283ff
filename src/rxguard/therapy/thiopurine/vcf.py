"""Read a VCF (plain or gzip/bgzip, one or many samples) and call TPMT and NUDT15 for every sample.

Variants are matched to the allele definitions by position for the VCF's genome build (GRCh38, or GRCh37
where the definitions have GRCh37 coordinates) after normalising REF/ALT, or by rsID where the ID column
carries one. The build comes from the caller, else the header (##reference, ##contig assembly), else the
REF bases at the definition positions; REF bases that fit the other build are a 'wrong build' error.
Split multi-allelic records are merged; phased and unphased genotypes are both handled by calling.py.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rxguard.therapy.thiopurine.calling import Caller, GeneCall, SampleGenotype, gene_model
from rxguard.therapy.thiopurine.knowledge import GENES, Gene, PgxIndex

Build = Literal["GRCh38", "GRCh37"]
_BUILD38 = re.compile(r"grch38|hg38|\bb38\b|gca_000001405\.15|hs38", re.IGNORECASE)
_BUILD37 = re.compile(r"grch37|hg19|\bb37\b|hs37d5|human_g1k_v37|gca_000001405\.1\b", re.IGNORECASE)
MISSING = "missing"


class VcfError(ValueError):
    """The file cannot be used: says what is wrong and where."""


def normalise(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


@dataclass(frozen=True, slots=True)
class BuildMap:
    """One gene's definitions in one build: positions, REF bases and ALT tokens to look records up by."""

    chromosomes: frozenset[str]
    position_of: dict[int, int]  # definition position -> variant index
    ref_at: dict[int, str]  # variant index -> reference sequence at the position
    tokens: dict[tuple[int, str, str], tuple[int, str]]  # normalised change -> (variant index, GRCh38 ALT token)


def build_map(index: PgxIndex, gene: Gene, build: Build) -> BuildMap:
    key = f"vcf.map.{gene}.{build}"
    cached = index.cache.get(key)
    if isinstance(cached, BuildMap):
        return cached
    definition = gene_model(index, gene).definition
    position_of: dict[int, int] = {}
    ref_at: dict[int, str] = {}
    for i, variant in enumerate(definition.variants):
        site = variant.grch38 if build == "GRCh38" else variant.grch37
        if site is not None:
            position_of[site.pos] = i
            ref_at[i] = site.ref
    key_of = {v.key: i for i, v in enumerate(definition.variants)}
    tokens: dict[tuple[int, str, str], tuple[int, str]] = {}
    for allele in definition.alleles:
        for change in allele.changes:
            written = change.grch38 if build == "GRCh38" else change.grch37
            if written is None:
                continue
            pos, _, rest = written.partition(":")
            ref, _, alt = rest.partition(">")
            token = change.grch38.split(">")[1]
            tokens[normalise(int(pos), ref, alt)] = (key_of[change.variant], token)
    chrom = definition.chromosome_grch38.removeprefix("chr")
    result = BuildMap(frozenset({chrom, f"chr{chrom}"}), position_of, ref_at, tokens)
    index.cache[key] = result
    return result


@dataclass
class Record:
    chrom: str
    pos: int
    ids: tuple[str, ...]
    ref: str
    alts: tuple[str, ...]
    gt_index: int | None
    samples: list[str]


@dataclass
class VcfFile:
    samples: list[str]
    header_build: Build | None
    records: list[Record]
    lines: int = 0


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8", errors="replace")


def _split(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t") if "\t" in line else line.split()


def read_vcf(path: Path, chromosomes: frozenset[str]) -> VcfFile:
    """Header, samples, and the records on the given chromosomes (others are skipped unparsed)."""
    if not path.exists():
        raise VcfError(f"{path}: no such file")
    samples: list[str] | None = None
    header_build: Build | None = None
    records: list[Record] = []
    fileformat = False
    count = 0
    try:
        with _open_text(path) as handle:
            for line in handle:
                count += 1
                if line.startswith("##"):
                    if line.startswith("##fileformat=VCF"):
                        fileformat = True
                    if line.startswith(("##reference", "##assembly", "##contig", "##source")):
                        if _BUILD38.search(line):
                            header_build = header_build or "GRCh38"
                        elif _BUILD37.search(line):
                            header_build = header_build or "GRCh37"
                    continue
                if line.startswith("#CHROM"):
                    columns = _split(line)
                    if len(columns) < 8:
                        raise VcfError(f"{path}: line {count}: the #CHROM header has {len(columns)} columns, not 8+")
                    samples = columns[9:]
                    continue
                if not line.strip():
                    continue
                if samples is None:
                    raise VcfError(f"{path}: line {count}: a data line before the #CHROM header: not a VCF")
                tab = line.find("\t")
                chrom = line[:tab] if tab > 0 else line.split(None, 1)[0]
                if chrom not in chromosomes:
                    continue
                cols = _split(line)
                if len(cols) < 8:
                    raise VcfError(f"{path}: line {count}: {len(cols)} columns, a VCF line needs at least 8")
                try:
                    pos = int(cols[1])
                except ValueError:
                    raise VcfError(f"{path}: line {count}: POS {cols[1]!r} is not a number") from None
                fmt = cols[8].split(":") if len(cols) > 8 else []
                gt_index = fmt.index("GT") if "GT" in fmt else None
                alts = tuple(a for a in cols[4].split(",") if a not in (".", "*", "<NON_REF>"))
                ids = tuple(x for x in cols[2].split(";") if x and x != ".")
                records.append(
                    Record(chrom, pos, ids, cols[3].upper(), tuple(a.upper() for a in alts), gt_index, cols[9:])
                )
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise VcfError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    if samples is None:
        raise VcfError(f"{path}: no #CHROM header line: not a VCF")
    if not fileformat and not records:
        raise VcfError(f"{path}: no ##fileformat=VCF line and no usable records: not a VCF")
    return VcfFile(samples, header_build, records, count)


def _compatible(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _ref_matches(index: PgxIndex, records: Sequence[Record], genes: Sequence[Gene], build: Build) -> tuple[int, int]:
    """(records whose REF fits the definition position in this build, records that do not)."""
    good = bad = 0
    for gene in genes:
        bmap = build_map(index, gene, build)
        for record in records:
            if record.chrom not in bmap.chromosomes:
                continue
            i = bmap.position_of.get(record.pos)
            if i is None:
                continue
            if _compatible(record.ref, bmap.ref_at[i]):
                good += 1
            else:
                bad += 1
    return good, bad


def choose_build(
    index: PgxIndex, vcf: VcfFile, genes: Sequence[Gene], build: Build | None, path: Path
) -> tuple[Build, list[str]]:
    """The build to match positions in, or a clear error when the file's REF bases contradict it."""
    notes: list[str] = []
    counts = {b: _ref_matches(index, vcf.records, genes, b) for b in ("GRCh38", "GRCh37")}
    stated = build or vcf.header_build
    if stated is None:
        chosen: Build = "GRCh38" if counts["GRCh38"][0] >= counts["GRCh37"][0] else "GRCh37"
        notes.append(f"genome build not stated: {chosen} inferred from the REF bases at the definition positions")
        return chosen, notes
    other: Build = "GRCh37" if stated == "GRCh38" else "GRCh38"
    good, bad = counts[stated]
    other_good, _ = counts[other]
    if (good == 0 and other_good > 0) or (bad > good and other_good > good):
        raise VcfError(
            f"{path}: wrong genome build? The file says {stated}, but {bad} record(s) at {stated} definition "
            f"positions have other REF bases and {other_good} fit {other} (use --build {other} if it is {other})"
        )
    if bad:
        notes.append(f"{bad} record(s) at {stated} definition positions have an unexpected REF base: ignored")
    return stated, notes


@dataclass
class _Site:
    """Per sample and variant: the two haplotypes (token, None for REF, MISSING) and whether phased."""

    haps: list[list[object]] = field(default_factory=list)


def _genotype(text: str) -> tuple[list[int | None], bool] | None:
    """'0|1' -> ([0, 1], True); './.' -> None; haploid -> None."""
    gt = text.split(":", 1)[0]
    phased = "|" in gt
    parts = gt.replace("|", "/").split("/")
    if len(parts) != 2:
        return None
    values: list[int | None] = []
    for p in parts:
        if p in (".", ""):
            return None
        try:
            values.append(int(p))
        except ValueError:
            return None
    return values, phased


def call_vcf(
    index: PgxIndex,
    path: Path,
    genes: Sequence[Gene] = GENES,
    samples: Sequence[str] | None = None,
    build: Build | None = None,
) -> tuple[list[tuple[str, GeneCall]], Build, list[str]]:
    """Call every requested gene for every (or the chosen) sample: [(sample, call)], the build, notes."""
    chromosomes = frozenset().union(*(build_map(index, g, "GRCh38").chromosomes for g in genes))
    vcf = read_vcf(path, chromosomes)
    if not vcf.samples:
        raise VcfError(f"{path}: no sample columns (a sites-only VCF has no genotypes to call)")
    wanted = list(samples) if samples else vcf.samples
    unknown = [s for s in wanted if s not in vcf.samples]
    if unknown:
        raise VcfError(
            f"--sample: {', '.join(unknown)} not in {path} "
            f"(samples: {', '.join(vcf.samples[:10])}{'...' if len(vcf.samples) > 10 else ''})"
        )
    chosen, notes = choose_build(index, vcf, genes, build, path)
    columns = [vcf.samples.index(s) for s in wanted]
    results: dict[tuple[str, str], GeneCall] = {}
    any_site = False
    for gene in genes:
        bmap = build_map(index, gene, chosen)
        model = gene_model(index, gene)
        # per variant index: per sample column: [hap1, hap2], phased flag
        sites: dict[int, list[tuple[list[object], bool]]] = {}
        for record in vcf.records:
            if record.chrom not in bmap.chromosomes:
                continue
            i = bmap.position_of.get(record.pos)
            mapped: list[tuple[int, str] | None] = []
            for alt in record.alts:
                mapped.append(bmap.tokens.get(normalise(record.pos, record.ref, alt)))
            if i is None:
                hits = {m[0] for m in mapped if m is not None}
                if len(hits) == 1:
                    i = hits.pop()
                else:
                    rs = [model.rsids[x] for x in record.ids if x in model.rsids]
                    if not rs:
                        continue
                    i = rs[0]
                    if i not in bmap.ref_at:
                        # no coordinate in this build: match the ALT by sequence against the GRCh38 definition
                        site38 = model.definition.variants[i].grch38
                        mapped = [
                            build_map(index, gene, "GRCh38").tokens.get(
                                normalise(site38.pos, site38.ref, site38.ref[:1] + alt[1:] if len(alt) > 1 else alt)
                            )
                            if len(record.ref) == len(site38.ref) == 1
                            else None
                            for alt in record.alts
                        ]
            elif not _compatible(record.ref, bmap.ref_at[i]):
                continue
            if record.gt_index is None:
                continue
            any_site = True
            per_sample = sites.setdefault(i, [([None, None], True) for _ in columns])
            tokens = [
                (m[1] if m is not None and m[0] == i else f"?{alt}") for m, alt in zip(mapped, record.alts, strict=True)
            ]
            for k, column in enumerate(columns):
                raw = record.samples[column] if column < len(record.samples) else "."
                fields = raw.split(":")
                parsed = _genotype(fields[record.gt_index]) if record.gt_index < len(fields) else None
                haps, phased = per_sample[k]
                if parsed is None:
                    per_sample[k] = (
                        [h if h is not None else MISSING for h in haps]
                        if all(h is None or h == MISSING for h in haps)
                        else haps,
                        phased,
                    )
                    continue
                values, is_phased = parsed
                new = list(haps)
                for h, value in enumerate(values):
                    if value == 0 or value is None:
                        continue
                    if value - 1 >= len(tokens):
                        continue
                    new[h] = tokens[value - 1]
                het = values[0] != values[1]
                per_sample[k] = (new, phased and (is_phased or not het))
        for k, sample in enumerate(wanted):
            alleles: dict[int, tuple[str | None, str | None]] = {}
            phased = True
            for i, per_sample in sites.items():
                haps, is_phased = per_sample[k]
                if MISSING in haps:
                    continue
                pair = tuple(None if h is None else str(h).removeprefix("?") for h in haps)
                alleles[i] = (pair[0], pair[1])
                phased = phased and is_phased
            results[(sample, gene)] = Caller(index, gene).call(SampleGenotype(alleles, phased))
    if not any_site:
        raise VcfError(
            f"{path}: no {' or '.join(genes)} definition position in this file ({chosen}; {len(vcf.records)} "
            f"record(s) on the {'/'.join(genes)} chromosome(s)): nothing could be called"
        )
    ordered = [(s, results[(s, g)]) for s in wanted for g in genes]
    return ordered, chosen, notes


def iter_rows(calls: Sequence[tuple[str, GeneCall]], build: Build) -> Iterator[dict[str, object]]:
    for sample, call in calls:
        yield {
            "sample": sample,
            "gene": call.gene,
            "diplotype": call.diplotype,
            "phenotype": call.phenotype,
            "possible_diplotypes": list(call.possible_diplotypes),
            "missing_positions": list(call.missing_positions),
            "unexpected_alleles": list(call.unexpected_alleles),
            "unassessed_alleles": list(call.unassessed_alleles),
            "phased": call.phased,
            "build": build,
            "notes": list(call.notes),
        }
