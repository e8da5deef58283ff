"""Planted cases of every rule are found, nothing else is flagged, and Spark gives exactly DuckDB's flags."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rxguard.adapters.surveillance.knowledge import FLAGS
from rxguard.adapters.surveillance.pipeline import RunResult, surveil
from rxguard.knowledge.base import KnowledgeBase


def planted(paths: dict[str, Path]) -> set[tuple[str, str]]:
    with paths["planted"].open(encoding="utf-8") as handle:
        return {(r["patient_id"], r["flag"]) for r in csv.DictReader(handle)}


def found(result: RunResult) -> set[tuple[str, str]]:
    flags = result.flags
    return set(zip(flags.column("patient_id").to_pylist(), flags.column("flag").to_pylist(), strict=True))


def comparable(flags: pa.Table) -> list[dict[str, Any]]:
    return sorted(flags.to_pylist(), key=lambda r: (r["patient_id"], r["flag"]))


@pytest.fixture(scope="module")
def duckdb_result(
    kb: KnowledgeBase, small_synthetic: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> RunResult:
    return surveil(kb, small_synthetic["dispensing"], labs=small_synthetic["labs"], out=tmp_path_factory.mktemp("duck"))


def test_every_rule_has_planted_cases(small_synthetic: dict[str, Path]) -> None:
    assert {flag for _, flag in planted(small_synthetic)} == set(FLAGS)


def test_duckdb_finds_exactly_the_planted_cases(duckdb_result: RunResult, small_synthetic: dict[str, Path]) -> None:
    assert found(duckdb_result) == planted(small_synthetic)
    totals = duckdb_result.inputs[0]
    assert totals.read == totals.accepted > 1000 and totals.rejected == 0


def test_outputs_are_written(duckdb_result: RunResult) -> None:
    import pyarrow.parquet as pq

    assert set(duckdb_result.outputs) == {"flags", "rejects", "summary", "report"}
    flags = pq.read_table(duckdb_result.outputs["flags"])
    assert flags.num_rows == duckdb_result.flags.num_rows
    assert {"patient_id", "flag", "rule_id", "first_date", "evidence_records", "prescribers", "pharmacies"} <= set(
        flags.column_names
    )
    assert all(len(e) > 0 for e in flags.column("evidence_records").to_pylist())
    html = duckdb_result.outputs["report"].read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert (
        "src=" not in html and "<script" not in html and "http" not in html.split("</style>")[1].split("<h2>Summary")[0]
    )


def test_spark_gives_identical_flags(
    kb: KnowledgeBase, small_synthetic: dict[str, Path], duckdb_result: RunResult, spark: Any
) -> None:
    result = surveil(kb, small_synthetic["dispensing"], labs=small_synthetic["labs"], engine="spark", spark=spark)
    assert comparable(result.flags) == comparable(duckdb_result.flags)
    assert result.totals == duckdb_result.totals
    assert result.histogram == duckdb_result.histogram
    assert result.top_prescribers == duckdb_result.top_prescribers
