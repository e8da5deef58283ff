"""Readable terminal output (rich): screening results and knowledge-base descriptions."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from rxguard.checks.common import REASON_CODES
from rxguard.domain.model import Alert, Indicator
from rxguard.screen import ScreeningResult

STYLE = {
    Indicator.CRITICAL: "bold white on red",
    Indicator.WARNING: "bold black on yellow",
    Indicator.INFO: "bold white on blue",
}
BORDER = {Indicator.CRITICAL: "red", Indicator.WARNING: "yellow", Indicator.INFO: "blue"}


def _alert_panel(alert: Alert) -> Panel:
    reason = REASON_CODES.get(alert.code)
    head = Text.assemble(
        (f" {alert.indicator.label.upper()} ", STYLE[alert.indicator]),
        " ",
        (f"{alert.code}", "bold"),
        f" {reason.display if reason else ''}",
    )
    body: list[Any] = [
        Text(alert.summary, style="bold"),
        Markdown(alert.detail),
        Text.assemble(("What to do: ", "bold"), alert.action),
    ]
    if alert.sources:
        sources = Text("Sources:\n", style="bold")
        for src in alert.sources:
            year = f" ({src.year})" if src.year else ""
            sources.append(f"  • {src.document}{year}, {src.section} [{src.confidence}]\n", style="dim")
        body.append(sources)
    body.append(Text(f"rule {alert.rule_id} v{alert.rule_version}", style="dim"))
    return Panel(Group(*body), title=head, title_align="left", border_style=BORDER[alert.indicator])


def print_result(console: Console, result: ScreeningResult, label: str = "") -> None:
    ctx = result.context
    orders = ", ".join(f"{o.name} [{o.id}]" for o in ctx.orders)
    console.rule(f"[bold]rxguard[/bold] {label}".strip())
    console.print(f"Order: {orders}")
    console.print(
        f"Screened as of {result.request.now.isoformat()} · jurisdiction {ctx.config.jurisdiction} · "
        f"knowledge base {result.kb_version} · {len(ctx.comeds)} other current medicine(s)",
        style="dim",
    )
    for med, _order in ctx.renewals:
        console.print(f"{med.name} is renewed by this order (not counted twice).", style="dim")
    for warning in result.warnings:
        console.print(f"[yellow]input warning:[/yellow] {warning}")
    if not result.alerts:
        console.print(Panel("Screened against the profile: no problems found.", border_style="green"))
        return
    counts = {i: sum(1 for a in result.alerts if a.indicator is i) for i in Indicator}
    console.print(
        f"{len(result.alerts)} alert(s): {counts[Indicator.CRITICAL]} critical, "
        f"{counts[Indicator.WARNING]} warning, {counts[Indicator.INFO]} info"
    )
    for alert in result.alerts:
        console.print(_alert_panel(alert))


def print_description(console: Console, info: dict[str, Any]) -> None:
    console.rule(f"[bold]{info['query']}[/bold] · knowledge base {info['kb_version']}")
    for ing in info["ingredients"]:
        code = f"RxNorm {ing['rxnorm']}" if ing["rxnorm"] else (ing["rxnorm_note"] or "no RxNorm code")
        console.print(f"[bold]{ing['name']}[/bold] ({ing['us_name'] or ing['id']}) · {code}")
        console.print(
            f"classes: {', '.join(ing['classes']) or '-'}; also known as: {', '.join(ing['synonyms']) or '-'}"
        )
        if ing["products"]:
            table = Table("product", "strength", "form", "Rx", "DEA", "price", title="Products", title_justify="left")
            for p in ing["products"]:
                strength = " / ".join(str(i["strength"]) for i in p["ingredients"] if i["strength"])
                price = p["unit_price"]
                shown = (
                    (
                        f"{price['amount']:.2f} {price['currency']}/{price['per']}"
                        f"{' (demo)' if price['status'] == 'demo' else ''}"
                    )
                    if price
                    else "-"
                )
                table.add_row(
                    p["name"],
                    strength,
                    f"{p['dose_form']} {p['release']}",
                    "yes" if p["rx_only"] else "no",
                    p["dea_schedule"] or "-",
                    shown,
                )
            console.print(table)
        for title, key, fmt in (
            ("Dose limits", "dose_limits", _fmt_dose),
            (
                "Interactions",
                "interactions",
                lambda r: f"{r['severity']}: with {r['with']}. {r['management']}",
            ),
            (
                "Duplication classes",
                "duplication_classes",
                lambda r: f"{r['name']} ({r['severity']}): {r['hazard']}",
            ),
            (
                "Drug-disease",
                "drug_disease",
                lambda r: f"{r['condition']} ({r['level']}, {'/'.join(r['jurisdictions'])}): {r['text']}",
            ),
            ("Pregnancy and breastfeeding", "pregnancy_breastfeeding", _fmt_preg),
            ("Age", "age", lambda r: f"{r['criterion']} ({r['level']}): {r['text']}"),
            ("Allergy groups", "allergy_groups", lambda r: f"{r['name']}: {r['text']}"),
        ):
            rows = ing[key]
            if not rows:
                continue
            console.print(f"\n[bold]{title}[/bold] ({len(rows)})")
            for row in rows:
                console.print(f"  • {fmt(row)} [dim]\\[{row['id']}, {row.get('confidence', '')}][/dim]")
                for src in row["sources"]:
                    year = f" ({src['year']})" if src["year"] else ""
                    console.print(f"      [dim]{src['document']}{year}, {src['section']} — {src['confidence']}[/dim]")
        console.print()


def _fmt_dose(r: dict[str, Any]) -> str:
    parts = []
    if r["max_single_dose_mg"]:
        parts.append(f"max {r['max_single_dose_mg']:g} mg/dose")
    if r["max_daily_dose_mg"]:
        parts.append(f"max {r['max_daily_dose_mg']:g} mg/day")
    if r["max_daily_mg_per_kg"]:
        parts.append(f"max {r['max_daily_mg_per_kg']:g} mg/kg/day")
    if r["max_weekly_dose_mg"]:
        parts.append(f"max {r['max_weekly_dose_mg']:g} mg/week")
    if r["weekly_dosing_only"]:
        parts.append("once weekly only")
    if r["no_fixed_maximum"]:
        parts.append(f"no fixed maximum: {r['no_fixed_maximum']}")
    if r["not_sourced"]:
        parts.append(f"not sourced: {r['not_sourced']}")
    return f"{'/'.join(r['jurisdictions'])} {','.join(r['routes'])} — {r['population']}: {'; '.join(parts)}"


def _fmt_preg(r: dict[str, Any]) -> str:
    window = ""
    if r["applies_to"] == "pregnancy" and (r["from_week"] is not None or r["to_week"] is not None):
        window = f" weeks {r['from_week'] if r['from_week'] is not None else 0:g}-" + (
            f"{r['to_week']:g}" if r["to_week"] is not None else "term"
        )
    return f"{r['applies_to']}{window} ({r['level']}): {r['text']}"
