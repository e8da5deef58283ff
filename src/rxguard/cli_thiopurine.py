"""`rxguard pgx` and `rxguard thiopurine`: genotype calling, CPIC lookups, dose plans, labs and metabolites.

Heavy imports stay inside the commands so `rxguard --help` starts fast. Bad input raises InputError (exit 2).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from rxguard.errors import InputError

if TYPE_CHECKING:
    from rxguard.therapy.thiopurine.knowledge import Drug, PgxIndex

pgx_app = typer.Typer(
    help="Pharmacogenomics: call TPMT and NUDT15 from a VCF, look up CPIC advice.", no_args_is_help=True
)
thiopurine_app = typer.Typer(
    help="Thiopurines: dose and monitoring plans, lab results, metabolites.", no_args_is_help=True
)
stdout = Console(soft_wrap=False)
stderr = Console(stderr=True, soft_wrap=True)


class CallFormat(StrEnum):
    json = "json"
    tsv = "tsv"
    text = "text"


class PlainFormat(StrEnum):
    text = "text"
    json = "json"


class GeneChoice(StrEnum):
    TPMT = "TPMT"
    NUDT15 = "NUDT15"


class BuildChoice(StrEnum):
    GRCh38 = "GRCh38"
    GRCh37 = "GRCh37"


class ScheduleChoice(StrEnum):
    rheumatology = "rheumatology"
    gastroenterology = "gastroenterology"
    label = "label"


def _index() -> PgxIndex:
    from rxguard.bootstrap import knowledge
    from rxguard.therapy.thiopurine.knowledge import pgx_index

    return pgx_index(knowledge())


def _drug(value: str) -> Drug:
    from rxguard.therapy.thiopurine.knowledge import drug_named

    return drug_named(value)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(option, value, "expected a date as YYYY-MM-DD") from None


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# --- pgx ------------------------------------------------------------------------------------------


@pgx_app.command("call")
def pgx_call(
    file: Annotated[Path, typer.Argument(help="A VCF (.vcf or .vcf.gz), one or many samples.")],
    sample: Annotated[list[str] | None, typer.Option("--sample", "-s", help="Only this sample (repeatable).")] = None,
    gene: Annotated[list[GeneChoice] | None, typer.Option(help="Only this gene (repeatable; default both).")] = None,
    build: Annotated[
        BuildChoice | None, typer.Option(help="Genome build (default: from the header or the REF bases).")
    ] = None,
    output_format: Annotated[
        CallFormat, typer.Option("--format", "-f", help="json (a list of records), tsv or text.")
    ] = CallFormat.json,
) -> None:
    """Call TPMT and NUDT15 diplotypes and phenotypes for every sample of FILE."""
    from rxguard.therapy.thiopurine.knowledge import GENES
    from rxguard.therapy.thiopurine.vcf import VcfError, call_vcf, iter_rows

    genes = [g.value for g in gene] if gene else list(GENES)
    try:
        calls, chosen, notes = call_vcf(_index(), file, genes, sample or None, build.value if build else None)  # type: ignore[arg-type]
    except VcfError as exc:
        raise InputError("FILE", str(file), str(exc).removeprefix(f"{file}: ")) from None
    for note in notes:
        stderr.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    rows = list(iter_rows(calls, chosen))
    if output_format is CallFormat.json:
        _write(json.dumps(rows, indent=2, ensure_ascii=False))
    elif output_format is CallFormat.tsv:
        buffer = io.StringIO()
        columns = [
            "sample",
            "gene",
            "diplotype",
            "phenotype",
            "possible_diplotypes",
            "missing_positions",
            "unexpected_alleles",
        ]
        writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [
                    ";".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)
                    for v in (row[c] for c in columns)
                ]
            )
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(title=f"{file.name} ({chosen})")
        for column in ("sample", "gene", "diplotype", "phenotype", "notes"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row["sample"]),
                str(row["gene"]),
                str(row["diplotype"] or "-"),
                str(row["phenotype"]),
                "; ".join(str(n) for n in row["notes"]),  # type: ignore[attr-defined]
            )
        stdout.print(table)


@pgx_app.command("recommend")
def pgx_recommend(
    drug: Annotated[str, typer.Option(help="azathioprine, mercaptopurine or thioguanine.")],
    tpmt: Annotated[str | None, typer.Option(help="TPMT diplotype (*1/*3A), rsID genotypes or phenotype.")] = None,
    nudt15: Annotated[str | None, typer.Option(help="NUDT15 diplotype (*1/*3), rsID genotypes or phenotype.")] = None,
    malignant: Annotated[bool, typer.Option(help="The indication is a malignancy.")] = False,
    weight_kg: Annotated[float | None, typer.Option("--weight-kg", help="Weight, for mg/day.")] = None,
    strengths: Annotated[str, typer.Option(help="Tablet strengths in mg, comma-separated.")] = "25,50",
    output_format: Annotated[PlainFormat, typer.Option("--format", "-f")] = PlainFormat.text,
) -> None:
    """CPIC's recommendation for a thiopurine and a TPMT/NUDT15 result (genotype or phenotype)."""
    from rxguard.therapy.thiopurine.dosing import advise_patient

    out = advise_patient(_index(), _drug(drug), tpmt, nudt15, malignant, weight_kg, _strengths(strengths)).as_dict()
    if output_format is PlainFormat.json:
        _write(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for key, value in out.items():
        stdout.print(f"[bold]{key}[/bold]: {value}", highlight=False)


def _strengths(text: str) -> list[float]:
    from rxguard.therapy.thiopurine.dosing import checked_strengths

    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError("--strengths", text, "expected mg values separated by commas, e.g. 25,50") from None
    return checked_strengths(values, text)


# --- thiopurine -----------------------------------------------------------------------------------


@thiopurine_app.command("plan")
def thiopurine_plan(
    drug: Annotated[str, typer.Option(help="azathioprine (or mercaptopurine).")],
    weight_kg: Annotated[float, typer.Option("--weight-kg", help="Body weight in kg.")],
    indication: Annotated[
        str,
        typer.Option(
            help="rheumatoid-arthritis, crohns-disease, ulcerative-colitis, autoimmune-hepatitis, kidney-transplant, "
            "acute-lymphoblastic-leukemia, or free text."
        ),
    ],
    start: Annotated[str, typer.Option(help="First day of treatment (YYYY-MM-DD).")],
    tpmt: Annotated[str | None, typer.Option(help="TPMT diplotype or phenotype.")] = None,
    nudt15: Annotated[str | None, typer.Option(help="NUDT15 diplotype or phenotype.")] = None,
    schedule: Annotated[
        ScheduleChoice | None, typer.Option(help="Monitoring schedule (default: by indication).")
    ] = None,
    months: Annotated[int, typer.Option(help="Calendar length in months.")] = 12,
    strengths: Annotated[str | None, typer.Option(help="Tablet strengths in mg (default: the catalog's).")] = None,
    ics: Annotated[Path | None, typer.Option("--ics", help="Also write the calendar as an iCalendar file.")] = None,
    output_format: Annotated[PlainFormat, typer.Option("--format", "-f")] = PlainFormat.text,
) -> None:
    """Titration in whole tablets and the blood-test calendar for one patient."""
    from rxguard.bootstrap import knowledge
    from rxguard.therapy.thiopurine.plan import plan_for, to_ics

    index = _index()
    name = _drug(drug)
    first = _date(start, "--start")
    assert first is not None  # noqa: S101 - start is a required option
    plan = plan_for(
        index,
        knowledge(),
        name,
        weight_kg,
        indication,
        first,
        tpmt,
        nudt15,
        schedule.value if schedule else None,
        months,
        _strengths(strengths) if strengths else None,
    )
    if ics is not None:
        try:
            ics.write_text(to_ics(plan), encoding="utf-8", newline="")
        except OSError as exc:
            raise InputError("--ics", str(ics), f"cannot be written: {exc.__class__.__name__}") from None
    if output_format is PlainFormat.json:
        _write(json.dumps(plan.as_dict(), indent=2, ensure_ascii=False))
        return
    stdout.print(
        f"[bold]{name}[/bold] for {plan.indication.indication}, {weight_kg:g} kg, starting {first.isoformat()}",
        highlight=False,
    )
    stdout.print(f"TPMT {plan.advice.tpmt}; NUDT15 {plan.advice.nudt15}", highlight=False)
    for note in plan.notes:
        stdout.print(f"- {note}", highlight=False)
    if plan.steps:
        steps = Table(title="Titration (whole tablets)")
        for column in ("week", "date", "target mg/kg/day", "dose"):
            steps.add_column(column)
        for s in plan.steps:
            steps.add_row(str(s.week), s.on.isoformat(), f"{s.target_mg_per_kg_day:g}", s.text)
        stdout.print(steps)
    if plan.events:
        cal = Table(title=f"Calendar: {plan.schedule.title}")
        for column in ("date", "what"):
            cal.add_column(column)
        for e in plan.events:
            cal.add_row(e.on.isoformat(), e.summary)
        stdout.print(cal)
        stdout.print(plan.schedule.text, highlight=False)
    if ics is not None:
        stdout.print(f"Calendar written to {ics} ({len(plan.events)} events).", highlight=False)


@thiopurine_app.command("labs")
def thiopurine_labs(
    file: Annotated[
        str, typer.Argument(help="A FHIR Bundle (or CDS Hooks request) with Observations and MedicationRequests.")
    ],
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw the trends and the dose timeline to this PNG.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge as of this date (default: the latest result).")
    ] = None,
    output_format: Annotated[PlainFormat, typer.Option("--format", "-f")] = PlainFormat.text,
) -> None:
    """Judge a patient's thiopurine blood results (and metabolites) and optionally draw them."""
    from rxguard.adapters.fhir.patient_record import read_patient_record
    from rxguard.bootstrap import knowledge
    from rxguard.checks.labs import unit_label
    from rxguard.cli import _read_json
    from rxguard.therapy.thiopurine.labs import MONITORED, interpret_labs

    kb = knowledge()
    index = _index()
    record = read_patient_record(kb, _read_json(file))
    labs = interpret_labs(kb, index, record, _date(as_of, "--as-of"), date.today())
    now, report, metabolites = labs.as_of, labs.report, labs.metabolites
    if plot is not None:
        from rxguard.adapters.thiopurine_plot import draw_labs

        try:
            draw_labs(index, report, record, plot, now)
        except ImportError:
            raise InputError("--plot", str(plot), "needs matplotlib: pip install 'rxguard[plot]'") from None
        except OSError as exc:
            raise InputError("--plot", str(plot), f"cannot be written: {exc.__class__.__name__}") from None
    if output_format is PlainFormat.json:
        _write(json.dumps(labs.as_dict(), indent=2, ensure_ascii=False))
        return
    stdout.print(f"As of {now.isoformat()}: [bold]{report.verdict}[/bold]", highlight=False)
    table = Table(title="Latest results")
    for column in ("measure", "value", "date", "judgement"):
        table.add_column(column)
    judged = {f.measure: f for f in report.findings}
    unjudged = {r.measure for r, _ in report.unjudged}
    for measure, points in sorted(report.series.items()):
        p = points[-1]
        if measure in judged:
            verdict = judged[measure].text
        elif measure in unjudged:
            verdict = "shown, not judged (no sourced threshold)"
        elif measure in MONITORED:
            verdict = "stale" if measure in report.stale else "within limits"
        else:
            verdict = "-"
        table.add_row(measure, f"{p.value:g} {unit_label(p.unit)}", p.on.isoformat() if p.on else "-", verdict)
    stdout.print(table)
    for f in report.findings:
        stdout.print(f"[bold]{f.indicator}[/bold] {f.text}: {f.management}", highlight=False)
    for m in metabolites:
        stdout.print(
            f"Metabolites {m['date']}: TGN {m['tgn']:g}, MMP {m['mmp']:g}: {m['interpretation']}. {m['action']}",
            highlight=False,
        )
    if plot is not None:
        stdout.print(f"Plot written to {plot}.", highlight=False)


@thiopurine_app.command("metabolites")
def thiopurine_metabolites(
    tgn: Annotated[float, typer.Option(help="6-TGN, pmol/8x10^8 RBC (0 = undetectable).")],
    mmp: Annotated[float, typer.Option(help="6-MMP, pmol/8x10^8 RBC (0 = undetectable).")],
    unit: Annotated[str, typer.Option(help="Only pmol/8x10^8 RBC is interpreted.")] = "pmol/8x10^8 RBC",
    output_format: Annotated[PlainFormat, typer.Option("--format", "-f")] = PlainFormat.text,
) -> None:
    """Interpret thiopurine metabolite levels (BSG 2019 table)."""
    from rxguard.therapy.thiopurine.metabolites import read_metabolites

    result = read_metabolites(_index(), tgn, mmp, unit)
    if output_format is PlainFormat.json:
        _write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    stdout.print(
        f"TGN {tgn:g} ({result.tgn_band}), MMP {mmp:g} ({result.mmp_band}), MMP:TGN {result.ratio}", highlight=False
    )
    stdout.print(f"[bold]{result.interpretation}[/bold]. {result.action}", highlight=False)
    stdout.print(result.cutoffs.caveat, highlight=False)
