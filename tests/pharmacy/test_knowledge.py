"""The pharmacy's knowledge: every guide statement is sourced, made-up figures are absent, prices are labelled."""

from __future__ import annotations

import csv

from rxguard.knowledge.base import KnowledgeBase
from rxguard.pharmacy.knowledge import pharmacy_knowledge, policy
from tests.reference import REFERENCE

SHEET = REFERENCE / "guides" / "side_effects.csv"


def test_every_guide_statement_and_condition_option_cites_a_known_source(kb: KnowledgeBase) -> None:
    data = pharmacy_knowledge(kb)
    assert {tuple(sorted(g.ingredients)) for g in data.guides} >= {
        ("azathioprine",),
        ("diclofenac",),
        ("paracetamol",),
        ("codeine", "paracetamol"),
        ("oxycodone",),
        ("tramadol",),
        ("alprazolam",),
        ("diazepam",),
        ("mercaptopurine",),
    }
    statements = [st for g in data.guides for st in g.statements()]
    assert len(statements) > 100
    for st in statements:
        assert st.sources and all(c.source in kb.sources for c in st.sources), st.text
    for page in data.condition_pages:
        for option in page.options:
            assert option.sources and all(c.source in kb.sources for c in option.sources), option.name


def test_the_original_pages_made_up_statistics_are_never_published(kb: KnowledgeBase) -> None:
    data = pharmacy_knowledge(kb)
    shown = " ".join(st.text for g in data.guides for st in g.statements())
    shown += " ".join(e.effect + e.frequency for e in data.side_effects if e.status == "active")
    assert "Smith et al" not in shown
    assert "75%" not in shown and "24 months" not in shown
    azathioprine = next(g for g in data.guides if g.ingredients == ["azathioprine"])
    assert any("Smith et al. 2018" in line for line in azathioprine.do_not_repeat)
    # The recalled (unread) Cochrane pooled figures are not shown either, not even in the "not sourced" list.
    shown += " ".join(line for g in data.guides for line in g.not_sourced)
    assert "73%" not in shown and "NNT about 9" not in shown
    assert any("CD000067" in line for line in azathioprine.not_sourced)


def test_the_side_effect_sheet_is_carried_over_row_for_row_with_its_confidence(kb: KnowledgeBase) -> None:
    effects = pharmacy_knowledge(kb).side_effects
    assert len(effects) == 81
    rows = list(csv.DictReader(SHEET.open(encoding="utf-8"))) if SHEET.exists() else []
    if rows:
        assert [e.effect for e in effects] == [r["effect"] for r in rows]
    drowsiness = next(e for e in effects if e.ingredients == ["alprazolam"] and e.effect == "Drowsiness")
    assert drowsiness.frequency == "41% vs 22% placebo" and drowsiness.band == "percent"
    assert drowsiness.confidence == "primary"
    # The one UNVERIFIED row (Imuran label percentages, section not read) is kept as a draft, never shown.
    unverified = [e for e in effects if e.confidence == "unverified"]
    assert [e.status for e in unverified] == ["draft"]
    assert "28% rheumatoid arthritis" in unverified[0].frequency


def test_only_imuran_has_a_real_price_and_the_rest_are_demo(kb: KnowledgeBase) -> None:
    prices = kb.unit_prices()
    assert prices["imuran-50"][0].unit_price == 1.20 and prices["imuran-50"][1].status == "real"
    assert prices["imuran-25"][1].status == "real"
    assert prices["voltarol-50-gr"][1].status == "demo"
    assert "demo" in policy(kb).demo_price_label


def test_the_never_off_list_names_the_three_categories_of_the_issue(kb: KnowledgeBase) -> None:
    kinds = {n.kind for n in policy(kb).never_off}
    assert kinds == {"contraindicated-interaction", "thiopurine-poor-metabolizer", "opioid-benzodiazepine"}
    assert {r.code for r in policy(kb).override_reasons} >= {"cds-not-applicable", "recipient-disagrees-evidence"}
