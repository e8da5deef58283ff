"""What the knowledge base knows about a drug, as plain data (for `rxguard kb show` and the API)."""

from __future__ import annotations

from typing import Any

from rxguard.domain.model import Concept
from rxguard.errors import NotFoundError
from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolver, read_clues


def _sources(kb: KnowledgeBase, citations: list[s.Citation]) -> list[dict[str, Any]]:
    return [ref.as_dict() for ref in kb.cite(citations)]


def _drugs(kb: KnowledgeBase, drugs: s.DrugSet) -> str:
    parts = [kb.ingredient_name(i) for i in drugs.ingredients] + [kb.classes[c].name for c in drugs.classes]
    return ", ".join(parts)


def find_ingredients(kb: KnowledgeBase, query: str) -> tuple[list[str], list[str]]:
    """(ingredient ids, product ids) a query names: an ingredient, brand, product or class name."""
    text = query.strip()
    if text in kb.ingredients:
        return [text], []
    if text in kb.products:
        return [pi.ingredient for pi in kb.products[text].ingredients], [text]
    resolution = Resolver(kb).resolve(Concept(text=text))
    products = [resolution.product_id] if resolution.product_id else []
    ingredients = list(resolution.ingredient_ids())
    if not ingredients:
        for target in read_clues(kb, text).targets:
            if target.kind == "class":
                ingredients.extend(sorted(kb.class_members.get(target.id, frozenset())))
            elif target.kind == "brand":
                products.extend(kb.brand_products.get(target.id, []))
                for pid in kb.brand_products.get(target.id, []):
                    ingredients.extend(pi.ingredient for pi in kb.products[pid].ingredients)
    return list(dict.fromkeys(ingredients)), list(dict.fromkeys(products))


def describe(kb: KnowledgeBase, query: str) -> dict[str, Any]:
    ingredients, named_products = find_ingredients(kb, query)
    if not ingredients:
        raise NotFoundError(f"DRUG: no ingredient, product, brand or class in the knowledge base matches {query!r}")
    prices = kb.unit_prices()
    out: dict[str, Any] = {"query": query, "kb_version": kb.version, "ingredients": []}
    for ing_id in ingredients:
        ing = kb.ingredients[ing_id]
        members = {ing_id}
        products = []
        for p in kb.products.values():
            if ing_id not in {pi.ingredient for pi in p.ingredients}:
                continue
            price = prices.get(p.id)
            products.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "brand": p.brand,
                    "catalog": p.catalog,
                    "ingredients": [
                        {
                            "ingredient": pi.ingredient,
                            "strength": f"{pi.strength.value:g} {pi.strength.unit}" if pi.strength else None,
                        }
                        for pi in p.ingredients
                    ],
                    "dose_form": p.dose_form,
                    "route": p.route,
                    "release": p.release,
                    "rx_only": p.rx_only,
                    "dea_schedule": p.dea_schedule,
                    "rxnorm": p.rxnorm,
                    "markets": p.markets,
                    "unit_price": (
                        {
                            "amount": price[0].unit_price,
                            "currency": price[0].currency,
                            "per": p.unit,
                            "list": price[1].id,
                            "status": price[1].status,
                        }
                        if price
                        else None
                    ),
                    "sources": _sources(kb, p.sources),
                }
            )
        entry: dict[str, Any] = {
            "id": ing.id,
            "name": ing.name,
            "us_name": ing.us_name,
            "rxnorm": ing.rxnorm,
            "rxnorm_note": ing.rxnorm_note,
            "synonyms": ing.synonyms,
            "classes": sorted(kb.ingredient_classes.get(ing_id, frozenset())),
            "products": products,
            "dose_limits": [
                {
                    "id": d.id,
                    "version": d.version,
                    "jurisdictions": d.jurisdictions,
                    "routes": d.routes,
                    "release": d.release,
                    "population": d.population.description,
                    "max_single_dose_mg": d.max_single_dose_mg,
                    "max_daily_dose_mg": d.max_daily_dose_mg,
                    "max_daily_mg_per_kg": d.max_daily_mg_per_kg,
                    "max_weekly_dose_mg": d.max_weekly_dose_mg,
                    "weekly_dosing_only": d.weekly_dosing_only,
                    "no_fixed_maximum": d.no_fixed_maximum,
                    "not_sourced": d.not_sourced,
                    "usual_dose": d.usual_dose,
                    "confidence": d.confidence,
                    "notes": d.notes,
                    "sources": _sources(kb, d.sources),
                }
                for d in kb.dose_limits
                if d.ingredient == ing_id and d.status == "active"
            ],
            "interactions": [
                {
                    "id": r.id,
                    "with": _drugs(kb, r.b) if ing_id in kb.expand(r.a) else _drugs(kb, r.a),
                    "severity": r.severity,
                    "effect": r.effect,
                    "management": r.management,
                    "confidence": r.confidence,
                    "sources": _sources(kb, r.sources),
                }
                for r in kb.interactions
                if r.status == "active" and (ing_id in kb.expand(r.a) or ing_id in kb.expand(r.b))
            ],
            "duplication_classes": [
                {
                    "id": d.id,
                    "name": d.name,
                    "severity": d.severity,
                    "hazard": d.hazard,
                    "sources": _sources(kb, d.sources),
                }
                for d in kb.duplication_classes
                if d.status == "active" and ing_id in kb.expand(d.members)
            ],
            "drug_disease": [
                {
                    "id": r.id,
                    "condition": kb.conditions[r.condition].name,
                    "level": r.level,
                    "jurisdictions": r.jurisdictions,
                    "text": r.text,
                    "management": r.management,
                    "confidence": r.confidence,
                    "sources": _sources(kb, r.sources),
                }
                for r in kb.drug_disease
                if r.status == "active" and members & kb.expand(r.drugs)
            ],
            "pregnancy_breastfeeding": [
                {
                    "id": r.id,
                    "applies_to": r.applies_to,
                    "from_week": r.from_week,
                    "to_week": r.to_week,
                    "level": r.level,
                    "jurisdictions": r.jurisdictions,
                    "text": r.text,
                    "confidence": r.confidence,
                    "sources": _sources(kb, r.sources),
                }
                for r in kb.pregnancy
                if r.status == "active" and members & kb.expand(r.drugs)
            ],
            "age": [
                {
                    "id": r.id,
                    "min_age_years": r.min_age_years,
                    "max_age_years": r.max_age_years,
                    "level": r.level,
                    "criterion": r.criterion,
                    "text": r.text,
                    "confidence": r.confidence,
                    "sources": _sources(kb, r.sources),
                }
                for r in kb.age_rules
                if r.status == "active" and members & kb.expand(r.drugs)
            ],
            "allergy_groups": [
                {
                    "id": g.id,
                    "name": g.name,
                    "text": g.text,
                    "sources": _sources(kb, g.sources),
                }
                for g in kb.allergy_groups
                if g.status == "active" and members & kb.expand(g.members)
            ],
            "sources": _sources(kb, ing.sources),
        }
        out["ingredients"].append(entry)
    if named_products:
        out["matched_products"] = named_products
    return out
