"""The loaded knowledge base: validated entries plus the indexes the checks use, built once."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from rxguard.domain.model import Concept, SourceRef
from rxguard.knowledge import schema as s

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_NUM_UNIT = re.compile(r"(\d)([a-zµ])")


def name_tokens(text: str) -> tuple[str, ...]:
    """Normalise a drug name or free text into tokens: 'Voltarol 50mg tab' -> ('voltarol', '50', 'mg', 'tab')."""
    lowered = text.lower().replace("-", " ").replace("/", " / ")
    lowered = _NUM_UNIT.sub(r"\1 \2", lowered)
    return tuple(_WORD.findall(lowered))


@dataclass(frozen=True, slots=True)
class NameTarget:
    kind: str  # "product", "brand" or "ingredient" or "class"
    id: str


@dataclass
class KnowledgeBase:
    """Every knowledge file, validated, with lookup indexes. Treat as read-only after build()."""

    manifest: s.KbManifest
    sources: dict[str, s.SourceDocument]
    classes: dict[str, s.DrugClass]
    ingredients: dict[str, s.Ingredient]
    products: dict[str, s.Product]
    price_lists: list[s.PriceList]
    conditions: dict[str, s.ConditionConcept]
    measures: dict[str, s.LabMeasure]
    dose_limits: list[s.DoseLimit]
    interactions: list[s.Interaction]
    duplication_classes: list[s.DuplicationClass]
    drug_disease: list[s.DrugDisease]
    pregnancy: list[s.PregnancyRule]
    age_rules: list[s.AgeRule]
    allergy_groups: list[s.AllergyGroup]
    class_members: dict[str, frozenset[str]] = field(default_factory=dict)
    ingredient_classes: dict[str, frozenset[str]] = field(default_factory=dict)
    rxnorm_products: dict[str, str] = field(default_factory=dict)
    rxnorm_ingredients: dict[str, str] = field(default_factory=dict)
    dose_limits_by_ingredient: dict[str, list[s.DoseLimit]] = field(default_factory=dict)
    interaction_index: dict[frozenset[str], list[s.Interaction]] = field(default_factory=dict)
    names: dict[tuple[str, ...], list[NameTarget]] = field(default_factory=dict)
    max_name_length: int = 1
    loinc_measures: dict[str, str] = field(default_factory=dict)
    brand_products: dict[str, list[str]] = field(default_factory=dict)
    snomed_conditions: dict[str, list[str]] = field(default_factory=dict)
    rules_by_id: dict[str, s.Rule] = field(default_factory=dict)
    condition_names: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    duplication_index: dict[frozenset[str], s.DuplicationClass] = field(default_factory=dict)
    _expanded: dict[int, frozenset[str]] = field(default_factory=dict, repr=False)
    _text_conditions: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _concept_measures: dict[Concept, str | None] = field(default_factory=dict, repr=False)
    _cited: dict[int, tuple[SourceRef, ...]] = field(default_factory=dict, repr=False)
    build_problems: list[str] = field(default_factory=list)
    extensions: dict[str, BaseModel] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def version(self) -> str:
        return self.manifest.kb_version

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def build(cls, parsed: dict[str, BaseModel]) -> KnowledgeBase:
        def get(name: str, attr: str) -> Any:
            return getattr(parsed[name], attr)

        duplicates: list[str] = []

        def by_id(name: str, attr: str, allow_identical: bool = False) -> dict[str, Any]:
            found: dict[str, Any] = {}
            for item in get(name, attr):
                if item.id in found and not (allow_identical and found[item.id] == item):
                    duplicates.append(f"{name}: entry {item.id!r}: field id: defined twice, differently")
                found.setdefault(item.id, item)
            return found

        kb = cls(
            manifest=parsed["kb.yaml"],  # type: ignore[arg-type]
            sources=by_id("sources.yaml", "sources", allow_identical=True),
            classes=by_id("classes.yaml", "classes"),
            ingredients=by_id("ingredients.yaml", "ingredients"),
            products=by_id("products.yaml", "products"),
            price_lists=list(get("prices.yaml", "price_lists")),
            conditions=by_id("conditions.yaml", "conditions"),
            measures=by_id("conditions.yaml", "measures"),
            dose_limits=list(get("dose_limits.yaml", "dose_limits")),
            interactions=list(get("interactions.yaml", "interactions")),
            duplication_classes=list(get("duplication.yaml", "duplication_classes")),
            drug_disease=list(get("drug_disease.yaml", "drug_disease")),
            pregnancy=list(get("pregnancy.yaml", "pregnancy")),
            age_rules=list(get("age.yaml", "age")),
            allergy_groups=list(get("allergy.yaml", "allergy_groups")),
        )
        kb.build_problems = duplicates
        kb.extensions = {name: model for name, model in parsed.items() if name not in s.FILES}
        kb._index()
        return kb

    def _class_ancestors(self, class_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if class_id in seen or class_id not in self.classes:
            return set()
        found = {class_id}
        for parent in self.classes[class_id].parents:
            found |= self._class_ancestors(parent, seen | {class_id})
        return found

    def _index(self) -> None:
        members: dict[str, set[str]] = defaultdict(set)
        for ing in self.ingredients.values():
            closure: set[str] = set()
            for class_id in ing.classes:
                closure |= self._class_ancestors(class_id)
            self.ingredient_classes[ing.id] = frozenset(closure)
            for class_id in closure:
                members[class_id].add(ing.id)
            if ing.rxnorm:
                self.rxnorm_ingredients[ing.rxnorm] = ing.id
        self.class_members = {c: frozenset(members.get(c, set())) for c in self.classes}

        for product in self.products.values():
            for code in product.rxnorm:
                self.rxnorm_products[code] = product.id
            if product.brand:
                self.brand_products.setdefault(product.brand.lower(), []).append(product.id)

        by_ingredient: dict[str, list[s.DoseLimit]] = defaultdict(list)
        for limit in self.dose_limits:
            if limit.status == "active":
                by_ingredient[limit.ingredient].append(limit)
        self.dose_limits_by_ingredient = dict(by_ingredient)

        pairs: dict[frozenset[str], list[s.Interaction]] = defaultdict(list)
        for rule in self.interactions:
            if rule.status != "active":
                continue
            for a in self.expand(rule.a):
                for b in self.expand(rule.b):
                    key = frozenset((a, b))
                    if a != b and rule not in pairs[key]:
                        pairs[key].append(rule)
        self.interaction_index = dict(pairs)

        self._index_names()
        for measure in self.measures.values():
            for code in measure.loinc:
                self.loinc_measures[code] = measure.id
        for condition in self.conditions.values():
            for code in condition.snomed:
                self.snomed_conditions.setdefault(code, []).append(condition.id)
        for any_rule in self.all_rules():
            self.rules_by_id.setdefault(any_rule.id, any_rule)
        for condition in self.conditions.values():
            for text in (condition.name, *condition.synonyms):
                tokens = name_tokens(text)
                if tokens:
                    self.condition_names.setdefault(tokens, []).append(condition.id)
        severity_rank = {"none": 0, "minor": 1, "moderate": 2, "major": 3, "contraindicated": 4}
        for dup in self.duplication_classes:
            if dup.status != "active":
                continue
            member_ids = sorted(self.expand(dup.members))
            for i, a in enumerate(member_ids):
                for b in member_ids[i + 1 :]:
                    key = frozenset((a, b))
                    current = self.duplication_index.get(key)
                    if current is None or severity_rank[dup.severity] > severity_rank[current.severity]:
                        self.duplication_index[key] = dup

    def _add_name(self, text: str, target: NameTarget) -> None:
        tokens = name_tokens(text)
        if not tokens:
            return
        targets = self.names.setdefault(tokens, [])
        if target not in targets:
            targets.append(target)
        self.max_name_length = max(self.max_name_length, len(tokens))

    def _index_names(self) -> None:
        for ing in self.ingredients.values():
            for text in (ing.id, ing.name, ing.us_name, *ing.synonyms):
                if text:
                    self._add_name(text, NameTarget("ingredient", ing.id))
        for product in self.products.values():
            for text in (product.name, *product.synonyms):
                self._add_name(text, NameTarget("product", product.id))
            if product.brand:
                self._add_name(product.brand, NameTarget("brand", product.brand.lower()))
        for drug_class in self.classes.values():
            for text in (drug_class.name, *drug_class.synonyms):
                self._add_name(text, NameTarget("class", drug_class.id))

    # --- queries ------------------------------------------------------------------------------

    def extension(self, filename: str, model: type[M]) -> M:
        """A feature's parsed knowledge file (registered in knowledge/extensions.py)."""
        value = self.extensions.get(filename)
        if not isinstance(value, model):
            raise KeyError(f"knowledge file {filename!r} is not loaded (is its module in EXTENSION_MODULES?)")
        return value

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """An index a feature builds once per knowledge base."""
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._memo[key] = factory()
            return value

    def all_rules(self) -> Iterable[s.Rule]:
        for extension in self.extensions.values():
            rules = getattr(extension, "rules", None)
            if callable(rules):
                yield from rules()
        yield from self.dose_limits
        yield from self.interactions
        yield from self.duplication_classes
        yield from self.drug_disease
        yield from self.pregnancy
        yield from self.age_rules
        yield from self.allergy_groups

    def expand(self, drugs: s.DrugSet) -> frozenset[str]:
        """The ingredient ids a drug set names, directly or through its classes (computed once per set)."""
        cached = self._expanded.get(id(drugs))
        if cached is not None:
            return cached
        found = set(drugs.ingredients)
        for class_id in drugs.classes:
            found |= self.class_members.get(class_id, frozenset())
        result = frozenset(found)
        self._expanded[id(drugs)] = result
        return result

    def conditions_in_text(self, text: str) -> frozenset[str]:
        """Condition ids whose name or synonym appears as whole words in a free text (remembered per text)."""
        cached = self._text_conditions.get(text)
        if cached is not None:
            return cached
        tokens = name_tokens(text)
        found: set[str] = set()
        longest = max((len(k) for k in self.condition_names), default=1)
        for i in range(len(tokens)):
            for length in range(1, min(longest, len(tokens) - i) + 1):
                found.update(self.condition_names.get(tokens[i : i + length], ()))
        result = frozenset(found)
        if len(self._text_conditions) < 100_000:
            self._text_conditions[text] = result
        return result

    def measure_of(self, concept: Concept) -> str | None:
        """The lab measure an observation's code names: its first LOINC code the knowledge base knows.

        Remembered per concept (bounded): the same few codings arrive in every request.
        """
        try:
            return self._concept_measures[concept]
        except KeyError:
            pass
        found = next((self.loinc_measures[c] for c in concept.codes("loinc.org") if c in self.loinc_measures), None)
        if len(self._concept_measures) < 100_000:
            self._concept_measures[concept] = found
        return found

    def in_class(self, ingredient: str, class_id: str) -> bool:
        return class_id in self.ingredient_classes.get(ingredient, frozenset())

    def cite(self, citations: Sequence[s.Citation]) -> tuple[SourceRef, ...]:
        cached = self._cited.get(id(citations))
        if cached is not None:
            return cached
        refs = []
        for c in citations:
            doc = self.sources[c.source]
            refs.append(SourceRef(document=doc.title, year=doc.year, section=c.section, confidence=c.confidence))
        result = tuple(refs)
        self._cited[id(citations)] = result
        return result

    def ingredient_name(self, ingredient: str) -> str:
        ing = self.ingredients.get(ingredient)
        return ing.name if ing else ingredient

    def condition_ancestors(self, condition_id: str) -> set[str]:
        """A condition and every broader condition it is a kind of."""
        found: set[str] = set()
        stack = [condition_id]
        while stack:
            current = stack.pop()
            if current in found or current not in self.conditions:
                continue
            found.add(current)
            stack.extend(self.conditions[current].parents)
        return found

    def unit_prices(self) -> dict[str, tuple[s.Price, s.PriceList]]:
        """Product id -> (price, list): real prices win over demo prices."""
        chosen: dict[str, tuple[s.Price, s.PriceList]] = {}
        for price_list in sorted(self.price_lists, key=lambda pl: pl.status != "real"):
            for price in price_list.prices:
                chosen.setdefault(price.product, (price, price_list))
        return chosen

    # --- cross-validation ---------------------------------------------------------------------

    def cross_check(self) -> list[str]:
        """Every reference resolves, ids are unique, every ingredient has dose knowledge."""
        problems: list[str] = list(self.build_problems)
        for extension in self.extensions.values():
            cross_check = getattr(extension, "cross_check", None)
            if callable(cross_check):
                problems.extend(cross_check(self))
            rules = getattr(extension, "rules", None)
            for rule in rules() if callable(rules) else ():
                for citation in rule.sources:
                    if citation.source not in self.sources:
                        problems.append(f"{rule.id}: field sources: unknown source {citation.source!r}")
        for citation in self.manifest.cockcroft_gault.sources:
            if citation.source not in self.sources:
                problems.append(f"kb.yaml: cockcroft_gault: field sources: unknown source {citation.source!r}")

        def need(kind: str, ref: str, known: Iterable[str], where: str) -> None:
            if ref not in known:
                problems.append(f"{where}: unknown {kind} {ref!r}")

        def check_citations(citations: Sequence[s.Citation], where: str) -> None:
            for c in citations:
                need("source", c.source, self.sources, where)

        def check_drugs(drugs: s.DrugSet, where: str) -> None:
            for ing in drugs.ingredients:
                need("ingredient", ing, self.ingredients, where)
            for cls in drugs.classes:
                need("class", cls, self.classes, where)

        for c in self.classes.values():
            for parent in c.parents:
                need("class", parent, self.classes, f"classes.yaml: entry {c.id!r}: field parents")
        for ing in self.ingredients.values():
            where = f"ingredients.yaml: entry {ing.id!r}"
            for cls in ing.classes:
                need("class", cls, self.classes, f"{where}: field classes")
            check_citations(ing.sources, f"{where}: field sources")
        for p in self.products.values():
            where = f"products.yaml: entry {p.id!r}"
            for pi in p.ingredients:
                need("ingredient", pi.ingredient, self.ingredients, f"{where}: field ingredients")
            check_citations(p.sources, f"{where}: field sources")
        for pl in self.price_lists:
            where = f"prices.yaml: entry {pl.id!r}"
            check_citations(pl.sources, f"{where}: field sources")
            for price in pl.prices:
                need("product", price.product, self.products, f"{where}: field prices")
        for cond in self.conditions.values():
            for parent in cond.parents:
                need("condition", parent, self.conditions, f"conditions.yaml: entry {cond.id!r}: field parents")
            for pred in cond.inferred_from:
                need(
                    "measure",
                    pred.measure,
                    self.measures,
                    f"conditions.yaml: entry {cond.id!r}: field inferred_from",
                )

        files: dict[str, Sequence[s.Rule]] = {
            "dose_limits.yaml": self.dose_limits,
            "interactions.yaml": self.interactions,
            "duplication.yaml": self.duplication_classes,
            "drug_disease.yaml": self.drug_disease,
            "pregnancy.yaml": self.pregnancy,
            "age.yaml": self.age_rules,
            "allergy.yaml": self.allergy_groups,
        }
        seen: dict[str, str] = {}
        for filename, rules in files.items():
            for rule in rules:
                where = f"{filename}: entry {rule.id!r}"
                if rule.id in seen:
                    problems.append(f"{where}: field id: duplicate rule id (also in {seen[rule.id]})")
                seen[rule.id] = filename
                check_citations(rule.sources, f"{where}: field sources")
                self._check_rule_refs(rule, where, need, check_drugs)
        for filename, rules in files.items():
            for rule in rules:
                if rule.replaced_by and rule.replaced_by not in seen:
                    problems.append(
                        f"{filename}: entry {rule.id!r}: field replaced_by: unknown rule {rule.replaced_by!r}"
                    )

        for ing in self.ingredients.values():
            if ing.id not in self.dose_limits_by_ingredient:
                problems.append(
                    f"dose_limits.yaml: ingredient {ing.id!r} has no active dose entry "
                    "(add its limits, or an entry with no_fixed_maximum saying why)"
                )
        return problems

    def _check_rule_refs(self, rule: s.Rule, where: str, need: Any, check_drugs: Any) -> None:
        if isinstance(rule, s.DoseLimit):
            need("ingredient", rule.ingredient, self.ingredients, f"{where}: field ingredient")
            for cond in rule.population.conditions:
                need("condition", cond, self.conditions, f"{where}: field population.conditions")
            if rule.population.renal:
                need(
                    "measure",
                    rule.population.renal.measure,
                    self.measures,
                    f"{where}: field population.renal",
                )
        elif isinstance(rule, s.Interaction):
            check_drugs(rule.a, f"{where}: field a")
            check_drugs(rule.b, f"{where}: field b")
            for dose_condition in rule.when:
                need("ingredient", dose_condition.ingredient, self.ingredients, f"{where}: field when")
        elif isinstance(rule, s.DuplicationClass | s.AllergyGroup):
            check_drugs(rule.members, f"{where}: field members")
        elif isinstance(rule, s.DrugDisease):
            check_drugs(rule.drugs, f"{where}: field drugs")
            need("condition", rule.condition, self.conditions, f"{where}: field condition")
        elif isinstance(rule, s.PregnancyRule | s.AgeRule):
            check_drugs(rule.drugs, f"{where}: field drugs")
