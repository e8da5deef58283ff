"""The `rxguard overdose ...` and `rxguard triage` commands (registered on the main app in cli.py).

Exit codes are the main app's: bad input (a negative weight, an unknown unit) raises InputError (2) naming
the option and the value; an unknown drug for `overdose assess` is NotFoundError (5).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from rxguard.errors import InputError

if TYPE_CHECKING:
    from rxguard.domain.model import SourceRef
    from rxguard.knowledge.base import KnowledgeBase
    from rxguard.therapy.overdose import OverdoseAssessment, ParacetamolAssessment
    from rxguard.therapy.triage import TriageResult

overdose_app = typer.Typer(
    help="Overdose assessment: paracetamol against its treatment nomogram; other catalog drugs against their labels.",
    no_args_is_help=True,
)
stdout = Console(soft_wrap=False)

URGENCY_STYLE = {"emergency": "bold red", "today": "bold yellow", "unknown": "bold magenta", "routine": "cyan"}
DECISION_STYLE = {"treat-now": "bold red", "treat": "bold red", "level-needed-at-4h": "bold yellow"}


class Line(StrEnum):
    us = "us"
    uk = "uk"


class Format(StrEnum):
    text = "text"
    json = "json"


def _hours(value: str | None) -> float | None:
    """'--hours 6.5' -> 6.5; 'unknown' (or no option) -> None: the time of ingestion is not known."""
    if value is None or value.strip().lower() in ("unknown", "?"):
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError("--hours", value, "expected hours since ingestion (a number) or 'unknown'") from None


def _json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _print_sources(sources: tuple[SourceRef, ...]) -> None:
    stdout.print("[bold]Sources[/bold]")
    for s in sources:
        year = f" ({s.year})" if s.year else ""
        stdout.print(f"  - {escape(s.document)}{year}, {escape(s.section)} [dim]\\[{s.confidence}][/dim]")


@overdose_app.command("paracetamol")
def paracetamol(
    weight_kg: Annotated[float, typer.Option("--weight-kg", help="Patient weight in kg.")],
    amount_mg: Annotated[float | None, typer.Option("--amount-mg", help="Amount ingested, mg.")] = None,
    hours: Annotated[
        str | None,
        typer.Option("--hours", help="Hours from ingestion to the blood level (or to now): a number or 'unknown'."),
    ] = None,
    level: Annotated[float | None, typer.Option("--level", help="Serum paracetamol level.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Unit of the level: mg/L, ug/mL or umol/L.")] = None,
    line: Annotated[Line, typer.Option("--line", help="Treatment line: us (150 at 4 h) or uk (100 at 4 h).")] = Line.us,
    staggered: Annotated[bool, typer.Option("--staggered", help="Taken over an hour or more.")] = False,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the nomogram with the patient's point.")] = None,
) -> None:
    """Assess a paracetamol (acetaminophen) ingestion against the treatment nomogram."""
    from rxguard.bootstrap import knowledge
    from rxguard.therapy.overdose import ParacetamolIngestion, assess_paracetamol

    kb = knowledge()
    ingestion = ParacetamolIngestion(
        weight_kg=weight_kg,
        amount_mg=amount_mg,
        hours=_hours(hours),
        staggered=staggered,
        level=level,
        unit=unit,
        line=line.value,
    )
    result = assess_paracetamol(kb, ingestion)
    if plot is not None:
        from rxguard.adapters.nomogram_plot import plot_nomogram

        plot_nomogram(kb, result, plot, other_lines=True)
    if output_format is Format.json:
        _json(result.as_dict())
    else:
        _print_paracetamol(result, kb)
        if plot is not None:
            stdout.print(f"Nomogram drawn to {escape(str(plot))}.")


def _print_paracetamol(result: ParacetamolAssessment, kb: KnowledgeBase) -> None:
    style = DECISION_STYLE.get(result.decision, "bold green")
    stdout.print(f"[bold]Paracetamol overdose[/bold] ({escape(result.line.name)}; knowledge base {kb.version})")
    stdout.print(f"Decision: [{style}]{result.decision}[/{style}]")

    def show(value: float | None, unit: str, digits: int = 1) -> str:
        return "n/a" if value is None else f"{value:.{digits}f} {unit}"

    above = {True: "yes", False: "no", None: "n/a (the nomogram does not apply)"}[result.above_line]
    stdout.print(
        f"Ingested: {show(result.ingested_mg_per_kg, 'mg/kg')}   Treatment line: "
        f"{show(result.treatment_line_mg_per_l, 'mg/L', 2)}   Level: {show(result.level_mg_per_l, 'mg/L')}   "
        f"Above the line: {above}"
    )
    stdout.print(f"[bold]Why[/bold]: {escape(result.reason)}")
    _print_sources(result.sources)


@overdose_app.command("assess")
def assess(
    drug: Annotated[str, typer.Argument(help="The medicine taken: brand, product or ingredient, e.g. 'Imuran 50mg'.")],
    amount_mg: Annotated[float | None, typer.Option("--amount-mg", help="Amount ingested, mg.")] = None,
    tablets: Annotated[float | None, typer.Option("--tablets", help="Number of tablets (or units) taken.")] = None,
    weight_kg: Annotated[float | None, typer.Option("--weight-kg", help="Patient weight in kg.")] = None,
    hours: Annotated[str | None, typer.Option("--hours", help="Hours since ingestion, or 'unknown'.")] = None,
    staggered: Annotated[bool, typer.Option("--staggered", help="Taken over an hour or more.")] = False,
    child: Annotated[bool, typer.Option("--child", help="The person is a child.")] = False,
    jurisdiction: Annotated[str | None, typer.Option(help="US (default) or UK labelled maxima.")] = None,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Compare an ingestion of any catalog drug with its labelled maxima; say what to do, with its overdose facts."""
    from rxguard.bootstrap import knowledge, screening_config
    from rxguard.therapy.overdose import assess_ingestion

    config = screening_config(jurisdiction)
    kb = knowledge()
    result = assess_ingestion(
        kb,
        drug,
        amount_mg=amount_mg,
        tablets=tablets,
        weight_kg=weight_kg,
        hours=_hours(hours),
        staggered=staggered,
        child=child,
        jurisdiction=config.jurisdiction,
    )
    if output_format is Format.json:
        _json(result.as_dict(kb))
    else:
        _print_assessment(result, kb)


def _print_assessment(result: OverdoseAssessment, kb: KnowledgeBase) -> None:
    style = URGENCY_STYLE.get(result.urgency, "bold green")
    product = f" ({escape(result.product)})" if result.product else ""
    stdout.print(f"[bold]Overdose: {escape(result.drug)}[/bold]{product}; knowledge base {kb.version}")
    stdout.print(f"Urgency: [{style}]{result.urgency}[/{style}]")
    for line in result.advice:
        stdout.print(f"  {escape(line)}")
    for ing in result.ingredients:
        amount = "unknown amount" if ing.amount_mg is None else f"{ing.amount_mg:g} mg"
        per_kg = "" if ing.mg_per_kg is None else f" ({ing.mg_per_kg:.1f} mg/kg)"
        if ing.threshold is not None:
            verdict = "above" if ing.above_threshold else "not above"
            versus = f"{verdict} {escape(ing.threshold.text)} [{ing.threshold.rule.id}]"
        else:
            versus = f"not compared: {escape(ing.threshold_note)}"
        stdout.print(f"[bold]{escape(ing.name)}[/bold]: {amount}{per_kg}, {versus}")
        for fact in ing.facts:
            stdout.print(f"  - {escape(fact.text)} [dim]\\[{fact.confidence}][/dim]")
        if ing.paracetamol is not None:
            stdout.print(f"  Nomogram: {escape(ing.paracetamol.reason)}")
    for note in result.notes:
        stdout.print(f"[yellow]note:[/yellow] {escape(note)}")
    _print_sources(result.sources)


def triage(
    drug: Annotated[
        list[str] | None, typer.Option("--drug", help="A medicine the patient takes (repeat for each).")
    ] = None,
    symptom: Annotated[
        list[str] | None, typer.Option("--symptom", help="A symptom in the patient's words (repeat for each).")
    ] = None,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """How urgent are these symptoms on these medicines? Emergency, today, routine, self-care or unknown."""
    from rxguard.bootstrap import knowledge
    from rxguard.therapy.triage import triage as run_triage

    symptoms = [s for s in (symptom or []) if s.strip()]
    if not symptoms:
        raise InputError("--symptom", symptom, "give at least one symptom, e.g. --symptom 'yellow eyes'")
    kb = knowledge()
    result = run_triage(kb, drug or [], symptoms)
    if output_format is Format.json:
        _json(result.as_dict(kb))
    else:
        _print_triage(result, kb)


def _print_triage(result: TriageResult, kb: KnowledgeBase) -> None:
    style = URGENCY_STYLE.get(result.urgency, "bold green")
    meds = ", ".join(m.name for m in result.medicines) or "no medicine named"
    stdout.print(f"[bold]Triage[/bold] for {escape(meds)} (knowledge base {kb.version})")
    stdout.print(f"Urgency: [{style}]{result.urgency}[/{style}]")
    for line in result.advice:
        stdout.print(f"  {escape(line)}")
    if result.matched:
        stdout.print("[bold]Matched signs[/bold]")
        for g in result.matched:
            who = ", ".join(g.medicines) or "any medicine"
            stdout.print(
                f"  - '{escape(g.symptom)}' -> {escape(g.label)} ({escape(who)}): {g.rule.urgency} "
                f"[dim]\\[{g.rule.id}, {g.rule.confidence}][/dim]"
            )
    for s in result.unknown:
        known = "; ".join(result.labels.get(x, x) for x in s.recognised)
        why = f"recognised as {known} but not graded for these medicines" if known else "not recognised"
        stdout.print(f"  - '{escape(s.text)}' -> unknown ({escape(why)})")
    for note in result.notes:
        stdout.print(f"[yellow]note:[/yellow] {escape(note)}")
    _print_sources(result.sources)
