"""Knowledge schema for the pharmacy: patient medication guides, side effects, condition pages and site policy.

The files live under `knowledge/data/pharmacy/` (fragments, each filling some of the lists below) and are
validated with the rest of the knowledge base. Every statement a guide or condition page shows carries its own
sources and confidence, so a page can cite each sentence; what the reference sheets could not source is
recorded in `not_sourced` and shown as such, never filled in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from rxguard.knowledge.extensions import register
from rxguard.knowledge.schema import Citation, Confidence, Rule, Slug, Strict

if TYPE_CHECKING:
    from rxguard.knowledge.base import KnowledgeBase

PHARMACY_FILE = "pharmacy.yaml"

# SmPC / MedDRA frequency bands (very common >= 1/10 ... very rare < 1/10,000), plus the ways the sources state
# a frequency that is not a band: a trial percentage, "not quantified", "increased risk" (boxed warnings).
FrequencyBand = Literal[
    "very-common",
    "common",
    "uncommon",
    "rare",
    "very-rare",
    "not-known",
    "percent",
    "most-common",
    "increased-risk",
    "not-quantified",
]
OptionKind = Literal["medicine", "non-drug", "interventional", "complementary", "self-care"]


class Statement(Strict):
    """One sentence of a guide with its own sources: the unit a page cites."""

    text: str = Field(min_length=1)
    confidence: Confidence
    sources: list[Citation] = Field(min_length=1)
    off_label: bool = False
    conflict: str | None = Field(default=None, description="sources disagree: what the pharmacist must decide")
    triage_signs: list[Slug] = Field(default_factory=list, description="warning signs in the triage vocabulary")
    note: str | None = None


class SideEffect(Rule):
    """One row of the side-effect table: an effect, how often the source says it happens, in whom, what to do."""

    ingredients: list[Slug] = Field(min_length=1, description="the exact ingredient set of the guide it belongs to")
    effect: str = Field(min_length=1)
    frequency: str = Field(min_length=1, description="as the source states it")
    band: FrequencyBand
    population: str = Field(min_length=1)
    serious: bool
    seriousness: str = Field(min_length=1)
    advice: str | None = None
    sheet_row: int | None = Field(default=None, ge=1)


class MedicationGuide(Rule):
    """The patient guide of the products with exactly these ingredients (Imuran and generic azathioprine share one)."""

    ingredients: list[Slug] = Field(min_length=1)
    products: list[Slug] = Field(
        default_factory=list,
        description="only these products (when the text is specific to a strength); empty: every product with the set",
    )
    title: str = Field(min_length=1)
    uses: list[Statement] = Field(default_factory=list)
    how_to_take: list[Statement] = Field(default_factory=list)
    self_care: list[Statement] = Field(default_factory=list)
    serious: list[Statement] = Field(default_factory=list)
    who_should_not: list[Statement] = Field(default_factory=list)
    pregnancy: list[Statement] = Field(default_factory=list)
    monitoring: list[Statement] = Field(default_factory=list)
    storage: list[Statement] = Field(default_factory=list)
    overdose: list[Statement] = Field(default_factory=list)
    benefits: list[Statement] = Field(default_factory=list, description="evidence of benefit, for the decision aid")
    not_sourced: list[str] = Field(
        default_factory=list, description="what the reference sheets could not source: shown, never filled in"
    )
    do_not_repeat: list[str] = Field(
        default_factory=list, description="claims seen elsewhere that must not be published, and why"
    )

    def statements(self) -> Iterator[Statement]:
        for name in (
            "uses",
            "how_to_take",
            "self_care",
            "serious",
            "who_should_not",
            "pregnancy",
            "monitoring",
            "storage",
            "overdose",
            "benefits",
        ):
            yield from getattr(self, name)


class TreatmentOption(Strict):
    """One treatment option on a condition page, with a source that can be cited; unsourced options are left out."""

    name: str = Field(min_length=1)
    kind: OptionKind
    ingredients: list[Slug] = Field(default_factory=list, description="links the option to catalog products")
    text: str = Field(min_length=1)
    confidence: Confidence
    sources: list[Citation] = Field(min_length=1)
    off_label: bool = False


class ConditionPage(Rule):
    """A condition page: what the catalog and the sources offer for it, drug and non-drug."""

    slug: Slug
    title: str = Field(min_length=1)
    conditions: list[Slug] = Field(default_factory=list, description="condition ids whose names search finds")
    intro: list[Statement] = Field(default_factory=list)
    options: list[TreatmentOption] = Field(min_length=1)
    left_out: list[str] = Field(default_factory=list, description="options considered but not sourced")


class Coded(Strict):
    system: str
    code: str = Field(min_length=1)
    display: str = Field(min_length=1)


NeverOffKind = Literal["contraindicated-interaction", "thiopurine-poor-metabolizer", "opioid-benzodiazepine"]


class NeverOff(Strict):
    kind: NeverOffKind
    description: str


class PharmacyPolicy(Rule):
    """Site policy the pharmacy applies: override reasons, intervention and outcome codes, rules never switched off."""

    override_reasons: list[Coded] = Field(min_length=1)
    interventions: list[Coded] = Field(min_length=1)
    outcomes: list[Coded] = Field(min_length=1)
    never_off: list[NeverOff] = Field(min_length=1)
    disclaimer: str = Field(min_length=1)
    demo_price_label: str = Field(min_length=1)


class PharmacyKnowledge(Strict):
    """Everything under knowledge/data/pharmacy/."""

    guides: list[MedicationGuide] = Field(default_factory=list)
    side_effects: list[SideEffect] = Field(default_factory=list)
    condition_pages: list[ConditionPage] = Field(default_factory=list)
    policy: list[PharmacyPolicy] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        return [*self.guides, *self.side_effects, *self.condition_pages, *self.policy]

    @model_validator(mode="after")
    def _one_guide_per_ingredient_set(self) -> PharmacyKnowledge:
        sets = Counter(frozenset(g.ingredients) for g in self.guides if g.status == "active")
        twice = [sorted(s) for s, n in sets.items() if n > 1]
        if twice:
            raise ValueError(f"more than one active guide for the ingredient set(s) {twice}")
        return self

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        where = "pharmacy"
        problems: list[str] = []
        ids = Counter(r.id for r in self.rules())
        problems += [f"{where}: entry {i!r}: field id: defined {n} times" for i, n in ids.items() if n > 1]
        signs: set[str] | None = None
        try:
            from rxguard.therapy.triage_knowledge import TRIAGE_FILE, TriageFile

            signs = {s.id for s in kb.extension(TRIAGE_FILE, TriageFile).signs}
        except KeyError:  # triage knowledge not loaded: sign links are not checked
            signs = None

        def citations(entry: str, field: str, cited: list[Citation]) -> None:
            for c in cited:
                if c.source not in kb.sources:
                    problems.append(f"{where}: entry {entry!r}: field {field}: unknown source {c.source!r}")

        def ingredients(entry: str, field: str, names: list[str]) -> None:
            for name in names:
                if name not in kb.ingredients:
                    problems.append(f"{where}: entry {entry!r}: field {field}: unknown ingredient {name!r}")

        guide_sets = {frozenset(g.ingredients) for g in self.guides}
        for guide in self.guides:
            ingredients(guide.id, "ingredients", guide.ingredients)
            for product_id in guide.products:
                product = kb.products.get(product_id)
                if product is None:
                    problems.append(f"{where}: entry {guide.id!r}: field products: unknown product {product_id!r}")
                elif {i.ingredient for i in product.ingredients} != set(guide.ingredients):
                    problems.append(
                        f"{where}: entry {guide.id!r}: field products: {product_id!r} has other ingredients"
                    )
            for statement in guide.statements():
                citations(guide.id, "statements.sources", statement.sources)
                for sign in statement.triage_signs:
                    if signs is not None and sign not in signs:
                        problems.append(f"{where}: entry {guide.id!r}: field triage_signs: unknown sign {sign!r}")
        for effect in self.side_effects:
            ingredients(effect.id, "ingredients", effect.ingredients)
            if frozenset(effect.ingredients) not in guide_sets:
                problems.append(f"{where}: entry {effect.id!r}: field ingredients: no guide for {effect.ingredients}")
        for page in self.condition_pages:
            for condition in page.conditions:
                if condition not in kb.conditions:
                    problems.append(f"{where}: entry {page.id!r}: field conditions: unknown condition {condition!r}")
            for option in page.options:
                ingredients(page.id, "options.ingredients", option.ingredients)
                citations(page.id, "options.sources", option.sources)
            for statement in page.intro:
                citations(page.id, "intro.sources", statement.sources)
        slugs = Counter(p.slug for p in self.condition_pages)
        problems += [f"{where}: condition page slug {s!r} used {n} times" for s, n in slugs.items() if n > 1]
        if len([p for p in self.policy if p.status == "active"]) != 1:
            problems.append(f"{where}: policy: exactly one active entry is needed")
        return problems


register(PHARMACY_FILE, PharmacyKnowledge)


def pharmacy_knowledge(kb: KnowledgeBase) -> PharmacyKnowledge:
    return kb.extension(PHARMACY_FILE, PharmacyKnowledge)


def policy(kb: KnowledgeBase) -> PharmacyPolicy:
    return next(p for p in pharmacy_knowledge(kb).policy if p.status == "active")
