"""The `rxguard` command. Exit codes are in errors.py and are a stable contract."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rxguard.adapters.surveillance.cli import surveil as surveil_command
from rxguard.adapters.surveillance.cli import synth as synth_command
from rxguard.cli_thiopurine import pgx_app, thiopurine_app
from rxguard.errors import ExitCode, InputError, RxguardError
from rxguard.pharmacy_cli import pharmacy_app
from rxguard.therapy_cli import overdose_app, triage

app = typer.Typer(
    name="rxguard",
    help="Medication-safety screening for pharmacies: screen orders, inspect the knowledge base.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kb_app = typer.Typer(help="Validate and inspect the drug knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(pgx_app, name="pgx")
app.add_typer(thiopurine_app, name="thiopurine")
app.add_typer(overdose_app, name="overdose")
app.add_typer(pharmacy_app, name="pharmacy")
app.command("triage")(triage)
app.command("surveil")(surveil_command)
app.command("synth")(synth_command)

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    cds_hooks = "cds-hooks"


class ShowFormat(StrEnum):
    text = "text"
    json = "json"


def _read_json(path: str) -> Any:
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("FILE", path, "no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InputError("FILE", path, f"cannot be read: {exc.__class__.__name__}") from None
    try:
        value, end = json.JSONDecoder().raw_decode(raw.lstrip())
    except json.JSONDecodeError as exc:
        raise InputError("FILE", path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    trailing = raw.lstrip()[end:].strip()
    if trailing:
        stderr.print(f"[yellow]input warning:[/yellow] {path}: ignored {len(trailing)} character(s) after the JSON")
    return value


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(option, value, "expected a date as YYYY-MM-DD") from None


@app.command()
def screen(
    file: Annotated[str, typer.Argument(help="A CDS Hooks request or FHIR R4 Bundle (JSON); '-' reads stdin.")],
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.text,
    order: Annotated[str | None, typer.Option(help="Screen this MedicationRequest id (Bundle input).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Screen as of this date (YYYY-MM-DD).")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="US (default) or UK dose limits and rules.")] = None,
    fhir_validation: Annotated[
        str | None,
        typer.Option(help="'orders' (default): validate the orders strictly; 'all': every resource."),
    ] = None,
) -> None:
    """Screen the order(s) in FILE against the patient's profile and print the alerts."""
    from rxguard.adapters.cds_hooks.cards import card_subject, to_response
    from rxguard.adapters.cds_hooks.suggestions import draft_orders
    from rxguard.adapters.fhir.request import parse_request
    from rxguard.adapters.terminal import print_result
    from rxguard.bootstrap import screener, screening_config

    config = screening_config(jurisdiction, fhir_validation)
    data = _read_json(file)
    request = parse_request(
        data, order_id=order, as_of=_parse_date(as_of, "--as-of"), validation=config.fhir_validation
    )
    result = screener(config).screen(request)
    if output_format is OutputFormat.cds_hooks:
        for warning in result.warnings:
            stderr.print(f"[yellow]input warning:[/yellow] {warning}")
        sys.stdout.write(
            json.dumps(to_response(result, draft_orders(data), card_subject(data)), indent=2, ensure_ascii=False) + "\n"
        )
    elif output_format is OutputFormat.json:
        response = to_response(result, draft_orders(data), card_subject(data))
        out = {
            "kb_version": result.kb_version,
            "as_of": request.now.isoformat(),
            "jurisdiction": config.jurisdiction,
            "orders": [o.id for o in request.orders],
            "warnings": list(result.warnings),
            "cards": response["cards"],
        }
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        print_result(stdout, result, Path(file).name if file != "-" else "stdin")


@app.command()
def demo(
    directory: Annotated[Path, typer.Option(help="Folder of demo requests.")] = Path("examples"),
) -> None:
    """Screen every demo request shipped in examples/ and print the results."""
    from rxguard.adapters.fhir.request import parse_request
    from rxguard.adapters.terminal import print_result
    from rxguard.bootstrap import screener

    files = sorted(directory.glob("*.json"))
    if not files:
        raise InputError("--directory", str(directory), "no *.json demo requests found")
    engine = screener()
    for path in files:
        request = parse_request(_read_json(str(path)))
        print_result(stdout, engine.screen(request), path.name)
    stdout.print(f"\nScreened {len(files)} demo request(s) from {directory}/ with knowledge base {engine.kb.version}.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1, or RXGUARD_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000, or RXGUARD_PORT).")] = None,
    demo_dir: Annotated[
        Path | None,
        typer.Option("--demo", help="Screen the demo requests in this folder first, and serve them on /demo."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes (default 1, or RXGUARD_WORKERS); more than one needs RXGUARD_FEEDBACK_DB, "
            "the SQLite file they share for used JWT ids and alert memory.",
        ),
    ] = None,
) -> None:
    """Serve the CDS Hooks services and the REST API (FastAPI under uvicorn) until interrupted."""
    from rxguard.adapters.http.serve import run

    run(host=host, port=port, demo_dir=demo_dir, out=stdout, workers=workers)


@kb_app.command("check")
def kb_check() -> None:
    """Validate every knowledge file against the schema and cross-check references."""
    from rxguard.bootstrap import knowledge

    kb = knowledge()
    rules = sum(1 for _ in kb.all_rules())
    stdout.print(
        f"[green]knowledge base {kb.version} is valid[/green]: {len(kb.ingredients)} ingredients, "
        f"{len(kb.products)} products, {len(kb.sources)} source documents, {rules} rules "
        f"({len(kb.dose_limits)} dose limits, {len(kb.interactions)} interactions, "
        f"{len(kb.duplication_classes)} duplication classes, {len(kb.drug_disease)} drug-disease, "
        f"{len(kb.pregnancy)} pregnancy/breastfeeding, {len(kb.age_rules)} age, "
        f"{len(kb.allergy_groups)} allergy groups)."
    )
    by_confidence: dict[str, int] = {}
    for rule in kb.all_rules():
        by_confidence[rule.confidence] = by_confidence.get(rule.confidence, 0) + 1
    stdout.print("Rules by confidence: " + ", ".join(f"{k} {v}" for k, v in sorted(by_confidence.items())))


@kb_app.command("show")
def kb_show(
    drug: Annotated[str, typer.Argument(help="An ingredient, brand, product or class, e.g. 'Imuran' or 'diclofenac'.")],
    output_format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.text,
) -> None:
    """Print what rxguard knows about DRUG, with sources."""
    from rxguard.adapters.terminal import print_description
    from rxguard.bootstrap import knowledge
    from rxguard.knowledge.describe import describe

    info = describe(knowledge(), drug)
    if output_format is ShowFormat.json:
        sys.stdout.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    else:
        print_description(stdout, info)


def main() -> None:
    """Console-script entry point: user errors print one clear line and exit with their code."""
    from rxguard.knowledge.load import KnowledgeError

    try:
        app(standalone_mode=False)
    except RxguardError as exc:
        stderr.print(f"[red]error:[/red] {exc}", highlight=False)
        raise SystemExit(int(exc.exit_code)) from None
    except KnowledgeError as exc:
        stderr.print(f"[red]knowledge base invalid[/red] ({len(exc.problems)} problem(s)):", highlight=False)
        for problem in exc.problems:
            stderr.print(f"  - {problem}", highlight=False, markup=False)
        raise SystemExit(int(ExitCode.KNOWLEDGE)) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        raise SystemExit(int(ExitCode.INTERNAL)) from None
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is not None and hasattr(exc, "show"):
            exc.show()
            raise SystemExit(code) from None
        if os.environ.get("RXGUARD_DEBUG"):
            raise
        stderr.print(
            f"[red]internal error[/red] ({exc.__class__.__name__}): {exc}. "
            "Set RXGUARD_DEBUG=1 for the traceback and report it.",
            highlight=False,
        )
        raise SystemExit(int(ExitCode.INTERNAL)) from None


if __name__ == "__main__":  # pragma: no cover
    main()
