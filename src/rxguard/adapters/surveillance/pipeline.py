"""`rxguard surveil`: read and validate, identify drugs, run every rule on DuckDB or Spark, write the results.

Reading and validation always run on an embedded DuckDB (it is the loader: one file at a time, with line
numbers for the reject file). The rules run on the engine chosen: DuckDB reads the validated tables in place;
Spark reads them from Parquet files written to a work folder. The rules themselves are the same Ibis expressions
on both (rules.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rxguard.adapters.surveillance import rules as r
from rxguard.adapters.surveillance.drugs import drug_table, ndc_table
from rxguard.adapters.surveillance.ingest import IngestStats, load_dispensing, load_labs, write_rejects
from rxguard.adapters.surveillance.knowledge import (
    FLAGS,
    ControlledDefaults,
    KnowledgeUnavailableError,
    LabSchedule,
    MmeFactorSet,
    SurveillanceRule,
    controlled_defaults,
    mme_factor_set,
    surveillance_rules,
    thiopurine_schedule,
)
from rxguard.domain.model import SourceRef
from rxguard.errors import ConfigError
from rxguard.knowledge.base import KnowledgeBase

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa
    from pyspark.sql import SparkSession

EPOCH = dt.date(1970, 1, 1)
Progress = Callable[[str, float], None]  # (step description, fraction of the whole run done)


@dataclass(frozen=True, slots=True)
class Overrides:
    """Values a user may set instead of the knowledge base's defaults (None: use the knowledge base)."""

    mme_caution: float | None = None
    mme_high: float | None = None
    early_refill_share: float | None = None
    mpe: tuple[int, int, int] | None = None  # prescribers, pharmacies, window days
    schedule: str | None = None
    as_of: dt.date | None = None


@dataclass(slots=True)
class Settings:
    """Everything a run uses, with where it came from (for the report)."""

    rules: r.RuleSettings
    factor_set: MmeFactorSet
    defaults: ControlledDefaults | None
    schedule: LabSchedule | None
    surveillance: dict[str, SurveillanceRule]
    kb_version: str
    own_sources: dict[str, tuple[SourceRef, ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resolve_settings(
    kb: KnowledgeBase, factor_set: str, overrides: Overrides, as_of_day: int, has_labs: bool
) -> Settings:
    """Read every number from the knowledge base (or the overrides); raise ConfigError naming what is missing."""
    notes: list[str] = []
    try:
        mme_set = mme_factor_set(kb, factor_set)
    except KnowledgeUnavailableError as exc:
        raise ConfigError(str(exc)) from None
    try:
        defaults: ControlledDefaults | None = controlled_defaults(kb)
    except KnowledgeUnavailableError as exc:
        defaults = None
        notes.append(str(exc))
    own = surveillance_rules(kb)

    def pick(value: float | None, default: float | None, what: str) -> float:
        if value is not None:
            return value
        if default is None:
            raise ConfigError(f"{what}: not in the knowledge base ({notes[0] if notes else ''}); give it as an option")
        return default

    caution = pick(overrides.mme_caution, defaults.mme_caution if defaults else None, "MME caution threshold")
    high = pick(overrides.mme_high, defaults.mme_high if defaults else None, "MME high threshold")
    share = pick(overrides.early_refill_share, defaults.early_refill_share if defaults else None, "early-refill share")
    if overrides.mpe is not None:
        mpe = overrides.mpe
    elif defaults is not None:
        mpe = (defaults.mpe_prescribers, defaults.mpe_pharmacies, defaults.mpe_window_days)
    else:
        raise ConfigError("multiple-provider thresholds: not in the knowledge base; give --mpe N,M,DAYS")
    schedule: LabSchedule | None = None
    lab_rule = own["thiopurine-lab-overdue"]
    if has_labs:
        name = overrides.schedule or (lab_rule.lab_interval.schedule if lab_rule.lab_interval else "")
        try:
            schedule = thiopurine_schedule(kb, name)
        except KnowledgeUnavailableError as exc:
            raise ConfigError(str(exc)) from None
    ltot = own["long-term-opioid"].long_term_opioid
    overlap = own["opioid-benzodiazepine"].overlap
    early = own["early-refill"].early_refill
    assert ltot and overlap and early and lab_rule.lab_interval  # noqa: S101 - guaranteed by the schema
    settings = r.RuleSettings(
        as_of_day=as_of_day,
        mme_caution=caution,
        mme_high=high,
        tiers=dict(mme_set.tiers),
        overlap_min_days=overlap.min_overlap_days.value,
        mpe_prescribers=mpe[0],
        mpe_pharmacies=mpe[1],
        mpe_window_days=mpe[2],
        mpe_ingredients=defaults.mpe_ingredients if defaults else None,
        early_refill_share=share,
        early_refill_min=early.min_early_refills.value,
        early_refill_ingredients=defaults.early_refill_ingredients if defaults else None,
        ltot_longer_than_days=ltot.longer_than_days,
        ltot_min_fills=ltot.min_fills,
        ltot_min_days_supply=ltot.min_days_supply,
        ltot_gap_days=ltot.episode_gap_days.value,
        lab_phases=schedule.phases if schedule else (),
        lab_measures=schedule.measures if schedule else (),
        lab_grace_days=lab_rule.lab_interval.grace_days.value,
    )
    return Settings(
        rules=settings,
        factor_set=mme_set,
        defaults=defaults,
        schedule=schedule,
        surveillance=own,
        kb_version=kb.version,
        own_sources={flag: kb.cite(rule.sources) for flag, rule in own.items()},
        notes=notes,
    )


# --- engines -----------------------------------------------------------------------------------------------


def spark_session(master: str = "local[2]", work: Path | None = None) -> SparkSession:
    """A Spark session sized for this machine (8 shuffle partitions on 2 cores, 2 GB driver memory)."""
    from pyspark.sql import SparkSession

    folder = work or Path(tempfile.mkdtemp(prefix="rxguard-spark-"))
    return (
        SparkSession.builder.master(master)
        .appName("rxguard-surveillance")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


@dataclass
class Tables:
    fills: ir.Table
    drugs: ir.Table
    labs: ir.Table | None
    cache: Callable[[ir.Table], ir.Table]


@contextmanager
def engine_tables(
    engine: str, raw: Any, drugs: pa.Table, has_labs: bool, spark: SparkSession | None, work: Path
) -> Iterator[Tables]:
    import ibis

    cached: list[Any] = []

    def cache(t: ir.Table) -> ir.Table:
        c = t.cache()
        cached.append(c)
        return c

    def release() -> None:
        for c in cached:
            with contextlib.suppress(Exception):  # releasing a cache is best effort
                c.release()

    if engine == "duckdb":
        con = ibis.duckdb.from_connection(raw)
        raw.register("rx_drugs_arrow", drugs)
        raw.execute("CREATE OR REPLACE TABLE drugs AS SELECT * FROM rx_drugs_arrow")
        raw.unregister("rx_drugs_arrow")
        try:
            yield Tables(
                fills=con.table("fills_in"),
                drugs=con.table("drugs"),
                labs=con.table("labs_in") if has_labs else None,
                cache=cache,
            )
        finally:
            release()
        return
    if engine != "spark":
        raise ConfigError(f"--engine: must be duckdb or spark (value: {engine!r})")
    import pyarrow.parquet as pq

    session = spark or spark_session(work=work)
    folder = work / "parquet"
    folder.mkdir(parents=True, exist_ok=True)
    raw.execute(f"COPY (SELECT * FROM fills_in) TO {_quoted(folder / 'fills.parquet')} (FORMAT PARQUET)")  # noqa: S608
    if has_labs:
        raw.execute(f"COPY (SELECT * FROM labs_in) TO {_quoted(folder / 'labs.parquet')} (FORMAT PARQUET)")  # noqa: S608
    pq.write_table(drugs, folder / "drugs.parquet")
    scon = ibis.pyspark.connect(session)
    try:
        yield Tables(
            fills=scon.read_parquet(str(folder / "fills.parquet")),
            drugs=scon.read_parquet(str(folder / "drugs.parquet")),
            labs=scon.read_parquet(str(folder / "labs.parquet")) if has_labs else None,
            cache=cache,
        )
    finally:
        release()


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


# --- the run -----------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What a run produced: totals, flags (Arrow), report data, timings and the output paths."""

    engine: str
    inputs: list[IngestStats]
    flags: pa.Table
    totals: dict[str, int]
    histogram: list[tuple[int, int]]  # (MME bucket lower bound, patient-days)
    top_prescribers: list[tuple[str, int]]
    settings: Settings
    timings: dict[str, float]
    outputs: dict[str, Path] = field(default_factory=dict)
    rejects: int = 0
    as_of: dt.date = EPOCH

    @property
    def records(self) -> int:
        return sum(s.read for s in self.inputs if s.kind == "dispensing")

    def flagged_patients(self, flag: str) -> set[str]:
        mask = [f == flag for f in self.flags.column("flag").to_pylist()]
        return {p for p, m in zip(self.flags.column("patient_id").to_pylist(), mask, strict=True) if m}


HISTOGRAM_STEP = 10  # MME per bucket
HISTOGRAM_TOP = 200  # the last bucket holds everything at or above this


def surveil(
    kb: KnowledgeBase,
    dispensing: Path,
    *,
    labs: Path | None = None,
    engine: str = "duckdb",
    factor_set: str = "cdc-2022-clinical",
    overrides: Overrides | None = None,
    out: Path | None = None,
    dispensing_format: str = "auto",
    labs_format: str = "auto",
    spark: SparkSession | None = None,
    progress: Progress | None = None,
    write_daily: bool = False,
    report: bool = True,
    export_asap: Path | None = None,
) -> RunResult:
    """Run the whole surveillance pipeline; write flags.parquet, rejects.csv, report.html into `out`."""
    import duckdb
    import pyarrow as pa

    overrides = overrides or Overrides()
    say: Progress = progress or (lambda _step, _done: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    raw = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="rxguard-surveil-") as tmp:
        work = Path(tmp)
        raw.execute(f"SET temp_directory = {_quoted(work / 'duckdb')}")
        say("reading and validating dispensing records", 0.0)
        inputs = [load_dispensing(raw, dispensing, dispensing_format)]
        if labs is not None:
            say("reading lab results", 0.15)
            inputs.append(load_labs(raw, labs, dict(kb.loinc_measures), labs_format))
        lap("read and validate")
        # The as-of day (default: the last accepted fill) is set once the fills are prepared (see below).
        settings = resolve_settings(kb, factor_set, overrides, 0, labs is not None)
        drugs = pa.table(drug_table(kb, settings.factor_set))
        exported = export_controlled(raw, drugs, export_asap) if export_asap is not None else None
        say(f"identifying drugs (NDC table: {ndc_table().version})", 0.2)
        with engine_tables(engine, raw, drugs, labs is not None, spark, work) as t:
            lap("engine setup")
            fills = r.prepare_fills(t.fills, t.drugs, settings.rules, t.cache)
            totals, last_day = _totals(fills)
            as_of = overrides.as_of or (
                EPOCH + dt.timedelta(days=last_day) if last_day is not None else dt.date.today()
            )
            settings.rules = dataclasses.replace(settings.rules, as_of_day=(as_of - EPOCH).days)
            lap("identify drugs and MME")
            seg = t.cache(r.mme_segments(fills))
            parts = []
            rule_list = r.all_flags(fills, seg, t.labs, settings.rules, t.cache)
            for i, (name, build) in enumerate(rule_list):
                say(f"rule: {name}", 0.3 + 0.5 * i / len(rule_list))
                parts.append(build().to_pyarrow())
                lap(f"rule: {name}")
            say("report data", 0.8)
            flags = _finish_flags(pa.concat_tables([p.cast(parts[0].schema) for p in parts]), settings)
            histogram = _histogram(seg)
            top = _top_prescribers(fills, flags)
            daily = r.daily_mme(seg).to_pyarrow() if write_daily and out is not None else None
            lap("report data")
        result = RunResult(
            engine=engine,
            inputs=inputs,
            flags=flags,
            totals=totals,
            histogram=histogram,
            top_prescribers=top,
            settings=settings,
            timings=timings,
            as_of=as_of,
        )
        if exported is not None and export_asap is not None:
            result.outputs["asap"] = export_asap
            result.totals["exported_asap"] = exported
        if out is not None:
            say("writing results", 0.9)
            _write_outputs(raw, result, out, daily, report)
            lap("write outputs")
    raw.close()
    say("done", 1.0)
    return result


def export_controlled(raw: Any, drugs: pa.Table, path: Path) -> int:
    """Write the accepted controlled-substance fills (schedule II-V by the NDC table) as one ASAP 4.2 file."""
    from rxguard.adapters.surveillance.asap import AsapRecord, write_asap

    path.parent.mkdir(parents=True, exist_ok=True)
    raw.register("rx_export_drugs", drugs)
    rows = raw.execute(
        """SELECT f.patient_id, f.prescriber_id, f.pharmacy_id, f.fill_day, f.ndc, f.quantity, f.days_supply,
             coalesce(f.rx_number, ''), coalesce(f.refill_number, 0)
           FROM fills_in f JOIN rx_export_drugs d ON d.code_system = 'ndc' AND d.code = f.ndc
           WHERE d.dea_schedule IN ('II', 'III', 'IV', 'V') ORDER BY f.pharmacy_id, f.line"""
    ).fetchall()
    raw.unregister("rx_export_drugs")
    records = (
        AsapRecord(
            patient_id=row[0],
            prescriber_id=row[1],
            pharmacy_id=row[2],
            fill_date=EPOCH + dt.timedelta(days=int(row[3])),
            ndc=row[4],
            quantity=float(row[5]),
            days_supply=int(row[6]),
            rx_number=str(row[7]),
            refill_number=int(row[8]),
        )
        for row in rows
    )
    now = dt.datetime.now().replace(microsecond=0)
    return write_asap(
        records,
        path,
        source_id="RXGUARD",
        source_name="rxguard surveillance export",
        control_number=now.strftime("%Y%m%d%H%M%S"),
        now=now,
    )


def _totals(fills: ir.Table) -> tuple[dict[str, int], int | None]:
    """Counts of the accepted fills for the report, and the last fill day (None when there is none)."""
    agg = fills.aggregate(
        accepted=fills.count(),
        identified=fills.ingredient_key.notnull().sum(),
        opioid=fills.is_opioid.sum(),
        opioid_converted=(fills.is_opioid & fills.mme_milli.notnull()).sum(),
        benzodiazepine=fills.is_benzodiazepine.sum(),
        thiopurine=fills.is_thiopurine.sum(),
        controlled=fills.is_controlled.sum(),
        patients=fills.patient_id.nunique(),
        last_day=fills.fill_day.max(),
    ).to_pyarrow()
    row = {k: agg.column(k)[0].as_py() for k in agg.column_names}
    last = row.pop("last_day")
    return {k: int(v or 0) for k, v in row.items()}, None if last is None else int(last)


def _histogram(seg: ir.Table) -> list[tuple[int, int]]:
    import ibis

    live = seg.filter(seg.next_day.notnull() & (seg.mme > 0))
    bucket = ibis.least((live.mme // (HISTOGRAM_STEP * r.MILLI)) * HISTOGRAM_STEP, HISTOGRAM_TOP)
    agg = live.group_by(bucket=bucket).aggregate(days=(live.next_day - live.day).sum()).to_pyarrow()
    rows = sorted(zip(agg.column("bucket").to_pylist(), agg.column("days").to_pylist(), strict=True))
    return [(int(b), int(d)) for b, d in rows]


def _top_prescribers(fills: ir.Table, flags: pa.Table, n: int = 10) -> list[tuple[str, int]]:
    """Prescribers of the flagged patients' controlled fills, by how many flagged patients they prescribed for."""
    import ibis
    import pyarrow as pa
    import pyarrow.compute as pc

    patients = pc.unique(flags.column("patient_id"))
    if len(patients) == 0:
        return []
    flagged = ibis.memtable(pa.table({"flagged_patient": patients}))
    c = fills.filter(fills.is_controlled | fills.is_thiopurine)
    j = c.join(flagged, c.patient_id == flagged.flagged_patient)
    top = (
        j.group_by("prescriber_id")
        .aggregate(patients=j.patient_id.nunique())
        .order_by([ibis.desc("patients"), "prescriber_id"])
        .limit(n)
        .to_pyarrow()
    )
    return [
        (str(p), int(k))
        for p, k in zip(top.column("prescriber_id").to_pylist(), top.column("patients").to_pylist(), strict=True)
    ]


def _finish_flags(flags: pa.Table, settings: Settings) -> pa.Table:
    """Dates instead of day numbers, rule ids and a plain-words detail; sorted by patient and flag."""
    import pyarrow as pa
    import pyarrow.compute as pc

    order = {name: i for i, name in enumerate(FLAGS)}
    if flags.num_rows:
        rank = pa.array([order[f] for f in flags.column("flag").to_pylist()], pa.int32())
        flags = flags.append_column("rank", rank).sort_by([("patient_id", "ascending"), ("rank", "ascending")])
        flags = flags.drop_columns(["rank"])
    rule_ids = [settings.surveillance[f].id for f in flags.column("flag").to_pylist()]
    details = [
        describe_flag(row, settings)
        for row in flags.select(["flag", "value", "days", "first_day", "last_day"]).to_pylist()
    ]
    first = pc.cast(flags.column("first_day").cast(pa.int32()), pa.date32())
    last = pc.cast(flags.column("last_day").cast(pa.int32()), pa.date32())
    return pa.table(
        {
            "patient_id": flags.column("patient_id"),
            "flag": flags.column("flag"),
            "rule_id": pa.array(rule_ids, pa.string()),
            "first_date": first,
            "last_date": last,
            "value": flags.column("value"),
            "days": flags.column("days"),
            "detail": pa.array(details, pa.string()),
            "evidence_records": flags.column("evidence"),
            "prescribers": flags.column("prescribers"),
            "pharmacies": flags.column("pharmacies"),
            "kb_version": pa.array([settings.kb_version] * flags.num_rows, pa.string()),
            "mme_factor_set": pa.array([settings.factor_set.id] * flags.num_rows, pa.string()),
        }
    )


def describe_flag(row: dict[str, Any], settings: Settings) -> str:
    s = settings.rules
    value, days = row["value"], row["days"]
    flag = row["flag"]
    if flag in ("mme-50", "mme-90"):
        limit = s.mme_high if flag == "mme-90" else s.mme_caution
        return f"highest daily MME {value:g}; {days} day(s) at or above {limit:g} MME/day"
    if flag == "opioid-benzodiazepine":
        return f"{days} day(s) with both an opioid and a benzodiazepine supply current"
    if flag == "multiple-provider":
        return (
            f"{int(value)} episode(s) of >= {s.mpe_prescribers} prescribers and >= {s.mpe_pharmacies} pharmacies "
            f"within {s.mpe_window_days} days ({days} day(s) in episodes)"
        )
    if flag == "early-refill":
        return f"{int(value)} refill(s) before {s.early_refill_share:.0%} of the previous supply had elapsed"
    if flag == "long-term-opioid":
        return f"opioid episode of {int(value)} days with {days} days supplied"
    if flag == "thiopurine-lab-overdue":
        return f"blood count overdue by up to {int(value)} day(s) ({days} overdue day(s) in total)"
    return ""


def _write_outputs(raw: Any, result: RunResult, out: Path, daily: pa.Table | None, report: bool) -> None:
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    flags_path = out / "flags.parquet"
    pq.write_table(result.flags, flags_path)
    result.outputs["flags"] = flags_path
    rejects_path = out / "rejects.csv"
    result.rejects = write_rejects(raw, rejects_path)
    result.outputs["rejects"] = rejects_path
    if daily is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        daily = pa.table(
            {
                "patient_id": daily.column("patient_id"),
                "start_date": pc.cast(daily.column("start_day").cast(pa.int32()), pa.date32()),
                "end_date": pc.cast(daily.column("end_day").cast(pa.int32()), pa.date32()),
                "mme": daily.column("mme"),
            }
        )
        path = out / "daily_mme.parquet"
        pq.write_table(daily.sort_by([("patient_id", "ascending"), ("start_date", "ascending")]), path)
        result.outputs["daily_mme"] = path
    summary = out / "summary.json"
    summary.write_text(json.dumps(summary_dict(result), indent=2, default=str) + "\n", encoding="utf-8")
    result.outputs["summary"] = summary
    if report:
        from rxguard.adapters.surveillance.report import write_report

        path = out / "report.html"
        write_report(result, path)
        result.outputs["report"] = path


def flag_counts(result: RunResult) -> dict[str, int]:
    import pyarrow.compute as pc

    counts: dict[str, int] = {f: 0 for f in FLAGS}
    if result.flags.num_rows:
        for item in pc.value_counts(result.flags.column("flag")).to_pylist():
            counts[str(item["values"])] = int(item["counts"])
    return counts


def summary_dict(result: RunResult) -> dict[str, Any]:
    s = result.settings
    return {
        "engine": result.engine,
        "as_of": result.as_of.isoformat(),
        "kb_version": s.kb_version,
        "mme_factor_set": {"id": s.factor_set.id, "label": s.factor_set.label, "version": s.factor_set.version},
        "ndc_table": ndc_table().version,
        "inputs": [
            {
                "source": i.source,
                "kind": i.kind,
                "format": i.format,
                "read": i.read,
                "accepted": i.accepted,
                "rejected": i.rejected,
                "warnings": i.warnings,
            }
            for i in result.inputs
        ],
        "totals": result.totals,
        "flags": flag_counts(result),
        "patients_flagged": len(set(result.flags.column("patient_id").to_pylist())),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "notes": s.notes,
    }
