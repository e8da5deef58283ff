"""`rxguard surveil` and `rxguard synth`: the surveillance commands (engines are imported only when run)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rxguard.errors import ConfigError, InputError

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True, soft_wrap=True)

# The point-of-sale settings' names for the factor sets (RXGUARD_MME_FACTOR_SET) -> the surveillance names.
FACTOR_ALIASES = {
    "cdc-2022": "cdc-2022-clinical",
    "cdc-2016": "cdc-2016-clinical",
    "cdc-data-file-2017": "cdc-file",
    "cdc-2022-clinical": "cdc-2022-clinical",
    "cdc-2016-clinical": "cdc-2016-clinical",
    "cdc-file": "cdc-file",
}


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class InputFormat(StrEnum):
    auto = "auto"
    csv = "csv"
    parquet = "parquet"
    asap = "asap"
    ndjson = "ndjson"


class SynthFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"
    asap = "asap"


def _require_extra(engine: str) -> None:
    try:
        import duckdb  # noqa: F401
        import ibis  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError(
            "surveillance needs the optional extra: pip install 'rxguard[surveillance]' (ibis, duckdb, pyarrow)"
        ) from None
    if engine == "spark":
        try:
            import pyspark  # noqa: F401
        except ImportError:
            raise ConfigError("--engine spark needs the optional extra: pip install 'rxguard[spark]'") from None
        import shutil

        if not shutil.which("java"):
            raise ConfigError("--engine spark needs Java (a JRE 17) on the PATH")


def _mpe(value: str | None) -> tuple[int, int, int] | None:
    if value is None:
        return None
    parts = value.split(",")
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError("--mpe", value, "expected PRESCRIBERS,PHARMACIES,DAYS, e.g. 5,5,90") from None
    if len(numbers) != 3 or min(numbers) < 1:
        raise InputError("--mpe", value, "expected three whole numbers of at least 1: PRESCRIBERS,PHARMACIES,DAYS")
    return numbers[0], numbers[1], numbers[2]


def surveil(
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="Dispensing records: CSV, Parquet or ASAP 4.2.")],
    labs: Annotated[Path | None, typer.Option(help="Lab results: CSV, Parquet or FHIR NDJSON Observations.")] = None,
    engine: Annotated[Engine, typer.Option(help="duckdb (embedded, default) or spark.")] = Engine.duckdb,
    spark_master: Annotated[str, typer.Option(help="Spark master URL for --engine spark.")] = "local[2]",
    out: Annotated[Path, typer.Option(help="Folder for flags.parquet, report.html, rejects.csv, summary.json.")] = Path(
        "surveillance-out"
    ),
    mme_factors: Annotated[
        str | None,
        typer.Option(help="cdc-2022-clinical (default), cdc-2016-clinical or cdc-file (each NDC's CDC file factor)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="End of the period (YYYY-MM-DD); default: last fill.")
    ] = None,
    input_format: Annotated[InputFormat, typer.Option("--format", help="Format of INPUT.")] = InputFormat.auto,
    labs_format: Annotated[InputFormat, typer.Option(help="Format of --labs.")] = InputFormat.auto,
    schedule: Annotated[
        str | None,
        typer.Option(help="Thiopurine blood-test schedule: label (default), rheumatology, gastroenterology."),
    ] = None,
    mme_caution: Annotated[float | None, typer.Option(help="Caution threshold, MME/day (knowledge base: 50).")] = None,
    mme_high: Annotated[float | None, typer.Option(help="High threshold, MME/day (knowledge base: 90).")] = None,
    early_refill_share: Annotated[
        float | None, typer.Option(help="Early-refill share 0-1 (knowledge base: 0.75).")
    ] = None,
    mpe: Annotated[
        str | None, typer.Option(help="Multiple-provider PRESCRIBERS,PHARMACIES,DAYS (knowledge base: 5,5,90).")
    ] = None,
    daily_mme: Annotated[
        bool, typer.Option("--daily-mme", help="Also write daily_mme.parquet (runs of days per patient).")
    ] = False,
    export_asap: Annotated[
        Path | None, typer.Option(help="Also write the controlled-substance fills as ASAP 4.2.")
    ] = None,
    output_format: Annotated[str, typer.Option("--output", help="text (default) or json summary on stdout.")] = "text",
) -> None:
    """Population surveillance of dispensing records: flags per patient, a report, rejected rows with reasons."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rxguard.bootstrap import knowledge
    from rxguard.config_controlled import controlled_config_from_env

    _require_extra(engine.value)
    if not input_file.exists():
        raise InputError("INPUT", str(input_file), "no such file")
    if labs is not None and not labs.exists():
        raise InputError("--labs", str(labs), "no such file")
    env = controlled_config_from_env()
    chosen = mme_factors or env.mme_factor_set or "cdc-2022-clinical"
    if chosen not in FACTOR_ALIASES:
        raise ConfigError(
            f"--mme-factors: must be one of cdc-2022-clinical, cdc-2016-clinical, cdc-file (value: {chosen!r})"
        )
    if early_refill_share is not None and not 0 < early_refill_share <= 1:
        raise InputError("--early-refill-share", early_refill_share, "must be above 0 and at most 1")
    as_of_date = None
    if as_of:
        try:
            as_of_date = dt.date.fromisoformat(as_of)
        except ValueError:
            raise InputError("--as-of", as_of, "expected a date as YYYY-MM-DD") from None
    from rxguard.adapters.surveillance.pipeline import Overrides, summary_dict
    from rxguard.adapters.surveillance.pipeline import surveil as run

    mpe_env = None
    if env.mpe_prescribers or env.mpe_pharmacies or env.mpe_days:
        mpe_env = (env.mpe_prescribers or 0, env.mpe_pharmacies or 0, env.mpe_days or 0)
    overrides = Overrides(
        mme_caution=mme_caution if mme_caution is not None else env.mme_caution,
        mme_high=mme_high if mme_high is not None else env.mme_high,
        early_refill_share=early_refill_share if early_refill_share is not None else env.early_refill_share,
        mpe=_mpe(mpe) or (mpe_env if mpe_env and min(mpe_env) > 0 else None),
        schedule=schedule,
        as_of=as_of_date,
    )
    kb = knowledge()
    spark = None
    if engine is Engine.spark:
        from rxguard.adapters.surveillance.pipeline import spark_session

        spark = spark_session(master=spark_master)
        spark.sparkContext.setLogLevel("ERROR")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=stderr, transient=True
    ) as bar:
        task = bar.add_task("starting", total=100)

        def progress(step: str, done: float) -> None:
            bar.update(task, description=step, completed=round(done * 100))

        result = run(
            kb,
            input_file,
            labs=labs,
            engine=engine.value,
            factor_set=FACTOR_ALIASES[chosen],
            overrides=overrides,
            out=out,
            dispensing_format=input_format.value,
            labs_format=labs_format.value,
            spark=spark,
            progress=progress,
            write_daily=daily_mme,
            export_asap=export_asap,
        )
    if spark is not None:
        spark.stop()
    summary = summary_dict(result)
    if output_format == "json":
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
        return
    for item in result.inputs:
        stdout.print(item.line())
        for warning in item.warnings[:5]:
            stderr.print(f"[yellow]input warning:[/yellow] {warning}", markup=True, highlight=False)
    table = Table(title=f"Flags as of {result.as_of.isoformat()} ({result.engine}, {result.settings.factor_set.id})")
    table.add_column("flag")
    table.add_column("patients", justify="right")
    table.add_column("rule")
    for flag, count in summary["flags"].items():
        rule = result.settings.surveillance.get(flag)
        table.add_row(flag, f"{count:,}", rule.id if rule else "")
    stdout.print(table)
    stdout.print(
        f"{summary['patients_flagged']:,} patient(s) flagged; results in {out}/: "
        + ", ".join(p.name for p in result.outputs.values())
    )


def synth(
    patients: Annotated[int, typer.Option(help="Number of patients (about 3.1 dispensing records each).")],
    out: Annotated[Path, typer.Option(help="Folder for dispensing.*, labs.*, planted.csv.")] = Path("synthetic"),
    output_format: Annotated[
        SynthFormat, typer.Option("--format", help="parquet (default), csv or asap.")
    ] = SynthFormat.parquet,
    seed: Annotated[int, typer.Option(help="Random seed (the same seed gives the same data).")] = 7,
    schedule: Annotated[str, typer.Option(help="Thiopurine schedule the monitored patients follow.")] = "label",
) -> None:
    """Synthetic dispensing records with planted positives of every surveillance rule (listed in planted.csv)."""
    from rxguard.bootstrap import knowledge

    _require_extra("duckdb")
    if patients < 1:
        raise InputError("--patients", patients, "must be at least 1")
    from rxguard.adapters.surveillance.knowledge import KnowledgeUnavailableError, thiopurine_schedule
    from rxguard.adapters.surveillance.synth import generate, write

    try:
        phases = thiopurine_schedule(knowledge(), schedule).phases
    except KnowledgeUnavailableError as exc:
        raise ConfigError(str(exc)) from None
    data = generate(patients, phases, seed=seed)
    paths = write(data, out, output_format.value)
    records = len(data.fills["patient_id"])
    stdout.print(
        f"wrote {records:,} dispensing records for {data.n_patients:,} patients, {len(data.labs['patient_id']):,} "
        f"lab results and {len(data.planted):,} planted flags to {out}/: " + ", ".join(p.name for p in paths.values())
    )
