"""The knowledge base: valid, sourced, strict about its schema, and carrying the sources' numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.load import KnowledgeError, default_data_dir, load_knowledge


def test_the_shipped_knowledge_base_loads_with_a_version(kb: KnowledgeBase) -> None:
    assert kb.version.startswith("2026.")
    assert len(kb.ingredients) >= 51
    assert {"imuran-25", "imuran-50"} <= set(kb.products)


def test_every_rule_has_sources_with_a_section_and_every_document_a_title(kb: KnowledgeBase) -> None:
    for rule in kb.all_rules():
        assert rule.sources, rule.id
        for citation in rule.sources:
            assert citation.section.strip(), rule.id
            assert citation.source in kb.sources
    assert all(doc.title for doc in kb.sources.values())


def test_every_ingredient_has_dose_knowledge(kb: KnowledgeBase) -> None:
    assert set(kb.ingredients) <= set(kb.dose_limits_by_ingredient)


def test_imuran_is_the_one_real_price_and_every_other_catalog_price_is_demo(kb: KnowledgeBase) -> None:
    prices = kb.unit_prices()
    for product_id in ("imuran-25", "imuran-50"):
        price, price_list = prices[product_id]
        assert (price.unit_price, price.currency, price_list.status) == (1.20, "USD", "real")
    for product in kb.products.values():
        if product.catalog and product.id not in ("imuran-25", "imuran-50"):
            assert prices[product.id][1].status == "demo", product.id


def test_catalog_covers_the_products_the_pharmacy_sells(kb: KnowledgeBase) -> None:
    catalog = {p.id for p in kb.products.values() if p.catalog}
    strengths = {(tuple(sorted(pi.ingredient for pi in p.ingredients)), p.brand) for p in kb.products.values()}
    assert any(b == "Voltarol" for _, b in strengths)
    assert any(b == "Voveran" for _, b in strengths)
    assert any(b == "Panadol" for _, b in strengths)
    hidden = {
        ("codeine", "paracetamol"),
        ("hydrocodone", "paracetamol"),
        ("oxycodone", "paracetamol"),
        ("paracetamol", "tramadol"),
    }
    assert hidden <= {i for i, _ in strengths}
    assert len(catalog) >= 20


def _limit(kb: KnowledgeBase, rule_id: str):  # type: ignore[no-untyped-def]
    return next(d for d in kb.dose_limits if d.id == rule_id)


@pytest.mark.parametrize(
    ("ingredient", "jurisdiction", "daily"),
    [
        ("paracetamol", "US", 4000),
        ("paracetamol", "UK", 4000),
        ("diclofenac", "US", 200),
        ("diclofenac", "UK", 150),
        ("codeine", "US", 360),
        ("codeine", "UK", 240),
        ("ibuprofen", "US", 3200),
        ("ibuprofen", "UK", 2400),
        ("tramadol", "US", 400),
        ("tapentadol", "US", 600),
        ("allopurinol", "US", 800),
        ("febuxostat", "US", 80),
    ],
)
def test_general_adult_daily_maxima_match_their_sources(
    kb: KnowledgeBase, ingredient: str, jurisdiction: str, daily: float
) -> None:
    general = [
        d
        for d in kb.dose_limits_by_ingredient[ingredient]
        if jurisdiction in d.jurisdictions
        and "oral" in d.routes
        and d.max_daily_dose_mg
        and not d.population.renal
        and not d.population.hepatic_impairment
        and not d.population.max_weight_kg
        and not (d.population.min_age_years or 0) >= 65
    ]
    assert daily in {d.max_daily_dose_mg for d in general}


def test_weight_based_and_weekly_limits(kb: KnowledgeBase) -> None:
    aza = {d.population.description: d.max_daily_mg_per_kg for d in kb.dose_limits_by_ingredient["azathioprine"]}
    assert 2.5 in aza.values() and 5 in aza.values()
    mtx = [d for d in kb.dose_limits_by_ingredient["methotrexate"] if "US" in d.jurisdictions]
    assert all(d.weekly_dosing_only for d in mtx)
    assert {25, 30} <= {d.max_weekly_dose_mg for d in mtx}


def test_tramadol_renal_and_age_bands(kb: KnowledgeBase) -> None:
    bands = kb.dose_limits_by_ingredient["tramadol"]
    renal = [d for d in bands if d.population.renal]
    assert any(d.population.renal and d.population.renal.max == 30 and d.max_daily_dose_mg == 200 for d in renal)
    assert any(d.population.min_age_years == 75 and d.max_daily_dose_mg == 300 for d in bands)


def test_interaction_severities_from_the_sources(kb: KnowledgeBase) -> None:
    def severity(a: str, b: str) -> set[str]:
        return {r.severity for r in kb.interaction_index[frozenset((a, b))]}

    assert "major" in severity("azathioprine", "allopurinol")
    assert "contraindicated" in severity("azathioprine", "febuxostat")
    assert "contraindicated" in severity("mercaptopurine", "febuxostat")
    assert "major" in severity("oxycodone", "alprazolam")
    assert "major" in severity("morphine", "gabapentin")


def test_confidence_is_carried_from_the_sheets(kb: KnowledgeBase) -> None:
    confidences = {r.confidence for r in kb.all_rules()}
    assert confidences == {"primary", "secondary", "unverified"}


# --- strict schema -------------------------------------------------------------------------------


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(default_data_dir(), target)
    return target


def test_an_unknown_key_is_an_error_naming_file_entry_and_field(data_copy: Path) -> None:
    path = data_copy / "ingredients.yaml"
    text = path.read_text().replace("{id: warfarin, name: warfarin,", "{id: warfarin, name: warfarin, colour: red,")
    path.write_text(text)
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data_copy)
    assert any("ingredients.yaml" in p and "'warfarin'" in p and "colour" in p for p in err.value.problems)


def test_a_wrong_type_names_the_value(data_copy: Path) -> None:
    path = next((data_copy / "dose_limits").glob("analgesics.yaml"))
    text = path.read_text()
    assert "version: 1" in text
    path.write_text(text.replace("version: 1", "version: one", 1))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data_copy)
    assert any("analgesics.yaml" in p and "version" in p and "'one'" in p for p in err.value.problems)


def test_a_dangling_reference_is_an_error(data_copy: Path) -> None:
    path = data_copy / "ingredients.yaml"
    path.write_text(path.read_text().replace("classes: [anticoagulant]", "classes: [blood-thinner-class]"))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data_copy)
    assert any("'warfarin'" in p and "blood-thinner-class" in p for p in err.value.problems)


def test_an_ingredient_without_dose_knowledge_is_an_error(data_copy: Path) -> None:
    path = data_copy / "ingredients.yaml"
    path.write_text(path.read_text() + "  - {id: newdrug, name: newdrug, rxnorm_note: none confirmed, classes: []}\n")
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(data_copy)
    assert any("'newdrug' has no active dose entry" in p for p in err.value.problems)
