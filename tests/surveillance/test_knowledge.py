"""The surveillance rules read the shared knowledge (no copies of its numbers) and agree with the point-of-sale MME."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rxguard.adapters.surveillance import knowledge as sk
from rxguard.adapters.surveillance.drugs import drug_table, ndc_dir, ndc_table
from rxguard.checks.mme import fill_mme
from rxguard.knowledge import controlled as c
from rxguard.knowledge.base import KnowledgeBase


def test_every_flag_has_a_sourced_rule(kb: KnowledgeBase) -> None:
    rules = sk.surveillance_rules(kb)
    assert set(rules) == set(sk.FLAGS)
    for rule in rules.values():
        assert rule.sources and rule.version >= 1
    ltot = rules["long-term-opioid"].long_term_opioid
    assert ltot is not None
    assert (ltot.longer_than_days, ltot.min_fills, ltot.min_days_supply) == (90, 10, 120)  # Von Korff 2008
    assert "policy choice" in ltot.episode_gap_days.basis.lower()


def test_controlled_defaults_come_from_the_point_of_sale_knowledge(kb: KnowledgeBase) -> None:
    defaults = sk.controlled_defaults(kb)
    history = {r.kind: r for r in kb.extension("controlled/history.yaml", c.HistoryFile).rules()}
    thresholds = kb.extension("controlled/mme.yaml", c.MmeFile).thresholds[0]
    assert (defaults.mme_caution, defaults.mme_high) == (thresholds.caution_mme, thresholds.high_mme) == (50, 90)
    assert defaults.early_refill_share == history["early-refill"].share == 0.75
    mpe = history["multiple-provider"]
    assert (
        (defaults.mpe_prescribers, defaults.mpe_pharmacies, defaults.mpe_window_days)
        == (
            mpe.prescribers,
            mpe.pharmacies,
            mpe.window_days,
        )
        == (5, 5, 90)
    )


def test_factor_sets_are_the_knowledge_base_sets(kb: KnowledgeBase) -> None:
    s2022 = sk.mme_factor_set(kb, "cdc-2022-clinical")
    s2016 = sk.mme_factor_set(kb, "cdc-2016-clinical")
    assert s2022.rule_id == "mme.factors.cdc-2022" and s2016.rule_id == "mme.factors.cdc-2016"
    f = s2022.factor("hydromorphone", "oral")
    g = s2016.factor("hydromorphone", "oral")
    assert f is not None and g is not None and (f.factor, g.factor) == (5.0, 4.0)  # CDC 2022 vs 2016
    assert s2022.factor("buprenorphine", "oral") is None  # not benchmarked
    assert [t.factor for t in s2016.tiers["methadone"]] == [4, 8, 10, 12]
    with pytest.raises(sk.KnowledgeUnavailableError):
        sk.mme_factor_set(kb, "who-2020")


def test_schedules_become_intervals(kb: KnowledgeBase) -> None:
    label = sk.thiopurine_schedule(kb, "label")
    assert [(p.until_day, p.interval_days) for p in label.phases][:5] == [(7, 7), (14, 7), (21, 7), (28, 7), (42, 14)]
    assert label.phases[-1] == sk.SchedulePhase(until_day=None, interval_days=31)
    assert "wbc" in label.measures and "platelets" in label.measures
    rheum = sk.thiopurine_schedule(kb, "rheumatology")
    assert [p.interval_days for p in rheum.phases] == [14, 31, 84]
    with pytest.raises(sk.KnowledgeUnavailableError):
        sk.thiopurine_schedule(kb, "weekly-forever")


def test_ndc_table_matches_its_manifest() -> None:
    table = ndc_table()
    manifest = json.loads((ndc_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert len(table.rows) == manifest["rows"] == len({r["ndc"] for r in table.rows})
    assert {s["cdc_version"] for s in manifest["sources"]} == {"2018", "2017"}
    assert manifest["fentanyl_patch_days_per_patch"] == 3
    assert "analytic" in manifest["terms"]
    with (ndc_dir() / "cdc_ndc.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(len(r["ndc"]) == 11 and r["ndc"].isdigit() for r in rows)
    schedules = {r["ingredient"]: r["dea_schedule"] for r in rows if r["cdc_version"] == "2018"}
    assert (schedules["oxycodone"], schedules["alprazolam"], schedules["carisoprodol"]) == ("II", "IV", "IV")
    assert schedules["cyclobenzaprine"] == ""  # not controlled (DEA class code 6)


def test_every_ndc_factor_agrees_with_the_data_file_set(kb: KnowledgeBase) -> None:
    """The NDC table's own factors are the CDC file's: the same as the knowledge base's data-file set."""
    file_set = next(s for s in kb.extension("controlled/mme.yaml", c.MmeFile).factor_sets if s.use == "analytic")
    by_ingredient: dict[str, set[float]] = {}
    for factor in file_set.factors:
        key = factor.ingredient or factor.name.split(",")[0].strip().lower()
        if factor.factor is not None:
            by_ingredient.setdefault(key, set()).add(factor.factor)
    disagreements = [
        (r["ndc"], r["ingredient"], r["cdc_mme_factor"])
        for r in ndc_table().rows
        if r["drug_class"] == "opioid"
        and r["cdc_mme_factor"]
        and r["ingredient"] in by_ingredient
        and float(r["cdc_mme_factor"]) not in by_ingredient[r["ingredient"]]
    ]
    assert disagreements == []


@pytest.mark.parametrize("set_name", ["cdc-2022-clinical", "cdc-2016-clinical"])
def test_fill_mme_is_the_point_of_sale_arithmetic(kb: KnowledgeBase, set_name: str) -> None:
    """Per-product multipliers reproduce checks.mme.fill_mme (the point-of-sale function) on sample fills."""
    fs = sk.mme_factor_set(kb, set_name)
    kb_set = next(s for s in kb.extension("controlled/mme.yaml", c.MmeFile).factor_sets if s.id == fs.rule_id)
    cols = drug_table(kb, fs)
    index = {code: i for i, code in enumerate(cols["code"])}
    for ingredient, strength, uom, form, quantity, supply in [
        ("oxycodone", 10.0, "MG", "tablet", 120, 30),
        ("hydromorphone", 2.0, "MG", "tablet", 90, 30),
        ("tramadol", 50.0, "MG", "tablet", 120, 30),
        ("morphine", 30.0, "MG", "tablet", 60, 30),
    ]:
        ndc = next(
            r["ndc"]
            for r in ndc_table().rows
            if r["ingredient"] == ingredient
            and r["uom"] == uom
            and r["dose_form"] == form
            and float(r["strength_per_unit"]) == strength
        )
        i = index[ndc]
        k = cols["mme_k"][i]
        ours = None if k is None else round(strength * quantity / supply * k, 1)
        theirs = fill_mme(kb, {ingredient: (strength, "mg")}, quantity, supply, kb_set)[ingredient]
        assert ours == theirs, (set_name, ingredient)


def test_reference_path_exists_for_the_build_script() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_ndc_table.py"
    assert script.exists()
