"""Catalog pages generated from the knowledge base: prices, sections, warning signs, interactions, search."""

from __future__ import annotations

from decimal import Decimal

from rxguard.knowledge.base import KnowledgeBase
from rxguard.pharmacy.catalog import catalog


def test_imuran_page_has_the_real_price_per_tablet_and_every_section(kb: KnowledgeBase) -> None:
    page = catalog(kb).guide_page("imuran")
    assert page is not None and page.guide_id == "guide.azathioprine"
    offers = {o.product_id: o for o in page.offers}
    assert offers["imuran-50"].unit_price == Decimal("1.2") and offers["imuran-50"].price_status == "real"
    assert not offers["imuran-25"].is_demo_price
    for section in ("uses", "how_to_take", "self_care", "serious", "monitoring", "benefits"):
        assert page.sections[section], section
    assert any("transplanted organ" in c.text for c in page.sections["uses"])
    assert any(c.conflict for c in page.sections["how_to_take"])  # food advice differs between sources
    # Sources: numbered 1..n, and every number a statement cites is in the list.
    numbers = [s.number for s in page.sources]
    assert numbers == list(range(1, len(numbers) + 1))
    cited = {n for section in page.sections.values() for c in section for n in c.refs}
    cited |= {n for r in page.side_effects for n in r.refs} | {n for w in page.warning_signs for n in w.refs}
    assert cited <= set(numbers)


def test_azathioprine_warning_signs_come_from_triage_with_their_urgency(kb: KnowledgeBase) -> None:
    page = catalog(kb).guide_page("azathioprine")
    assert page is not None
    signs = {w.sign: w.urgency for w in page.warning_signs}
    assert signs["jaundice"] == "today"
    assert signs["fever"] == "today"
    assert page.warning_signs == sorted(
        page.warning_signs,
        key=lambda w: ({"emergency": 0, "today": 1, "routine": 2, "self-care": 3}[w.urgency], w.label.lower()),
    )


def test_side_effects_carry_frequencies_and_serious_ones_are_separate(kb: KnowledgeBase) -> None:
    page = catalog(kb).guide_page("voltarol")
    assert page is not None
    common = {r.effect: r for r in page.common_side_effects}
    assert common["Headache"].frequency == "Common (>=1/100 to <1/10)"
    serious = {r.effect for r in page.serious_side_effects}
    assert "GI ulcer, bleeding, perforation (haematemesis, melaena)" in serious


def test_interactions_overdose_monitoring_and_see_also(kb: KnowledgeBase) -> None:
    cat = catalog(kb)
    page = cat.guide_page("imuran")
    assert page is not None
    others = {i.other: i.severity for i in page.interactions}
    assert any("allopurinol" in name.lower() for name in others)
    assert any(s == "contraindicated" for s in others.values())  # febuxostat
    assert any("45%" in c.text or "haemodialysis" in c.text.lower() for c in page.overdose_facts)
    assert len(page.monitoring_schedules) == 3  # rheumatology, gastroenterology, label
    why = {link.slug: link.why for link in page.see_also}
    assert why["azathioprine"] == "same ingredient"
    assert why["mercaptopurine"].startswith("same class")


def test_a_product_without_a_sourced_guide_says_so_instead_of_filling_in(kb: KnowledgeBase) -> None:
    page = catalog(kb).guide_page("norco")
    assert page is not None and page.guide_id is None
    assert page.sections == {}
    assert "No patient guide has been sourced" in page.not_sourced[0]
    assert page.interactions  # screening knowledge still applies
    assert all(o.is_demo_price for o in page.offers)


def test_search_by_brand_generic_name_and_condition(kb: KnowledgeBase) -> None:
    cat = catalog(kb)
    assert [f.slug for f in cat.search("Imuran").families] == ["imuran"]
    assert {f.slug for f in cat.search("azathioprine").families} == {"azathioprine", "imuran"}
    crohn = cat.search("Crohn's")
    assert [p.slug for p in crohn.conditions] == ["inflammatory-bowel-disease"]
    assert {f.slug for f in crohn.families} == {"azathioprine", "imuran", "mercaptopurine"}
    assert "panadol" in {f.slug for f in cat.search("acetaminophen").families}
    assert cat.search("no such thing").families == ()


def test_decision_aid_only_for_prescription_only_products(kb: KnowledgeBase) -> None:
    cat = catalog(kb)
    assert cat.decision_aid("panadol") is None
    aid = cat.decision_aid("imuran")
    assert aid is not None
    assert any("RR 0.68" in b.text for b in aid.benefits)
    assert any("Mercaptopurine" in a.text for a in aid.alternatives)
    assert aid.monitoring


def test_pain_page_lists_sourced_non_drug_options(kb: KnowledgeBase) -> None:
    view = catalog(kb).condition_view("pain")
    assert view is not None
    kinds = {o.kind for o in view.options}
    assert {"medicine", "non-drug", "complementary", "interventional", "self-care"} <= kinds
    cbt = next(o for o in view.options if o.name == "Cognitive behavioural therapy")
    assert any("Nonopioid Therapies for Pain" in view.sources[n - 1].document for n in cbt.refs)
    assert view.left_out  # what could not be sourced is said
