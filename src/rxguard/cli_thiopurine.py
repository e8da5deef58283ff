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
from typing import TYPE_CHECKING, Annotated, Any

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
    from rxguard.therapy.thiopurine.knowledge import DRUGS

    wanted = value.strip().lower()
    aliases = {
        "imuran": "azathioprine",
        "aza": "azathioprine",
        "6-mp": "mercaptopurine",
        "6mp": "mercaptopurine",
        "tioguanine": "thioguanine",
        "6-tg": "thioguanine",
    }
    wanted = aliases.get(wanted, wanted)
    if wanted not in DRUGS:
        raise InputError("--drug", value, f"expected one of {', '.join(DRUGS)}")
    return wanted


def _listed(values: tuple[int, int] | None) -> list[int] | None:
    return list(values) if values is not None else None


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
    from rxguard.therapy.thiopurine.dosing import recommended_dose
    from rxguard.therapy.thiopurine.phenotype import interpret
    from rxguard.therapy.thiopurine.recommendation import recommend

    index = _index()
    name = _drug(drug)
    sizes = _strengths(strengths)
    t = interpret(index, "TPMT", tpmt) if tpmt else None
    n = interpret(index, "NUDT15", nudt15) if nudt15 else None
    advice = recommend(index, name, t.phenotype if t else "No Result", n.phenotype if n else "No Result", malignant)
    dose = recommended_dose(advice, weight_kg, sizes)
    out = {
        "drug": name,
        "phenotype": advice.phenotypes,
        "diplotype": {g: r.diplotype for g, r in (("TPMT", t), ("NUDT15", n)) if r and r.diplotype},
        "indicator": advice.indicator,
        "start_dose_percent": _listed(advice.dose_percent()),
        "recommended_mg_per_kg_day": list(dose.mg_per_kg_day) if dose else None,
        "recommended_daily_dose_mg": list(dose.rounded_mg_per_day) if dose and dose.rounded_mg_per_day else None,
        "consider_alternative": advice.advise_alternative,
        "thrice_weekly": advice.thrice_weekly and malignant,
        "steady_state_weeks": list(advice.steady_state_weeks) if advice.steady_state_weeks else None,
        "tests": list(advice.tests),
        "rule_id": advice.rule_id,
        "guideline_version": advice.guideline_version,
        "advice": advice.summary,
        "notes": [*(t.notes if t else ()), *(n.notes if n else ())],
    }
    if output_format is PlainFormat.json:
        _write(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for key, value in out.items():
        stdout.print(f"[bold]{key}[/bold]: {value}", highlight=False)


def _strengths(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError("--strengths", text, "expected mg values separated by commas, e.g. 25,50") from None
    if not values or any(v <= 0 for v in values):
        raise InputError("--strengths", text, "expected positive mg values, e.g. 25,50")
    return values


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
    from rxguard.checks.pgx import tablet_strengths
    from rxguard.therapy.thiopurine.phenotype import interpret
    from rxguard.therapy.thiopurine.plan import find_indication, make_plan, to_ics

    index = _index()
    name = _drug(drug)
    first = _date(start, "--start")
    assert first is not None  # noqa: S101 - start is a required option
    if weight_kg <= 0 or weight_kg > 400:
        raise InputError("--weight-kg", weight_kg, "expected a body weight in kg (0-400)")
    if months < 1 or months > 60:
        raise InputError("--months", months, "expected 1-60")
    kb = knowledge()
    plan_rule = find_indication(index, name, indication, set(kb.conditions_in_text(indication)))
    if plan_rule is None:
        known = sorted({p.indication for p in index.data.indications if p.drug == name})
        raise InputError("--indication", indication, f"no {name} plan for it; known: {', '.join(known)}")
    sizes = _strengths(strengths) if strengths else tablet_strengths(kb, None, name)
    t = interpret(index, "TPMT", tpmt) if tpmt else None
    n = interpret(index, "NUDT15", nudt15) if nudt15 else None
    plan = make_plan(
        index, name, weight_kg, plan_rule, t, n, first, sizes, schedule.value if schedule else None, months
    )
    if ics is not None:
        try:
            ics.write_text(to_ics(plan), encoding="utf-8", newline="")
        except OSError as exc:
            raise InputError("--ics", str(ics), f"cannot be written: {exc.__class__.__name__}") from None
    if output_format is PlainFormat.json:
        out: dict[str, Any] = {
            "drug": name,
            "weight_kg": weight_kg,
            "indication": plan_rule.indication,
            "schedule": plan.schedule.name,
            "phenotype": plan.advice.phenotypes,
            "start_dose_percent": _listed(plan.advice.dose_percent()),
            "ceiling_mg_per_kg_day": plan.ceiling_mg_per_kg_day,
            "tablet_strengths_mg": list(plan.strengths),
            "steps": [
                {
                    "week": s.week,
                    "date": s.on.isoformat(),
                    "target_mg_per_kg_day": s.target_mg_per_kg_day,
                    "mg_per_day": s.mg_per_day,
                    "tablets": {f"{k:g}": v for k, v in (s.tablets or {}).items()},
                    "text": s.text,
                }
                for s in plan.steps
            ],
            "calendar": [{"date": e.on.isoformat(), "kind": e.kind, "summary": e.summary} for e in plan.events],
            "notes": list(plan.notes),
            "sources": [c.source for c in plan_rule.sources] + [c.source for c in plan.schedule.sources],
        }
        _write(json.dumps(out, indent=2, ensure_ascii=False))
        return
    stdout.print(
        f"[bold]{name}[/bold] for {plan_rule.indication}, {weight_kg:g} kg, starting {first.isoformat()}",
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
    from rxguard.therapy.thiopurine.labs import MONITORED, evaluate, lab_series

    kb = knowledge()
    index = _index()
    record = read_patient_record(kb, _read_json(file))
    now = _date(as_of, "--as-of") or record.latest_date() or date.today()
    series = lab_series(kb, record.observations, now)
    report = evaluate(index, series, now)
    if plot is not None:
        from rxguard.adapters.thiopurine_plot import draw_labs

        try:
            draw_labs(index, report, record, plot, now)
        except ImportError:
            raise InputError("--plot", str(plot), "needs matplotlib: pip install 'rxguard[plot]'") from None
        except OSError as exc:
            raise InputError("--plot", str(plot), f"cannot be written: {exc.__class__.__name__}") from None
    metabolites = record.metabolites(index)
    out = {
        "as_of": now.isoformat(),
        "verdict": report.verdict,
        "latest": {
            m: {"value": p[-1].value, "unit": p[-1].unit, "date": p[-1].on.isoformat() if p[-1].on else None}
            for m, p in sorted(report.series.items())
        },
        "findings": [
            {
                "rule_id": f.rule.id,
                "measure": f.measure,
                "indicator": f.indicator,
                "action": f.action,
                "text": f.text,
                "management": f.management,
                "values": [p.value for p in f.points],
            }
            for f in report.findings
        ],
        "not_judged": [{"measure": r.measure, "value": p.value, "why": r.text} for r, p in report.unjudged],
        "stale": list(report.stale),
        "metabolites": metabolites,
        "doses": [{"date": d.isoformat(), "mg_per_day": mg, "text": t} for d, mg, t in record.dose_timeline()],
    }
    if output_format is PlainFormat.json:
        _write(json.dumps(out, indent=2, ensure_ascii=False))
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
    from rxguard.therapy.thiopurine.metabolites import ACCEPTED_UNITS, interpret_metabolites

    if unit not in ACCEPTED_UNITS:
        raise InputError(
            "--unit", unit, "the cut-offs are for pmol/8x10^8 RBC; other assay units are not interchangeable"
        )
    if tgn < 0 or mmp < 0:
        raise InputError("--tgn/--mmp", f"{tgn}/{mmp}", "levels cannot be negative")
    result = interpret_metabolites(_index(), tgn, mmp)
    out = {
        "tgn": tgn,
        "mmp": mmp,
        "ratio": result.ratio,
        "tgn_band": result.tgn_band,
        "mmp_band": result.mmp_band,
        "interpretation": result.interpretation,
        "action": result.action,
        "rule_id": result.row.id if result.row else None,
        "caveat": result.cutoffs.caveat,
    }
    if output_format is PlainFormat.json:
        _write(json.dumps(out, indent=2, ensure_ascii=False))
        return
    stdout.print(
        f"TGN {tgn:g} ({result.tgn_band}), MMP {mmp:g} ({result.mmp_band}), MMP:TGN {result.ratio}", highlight=False
    )
    stdout.print(f"[bold]{result.interpretation}[/bold]. {result.action}", highlight=False)
    stdout.print(result.cutoffs.caveat, highlight=False)
