"""The catalog, generated from the knowledge base: product families, medication guides, decision aids, search.

Pure: reads the loaded knowledge base, no I/O. A *family* is what a patient picks (Imuran, Voltarol, generic
azathioprine); its products are the strengths and forms it is sold in. A guide page assembles every section
from sourced knowledge: the guide statements (`pharmacy/*.yaml`), side effects, triage warning signs, overdose
facts, thiopurine monitoring schedules and interactions, each statement numbered against the page's source list.
A section with nothing sourced says so; nothing is filled in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase
from rxguard.pharmacy.knowledge import (
    ConditionPage,
    MedicationGuide,
    SideEffect,
    Statement,
    pharmacy_knowledge,
    policy,
)

BAND_ORDER = {
    "very-common": 0,
    "most-common": 1,
    "common": 2,
    "percent": 3,
    "uncommon": 4,
    "rare": 5,
    "very-rare": 6,
    "increased-risk": 7,
    "not-known": 8,
    "not-quantified": 9,
}
BAND_LABELS = {
    "very-common": "very common (more than 1 in 10)",
    "common": "common (1 in 100 to 1 in 10)",
    "uncommon": "uncommon (1 in 1,000 to 1 in 100)",
    "rare": "rare (1 in 10,000 to 1 in 1,000)",
    "very-rare": "very rare (fewer than 1 in 10,000)",
    "not-known": "not known",
    "percent": "trial percentage",
    "most-common": "among the most common",
    "increased-risk": "increased risk",
    "not-quantified": "not quantified",
}
URGENCY_ORDER = {"emergency": 0, "today": 1, "routine": 2, "self-care": 3}
SEVERITY_ORDER = {"contraindicated": 0, "major": 1, "moderate": 2, "minor": 3, "none": 4}
THIOPURINES = frozenset({"azathioprine", "mercaptopurine", "thioguanine"})


def slugify(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


# --- numbered sources ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageSource:
    number: int
    document: str
    year: int | None
    section: str
    confidence: str
    note: str | None
    url: str | None


class SourceList:
    """The sources one page cites, numbered in order of first citation."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._numbers: dict[tuple[str, str, str], int] = {}
        self.items: list[PageSource] = []

    def cite(self, citations: Iterable[s.Citation]) -> tuple[int, ...]:
        refs: list[int] = []
        for c in citations:
            key = (c.source, c.section, c.confidence)
            number = self._numbers.get(key)
            if number is None:
                doc = self.kb.sources[c.source]
                number = len(self.items) + 1
                self._numbers[key] = number
                # The citation's own note only: document notes are curators' notes (one, on the price page's
                # source, describes the made-up statistics that must not be repeated).
                note = c.note
                self.items.append(PageSource(number, doc.title, doc.year, c.section, c.confidence, note, doc.url))
            if number not in refs:
                refs.append(number)
        return tuple(refs)


# --- page parts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignLink:
    sign: str
    label: str


@dataclass(frozen=True, slots=True)
class Cited:
    """A statement as a page shows it: text, confidence and source numbers."""

    text: str
    confidence: str
    refs: tuple[int, ...]
    off_label: bool = False
    conflict: str | None = None
    signs: tuple[SignLink, ...] = ()


@dataclass(frozen=True, slots=True)
class Offer:
    """One strength or form of a family, with its unit price (real or demo) when the knowledge base has one."""

    product_id: str
    name: str
    strength: str
    unit: str
    release: str
    rx_only: bool
    dea_schedule: str | None
    unit_price: Decimal | None
    currency: str | None
    price_status: str | None  # "real" or "demo"
    price_refs: tuple[int, ...] = ()

    @property
    def is_demo_price(self) -> bool:
        return self.price_status == "demo"


@dataclass(frozen=True, slots=True)
class SideEffectRow:
    effect: str
    frequency: str
    band: str
    band_label: str
    population: str
    serious: bool
    advice: str | None
    confidence: str
    refs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WarningSign:
    sign: str
    label: str
    urgency: str
    advice: str
    confidence: str
    refs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class InteractionRow:
    rule_id: str
    other: str
    severity: str
    effect: str
    management: str
    patient_advice: str | None
    confidence: str
    refs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FamilyLink:
    slug: str
    title: str
    why: str


@dataclass(frozen=True, slots=True)
class Family:
    """What a patient picks in the catalog: a brand, or a generic name in one release form."""

    slug: str
    title: str
    brand: str | None
    generic_name: str
    ingredients: tuple[str, ...]
    products: tuple[s.Product, ...]

    @property
    def rx_only(self) -> bool:
        return any(p.rx_only for p in self.products)

    @property
    def dea_schedule(self) -> str | None:
        schedules = sorted({p.dea_schedule for p in self.products if p.dea_schedule})
        return schedules[0] if schedules else None

    @property
    def controlled(self) -> bool:
        return self.dea_schedule is not None


@dataclass
class GuidePage:
    family: Family
    guide_id: str | None
    guide_title: str | None
    offers: list[Offer]
    sections: dict[str, list[Cited]]
    side_effects: list[SideEffectRow]
    warning_signs: list[WarningSign]
    overdose_facts: list[Cited]
    monitoring_schedules: list[Cited]
    interactions: list[InteractionRow]
    see_also: list[FamilyLink]
    not_sourced: list[str]
    do_not_repeat: list[str]
    sources: list[PageSource]
    disclaimer: str
    kb_version: str
    demo_price_label: str

    @property
    def common_side_effects(self) -> list[SideEffectRow]:
        return [r for r in self.side_effects if not r.serious]

    @property
    def serious_side_effects(self) -> list[SideEffectRow]:
        return [r for r in self.side_effects if r.serious]


@dataclass
class DecisionAid:
    family: Family
    benefits: list[Cited]
    risks: list[Cited]
    serious_side_effects: list[SideEffectRow]
    alternatives: list[Cited]
    monitoring: list[Cited]
    not_sourced: list[str]
    sources: list[PageSource]
    disclaimer: str
    kb_version: str


@dataclass(frozen=True, slots=True)
class OptionView:
    name: str
    kind: str
    text: str
    confidence: str
    refs: tuple[int, ...]
    off_label: bool
    families: tuple[FamilyLink, ...]


@dataclass
class ConditionView:
    slug: str
    title: str
    intro: list[Cited]
    options: list[OptionView]
    left_out: list[str]
    sources: list[PageSource]
    disclaimer: str
    kb_version: str


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    families: tuple[Family, ...]
    conditions: tuple[ConditionPage, ...]
    matched_by: dict[str, str] = field(default_factory=dict)


# --- the catalog -----------------------------------------------------------------------------------------------


def _strength_text(product: s.Product) -> str:
    parts = []
    for pi in product.ingredients:
        if pi.strength is None:
            continue
        value = f"{pi.strength.value:g}"
        parts.append(f"{value} {pi.strength.unit}")
    return " / ".join(parts) or "strength not stated"


def _family_key(product: s.Product) -> tuple[str, str]:
    if product.brand:
        return slugify(product.brand), product.brand
    title = product.generic_name
    if product.release not in ("immediate", "n/a"):
        title = f"{title} ({product.release} release)"
    return slugify(title), title[0].upper() + title[1:]


class Catalog:
    """Families, guides and search over one knowledge base; build once (it indexes on construction)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.knowledge = pharmacy_knowledge(kb)
        self.policy = policy(kb)
        grouped: dict[str, list[s.Product]] = {}
        titles: dict[str, str] = {}
        for product in kb.products.values():
            if not product.catalog:
                continue
            key, title = _family_key(product)
            grouped.setdefault(key, []).append(product)
            titles[key] = title
        families = []
        for key, products in grouped.items():
            products.sort(key=lambda p: (p.release, [pi.strength.value if pi.strength else 0 for pi in p.ingredients]))
            first = products[0]
            ingredients = tuple(dict.fromkeys(pi.ingredient for p in products for pi in p.ingredients))
            families.append(Family(key, titles[key], first.brand, first.generic_name, ingredients, tuple(products)))
        families.sort(key=lambda f: f.title.lower())
        self.families: dict[str, Family] = {f.slug: f for f in families}
        self.family_of: dict[str, str] = {p.id: f.slug for f in families for p in f.products}
        self.prices = kb.unit_prices()
        self.guides = [g for g in self.knowledge.guides if g.status == "active"]
        self.side_effects = [e for e in self.knowledge.side_effects if e.status == "active"]
        self.condition_pages = {p.slug: p for p in self.knowledge.condition_pages if p.status == "active"}

    # --- lookups ---------------------------------------------------------------------------------------------

    def product(self, product_id: str) -> s.Product | None:
        found = self.kb.products.get(product_id)
        return found if found is not None and found.catalog else None

    def guide_for(self, product: s.Product) -> MedicationGuide | None:
        ingredients = {pi.ingredient for pi in product.ingredients}
        for guide in self.guides:
            if set(guide.ingredients) == ingredients and (not guide.products or product.id in guide.products):
                return guide
        return None

    def offer(self, product: s.Product, sources: SourceList | None = None) -> Offer:
        priced = self.prices.get(product.id)
        price, price_list = priced if priced else (None, None)
        refs = sources.cite(price_list.sources) if (sources is not None and price_list is not None) else ()
        return Offer(
            product_id=product.id,
            name=product.name,
            strength=_strength_text(product),
            unit=product.unit,
            release=product.release,
            rx_only=product.rx_only,
            dea_schedule=product.dea_schedule,
            unit_price=Decimal(str(price.unit_price)) if price else None,
            currency=price.currency if price else None,
            price_status=price_list.status if price_list else None,
            price_refs=refs,
        )

    # --- search ------------------------------------------------------------------------------------------------

    def search(self, query: str) -> SearchResult:
        """Families whose brand, generic or ingredient names match, and condition pages (and their medicines)."""
        words = [w for w in re.findall(r"[a-z0-9]+", query.lower()) if w]
        if not words:
            return SearchResult(query, tuple(self.families.values()), tuple(self.condition_pages.values()))

        def matches(texts: Iterable[str | None]) -> bool:
            blob = " ".join(t.lower() for t in texts if t)
            tokens = set(re.findall(r"[a-z0-9]+", blob))
            return all(any(tok.startswith(w) for tok in tokens) for w in words)

        found: dict[str, str] = {}
        for family in self.families.values():
            names: list[str | None] = [family.title, family.brand, family.generic_name]
            for ing in family.ingredients:
                ingredient = self.kb.ingredients.get(ing)
                if ingredient:
                    names += [ingredient.name, ingredient.us_name, *ingredient.synonyms]
            for product in family.products:
                names += [product.name, *product.synonyms]
            if matches(names):
                found[family.slug] = "name"
        pages: list[ConditionPage] = []
        for page in self.condition_pages.values():
            names = [page.title]
            for condition in page.conditions:
                concept = self.kb.conditions.get(condition)
                if concept:
                    names += [concept.name, *concept.synonyms]
            if matches(names):
                pages.append(page)
                for option in page.options:
                    for family in self.families_with(option.ingredients, exact=True):
                        found.setdefault(family.slug, f"condition: {page.title}")
        families = tuple(self.families[k] for k in sorted(found, key=lambda k: self.families[k].title.lower()))
        return SearchResult(query, families, tuple(pages), found)

    def families_with(self, ingredients: Sequence[str], exact: bool = False) -> list[Family]:
        wanted = set(ingredients)
        if not wanted:
            return []
        if exact:
            return [f for f in self.families.values() if set(f.ingredients) == wanted]
        return [f for f in self.families.values() if wanted & set(f.ingredients)]

    # --- guide pages -------------------------------------------------------------------------------------------

    def _cited(self, statements: Iterable[Statement], sources: SourceList) -> list[Cited]:
        labels = _sign_labels(self.kb)
        return [
            Cited(
                text=st.text,
                confidence=st.confidence,
                refs=sources.cite(st.sources),
                off_label=st.off_label,
                conflict=st.conflict,
                signs=tuple(SignLink(sign, labels.get(sign, sign)) for sign in st.triage_signs),
            )
            for st in statements
        ]

    def _side_effects(self, ingredients: set[str], sources: SourceList) -> list[SideEffectRow]:
        rows: list[tuple[SideEffect, tuple[int, ...]]] = [
            (e, sources.cite(e.sources)) for e in self.side_effects if set(e.ingredients) == ingredients
        ]
        rows.sort(key=lambda r: BAND_ORDER[r[0].band])
        return [
            SideEffectRow(
                e.effect,
                e.frequency,
                e.band,
                BAND_LABELS[e.band],
                e.population,
                e.serious,
                e.advice,
                e.confidence,
                refs,
            )
            for e, refs in rows
        ]

    def warning_signs(self, ingredients: Sequence[str], sources: SourceList) -> list[WarningSign]:
        """The triage knowledge's warning signs for these ingredients (their own rules, not the every-medicine ones)."""
        from rxguard.therapy.triage import Medicine, applies, triage_knowledge

        classes: set[str] = set()
        for ing in ingredients:
            classes |= self.kb.ingredient_classes.get(ing, frozenset())
        medicine = Medicine("this medicine", tuple(ingredients), frozenset(classes))
        labels = _sign_labels(self.kb)
        found: list[WarningSign] = []
        for rule in triage_knowledge(self.kb).triage_rules:
            if rule.status != "active" or rule.kind != "warning-sign" or rule.requires_any_of:
                continue
            covered = applies(rule.applies_to, [medicine])
            if not covered:  # None (does not apply) or () (an every-medicine rule)
                continue
            refs = sources.cite(rule.sources)
            for sign in rule.signs:
                found.append(
                    WarningSign(sign, labels.get(sign, sign), rule.urgency, rule.advice, rule.confidence, refs)
                )
        unique: dict[tuple[str, str], WarningSign] = {}
        for item in found:
            unique.setdefault((item.sign, item.urgency), item)
        return sorted(unique.values(), key=lambda w: (URGENCY_ORDER.get(w.urgency, 9), w.label.lower()))

    def _overdose(self, ingredients: Sequence[str], sources: SourceList) -> list[Cited]:
        from rxguard.therapy.overdose_knowledge import OVERDOSE_FILE, OverdoseFile

        data = self.kb.extension(OVERDOSE_FILE, OverdoseFile)
        out: list[Cited] = []
        for fact in data.facts:
            if fact.status == "active" and set(ingredients) & self.kb.expand(fact.drugs):
                out.append(Cited(fact.text, fact.confidence, sources.cite(fact.sources)))
        for advice in data.advice:
            if advice.status != "active" or advice.applies_to != "drugs" or advice.drugs is None:
                continue
            if set(ingredients) & self.kb.expand(advice.drugs):
                text = f"If too much was taken ({advice.urgency}): {advice.advice}"
                out.append(Cited(text, advice.confidence, sources.cite(advice.sources)))
        return out

    def _monitoring_schedules(self, ingredients: Sequence[str], sources: SourceList) -> list[Cited]:
        if not THIOPURINES & set(ingredients):
            return []
        from rxguard.therapy.thiopurine.knowledge import pgx_index

        return [
            Cited(f"{schedule.title}: {schedule.text}", schedule.confidence, sources.cite(schedule.sources))
            for schedule in pgx_index(self.kb).schedules.values()
        ]

    def _interactions(self, ingredients: Sequence[str], sources: SourceList) -> list[InteractionRow]:
        own = set(ingredients)
        rules: dict[str, tuple[s.Interaction, set[str]]] = {}
        for pair, found in self.kb.interaction_index.items():
            if not own & pair or pair <= own:
                continue
            others = set(pair - own)
            for rule in found:
                entry = rules.setdefault(rule.id, (rule, set()))
                entry[1].update(others)
        rows = []
        for rule, others in rules.values():
            names = sorted({self.kb.ingredient_name(o) for o in others})
            other = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            rows.append(
                InteractionRow(
                    rule.id,
                    other,
                    rule.severity,
                    rule.effect,
                    rule.management,
                    rule.patient_advice,
                    rule.confidence,
                    sources.cite(rule.sources),
                )
            )
        rows.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), r.other.lower()))
        return rows

    def see_also(self, family: Family) -> list[FamilyLink]:
        links: dict[str, FamilyLink] = {}
        own = set(family.ingredients)
        for other in self.families_with(family.ingredients):
            if other.slug != family.slug:
                links.setdefault(other.slug, FamilyLink(other.slug, other.title, "same ingredient"))
        direct_classes = {
            c for ing in own for c in (self.kb.ingredients[ing].classes if ing in self.kb.ingredients else [])
        }
        for other in self.families.values():
            if other.slug == family.slug or other.slug in links:
                continue
            theirs = {c for ing in other.ingredients for c in self.kb.ingredients[ing].classes}
            shared = direct_classes & theirs
            if shared:
                name = self.kb.classes[sorted(shared)[0]].name if sorted(shared)[0] in self.kb.classes else "class"
                links[other.slug] = FamilyLink(other.slug, other.title, f"same class ({name})")
        for page in self.condition_pages.values():
            if not any(own & set(o.ingredients) for o in page.options):
                continue
            for option in page.options:
                for other in self.families_with(option.ingredients, exact=True):
                    if other.slug != family.slug and other.slug not in links:
                        links[other.slug] = FamilyLink(other.slug, other.title, f"same use ({page.title})")
        return sorted(links.values(), key=lambda link: (link.why.split(" ")[1], link.title.lower()))

    def guide_page(self, family_slug: str) -> GuidePage | None:
        family = self.families.get(family_slug)
        if family is None:
            return None
        sources = SourceList(self.kb)
        offers = [self.offer(p, sources) for p in family.products]
        guides = {g.id: g for p in family.products if (g := self.guide_for(p)) is not None}
        guide = next(iter(guides.values()), None) if len(guides) == 1 else None
        ingredient_set = set(family.ingredients)
        sections: dict[str, list[Cited]] = {}
        not_sourced: list[str] = []
        if guide is not None:
            for name in ("uses", "how_to_take", "self_care", "serious", "who_should_not", "pregnancy", "monitoring"):
                sections[name] = self._cited(getattr(guide, name), sources)
            sections["storage"] = self._cited(guide.storage, sources)
            sections["overdose"] = self._cited(guide.overdose, sources)
            sections["benefits"] = self._cited(guide.benefits, sources)
            not_sourced = list(guide.not_sourced)
            side_effects = self._side_effects(ingredient_set, sources)
        else:
            side_effects = []
            not_sourced = [
                "No patient guide has been sourced for this product: ask the pharmacist, and read the leaflet in "
                "the pack. The sections below come from rxguard's screening knowledge."
            ]
        page = GuidePage(
            family=family,
            guide_id=guide.id if guide else None,
            guide_title=guide.title if guide else None,
            offers=offers,
            sections=sections,
            side_effects=side_effects,
            warning_signs=self.warning_signs(family.ingredients, sources),
            overdose_facts=self._overdose(family.ingredients, sources),
            monitoring_schedules=self._monitoring_schedules(family.ingredients, sources),
            interactions=self._interactions(family.ingredients, sources),
            see_also=self.see_also(family),
            not_sourced=not_sourced,
            do_not_repeat=list(guide.do_not_repeat) if guide else [],
            sources=sources.items,
            disclaimer=self.policy.disclaimer,
            kb_version=self.kb.version,
            demo_price_label=self.policy.demo_price_label,
        )
        return page

    def decision_aid(self, family_slug: str) -> DecisionAid | None:
        """For prescription-only families: benefits with evidence, risks, alternatives, the monitoring it commits to."""
        family = self.families.get(family_slug)
        if family is None or not family.rx_only:
            return None
        sources = SourceList(self.kb)
        guide = next((g for p in family.products if (g := self.guide_for(p)) is not None), None)
        benefits = self._cited(guide.benefits, sources) if guide else []
        risks = self._cited(guide.serious, sources) if guide else []
        serious = [r for r in self._side_effects(set(family.ingredients), sources) if r.serious]
        monitoring = (self._cited(guide.monitoring, sources) if guide else []) + self._monitoring_schedules(
            family.ingredients, sources
        )
        alternatives: list[Cited] = []
        own = set(family.ingredients)
        for page in self.condition_pages.values():
            if not any(own == set(o.ingredients) for o in page.options):
                continue
            for option in page.options:
                if set(option.ingredients) == own:
                    continue
                text = f"{page.title}: {option.name} ({option.kind}) - {option.text}"
                alternatives.append(Cited(text, option.confidence, sources.cite(option.sources), option.off_label))
        not_sourced = []
        if not benefits:
            not_sourced.append("No evidence of benefit has been sourced for this product.")
        if not alternatives:
            not_sourced.append("No sourced alternative is recorded on rxguard's condition pages.")
        if guide:
            not_sourced += guide.not_sourced
        return DecisionAid(
            family,
            benefits,
            risks,
            serious,
            alternatives,
            monitoring,
            not_sourced,
            sources.items,
            self.policy.disclaimer,
            self.kb.version,
        )

    def condition_view(self, slug: str) -> ConditionView | None:
        page = self.condition_pages.get(slug)
        if page is None:
            return None
        sources = SourceList(self.kb)
        options = [
            OptionView(
                o.name,
                o.kind,
                o.text,
                o.confidence,
                sources.cite(o.sources),
                o.off_label,
                tuple(FamilyLink(f.slug, f.title, "in the catalog") for f in self.families_with(o.ingredients, True)),
            )
            for o in page.options
        ]
        return ConditionView(
            page.slug,
            page.title,
            self._cited(page.intro, sources),
            options,
            list(page.left_out),
            sources.items,
            self.policy.disclaimer,
            self.kb.version,
        )


def _sign_labels(kb: KnowledgeBase) -> dict[str, str]:
    def build() -> dict[str, str]:
        from rxguard.therapy.triage import triage_knowledge

        return {sign.id: sign.label for sign in triage_knowledge(kb).signs}

    return kb.memo("pharmacy.sign_labels", build)


def catalog(kb: KnowledgeBase) -> Catalog:
    """The catalog of a knowledge base, built once."""
    return kb.memo("pharmacy.catalog", lambda: Catalog(kb))
