"""Resolve what an order or record names (RxNorm code or free text) to products and ingredients.

RxNorm product codes win; then ingredient codes; then text: brand and product names, ingredient names
and synonyms, with strengths ("50mg", "30/500", "25 mcg/h") and release words ("SR", "gastro-resistant")
used to pick the product. When nothing matches, the result says so: it is never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rxguard.domain.model import Concept
from rxguard.domain.units import mass_in_mg
from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase, NameTarget, name_tokens

RXNORM_SUFFIX = "rxnorm"

_NUMBER = r"(\d+(?:\.\d+)?)"
_MASS = r"(mg|mcg|µg|ug|micrograms?|milligrams?|g)"
_RATE = re.compile(_NUMBER + r"\s*(mcg|µg|ug|micrograms?|mg)\s*/\s*(?:h|hr|hour|hours|24\s*h)\b")
_COMBO = re.compile(_NUMBER + r"\s*(?:mg)?\s*/\s*" + _NUMBER + r"(?:\s*" + _MASS + r")?(?!\s*(?:ml|h|hr|hour)\b)")
_SINGLE = re.compile(_NUMBER + r"\s*" + _MASS + r"\b(?!\s*/\s*(?:ml|h|hr|hour)\b)")
_CONC = re.compile(_NUMBER + r"\s*(mg|mcg|ug)\s*/\s*(?:" + _NUMBER + r"\s*)?ml\b")

_MODIFIED = {
    "mr",
    "sr",
    "xr",
    "xl",
    "er",
    "cr",
    "retard",
    "modified",
    "prolonged",
    "extended",
    "sustained",
    "la",
    "controlled",
    "12hr",
    "24hr",
    "ir",
}
_GASTRO = {"gr", "ec", "dr", "gastro", "enteric", "delayed"}


@dataclass(frozen=True, slots=True)
class ResolvedIngredient:
    ingredient: str
    strength_value: float | None = None
    strength_unit: str | None = None

    def strength_mg(self) -> float | None:
        if self.strength_value is None or self.strength_unit is None:
            return None
        return mass_in_mg(self.strength_value, self.strength_unit)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a medicine entry is, as far as the knowledge base can tell."""

    ingredients: tuple[ResolvedIngredient, ...]
    product_id: str | None = None
    matched_by: str = "none"
    unit: str | None = None
    route: str | None = None
    release: str | None = None
    notes: tuple[str, ...] = ()

    ids: tuple[str, ...] = field(init=False, default=(), compare=False)
    fingerprint: tuple[tuple[str, float | None], ...] = field(init=False, default=(), compare=False)
    # Per product unit (read-only): mg of each ingredient, ug/h for patches, mg/mL for liquids.
    unit_mg: dict[str, float] = field(init=False, default_factory=dict, compare=False, repr=False)
    unit_rate_ug_h: dict[str, float] = field(init=False, default_factory=dict, compare=False, repr=False)
    unit_mg_per_ml: dict[str, float] = field(init=False, default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Derived once: every check asks for these, many times per screening.
        object.__setattr__(self, "ids", tuple(ri.ingredient for ri in self.ingredients))
        object.__setattr__(
            self, "fingerprint", tuple(sorted((ri.ingredient, ri.strength_mg()) for ri in self.ingredients))
        )
        for ri in self.ingredients:
            if ri.strength_value is None or ri.strength_unit is None:
                continue
            if ri.strength_unit == "ug/h":
                self.unit_rate_ug_h[ri.ingredient] = ri.strength_value
            elif ri.strength_unit == "mg/mL":
                self.unit_mg_per_ml[ri.ingredient] = ri.strength_value
            else:
                value = mass_in_mg(ri.strength_value, ri.strength_unit)
                if value is not None:
                    self.unit_mg[ri.ingredient] = value

    @property
    def known(self) -> bool:
        return bool(self.ingredients)

    def ingredient_ids(self) -> tuple[str, ...]:
        return self.ids


UNKNOWN = Resolution(ingredients=())


@dataclass(frozen=True, slots=True)
class TextClues:
    tokens: tuple[str, ...]
    targets: tuple[NameTarget, ...]
    singles_mg: tuple[float, ...]
    combos_mg: tuple[tuple[float, float], ...]
    rates_ug_h: tuple[float, ...]
    release: str | None


def _strength_mg(value: float, unit: str | None) -> float | None:
    if unit is None:
        return value
    return mass_in_mg(value, unit)


def read_clues(kb: KnowledgeBase, text: str) -> TextClues:
    """Names, strengths and release words found in a free-text medicine description."""
    lowered = text.lower()
    rates = tuple(
        1000 * v for v in (_strength_mg(float(m.group(1)), m.group(2)) for m in _RATE.finditer(lowered)) if v
    )  # micrograms per hour
    without_rates = _RATE.sub(" ", _CONC.sub(" ", lowered))
    combos: list[tuple[float, float]] = []
    for m in _COMBO.finditer(without_rates):
        unit = m.group(3)
        a, b = _strength_mg(float(m.group(1)), unit), _strength_mg(float(m.group(2)), unit)
        if a is not None and b is not None:
            combos.append((a, b))
    without_combos = _COMBO.sub(" ", without_rates)
    singles = tuple(
        v for v in (_strength_mg(float(m.group(1)), m.group(2)) for m in _SINGLE.finditer(without_combos)) if v
    )
    tokens = name_tokens(text)
    targets: list[NameTarget] = []
    i = 0
    while i < len(tokens):
        for length in range(min(kb.max_name_length, len(tokens) - i), 0, -1):
            found = kb.names.get(tokens[i : i + length])
            if found:
                targets.extend(t for t in found if t not in targets)
                i += length
                break
        else:
            i += 1
    words = set(tokens) | {"".join(tokens[j : j + 2]) for j in range(len(tokens) - 1)}
    release = None
    if words & _GASTRO:
        release = "gastro-resistant"
    elif words & (_MODIFIED - {"ir"}):
        release = "modified"
    elif "ir" in words:
        release = "immediate"
    return TextClues(tokens, tuple(targets), singles, tuple(combos), rates, release)


def _product_strengths(product: s.Product) -> tuple[float, ...]:
    values = []
    for pi in product.ingredients:
        if pi.strength is None:
            continue
        if pi.strength.unit == "ug/h":
            values.append(pi.strength.value)
        else:
            mg = mass_in_mg(pi.strength.value, pi.strength.unit)
            if mg is not None:
                values.append(mg)
    return tuple(values)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _matches_strength(product: s.Product, clues: TextClues) -> bool:
    strengths = _product_strengths(product)
    if clues.rates_ug_h:
        return len(strengths) == 1 and any(_same(strengths[0], r) for r in clues.rates_ug_h)
    combos = list(clues.combos_mg)
    if len(clues.singles_mg) == 2:
        combos.append((clues.singles_mg[0], clues.singles_mg[1]))
    if len(strengths) == 2 and combos:
        return any(all(_same(x, y) for x, y in zip(sorted(strengths), sorted(c), strict=True)) for c in combos)
    if len(strengths) == 1 and clues.singles_mg:
        return any(_same(strengths[0], v) for v in clues.singles_mg)
    return not (combos or clues.singles_mg)


def _release_of(product: s.Product) -> str:
    return "modified" if product.release in ("modified", "extended") else product.release


def _prefer(products: list[s.Product], clues: TextClues) -> list[s.Product]:
    if clues.release and len(products) > 1:
        narrowed = [p for p in products if _release_of(p) == clues.release]
        if narrowed:
            products = narrowed
    if len(products) > 1 and not clues.release:
        plain = [p for p in products if p.release in ("immediate", "gastro-resistant", "n/a")]
        if plain:
            products = plain
    return products


def from_product(product: s.Product, matched_by: str, notes: tuple[str, ...] = ()) -> Resolution:
    return Resolution(
        ingredients=tuple(
            ResolvedIngredient(
                pi.ingredient,
                pi.strength.value if pi.strength else None,
                pi.strength.unit if pi.strength else None,
            )
            for pi in product.ingredients
        ),
        product_id=product.id,
        matched_by=matched_by,
        unit=product.unit,
        route=product.route,
        release=product.release,
        notes=notes,
    )


class Resolver:
    """Resolves medicine concepts against one knowledge base, remembering answers (they never change)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._cache: dict[tuple[tuple[str, ...], str], Resolution] = {}
        self._concepts: dict[Concept, Resolution] = {}
        self._allergens: dict[Concept, tuple[frozenset[str], frozenset[str]]] = {}

    def resolve(self, concept: Concept) -> Resolution:
        # Bounded memos of a pure function, keyed by what the concept says (its codes and texts), never by the
        # request: every order and record naming the same medicine the same way shares the answer.
        found = self._concepts.get(concept)
        if found is not None:
            return found
        codes = concept.codes(RXNORM_SUFFIX)
        text = " ".join(concept.all_text())
        key = (codes, text)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._resolve(codes, text)
            if len(self._cache) < 100_000:  # bounded: a long-running service sees many free texts
                self._cache[key] = cached
        if len(self._concepts) < 100_000:
            self._concepts[concept] = cached
        return cached

    def _resolve(self, codes: tuple[str, ...], text: str) -> Resolution:
        kb = self.kb
        for code in codes:
            product_id = kb.rxnorm_products.get(code)
            if product_id:
                return from_product(kb.products[product_id], "rxnorm-product")
        clues = read_clues(kb, text) if text else None
        for code in codes:
            ingredient = kb.rxnorm_ingredients.get(code)
            if ingredient:
                if clues is not None:
                    by_text = self._from_text(clues)
                    if by_text.ingredient_ids() == (ingredient,):
                        return by_text
                return Resolution((ResolvedIngredient(ingredient),), matched_by="rxnorm-ingredient")
        if clues is None:
            return UNKNOWN
        resolution = self._from_text(clues)
        if codes and resolution.known:
            note = f"RxNorm code(s) {', '.join(codes)} not in the knowledge base; matched by name instead"
            return Resolution(
                resolution.ingredients,
                resolution.product_id,
                resolution.matched_by,
                resolution.unit,
                resolution.route,
                resolution.release,
                (*resolution.notes, note),
            )
        return resolution

    def _from_text(self, clues: TextClues) -> Resolution:
        kb = self.kb
        named: list[s.Product] = []
        for target in clues.targets:
            if target.kind == "product":
                named.append(kb.products[target.id])
            elif target.kind == "brand":
                named.extend(kb.products[pid] for pid in kb.brand_products.get(target.id, []))
        ingredients = [t.id for t in clues.targets if t.kind == "ingredient"]
        if named:
            covered = {pi.ingredient for p in named for pi in p.ingredients}
            if any(i not in covered for i in ingredients):
                # A product name matched only part of a combination ("acetaminophen 325 MG / hydrocodone
                # bitartrate 5 MG"): resolve every ingredient named, so the opioid is not lost.
                return self._generic(list(dict.fromkeys([*ingredients, *sorted(covered)])), clues)
            family = list({p.id: p for p in named}.values())
            fitting = _prefer([p for p in family if _matches_strength(p, clues)], clues)
            if len(fitting) == 1:
                return from_product(fitting[0], "text-product")
            if fitting and not (clues.singles_mg or clues.combos_mg or clues.rates_ug_h):
                return self._ingredient_level(family, "strength not stated; several products match")
            if len(fitting) > 1:
                return from_product(fitting[0], "text-product", (f"several products match; took {fitting[0].name}",))
            return self._off_catalog_strength(family, clues)
        if ingredients:
            return self._generic(list(dict.fromkeys(ingredients)), clues)
        return UNKNOWN

    def _ingredient_level(self, family: list[s.Product], note: str) -> Resolution:
        first = family[0]
        ids = tuple(dict.fromkeys(pi.ingredient for pi in first.ingredients))
        return Resolution(
            tuple(ResolvedIngredient(i) for i in ids),
            matched_by="text-ingredient",
            unit=first.unit,
            route=first.route,
            notes=(note,),
        )

    def _off_catalog_strength(self, family: list[s.Product], clues: TextClues) -> Resolution:
        first = family[0]
        ids = tuple(dict.fromkeys(pi.ingredient for pi in first.ingredients))
        if len(ids) == 1 and len(clues.singles_mg) == 1:
            note = f"{first.brand or first.generic_name} {clues.singles_mg[0]:g} mg is not a known strength"
            return Resolution(
                (ResolvedIngredient(ids[0], clues.singles_mg[0], "mg"),),
                matched_by="text-brand",
                unit=first.unit,
                route=first.route,
                release=clues.release,
                notes=(note,),
            )
        return self._ingredient_level(family, "the stated strength matches no known product")

    def _generic(self, ingredients: list[str], clues: TextClues) -> Resolution:
        kb = self.kb
        wanted = set(ingredients)
        candidates = [
            p
            for p in kb.products.values()
            if {pi.ingredient for pi in p.ingredients} == wanted and _matches_strength(p, clues)
        ]
        has_strength = bool(clues.singles_mg or clues.combos_mg or clues.rates_ug_h)
        if candidates and has_strength:
            generic = [p for p in candidates if not p.brand] or candidates
            chosen = _prefer(generic, clues)
            return from_product(chosen[0], "text-ingredient")
        if len(ingredients) == 1:
            ing = ingredients[0]
            if clues.rates_ug_h:
                return Resolution(
                    (ResolvedIngredient(ing, clues.rates_ug_h[0], "ug/h"),),
                    matched_by="text-ingredient",
                    unit="patch",
                    release=clues.release,
                )
            if len(clues.singles_mg) == 1:
                return Resolution(
                    (ResolvedIngredient(ing, clues.singles_mg[0], "mg"),),
                    matched_by="text-ingredient",
                    release=clues.release,
                )
            return Resolution((ResolvedIngredient(ing),), matched_by="text-ingredient", release=clues.release)
        if clues.combos_mg and len(ingredients) == 2:
            a, b = clues.combos_mg[0]
            return Resolution(
                (ResolvedIngredient(ingredients[0], a, "mg"), ResolvedIngredient(ingredients[1], b, "mg")),
                matched_by="text-ingredient",
                release=clues.release,
            )
        return Resolution(
            tuple(ResolvedIngredient(i) for i in ingredients),
            matched_by="text-ingredient",
            release=clues.release,
        )

    def allergen(self, concept: Concept) -> tuple[frozenset[str], frozenset[str]]:
        """(ingredients named, classes named) by an allergy record's substance."""
        cached = self._allergens.get(concept)
        if cached is not None:
            return cached
        resolution = self.resolve(concept)
        ingredients = set(resolution.ingredient_ids())
        classes: set[str] = set()
        text = " ".join(concept.all_text())
        if text:
            for target in read_clues(self.kb, text).targets:
                if target.kind == "class":
                    classes.add(target.id)
                elif target.kind == "ingredient":
                    ingredients.add(target.id)
        result = frozenset(ingredients), frozenset(classes)
        if len(self._allergens) < 100_000:
            self._allergens[concept] = result
        return result
