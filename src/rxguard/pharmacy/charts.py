"""Charts for the patient page, pure: series from the record, and server-rendered SVG (no scripts, no build step).

- Lab trends for thiopurine patients: each measure's values over time, with the thiopurine action thresholds
  (`pgx/monitoring.yaml`) drawn as shaded bands on the side that triggers action.
- Daily MME over time for opioid patients: each dispensed supply spread over its days (the CDC data file's way,
  `rxguard.checks.mme.fill_mme`), summed per day, with the caution and high thresholds in force drawn as bands.

Every chart has a <title> and <desc>, and the page shows the same numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from rxguard.knowledge import schema as s
from rxguard.knowledge.base import KnowledgeBase

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36
COLOURS = {2: "#f8d7da", 1: "#fff3cd", 0: "#dbe9f8"}
LINE = "#1f4e9a"


@dataclass(frozen=True, slots=True)
class Band:
    """A threshold drawn as a band: values `op` `value` call for action."""

    op: str  # "<" or ">"
    value: float
    label: str
    indicator: int


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    title: str
    unit: str
    points: tuple[tuple[date, float], ...]
    bands: tuple[Band, ...] = ()
    source_note: str | None = None


def lab_series(kb: KnowledgeBase, labs: Iterable[tuple[str, float, str, date]]) -> list[Series]:
    """Lab values (loinc, value, unit, date) grouped by measure, with the thiopurine thresholds of each measure."""
    from rxguard.therapy.thiopurine.knowledge import pgx_index

    thresholds = [t for t in pgx_index(kb).data.lab_thresholds if t.status == "active"]
    grouped: dict[str, list[tuple[date, float]]] = {}
    units: dict[str, str] = {}
    for loinc, value, unit, taken in labs:
        measure_id = kb.loinc_measures.get(loinc)
        if measure_id is None:
            continue
        measure = kb.measures[measure_id]
        factor = 1.0 if unit == measure.unit else measure.accepted_units.get(unit)
        if factor is None:
            continue
        grouped.setdefault(measure_id, []).append((taken, value * factor))
        units[measure_id] = measure.unit
    out = []
    for measure_id, points in grouped.items():
        bands = tuple(
            Band(t.op, t.value, t.text, {"critical": 2, "warning": 1, "info": 0}.get(t.indicator, 0))
            for t in thresholds
            if t.measure == measure_id and t.unit == units[measure_id]
        )
        out.append(
            Series(
                measure_id,
                kb.measures[measure_id].name,
                units[measure_id],
                tuple(sorted(points)),
                bands,
                "Thresholds: BSR/BHPR 2017 via SPS (secondary)" if bands else None,
            )
        )
    order = ["wbc", "neutrophils", "platelets", "alt", "ast", "mcv", "egfr"]
    return sorted(out, key=lambda x: (order.index(x.key) if x.key in order else 99, x.key))


@dataclass(frozen=True, slots=True)
class Fill:
    """One dispensed supply of an opioid product."""

    start: date
    days_supply: float
    units: float
    product: s.Product


def mme_series(kb: KnowledgeBase, fills: Sequence[Fill], until: date) -> Series | None:
    """Daily MME from the dispensed supplies (sum of every supply covering the day), with the thresholds in force."""
    from rxguard.checks.controlled import knowledge as controlled_knowledge
    from rxguard.checks.mme import fill_mme, is_opioid

    ck = controlled_knowledge(kb)
    factor_set = ck.factor_set(None)
    per_day: dict[date, float] = {}
    for fill in fills:
        strengths: dict[str, tuple[float, str]] = {
            pi.ingredient: (pi.strength.value, str(pi.strength.unit))
            for pi in fill.product.ingredients
            if pi.strength is not None and is_opioid(kb, pi.ingredient)
        }
        if not strengths or fill.days_supply <= 0:
            continue
        form = "transdermal" if fill.product.route == "transdermal" else "oral"
        values = fill_mme(kb, strengths, fill.units, fill.days_supply, factor_set, form)
        daily = sum(v for v in values.values() if v is not None)
        for offset in range(round(fill.days_supply)):
            day = fill.start + timedelta(days=offset)
            if day > until:
                break
            per_day[day] = per_day.get(day, 0.0) + daily
    if not per_day:
        return None
    first, last = min(per_day), max(*per_day, until)
    points = []
    day = first
    while day <= last:
        points.append((day, round(per_day.get(day, 0.0), 1)))
        day += timedelta(days=1)
    thresholds = ck.thresholds
    bands = (
        Band(">", thresholds.high_mme, f"{thresholds.high_mme:g} MME/day or more", 1),
        Band(">", thresholds.caution_mme, f"{thresholds.caution_mme:g} MME/day or more", 0),
    )
    note = f"Factors: {factor_set.id}; thresholds {thresholds.caution_mme:g} and {thresholds.high_mme:g} MME/day"
    return Series("mme", "Daily morphine milligram equivalents (MME)", "MME/day", tuple(points), bands, note)


def render_svg(series: Series, step: bool = False) -> str:
    """A line (or step) chart with shaded threshold bands, axis labels and an accessible title and description."""
    points = series.points
    if not points:
        return ""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for _, v in points] + [b.value for b in series.bands]
    lo, hi = min(0.0, *values), max(values) * 1.15 or 1.0
    d0, d1 = points[0][0], points[-1][0]
    days = max((d1 - d0).days, 1)

    def x(day: date) -> float:
        return LEFT + (day - d0).days / days * plot_w

    def y(value: float) -> float:
        return TOP + plot_h - (value - lo) / (hi - lo) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="t-{series.key} d-{series.key}" class="chart">',
        f'<title id="t-{series.key}">{escape(series.title)} ({escape(series.unit)})</title>',
        f'<desc id="d-{series.key}">{len(points)} values from {d0.isoformat()} to {d1.isoformat()}; '
        f"latest {points[-1][1]:g} {escape(series.unit)}."
        + "".join(f" Shaded: {escape(b.label)}." for b in series.bands)
        + "</desc>",
    ]
    for band in sorted(series.bands, key=lambda b: b.indicator):
        edge = y(band.value)
        top, bottom = (TOP, edge) if band.op == ">" else (edge, TOP + plot_h)
        if bottom > top:
            parts.append(
                f'<rect x="{LEFT}" y="{top:.1f}" width="{plot_w}" height="{bottom - top:.1f}" '
                f'fill="{COLOURS.get(band.indicator, "#eee")}"><title>{escape(band.label)}</title></rect>'
            )
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{edge:.1f}" y2="{edge:.1f}" stroke="#8a6d00" '
            f'stroke-dasharray="4 3"/><text x="{LEFT + plot_w - 4}" y="{edge - 3:.1f}" text-anchor="end" '
            f'font-size="11" fill="#5c4700">{band.value:g}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#333"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#333"/>'
    )
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#333">'
            f"{value:.3g}</text>"
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 10}" font-size="11" fill="#333">{d0.isoformat()}</text>'
        f'<text x="{LEFT + plot_w}" y="{HEIGHT - 10}" text-anchor="end" font-size="11" fill="#333">'
        f"{d1.isoformat()}</text>"
        f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="#333" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})" text-anchor="middle">{escape(series.unit)}</text>'
    )
    if step:
        path = []
        for i, (day, value) in enumerate(points):
            px, py = x(day), y(value)
            if i == 0:
                path.append(f"M{px:.1f},{py:.1f}")
            else:
                path.append(f"H{px:.1f}V{py:.1f}")
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    else:
        coords = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value in points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="2"/>')
        for day, value in points:
            parts.append(
                f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="3.5" fill="{LINE}">'
                f"<title>{day.isoformat()}: {value:g} {escape(series.unit)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
