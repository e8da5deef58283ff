"""Reading and validation: every row is accepted or rejected with its line and reason; totals add up."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rxguard.adapters.surveillance.ingest import load_dispensing, load_labs, write_rejects
from rxguard.errors import InputError
from rxguard.knowledge.base import KnowledgeBase

HEADER = "patient_id,prescriber_id,pharmacy_id,fill_date,ndc,rxnorm,quantity,days_supply\n"


def rejects(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return [(int(r[0]), str(r[1])) for r in con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()]


def test_csv_rows_rejected_with_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(
        HEADER
        + "P1,D1,F1,2025-01-02,00406052301,,120,30\n"  # line 2: good
        + ",D1,F1,2025-01-02,00406052301,,120,30\n"  # line 3: no patient
        + "P1,D1,F1,2025-02-30,00406052301,,120,30\n"  # line 4: not a date
        + "P1,D1,F1,20250105,0406-0523-01,,120,30\n"  # line 5: good (YYYYMMDD, 4-4-2 NDC)
        + "P1,D1,F1,2025-01-06,12345,,120,30\n"  # line 6: not an NDC
        + "P1,D1,F1,2025-01-07,00406052301,,-1,0\n"  # line 7: quantity and days supply
        + "P1,D1,F1,2025-01-08,,,10,5\n"  # line 8: no drug code
        + "P1,D1,F1,2025-01-09,,197388,60,30\n",  # line 9: good (RxNorm)
        encoding="utf-8",
    )
    con = duckdb.connect()
    stats = load_dispensing(con, path)
    assert (stats.read, stats.accepted, stats.rejected) == (8, 3, 5)
    found = rejects(con)
    assert [line for line, _ in found] == [3, 4, 6, 7, 8]
    reasons = dict(found)
    assert reasons[3] == "patient_id missing"
    assert "fill_date '2025-02-30' is not a date" in reasons[4]
    assert "ndc '12345' is not an NDC" in reasons[6]
    assert "quantity '-1' is not a positive number" in reasons[7] and "days_supply '0'" in reasons[7]
    assert reasons[8] == "no ndc and no rxnorm: the drug is unknown"
    accepted = con.execute("SELECT line, ndc, rxnorm FROM fills_in ORDER BY line").fetchall()
    assert accepted == [(2, "00406052301", None), (5, "00406052301", None), (9, None, "197388")]


def test_malformed_csv_rows_keep_the_other_lines_right(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    lines = [HEADER.strip()] + [f"P{i},D1,F1,2025-01-0{i},00406052301,,10,5" for i in range(1, 6)]
    lines[2] = "P2,D1,F1"  # line 3: too few columns
    lines[4] = "P4,D1,F1,2025-01-04,00406052301,,10,5,extra"  # line 5: too many
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = duckdb.connect()
    stats = load_dispensing(con, path)
    assert (stats.read, stats.accepted, stats.rejected) == (5, 3, 2)
    assert [line for line, _ in rejects(con)] == [3, 5]
    assert all("malformed CSV row" in reason for _, reason in rejects(con))
    assert con.execute("SELECT line, patient_id FROM fills_in ORDER BY line").fetchall() == [
        (2, "P1"),
        (4, "P3"),
        (6, "P5"),
    ]


def test_ndc_formats_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(
        HEADER
        + "P,D,F,2025-01-01,00406-0523-01,,1,1\n"  # 5-4-2
        + "P,D,F,2025-01-01,0406-0523-01,,1,1\n"  # 4-4-2 -> 0 + labeler
        + "P,D,F,2025-01-01,00406-523-01,,1,1\n"  # 5-3-2 -> 0 + product
        + "P,D,F,2025-01-01,00406-0523-1,,1,1\n"  # 5-4-1 -> 0 + package
        + "P,D,F,2025-01-01,0406052301,,1,1\n",  # 10 digits without hyphens: ambiguous
        encoding="utf-8",
    )
    con = duckdb.connect()
    load_dispensing(con, path)
    assert [r[0] for r in con.execute("SELECT ndc FROM fills_in ORDER BY line").fetchall()] == ["00406052301"] * 4
    assert [line for line, _ in rejects(con)] == [6]


def test_missing_required_column_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text("patient_id,fill_date,ndc\nP,2025-01-01,00406052301\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing required column"):
        load_dispensing(duckdb.connect(), path)


def test_parquet_lines_are_row_numbers(tmp_path: Path) -> None:
    table = pa.table(
        {
            "patient_id": ["A", "B", "C"],
            "prescriber_id": ["D", "D", "D"],
            "pharmacy_id": ["F", "F", "F"],
            "fill_date": pa.array([20000, 20001, None], pa.int32()).cast(pa.date32()),
            "ndc": ["00406052301", "00406052301", "00406052301"],
            "quantity": [10.0, 0.0, 10.0],
            "days_supply": pa.array([5, 5, 5], pa.int32()),
        }
    )
    path = tmp_path / "fills.parquet"
    pq.write_table(table, path)
    con = duckdb.connect()
    stats = load_dispensing(con, path)
    assert (stats.read, stats.accepted, stats.rejected) == (3, 1, 2)
    assert [line for line, _ in rejects(con)] == [2, 3]


def test_asap_input(tmp_path: Path) -> None:
    from tests.surveillance.test_asap import GOOD

    path = tmp_path / "in.asap"
    path.write_text(GOOD.replace("*60*15", "*60*0"), encoding="utf-8")
    con = duckdb.connect()
    stats = load_dispensing(con, path)
    assert (stats.format, stats.read, stats.accepted, stats.rejected) == ("asap", 2, 1, 1)
    assert rejects(con) == [(8, "DSP10 days supply '0' is not a positive whole number")]


def test_fhir_observations(tmp_path: Path, kb: KnowledgeBase) -> None:
    good = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
        "subject": {"reference": "Patient/P1"},
        "effectiveDateTime": "2025-01-10T09:00:00+13:00",
        "valueQuantity": {"value": 5.2, "unit": "10*9/L"},
    }
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"resourceType": "Patient", "id": "P1"}),
        json.dumps({**good, "status": "entered-in-error"}),
        json.dumps({**good, "effectiveDateTime": "yesterday"}),
    ]
    path = tmp_path / "labs.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = duckdb.connect()
    stats = load_labs(con, path, dict(kb.loinc_measures))
    assert (stats.read, stats.accepted, stats.rejected) == (5, 1, 4)
    assert [line for line, _ in rejects(con)] == [2, 3, 4, 5]
    assert con.execute("SELECT patient_id, test_day, measure, value FROM labs_in").fetchall() == [
        ("P1", 20098, "wbc", 5.2)
    ]


def test_reject_file(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(HEADER + "P,D,F,not-a-date,00406052301,,1,1\n", encoding="utf-8")
    con = duckdb.connect()
    load_dispensing(con, path)
    out = tmp_path / "rejects.csv"
    assert write_rejects(con, out) == 1
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["line"] == "2" and rows[0]["source"] == "fills.csv" and "not a date" in rows[0]["reason"]
