"""Resolving what an order names: RxNorm codes first, then brand, product and ingredient names."""

from __future__ import annotations

import pytest

from rxguard.domain.model import Coding, Concept
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolver

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.fixture(scope="module")
def resolver(kb: KnowledgeBase) -> Resolver:
    return Resolver(kb)


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("Voltarol 50mg tab", "voltarol-50-gr"),
        ("VOLTAROL 50 MG GASTRO-RESISTANT TABLETS", "voltarol-50-gr"),
        ("Voltarol 75 mg SR tablets", "voltarol-75-sr"),
        ("Panadol 500 mg tablets", "panadol-500"),
        ("co-codamol 30/500 tablets", "co-codamol-30-500"),
        ("Imuran 25mg", "imuran-25"),
        ("Norco 5/325", "hydrocodone-apap-5-325"),
    ],
)
def test_brand_and_product_names_resolve_case_insensitively(resolver: Resolver, text: str, product: str) -> None:
    assert resolver.resolve(Concept(text=text)).product_id == product


def test_rxnorm_product_codes_win(resolver: Resolver) -> None:
    result = resolver.resolve(Concept(codings=(Coding(RXNORM, "105611"),), text="something else"))
    assert result.product_id == "imuran-50"
    assert result.matched_by == "rxnorm-product"


def test_generic_names_with_strength_find_the_generic_product(resolver: Resolver) -> None:
    result = resolver.resolve(Concept(text="azathioprine 75 mg tablet"))
    assert result.ingredient_ids() == ("azathioprine",)
    assert result.ingredients[0].strength_mg() == 75


def test_us_and_uk_names_are_the_same_ingredient(resolver: Resolver) -> None:
    assert resolver.resolve(Concept(text="acetaminophen 500 mg")).ingredient_ids() == ("paracetamol",)
    assert resolver.resolve(Concept(text="paracetamol 500 mg")).ingredient_ids() == ("paracetamol",)


def test_combination_products_keep_both_ingredients(resolver: Resolver) -> None:
    result = resolver.resolve(Concept(text="oxycodone and acetaminophen 5/325 tablet"))
    assert set(result.ingredient_ids()) == {"oxycodone", "paracetamol"}
    strengths = {ri.ingredient: ri.strength_mg() for ri in result.ingredients}
    assert strengths == {"oxycodone": 5, "paracetamol": 325}


def test_patch_strengths_in_micrograms_per_hour(resolver: Resolver) -> None:
    result = resolver.resolve(Concept(text="fentanyl 25 mcg/hr transdermal patch"))
    assert result.ingredient_ids() == ("fentanyl",)
    assert (result.ingredients[0].strength_value, result.ingredients[0].strength_unit) == (25, "ug/h")


def test_an_unknown_name_resolves_to_nothing(resolver: Resolver) -> None:
    assert not resolver.resolve(Concept(text="Xylotrexin 40 mg tablet")).known
    assert not resolver.resolve(Concept(codings=(Coding(RXNORM, "999999999"),))).known


def test_an_unknown_code_with_a_known_name_says_so(resolver: Resolver) -> None:
    result = resolver.resolve(Concept(codings=(Coding(RXNORM, "999999999"),), text="Panadol 500 mg tablets"))
    assert result.product_id == "panadol-500"
    assert any("not in the knowledge base" in n for n in result.notes)
