"""Star-allele calling for TPMT and NUDT15 from per-position genotypes (phased or not).

Each sample's genotype at the definition positions is matched against pairs of defined alleles:
- an allele is callable only when every position it is defined by was observed (PharmCAT's rule);
  positions not observed are reported as missing, and the alleles that needed them as not assessed;
- phased data: each haplotype must be exactly one defined allele;
- unphased data: every pair of alleles whose variants add up to the genotype is a possible diplotype,
  ranked as PharmCAT ranks them (more defined positions first: *1/*3A before *3B/*3C);
- an ALT allele the definitions do not know at a definition position is an unexpected allele: it is
  reported, and a haplotype carrying it gets no star-allele name and no phenotype.
Calls are remembered per genotype pattern, so a cohort costs little more than its distinct patterns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations_with_replacement

from rxguard.therapy.thiopurine.knowledge import Gene, GeneDefinition, PgxIndex, Phenotype
from rxguard.therapy.thiopurine.phenotype import IND, GeneResult, diplotype_phenotype, rsid_genotypes

Token = tuple[int, str]  # (variant index, ALT sequence in the GRCh38 definition's representation)
Haplotype = frozenset[Token]


@dataclass(frozen=True, slots=True)
class CompiledAllele:
    name: str
    requires: frozenset[Token]
    positions: frozenset[int]
    score: int
    order: int


@dataclass(frozen=True, slots=True)
class GeneModel:
    """A gene's allele definitions compiled for matching."""

    gene: Gene
    definition: GeneDefinition
    alleles: tuple[CompiledAllele, ...]
    labels: tuple[str, ...]  # per variant index: 'chr6:18130687 (rs1142345)'
    rsids: dict[str, int]
    defined_tokens: frozenset[Token]


def compile_gene(definition: GeneDefinition) -> GeneModel:
    index_of = {v.key: i for i, v in enumerate(definition.variants)}
    alleles = []
    for order, allele in enumerate(definition.alleles):
        tokens = frozenset((index_of[c.variant], c.grch38.split(">")[1]) for c in allele.changes)
        positions = frozenset(i for i, _ in tokens)
        alleles.append(CompiledAllele(allele.name, tokens, positions, len(tokens), order))
    labels = tuple(
        f"{definition.chromosome_grch38}:{v.grch38.pos}" + (f" ({v.rsid})" if v.rsid else "")
        for v in definition.variants
    )
    rsids = {v.rsid: i for i, v in enumerate(definition.variants) if v.rsid}
    defined = frozenset(t for a in alleles for t in a.requires)
    return GeneModel(definition.gene, definition, tuple(alleles), labels, rsids, defined)


def gene_model(index: PgxIndex, gene: Gene) -> GeneModel:
    key = f"calling.model.{gene}"
    model = index.cache.get(key)
    if not isinstance(model, GeneModel):
        model = compile_gene(index.genes[gene])
        index.cache[key] = model
    return model


@dataclass(frozen=True, slots=True)
class SampleGenotype:
    """One sample at one gene's definition positions.

    `alleles[i]` is (allele on haplotype 1, allele on haplotype 2); None means the reference allele.
    Positions absent from `alleles` were not observed (missing or no-call).
    """

    alleles: Mapping[int, tuple[str | None, str | None]]
    phased: bool


@dataclass(frozen=True, slots=True)
class GeneCall:
    """The call for one sample and gene, with everything a reader needs to trust it or not."""

    gene: Gene
    diplotype: str | None
    phenotype: Phenotype
    possible_diplotypes: tuple[str, ...] = ()
    missing_positions: tuple[str, ...] = ()
    unexpected_alleles: tuple[str, ...] = ()
    unassessed_alleles: tuple[str, ...] = ()
    phased: bool = False
    notes: tuple[str, ...] = ()

    def result(self) -> GeneResult:
        return GeneResult(self.gene, self.phenotype, self.diplotype, "genotypes", self.notes)


@dataclass
class Caller:
    """Calls one gene; remembers the answer per genotype pattern."""

    index: PgxIndex
    gene: Gene
    model: GeneModel = field(init=False)
    _memo: dict[object, GeneCall] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.model = gene_model(self.index, self.gene)

    def call(self, sample: SampleGenotype) -> GeneCall:
        key = (
            sample.phased,
            tuple(sorted((i, a, b) for i, (a, b) in sample.alleles.items() if a is not None or b is not None)),
            frozenset(sample.alleles),
        )
        found = self._memo.get(key)
        if found is None:
            found = self._call(sample)
            if len(self._memo) < 200_000:
                self._memo[key] = found
        return found

    def _call(self, sample: SampleGenotype) -> GeneCall:
        model = self.model
        observed = frozenset(sample.alleles)
        missing = tuple(model.labels[i] for i in range(len(model.labels)) if i not in observed)
        callable_alleles = [a for a in model.alleles if a.positions <= observed]
        unassessed = tuple(a.name for a in model.alleles if not a.positions <= observed)
        unexpected: list[str] = []
        pseudo: list[CompiledAllele] = []
        for i, pair in sorted(sample.alleles.items()):
            for alt in pair:
                if alt is not None and (i, alt) not in model.defined_tokens:
                    label = self._hgvs(i, alt)
                    if label not in unexpected:
                        unexpected.append(label)
                        pseudo.append(CompiledAllele(label, frozenset({(i, alt)}), frozenset({i}), 1, 10_000))
        candidates = callable_alleles + pseudo
        pairs = self._pairs(sample, candidates, observed)
        notes: list[str] = []
        if not observed:
            return GeneCall(
                self.gene,
                None,
                IND,
                missing_positions=missing,
                unassessed_alleles=unassessed,
                phased=sample.phased,
                notes=(
                    f"none of the {len(model.labels)} {self.gene} definition positions is in the input: "
                    "nothing could be called",
                ),
            )
        if unexpected:
            notes.append(
                "unexpected allele(s) at definition positions: " + ", ".join(unexpected) + " (not a defined "
                f"{self.gene} allele: no phenotype for the haplotype carrying it)"
            )
        if not pairs:
            variants = sorted(self._hgvs(i, alt) for i, p in sample.alleles.items() for alt in p if alt is not None)
            notes.append(
                f"the variants found ({', '.join(variants)}) do not make two defined {self.gene} alleles"
                + (" on the phased haplotypes" if sample.phased else "")
                + ": no diplotype can be called"
            )
            return GeneCall(
                self.gene, None, IND, (), missing, tuple(unexpected), unassessed, sample.phased, tuple(notes)
            )
        pairs.sort(key=lambda p: (-(self._score(p[0], observed) + self._score(p[1], observed)), p[0].order, p[1].order))
        names = [f"{a.name}/{b.name}" for a, b in pairs]
        top_a, top_b = pairs[0]
        if top_a.order >= 10_000 or top_b.order >= 10_000:
            phenotype: Phenotype = IND
            result_notes: tuple[str, ...] = ()
        else:
            result = diplotype_phenotype(self.index, self.gene, top_a.name, top_b.name)
            phenotype, result_notes = result.phenotype, result.notes
        notes.extend(result_notes)
        if len(names) > 1:
            others = {
                n: diplotype_phenotype(self.index, self.gene, *n.split("/")).phenotype
                for n in names[1:]
                if "g." not in n
            }
            differing = [f"{n} ({p})" for n, p in others.items() if p != phenotype]
            notes.append(
                f"unphased: {len(names)} diplotypes fit ({', '.join(names)}); {names[0]} is reported, as CPIC "
                "and PharmCAT rank them" + (f"; the alternative would mean {', '.join(differing)}" if differing else "")
            )
        if missing:
            notes.append(f"{len(missing)} definition position(s) missing: alleles {', '.join(unassessed)} not assessed")
        return GeneCall(
            self.gene,
            names[0],
            phenotype,
            tuple(names),
            missing,
            tuple(unexpected),
            unassessed,
            sample.phased,
            tuple(notes),
        )

    def _hgvs(self, i: int, alt: str) -> str:
        variant = self.model.definition.variants[i]
        return f"g.{variant.grch38.pos}{variant.grch38.ref}>{alt}"

    def _score(self, allele: CompiledAllele, observed: frozenset[int]) -> int:
        return len(observed) if not allele.requires else allele.score

    def _pairs(
        self, sample: SampleGenotype, candidates: list[CompiledAllele], observed: frozenset[int]
    ) -> list[tuple[CompiledAllele, CompiledAllele]]:
        if sample.phased:
            hap1 = frozenset((i, a) for i, (a, _) in sample.alleles.items() if a is not None)
            hap2 = frozenset((i, b) for i, (_, b) in sample.alleles.items() if b is not None)
            first = [a for a in candidates if a.requires == hap1]
            second = [a for a in candidates if a.requires == hap2]
            if first and second:
                a, b = first[0], second[0]
                return [(a, b) if a.order <= b.order else (b, a)]
            return []
        counts = Counter(
            alt for i, pair in sample.alleles.items() for alt in ((i, pair[0]), (i, pair[1])) if alt[1] is not None
        )
        present = set(counts)
        usable = [a for a in candidates if a.requires <= present]
        found = []
        for a, b in combinations_with_replacement(usable, 2):
            combined = Counter(a.requires) + Counter(b.requires)
            if combined == counts:
                found.append((a, b) if a.order <= b.order else (b, a))
        return found


def call_rsid_genotypes(index: PgxIndex, gene: Gene, text: str) -> GeneResult:
    """'rs1800460 C/T; rs1142345 T/C' -> the gene's call (positions not given are missing)."""
    model = gene_model(index, gene)
    alleles: dict[int, tuple[str | None, str | None]] = {}
    problems: list[str] = []
    for rsid, first, second in rsid_genotypes(text):
        i = model.rsids.get(rsid)
        if i is None:
            problems.append(f"{rsid} is not a {gene} definition position")
            continue
        ref = model.definition.variants[i].grch38.ref
        alleles[i] = (None if first == ref else first, None if second == ref else second)
    call = Caller(index, gene).call(SampleGenotype(alleles, phased=False))
    return GeneResult(gene, call.phenotype, call.diplotype, "genotypes", (*problems, *call.notes))
