"""Rule boundaries on DuckDB, with the sources' numbers: each rule just at, above and below its threshold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from rxguard.adapters.surveillance.pipeline import Overrides, RunResult, surveil
from rxguard.knowledge.base import KnowledgeBase
from tests.surveillance.conftest import write_fills, write_labs

D0 = dt.date(2025, 1, 1)


def day(n: int) -> str:
    return (D0 + dt.timedelta(days=n)).isoformat()


def fill(
    patient: str, n: int, ndc: str, quantity: float, supply: int, prescriber: str = "DR1", pharmacy: str = "PH1"
) -> dict[str, Any]:
    return {
        "patient_id": patient,
        "prescriber_id": prescriber,
        "pharmacy_id": pharmacy,
        "fill_date": day(n),
        "ndc": ndc,
        "quantity": quantity,
        "days_supply": supply,
    }


def run(
    kb: KnowledgeBase, tmp_path: Path, rows: list[dict[str, Any]], labs: list[tuple[str, str]] | None = None, **kw: Any
) -> RunResult:
    path = write_fills(tmp_path / "fills.csv", rows)
    lab_path = write_labs(tmp_path / "labs.csv", labs) if labs is not None else None
    kw.setdefault("overrides", Overrides(as_of=D0 + dt.timedelta(days=400)))
    return surveil(kb, path, labs=lab_path, out=None, **kw)


def flagged(result: RunResult, flag: str) -> set[str]:
    return result.flagged_patients(flag)


def row_of(result: RunResult, patient: str, flag: str) -> dict[str, Any]:
    rows = [r for r in result.flags.to_pylist() if r["patient_id"] == patient and r["flag"] == flag]
    assert len(rows) == 1, rows
    return rows[0]


# --- daily MME ------------------------------------------------------------------------------------------


def test_cdc_file_example_oxycodone_is_60_mme(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    # CDC NDC file documentation: 10 mg oxycodone x (120 tablets / 30 days) x 1.5 = 60 MME/day. The table has
    # oxycodone 5 mg and 30 mg among the test products: 5 mg x 240 / 30 x 1.5 = 60 as well.
    result = run(kb, tmp_path, [fill("A", 0, ndcs["oxycodone5"], 240, 30)])
    row = row_of(result, "A", "mme-50")
    assert row["value"] == 60.0
    assert row["days"] == 30
    assert "A" not in flagged(result, "mme-90")


def test_mme_at_90_is_high_and_just_below_is_caution(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    rows = [
        fill("AT90", 0, ndcs["hydrocodone10"], 270, 30),  # 10 mg x 9 a day x 1.0 = 90.0
        fill("BELOW90", 0, ndcs["hydrocodone5"], 534, 30),  # 5 x 534 / 30 = 89.0
        fill("AT50", 0, ndcs["hydrocodone5"], 300, 30),  # 50.0
        fill("BELOW50", 0, ndcs["hydrocodone5"], 294, 30),  # 49.0
    ]
    result = run(kb, tmp_path, rows)
    assert flagged(result, "mme-90") == {"AT90"}
    assert flagged(result, "mme-50") == {"AT90", "BELOW90", "AT50"}


def test_overlapping_fills_add_up(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    # 60 + 30 MME/day on the 10 days both supplies run: 90 on those days only.
    rows = [fill("P", 0, ndcs["hydrocodone10"], 180, 30), fill("P", 20, ndcs["oxycodone5"], 120, 30)]
    result = run(kb, tmp_path, rows)
    high = row_of(result, "P", "mme-90")
    assert high["value"] == 90.0
    assert high["days"] == 10
    assert (high["first_date"], high["last_date"]) == (D0 + dt.timedelta(days=20), D0 + dt.timedelta(days=29))
    assert sorted(high["evidence_records"]) == [2, 3]


def test_fentanyl_patch_matches_cdc_example_under_every_set(kb: KnowledgeBase, tmp_path: Path) -> None:
    from rxguard.adapters.surveillance.drugs import ndc_table

    patch = next(
        r["ndc"]
        for r in ndc_table().rows
        if r["ingredient"] == "fentanyl" and r["uom"] == "MCG/HR" and r["strength_per_unit"] == "25"
    )
    for factor_set in ("cdc-2022-clinical", "cdc-2016-clinical", "cdc-file"):
        # 25 ug/h x (10 patches / 30 days) x 7.2 = 60 MME/day (file); 25 x 2.4 = 60 (clinical sets).
        result = run(kb, tmp_path, [fill("F", 0, patch, 10, 30)], factor_set=factor_set)
        assert row_of(result, "F", "mme-50")["value"] == 60.0, factor_set


def test_tramadol_differs_between_factor_sets(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    # 50 mg x 300 / 30 = 500 mg/day: x 0.2 (CDC 2022) = 100 MME; x 0.1 (CDC file) = 50 MME.
    rows = [fill("T", 0, ndcs["tramadol50"], 300, 30)]
    assert row_of(run(kb, tmp_path, rows), "T", "mme-90")["value"] == 100.0
    file_result = run(kb, tmp_path, rows, factor_set="cdc-file")
    assert flagged(file_result, "mme-90") == set()
    assert row_of(file_result, "T", "mme-50")["value"] == 50.0


def test_thresholds_follow_overrides(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    rows = [fill("P", 0, ndcs["hydrocodone5"], 240, 30)]  # 40 MME/day
    result = run(
        kb, tmp_path, rows, overrides=Overrides(mme_caution=40, mme_high=100, as_of=D0 + dt.timedelta(days=90))
    )
    assert flagged(result, "mme-50") == {"P"}


# --- opioid + benzodiazepine -------------------------------------------------------------------------------


def test_overlap_counts_shared_days_only(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    rows = [
        fill("ONE", 0, ndcs["oxycodone5"], 40, 10),
        fill("ONE", 9, ndcs["alprazolam05"], 30, 30),  # day 9 is the opioid's last day: 1 day
        fill("NONE", 0, ndcs["oxycodone5"], 40, 10),
        fill("NONE", 10, ndcs["alprazolam05"], 30, 30),  # starts the day after the opioid ran out
    ]
    result = run(kb, tmp_path, rows)
    assert flagged(result, "opioid-benzodiazepine") == {"ONE"}
    row = row_of(result, "ONE", "opioid-benzodiazepine")
    assert row["days"] == 1
    assert sorted(row["evidence_records"]) == [2, 3]


# --- multiple providers ------------------------------------------------------------------------------------


def _shopping(patient: str, ndc: str, last_day: int, n: int = 5) -> list[dict[str, Any]]:
    days = [0, 10, 20, 30, last_day][:n]
    return [
        fill(patient, d, ndc, 12, 3, prescriber=f"DR{patient}{i}", pharmacy=f"PH{patient}{i}")
        for i, d in enumerate(days)
    ]


def test_multiple_providers_within_90_days_inclusive(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    # The point-of-sale check counts fills from day d - 90 to day d: a fill exactly 90 days earlier counts.
    hydro = ndcs["hydrocodone5"]
    rows = _shopping("AT90", hydro, 90) + _shopping("AT91", hydro, 91) + _shopping("FOUR", hydro, 40, n=4)
    result = run(kb, tmp_path, rows)
    assert flagged(result, "multiple-provider") == {"AT90"}
    row = row_of(result, "AT90", "multiple-provider")
    assert row["first_date"] == D0 + dt.timedelta(days=90)
    assert len(row["prescribers"]) == 5
    assert len(row["pharmacies"]) == 5
    assert row["value"] == 1  # one episode


def test_multiple_providers_counts_controlled_fills_only(
    kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]
) -> None:
    rows = _shopping("P", ndcs["hydrocodone5"], 40, n=4)
    rows.append(fill("P", 41, ndcs["cyclobenzaprine10"], 30, 30, prescriber="DRX", pharmacy="PHX"))  # not controlled
    assert flagged(run(kb, tmp_path, rows), "multiple-provider") == set()


# --- early refills -----------------------------------------------------------------------------------------


def test_early_refill_before_75_percent(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    alp = ndcs["alprazolam05"]
    rows = [
        fill("EARLY", 0, alp, 20, 20),
        fill("EARLY", 14, alp, 20, 20),  # 14/20 = 70% < 75%
        fill("AT75", 0, alp, 20, 20),
        fill("AT75", 15, alp, 20, 20),  # exactly 75%: not early
        fill("OTHER", 0, alp, 20, 20),
        fill("OTHER", 5, ndcs["lorazepam1"], 20, 20),  # another ingredient
    ]
    result = run(kb, tmp_path, rows)
    assert flagged(result, "early-refill") == {"EARLY"}
    assert sorted(row_of(result, "EARLY", "early-refill")["evidence_records"]) == [2, 3]


def test_early_refill_share_override(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    alp = ndcs["alprazolam05"]
    rows = [fill("P", 0, alp, 20, 20), fill("P", 15, alp, 20, 20)]
    result = run(kb, tmp_path, rows, overrides=Overrides(early_refill_share=0.8, as_of=D0 + dt.timedelta(days=60)))
    assert flagged(result, "early-refill") == {"P"}


# --- long-term opioid therapy ------------------------------------------------------------------------------


def test_long_term_opioid_needs_more_than_90_days(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    # Von Korff 2008: episodes lasting longer than 90 days with 10+ prescriptions or 120+ days supplied.
    hydro = ndcs["hydrocodone5"]
    rows = [fill("D90", 30 * k, hydro, 60, 30) for k in range(3)]  # days 0..89: lasts 90 days
    rows += [fill("D120", 30 * k, hydro, 60, 30) for k in range(4)]  # 120 days, 120 supplied
    rows += [fill("SHORT", 30 * k, hydro, 60, 29) for k in range(3)] + [
        fill("SHORT", 90, hydro, 60, 29)
    ]  # 116 supplied
    rows += [fill("TEN", 10 * k, hydro, 20, 5) for k in range(10)]  # 10 fills over 95 days: 50 supplied, gaps of 5
    result = run(kb, tmp_path, rows)
    assert flagged(result, "long-term-opioid") == {"D120", "TEN"}
    row = row_of(result, "D120", "long-term-opioid")
    assert (row["value"], row["days"]) == (120.0, 120)


def test_long_term_opioid_episode_breaks_after_the_gap(kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str]) -> None:
    hydro = ndcs["hydrocodone5"]
    # 60 days, then a 31-day break (more than the 30-day episode gap), then 60 days: two short episodes.
    rows = [
        fill("P", 0, hydro, 60, 30),
        fill("P", 30, hydro, 60, 30),
        fill("P", 91, hydro, 60, 30),
        fill("P", 121, hydro, 60, 30),
    ]
    assert flagged(run(kb, tmp_path, rows), "long-term-opioid") == set()


# --- thiopurine blood tests --------------------------------------------------------------------------------


def _azathioprine(patient: str, months: int) -> list[dict[str, Any]]:
    return [
        {**fill(patient, 30 * k, "", 60, 30), "ndc": "", "rxnorm": "197388"}  # azathioprine 50 mg (RxNorm SCD)
        for k in range(months)
    ]


def test_thiopurine_label_schedule_weekly_first_month(kb: KnowledgeBase, tmp_path: Path) -> None:
    # US label: CBC weekly during the first month, twice monthly in months 2-3, then monthly.
    on_time = [day(d) for d in (7, 14, 21, 28, 42, 56, 70, 84, 115, 146, 177)]
    late = [day(d) for d in (8, 15, 22, 29, 43, 57, 71, 85, 116, 147, 178)]  # first test a day late
    labs = [("ONTIME", d) for d in on_time] + [("LATE", d) for d in late]
    rows = _azathioprine("ONTIME", 6) + _azathioprine("LATE", 6) + _azathioprine("NONE", 6)
    result = run(kb, tmp_path, rows, labs=labs, overrides=Overrides(as_of=D0 + dt.timedelta(days=179)))
    assert flagged(result, "thiopurine-lab-overdue") == {"LATE", "NONE"}
    late_row = row_of(result, "LATE", "thiopurine-lab-overdue")
    assert late_row["first_date"] == D0 + dt.timedelta(days=7)
    assert late_row["value"] == 1  # one day late at worst


def test_thiopurine_rheumatology_schedule(kb: KnowledgeBase, tmp_path: Path) -> None:
    # BSR/BHPR: every 2 weeks until stable for 6 weeks, monthly for 3 months, then every 3 months.
    labs = [("P", day(d)) for d in (14, 28, 42, 72, 102, 132)]
    rows = _azathioprine("P", 6)
    result = run(
        kb, tmp_path, rows, labs=labs, overrides=Overrides(schedule="rheumatology", as_of=D0 + dt.timedelta(days=179))
    )
    assert flagged(result, "thiopurine-lab-overdue") == set()


def test_thiopurine_rule_needs_lab_results(kb: KnowledgeBase, tmp_path: Path) -> None:
    result = run(kb, tmp_path, _azathioprine("P", 3))
    assert flagged(result, "thiopurine-lab-overdue") == set()
    assert result.settings.schedule is None


@pytest.mark.parametrize("factor_set", ["cdc-2022-clinical", "cdc-2016-clinical", "cdc-file"])
def test_flags_carry_rule_ids_and_versions(
    kb: KnowledgeBase, tmp_path: Path, ndcs: dict[str, str], factor_set: str
) -> None:
    result = run(kb, tmp_path, [fill("A", 0, ndcs["oxycodone30"], 120, 30)], factor_set=factor_set)
    rows = result.flags.to_pylist()
    assert {r["flag"] for r in rows} == {"mme-50", "mme-90"}
    assert {r["rule_id"] for r in rows} == {"surveillance.mme-high", "surveillance.mme-caution"}
    assert {r["kb_version"] for r in rows} == {kb.version}
    assert {r["mme_factor_set"] for r in rows} == {factor_set}
    assert rows[0]["value"] == 180.0  # 30 mg x 4 a day x 1.5, the same in every set
