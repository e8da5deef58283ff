"""Read dispensing records and lab results into DuckDB, validating every row; bad rows go to the reject table.

Input formats: dispensing records as CSV, Parquet or ASAP 4.2; lab results as CSV, Parquet or FHIR NDJSON
Observations. CSV and Parquet use rxguard's column names (see `DISPENSING_COLUMNS`, `LAB_COLUMNS`); extra
columns are ignored, a missing required column is an input error naming it.

Every row read is either accepted (the views `fills_in` and `labs_in`, typed) or rejected (into the table
`rejects`, with its line and every reason found). Validation is one vectorised SQL pass that writes only the
rejected rows; the accepted rows are not copied: the views read the input again, once, when the rules
materialise what they need, and leave out the rejected lines (a join with them, not the checks again). "Line"
is the CSV record number counting the header as line 1 (the physical line when no field holds a line break),
the row number (from 1) in a Parquet file, the line of the DSP segment in an ASAP file, the line of an NDJSON
file. Dates become integer days since 1970-01-01 (`*_day` columns), so the rules do integer arithmetic that is
the same on every engine.
"""

# ruff: noqa: S608  (SQL built from rxguard's own column and table names; file paths go through _sql_str)

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rxguard.errors import InputError

if TYPE_CHECKING:
    import duckdb

DISPENSING_COLUMNS = (
    "patient_id",
    "prescriber_id",
    "pharmacy_id",
    "fill_date",
    "ndc",
    "rxnorm",
    "quantity",
    "days_supply",
    "rx_number",
    "refill_number",
)
DISPENSING_REQUIRED = ("patient_id", "prescriber_id", "pharmacy_id", "fill_date", "quantity", "days_supply")
LAB_COLUMNS = ("patient_id", "test_date", "loinc", "value", "unit")
LAB_REQUIRED = ("patient_id", "test_date", "loinc")
EPOCH = "DATE '1970-01-01'"


@dataclass(slots=True)
class IngestStats:
    """Totals for one input: rows read, accepted and rejected (read = accepted + rejected), and warnings."""

    source: str
    kind: str  # dispensing | labs
    format: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.kind} {self.source} ({self.format}): read {self.read:,}, accepted {self.accepted:,}, "
            f"rejected {self.rejected:,}"
        )


def detect_format(path: Path, kind: str) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if name.endswith((".ndjson", ".ndjson.gz", ".jsonl")):
        return "ndjson"
    if not path.is_file():
        raise InputError("INPUT", str(path), "no such file")
    head = path.read_bytes()[:64].lstrip(b"\xef\xbb\xbf \r\n\t")
    if head.startswith(b"TH"):
        return "asap"
    if head.startswith(b"{"):
        return "ndjson"
    raise InputError("INPUT", str(path), f"cannot tell the format of this {kind} file: name it .csv, .parquet, .ndjson")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_reject_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS rejects (source VARCHAR, kind VARCHAR, line BIGINT, reason VARCHAR, record VARCHAR)"
    )


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {row[0]: str(row[1]).upper() for row in con.execute(f"DESCRIBE {relation}").fetchall()}


def _check_columns(found: dict[str, str], required: tuple[str, ...], source: str, extra_rule: str = "") -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise InputError(source, ", ".join(sorted(found)), f"missing required column(s): {', '.join(missing)}")
    if extra_rule == "ndc-or-rxnorm" and "ndc" not in found and "rxnorm" not in found:
        raise InputError(source, ", ".join(sorted(found)), "needs an ndc or an rxnorm column to identify the drug")


def _text(col: str, found: dict[str, str]) -> str:
    if col not in found:
        return "CAST(NULL AS VARCHAR)"
    if found.get(col) == "VARCHAR" and found.get("__typed__") == "yes":
        return f"NULLIF({col}, '')"  # a typed file (Parquet) holds its values as written: no trimming
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


def _date(col: str, found: dict[str, str]) -> str:
    kind = found.get(col, "")
    if kind == "DATE":
        return col
    if kind.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    text = _text(col, found)
    return (
        f"CASE WHEN length({text}) = 8 THEN CAST(try_strptime({text}, '%Y%m%d') AS DATE) "
        f"ELSE TRY_CAST(left({text}, 10) AS DATE) END"
    )


def _number(col: str, found: dict[str, str], target: str) -> str:
    kind = found.get(col, "")
    if kind in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "HUGEINT", "TINYINT") or kind.startswith("DECIMAL"):
        return f"TRY_CAST({col} AS {target})"
    return f"TRY_CAST({_text(col, found)} AS {target})"


def _digits(shape: str) -> str:
    """A GLOB pattern for groups of digits, "5-4-2": five digits, a hyphen, four digits, a hyphen, two digits.
    (The same matches as a regular expression of [0-9] groups, ASCII digits only, and cheaper to test.)"""
    return "'" + "-".join("[0-9]" * int(n) for n in shape.split("-")) + "'"


NDC_SQL = f"""CASE
  WHEN {{v}} IS NULL THEN NULL
  WHEN {{v}} GLOB {_digits("11")} THEN {{v}}
  WHEN {{v}} GLOB {_digits("5-4-2")} THEN replace({{v}}, '-', '')
  WHEN {{v}} GLOB {_digits("4-4-2")} THEN '0' || replace({{v}}, '-', '')
  WHEN {{v}} GLOB {_digits("5-3-2")} THEN left({{v}}, 5) || '0' || replace(substr({{v}}, 7), '-', '')
  WHEN {{v}} GLOB {_digits("5-4-1")} THEN left({{v}}, 5) || substr({{v}}, 7, 4) || '0' || right({{v}}, 1)
  ELSE NULL END"""


def _quote(label: str, expr: str) -> str:
    return f"'{label} ' || coalesce('''' || left(CAST({expr} AS VARCHAR), 40) || '''', 'missing')"


def _checks_sql(checks: list[tuple[str, str]]) -> tuple[str, str]:
    """(ok, reason) SQL from (condition, message) pairs: `ok` is true when no condition holds; `reason` lists
    the messages of those that do (evaluated only for the rows that are rejected)."""
    ok = " AND ".join(f"NOT coalesce({cond}, false)" for cond, _ in checks)
    reason = "concat_ws('; ', " + ", ".join(f"CASE WHEN {cond} THEN {msg} END" for cond, msg in checks) + ")"
    return ok, reason


def _stage_dispensing(con: duckdb.DuckDBPyConnection, relation: str, found: dict[str, str], source: str) -> int:
    """Validate the rows of `relation` (which has a `line` column) in one vectorised pass.

    Rejected rows go to `rejects` with every reason found; `fills_in` becomes a view of the typed accepted rows
    (read again by whoever uses it, so the accepted rows are not copied here). Returns the number rejected.
    """
    t = {c: _text(c, found) for c in DISPENSING_COLUMNS}
    fill_date = _date("fill_date", found)
    quantity = _number("quantity", found, "DOUBLE")
    days = _number("days_supply", found, "INTEGER")
    refill = _number("refill_number", found, "INTEGER")
    ndc = NDC_SQL.format(v="raw_ndc")
    rxnorm = "CASE WHEN regexp_full_match(raw_rxnorm, '[0-9]{1,10}') THEN raw_rxnorm END"
    ok, reason = _checks_sql(
        [
            ("patient_id IS NULL", "'patient_id missing'"),
            ("prescriber_id IS NULL", "'prescriber_id missing'"),
            ("pharmacy_id IS NULL", "'pharmacy_id missing'"),
            (
                "fill_date_v IS NULL",
                f"{_quote('fill_date', 'raw_fill_date')} || ' is not a date (YYYY-MM-DD or YYYYMMDD)'",
            ),
            ("raw_ndc IS NULL AND raw_rxnorm IS NULL", "'no ndc and no rxnorm: the drug is unknown'"),
            (
                "raw_ndc IS NOT NULL AND ndc_v IS NULL",
                f"{_quote('ndc', 'raw_ndc')} || ' is not an NDC (11 digits, or 10 with hyphens 4-4-2, 5-3-2 or 5-4-1)'",
            ),
            (
                "raw_rxnorm IS NOT NULL AND rxnorm_v IS NULL",
                f"{_quote('rxnorm', 'raw_rxnorm')} || ' is not an RxNorm code'",
            ),
            (
                "quantity_v IS NULL OR NOT quantity_v > 0",
                f"{_quote('quantity', 'raw_quantity')} || ' is not a positive number'",
            ),
            (
                "days_v IS NULL OR days_v < 1",
                f"{_quote('days_supply', 'raw_days_supply')} || ' is not a positive whole number'",
            ),
        ]
    )
    typed = f"""(WITH raw AS (
          SELECT line,
            {t["patient_id"]} AS patient_id, {t["prescriber_id"]} AS prescriber_id, {t["pharmacy_id"]} AS pharmacy_id,
            {t["ndc"]} AS raw_ndc, {t["rxnorm"]} AS raw_rxnorm, {t["fill_date"]} AS raw_fill_date,
            {t["quantity"]} AS raw_quantity, {t["days_supply"]} AS raw_days_supply, {t["rx_number"]} AS rx_number,
            {fill_date} AS fill_date_v, {quantity} AS quantity_v, {days} AS days_v, {refill} AS refill_v
          FROM {relation})
        SELECT *, {ndc} AS ndc_v, {rxnorm} AS rxnorm_v FROM raw)"""
    rejected = _reject(
        con,
        "rx_fills_rejected",
        f"""SELECT line, {reason} AS reason,
          concat_ws('|', patient_id, prescriber_id, pharmacy_id, raw_fill_date, raw_ndc, raw_rxnorm, raw_quantity,
            raw_days_supply, rx_number) AS record
        FROM (SELECT *, {ok} AS ok FROM {typed}) WHERE NOT ok""",
        source,
        "dispensing",
    )
    con.execute(
        f"""CREATE OR REPLACE VIEW fills_in AS
        SELECT line, patient_id, prescriber_id, pharmacy_id,
          CAST(date_diff('day', {EPOCH}, fill_date_v) AS INTEGER) AS fill_day,
          ndc_v AS ndc, rxnorm_v AS rxnorm, quantity_v AS quantity, days_v AS days_supply,
          refill_v AS refill_number, rx_number
        FROM {typed} ANTI JOIN rx_fills_rejected USING (line)"""
    )
    return rejected


def _reject(con: duckdb.DuckDBPyConnection, table: str, select: str, source: str, kind: str) -> int:
    """Keep the rejected rows of one input (`select`: line, reason, record) in temp table `table` and add them to
    `rejects`. The accepted rows are those whose line is not in `table` (an input's lines are unique): the views
    of accepted rows leave them out by line instead of evaluating every check again. Returns the number rejected."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}")
    con.execute(f"INSERT INTO rejects SELECT {_sql_str(source)}, {_sql_str(kind)}, line, reason, record FROM {table}")
    return _count(con, table)


def _csv_relation(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> dict[str, str]:
    """A table of the CSV's rows (all text) with `line`, kept for the run (the accepted rows' view reads it);
    malformed rows are listed in rx_csv_errors (see _csv_errors_to_rejects)."""
    con.execute("DROP TABLE IF EXISTS rx_csv_errors; DROP TABLE IF EXISTS rx_csv_scans")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name}_rows AS
        SELECT *, row_number() OVER () AS _rank FROM read_csv({_sql_str(str(path))}, all_varchar = true,
          header = true, store_rejects = true, ignore_errors = true,
          rejects_table = 'rx_csv_errors', rejects_scan = 'rx_csv_scans')"""
    )
    bad = con.execute("SELECT count(DISTINCT line) FROM rx_csv_errors").fetchone()
    if bad and bad[0]:
        # Survivor k (in file order) is data record k + (number of bad records before it).
        con.execute(
            """CREATE OR REPLACE TEMP TABLE rx_bad AS
            SELECT max(i) AS i, key FROM (
              SELECT row_number() OVER (ORDER BY b) AS i, b - row_number() OVER (ORDER BY b) AS key
              FROM (SELECT DISTINCT CAST(line AS BIGINT) - 1 AS b FROM rx_csv_errors)) GROUP BY key"""
        )
        con.execute(
            f"""CREATE OR REPLACE TABLE {name} AS
            SELECT r.* EXCLUDE (_rank), r._rank + coalesce(b.i, 0) + 1 AS line
            FROM {name}_rows r ASOF LEFT JOIN rx_bad b ON r._rank > b.key"""
        )
    else:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * EXCLUDE (_rank), _rank + 1 AS line FROM {name}_rows")
    con.execute(f"DROP TABLE {name}_rows")
    return _columns(con, name)


def _csv_errors_to_rejects(con: duckdb.DuckDBPyConnection, source: str, kind: str) -> int:
    row = con.execute("SELECT count(DISTINCT line) FROM rx_csv_errors").fetchone()
    count = int(row[0]) if row else 0
    if count:
        con.execute(
            f"""INSERT INTO rejects SELECT {_sql_str(source)}, {_sql_str(kind)}, CAST(line AS BIGINT),
              'malformed CSV row: ' || string_agg(DISTINCT lower(CAST(error_type AS VARCHAR)), '; '),
              any_value(csv_line)
            FROM rx_csv_errors GROUP BY line"""
        )
    return count


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0


def load_dispensing(con: duckdb.DuckDBPyConnection, path: Path, fmt: str = "auto") -> IngestStats:
    """Validate `path` (bad rows into `rejects`); view `fills_in` holds the typed accepted rows."""
    create_reject_table(con)
    fmt = detect_format(path, "dispensing") if fmt == "auto" else fmt
    source = path.name
    stats = IngestStats(source=source, kind="dispensing", format=fmt)
    malformed = 0
    if fmt == "csv":
        found = _csv_relation(con, path, "rx_fills_src")
        found.pop("line", None)
        _check_columns(found, DISPENSING_REQUIRED, source, "ndc-or-rxnorm")
        malformed = _csv_errors_to_rejects(con, source, "dispensing")
        relation = "rx_fills_src"
    elif fmt == "parquet":
        rel = f"read_parquet({_sql_str(str(path))}, file_row_number = true)"
        found = _columns(con, f"(SELECT * FROM {rel})")
        found.pop("file_row_number", None)
        _check_columns(found, DISPENSING_REQUIRED, source, "ndc-or-rxnorm")
        found["__typed__"] = "yes"
        relation = f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS line FROM {rel})"
    elif fmt == "asap":
        malformed, found = _load_asap(con, path, source, stats)
        relation = "rx_fills_src"
    else:
        raise InputError("--format", fmt, "dispensing records must be csv, parquet or asap")
    rejected = _stage_dispensing(con, relation, found, source)
    stats.read = _count(con, relation) + malformed
    stats.rejected = rejected + malformed
    stats.accepted = stats.read - stats.rejected
    return stats


def _load_asap(
    con: duckdb.DuckDBPyConnection, path: Path, source: str, stats: IngestStats
) -> tuple[int, dict[str, str]]:
    """Parse an ASAP file into table `rx_fills_src` (with `line`); its rejects and structural problems go to
    `rejects`. Returns (records rejected by the parser, the table's columns)."""
    import pyarrow as pa

    from rxguard.adapters.surveillance.asap import RECORD_FIELDS, read_asap

    parsed = read_asap(path)
    stats.warnings.extend(parsed.warnings)
    if parsed.voided or parsed.revised:
        stats.warnings.append(f"{parsed.voided} record(s) voided and {parsed.revised} revised by later DSP segments")
    if parsed.zero_report:
        stats.warnings.append("zero report (PAT REPORT ZERO): no dispensations in this file")
    columns = {name: pa.array([r[name] for r in parsed.records], pa.string()) for name in RECORD_FIELDS}
    columns["line"] = pa.array(parsed.lines, pa.int64())
    table = pa.table(columns)
    con.register("rx_asap_records", table)
    con.execute("CREATE OR REPLACE TABLE rx_fills_src AS SELECT * FROM rx_asap_records")
    con.unregister("rx_asap_records")
    found = _columns(con, "rx_fills_src")
    found.pop("line", None)
    rows = [(r, "dispensing") for r in parsed.rejects] + [(r, "dispensing-file") for r in parsed.problems]
    if rows:
        rejects = pa.table(
            {
                "source": pa.array([source] * len(rows), pa.string()),
                "kind": pa.array([kind for _, kind in rows], pa.string()),
                "line": pa.array([r[0] for r, _ in rows], pa.int64()),
                "reason": pa.array([r[1] for r, _ in rows], pa.string()),
                "record": pa.array([r[2] for r, _ in rows], pa.string()),
            }
        )
        con.register("rx_asap_rejects", rejects)
        con.execute("INSERT INTO rejects SELECT * FROM rx_asap_rejects")
        con.unregister("rx_asap_rejects")
    for line, reason, _ in parsed.problems:
        stats.warnings.append(f"line {line}: {reason}" if line else reason)
    return len(parsed.rejects), found


# --- labs --------------------------------------------------------------------------------------------------


def _stage_labs(con: duckdb.DuckDBPyConnection, relation: str, found: dict[str, str], source: str) -> int:
    """As _stage_dispensing, for lab results: rejects into `rejects`, the accepted rows as the view
    `labs_in` (with the measure each LOINC code maps to, from table rx_loinc). Returns the number rejected."""
    t = {c: _text(c, found) for c in LAB_COLUMNS}
    test_date = _date("test_date", found)
    value = _number("value", found, "DOUBLE")
    ok, reason = _checks_sql(
        [
            ("patient_id IS NULL", "'patient_id missing'"),
            ("date_v IS NULL", f"{_quote('test_date', 'raw_date')} || ' is not a date'"),
            (
                "NOT coalesce(regexp_full_match(loinc, '[0-9]{1,7}-[0-9]'), false)",
                f"{_quote('loinc', 'loinc')} || ' is not a LOINC code'",
            ),
            ("raw_value IS NOT NULL AND value_v IS NULL", f"{_quote('value', 'raw_value')} || ' is not a number'"),
        ]
    )
    typed = f"""(SELECT line, {t["patient_id"]} AS patient_id, {t["test_date"]} AS raw_date, {test_date} AS date_v,
            {t["loinc"]} AS loinc, {t["value"]} AS raw_value, {value} AS value_v, {t["unit"]} AS unit
          FROM {relation})"""
    rejected = _reject(
        con,
        "rx_labs_rejected",
        f"""SELECT line, {reason} AS reason, concat_ws('|', patient_id, raw_date, loinc, raw_value, unit) AS record
        FROM (SELECT *, {ok} AS ok FROM {typed}) WHERE NOT ok""",
        source,
        "labs",
    )
    con.execute(
        f"""CREATE OR REPLACE VIEW labs_in AS
        SELECT s.line, s.patient_id, CAST(date_diff('day', {EPOCH}, s.date_v) AS INTEGER) AS test_day, s.loinc,
          m.measure, s.value_v AS value, s.unit
        FROM {typed} s ANTI JOIN rx_labs_rejected USING (line) LEFT JOIN rx_loinc m USING (loinc)"""
    )
    return rejected


def _fhir_observations(path: Path) -> tuple[dict[str, list[Any]], list[tuple[int, str, str]]]:
    """Observation resources of an NDJSON file -> lab columns; other lines are rejected with a reason."""
    rows: dict[str, list[Any]] = {c: [] for c in (*LAB_COLUMNS, "line")}
    rejects: list[tuple[int, str, str]] = []
    skip_status = {"entered-in-error", "cancelled", "registered"}
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                resource = json.loads(text)
            except json.JSONDecodeError as exc:
                rejects.append((number, f"not JSON: {exc.msg}", text[:200]))
                continue
            if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
                kind = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
                rejects.append((number, f"not an Observation (resourceType {kind!r})", text[:200]))
                continue
            status = resource.get("status")
            if status in skip_status:
                rejects.append((number, f"status {status!r}: not a result", text[:200]))
                continue
            subject = (resource.get("subject") or {}).get("reference") or ""
            patient = subject.rsplit("/", 1)[-1] if subject else ""
            when = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
            when = when or resource.get("issued") or ""
            codings = (resource.get("code") or {}).get("coding") or []
            loinc = next((c.get("code", "") for c in codings if "loinc.org" in str(c.get("system", ""))), "")
            quantity = resource.get("valueQuantity") or {}
            rows["patient_id"].append(patient)
            rows["test_date"].append(str(when)[:10])
            rows["loinc"].append(loinc)
            value = quantity.get("value")
            rows["value"].append(None if value is None else str(value))
            rows["unit"].append(quantity.get("unit") or quantity.get("code"))
            rows["line"].append(number)
    return rows, rejects


def load_labs(
    con: duckdb.DuckDBPyConnection, path: Path, loinc_measures: dict[str, str], fmt: str = "auto"
) -> IngestStats:
    """Validate lab results; view `labs_in` (line, patient_id, test_day, loinc, measure, value, unit) holds the
    accepted ones."""
    create_reject_table(con)
    fmt = detect_format(path, "labs") if fmt == "auto" else fmt
    source = path.name
    stats = IngestStats(source=source, kind="labs", format=fmt)
    con.execute("CREATE OR REPLACE TABLE rx_loinc (loinc VARCHAR, measure VARCHAR)")
    measures = [(code, measure) for code, measure in loinc_measures.items()]
    if measures:
        con.executemany("INSERT INTO rx_loinc VALUES (?, ?)", measures)
    malformed = 0
    if fmt == "csv":
        found = _csv_relation(con, path, "rx_labs_src")
        found.pop("line", None)
        _check_columns(found, LAB_REQUIRED, source)
        malformed = _csv_errors_to_rejects(con, source, "labs")
        relation = "rx_labs_src"
    elif fmt == "parquet":
        rel = f"read_parquet({_sql_str(str(path))}, file_row_number = true)"
        found = _columns(con, f"(SELECT * FROM {rel})")
        found.pop("file_row_number", None)
        _check_columns(found, LAB_REQUIRED, source)
        relation = f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS line FROM {rel})"
    elif fmt == "ndjson":
        import pyarrow as pa

        rows, rejects = _fhir_observations(path)
        table = pa.table({k: pa.array(v, pa.int64() if k == "line" else pa.string()) for k, v in rows.items()})
        con.register("rx_fhir_labs", table)
        con.execute("CREATE OR REPLACE TABLE rx_labs_src AS SELECT * FROM rx_fhir_labs")
        con.unregister("rx_fhir_labs")
        found = _columns(con, "rx_labs_src")
        found.pop("line", None)
        for line, reason, text in rejects:
            con.execute("INSERT INTO rejects VALUES (?, 'labs', ?, ?, ?)", [source, line, reason, text])
        malformed = len(rejects)
        relation = "rx_labs_src"
    else:
        raise InputError("--labs-format", fmt, "lab results must be csv, parquet or ndjson")
    rejected = _stage_labs(con, relation, found, source)
    stats.read = _count(con, relation) + malformed
    stats.rejected = rejected + malformed
    stats.accepted = stats.read - stats.rejected
    return stats


def write_rejects(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """The reject table as CSV (source, kind, line, reason, record), in input order."""
    con.execute(
        f"COPY (SELECT * FROM rejects ORDER BY source, kind, line) TO {_sql_str(str(out))} (HEADER, DELIMITER ',')"
    )
    row = con.execute("SELECT count(*) FROM rejects").fetchone()
    return int(row[0]) if row else 0
