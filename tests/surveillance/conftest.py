"""Shared fixtures for the surveillance tests: small synthetic data, a CSV builder, one Spark session."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ibis", reason="surveillance tests need the 'surveillance' extra (ibis, duckdb, pyarrow)")
pytest.importorskip("duckdb", reason="surveillance tests need the 'surveillance' extra (ibis, duckdb, pyarrow)")

from rxguard.adapters.surveillance import knowledge as sk
from rxguard.adapters.surveillance import synth
from rxguard.knowledge.base import KnowledgeBase

HEADER = ["patient_id", "prescriber_id", "pharmacy_id", "fill_date", "ndc", "rxnorm", "quantity", "days_supply"]


@pytest.fixture(scope="session")
def ndcs() -> dict[str, str]:
    """Real NDCs from the NDC table for the products the tests use (see synth.PRODUCTS)."""
    return synth.product_codes()


@pytest.fixture(scope="session")
def label_schedule(kb: KnowledgeBase) -> sk.LabSchedule:
    return sk.thiopurine_schedule(kb, "label")


def write_fills(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A dispensing CSV from dicts (missing keys are empty)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in HEADER})
    return path


def write_labs(path: Path, rows: list[tuple[str, str]], loinc: str = "6690-2") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["patient_id", "test_date", "loinc", "value", "unit"])
        for patient, day in rows:
            writer.writerow([patient, day, loinc, "6.1", "10*9/L"])
    return path


@pytest.fixture(scope="session")
def small_synthetic(tmp_path_factory: pytest.TempPathFactory, label_schedule: sk.LabSchedule) -> dict[str, Path]:
    data = synth.generate(600, label_schedule.phases, seed=11)
    return synth.write(data, tmp_path_factory.mktemp("synthetic"), "parquet")


def spark_unavailable() -> str | None:
    """Why Spark tests cannot run here (None when they can)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install 'rxguard[spark]')"
    if shutil.which("java") is None:
        return "no java on the PATH (Spark needs a JRE 17; .ci/run installs default-jre-headless)"
    return None


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for every Spark test (starting one takes several seconds)."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("rxguard-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
