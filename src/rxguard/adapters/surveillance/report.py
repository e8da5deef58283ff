"""The surveillance report: one self-contained HTML file (inline CSS and SVG plots, no scripts, no network)."""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rxguard.adapters.surveillance.drugs import ndc_table
from rxguard.adapters.surveillance.knowledge import FLAGS

if TYPE_CHECKING:
    from rxguard.adapters.surveillance.pipeline import RunResult

COLORS = {
    "mme-90": "#b2182b",
    "mme-50": "#ef8a62",
    "opioid-benzodiazepine": "#7b3294",
    "multiple-provider": "#2166ac",
    "early-refill": "#1b7837",
    "long-term-opioid": "#8c510a",
    "thiopurine-lab-overdue": "#01665e",
}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.3em .6em;
vertical-align:top;text-align:left}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:.9em}.warn{color:#8a3b00}svg{display:block;margin:1em 0}
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg_bars(values: list[tuple[str, int]], title: str, unit: str, color: str = "#4575b4") -> str:
    """A vertical bar chart (categories along x)."""
    width, height, left, bottom, top = 900, 280, 70, 60, 20
    if not values:
        return f"<p class='note'>{_e(title)}: no data.</p>"
    peak = max(v for _, v in values) or 1
    n = len(values)
    slot = (width - left - 10) / n
    parts = [
        f"<svg width='{width}' height='{height}' role='img' aria-label='{_e(title)}' xmlns='http://www.w3.org/2000/svg'>"
    ]
    parts.append(f"<line x1='{left}' y1='{height - bottom}' x2='{width - 10}' y2='{height - bottom}' stroke='#333'/>")
    parts.append(f"<line x1='{left}' y1='{top}' x2='{left}' y2='{height - bottom}' stroke='#333'/>")
    for i in range(5):
        value = peak * i / 4
        y = height - bottom - (height - bottom - top) * i / 4
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' font-size='11' text-anchor='end'>{value:,.0f}</text>")
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{width - 10}' y2='{y:.1f}' stroke='#eee'/>")
    for i, (label, value) in enumerate(values):
        h = (height - bottom - top) * value / peak
        x = left + i * slot + slot * 0.1
        parts.append(
            f"<rect x='{x:.1f}' y='{height - bottom - h:.1f}' width='{slot * 0.8:.1f}' height='{h:.1f}' fill='{color}'>"
            f"<title>{_e(label)}: {value:,} {_e(unit)}</title></rect>"
        )
        if n <= 25 or i % max(1, n // 25) == 0:
            parts.append(
                f"<text x='{x + slot * 0.4:.1f}' y='{height - bottom + 14}' font-size='10' text-anchor='end' "
                f"transform='rotate(-40 {x + slot * 0.4:.1f} {height - bottom + 14})'>{_e(label)}</text>"
            )
    parts.append(f"<text x='{left}' y='{top - 6}' font-size='11'>{_e(unit)}</text></svg>")
    return "".join(parts)


def _svg_hbars(values: list[tuple[str, int]], title: str, unit: str) -> str:
    """Horizontal bars (one row per label), for the top prescribers."""
    if not values:
        return f"<p class='note'>{_e(title)}: no data.</p>"
    row, left, width = 24, 160, 900
    height = row * len(values) + 30
    peak = max(v for _, v in values) or 1
    parts = [
        f"<svg width='{width}' height='{height}' role='img' aria-label='{_e(title)}' xmlns='http://www.w3.org/2000/svg'>"
    ]
    for i, (label, value) in enumerate(values):
        y = 10 + i * row
        w = (width - left - 80) * value / peak
        parts.append(f"<text x='{left - 8}' y='{y + 15}' font-size='12' text-anchor='end'>{_e(label)}</text>")
        parts.append(f"<rect x='{left}' y='{y}' width='{w:.1f}' height='{row - 6}' fill='#d6604d'/>")
        parts.append(f"<text x='{left + w + 6:.1f}' y='{y + 15}' font-size='12'>{value:,} {_e(unit)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _svg_lines(series: dict[str, list[tuple[str, int]]], months: list[str], title: str) -> str:
    """Flagged patients per month, one line per flag."""
    if not months:
        return f"<p class='note'>{_e(title)}: no flagged patients.</p>"
    width, height, left, bottom, top = 900, 300, 60, 60, 20
    peak = max((v for s in series.values() for _, v in s), default=1) or 1
    step = (width - left - 20) / max(1, len(months) - 1)
    parts = [
        f"<svg width='{width}' height='{height}' role='img' aria-label='{_e(title)}' xmlns='http://www.w3.org/2000/svg'>"
    ]
    parts.append(f"<line x1='{left}' y1='{height - bottom}' x2='{width - 20}' y2='{height - bottom}' stroke='#333'/>")
    for i in range(5):
        value = peak * i / 4
        y = height - bottom - (height - bottom - top) * i / 4
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' font-size='11' text-anchor='end'>{value:,.0f}</text>")
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{width - 20}' y2='{y:.1f}' stroke='#eee'/>")
    for i, month in enumerate(months):
        if len(months) <= 24 or i % max(1, len(months) // 24) == 0:
            x = left + i * step
            parts.append(
                f"<text x='{x:.1f}' y='{height - bottom + 14}' font-size='10' text-anchor='end' "
                f"transform='rotate(-40 {x:.1f} {height - bottom + 14})'>{_e(month)}</text>"
            )
    index = {m: i for i, m in enumerate(months)}
    for flag, points in series.items():
        counts = dict(points)
        coords = []
        for month in months:
            x = left + index[month] * step
            y = height - bottom - (height - bottom - top) * counts.get(month, 0) / peak
            coords.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f"<polyline fill='none' stroke='{COLORS.get(flag, '#333')}' stroke-width='2' points='{' '.join(coords)}'>"
            f"<title>{_e(flag)}</title></polyline>"
        )
    parts.append("</svg>")
    legend = " ".join(f"<span><span class='sw' style='background:{COLORS[f]}'></span>{_e(f)}</span>" for f in series)
    return "".join(parts) + f"<p class='note'>{legend}</p>"


def _sources(refs: object) -> str:
    items = []
    for ref in refs or ():  # type: ignore[attr-defined]
        items.append(f"{_e(ref.document)} ({_e(ref.year or 'n.d.')}), {_e(ref.section)} [{_e(ref.confidence)}]")
    return "<br>".join(items)


def render(result: RunResult) -> str:
    from rxguard.adapters.surveillance.pipeline import flag_counts

    s = result.settings
    rs = s.rules
    counts = flag_counts(result)
    flags = result.flags
    patients = len(set(flags.column("patient_id").to_pylist()))
    out: list[str] = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>"]
    out.append("<title>rxguard surveillance report</title>")
    out.append(f"<style>{CSS}</style></head><body>")
    out.append("<h1>rxguard population surveillance</h1>")
    out.append(
        f"<p>As of <b>{_e(result.as_of.isoformat())}</b> on <b>{_e(result.engine)}</b>; knowledge base "
        f"<b>{_e(s.kb_version)}</b>; MME factors: <b>{_e(s.factor_set.label)}</b> ({_e(s.factor_set.version)}); "
        f"drug identification: NDC table of {_e(ndc_table().version)} and the knowledge base's RxNorm products. "
        f"Generated {_e(dt.datetime.now().strftime('%Y-%m-%d %H:%M'))}.</p>"
    )
    out.append(
        "<p class='note'>Decision support for review by a pharmacist or a prescription monitoring program, not a "
        "finding of misuse: every flag lists the dispensing records it rests on.</p>"
    )
    for note in s.notes:
        out.append(f"<p class='warn'>{_e(note)}</p>")

    out.append(
        "<h2>Input</h2><table><tr><th>file</th><th>kind</th><th>format</th><th>read</th><th>accepted</th>"
        "<th>rejected</th><th>warnings</th></tr>"
    )
    for i in result.inputs:
        warnings = "<br>".join(_e(w) for w in i.warnings[:10]) + (" ..." if len(i.warnings) > 10 else "")
        out.append(
            f"<tr><td>{_e(i.source)}</td><td>{_e(i.kind)}</td><td>{_e(i.format)}</td><td class='n'>{i.read:,}</td>"
            f"<td class='n'>{i.accepted:,}</td><td class='n'>{i.rejected:,}</td><td>{warnings}</td></tr>"
        )
    out.append("</table>")
    t = result.totals
    not_identified = t.get("accepted", 0) - t.get("identified", 0)
    out.append(
        "<table>"
        f"<tr><th>patients</th><td class='n'>{t.get('patients', 0):,}</td></tr>"
        f"<tr><th>accepted records</th><td class='n'>{t.get('accepted', 0):,}</td></tr>"
        f"<tr><th>identified (NDC table or RxNorm)</th><td class='n'>{t.get('identified', 0):,}</td></tr>"
        f"<tr><th>not in the drug table (not screened)</th><td class='n'>{not_identified:,}</td></tr>"
        f"<tr><th>controlled substances (schedule II-V)</th><td class='n'>{t.get('controlled', 0):,}</td></tr>"
        f"<tr><th>opioid fills</th><td class='n'>{t.get('opioid', 0):,}</td></tr>"
        f"<tr><th>opioid fills with no factor in this set (not in MME)</th>"
        f"<td class='n'>{t.get('opioid', 0) - t.get('opioid_converted', 0):,}</td></tr>"
        f"<tr><th>benzodiazepine fills</th><td class='n'>{t.get('benzodiazepine', 0):,}</td></tr>"
        f"<tr><th>thiopurine fills</th><td class='n'>{t.get('thiopurine', 0):,}</td></tr>"
        "</table>"
    )

    out.append(f"<h2>Summary: {patients:,} patient(s) flagged</h2>")
    out.append(
        "<table><tr><th>flag</th><th>patients</th><th>definition and settings</th><th>rule</th><th>sources</th></tr>"
    )
    for flag in FLAGS:
        rule = s.surveillance.get(flag)
        if rule is None:
            continue
        setting = _setting(flag, result)
        refs = _flag_sources(flag, result)
        out.append(
            f"<tr><td><span class='sw' style='background:{COLORS[flag]}'></span>{_e(flag)}</td>"
            f"<td class='n'>{counts.get(flag, 0):,}</td><td>{_e(rule.definition)}<br><i>{_e(setting)}</i></td>"
            f"<td>{_e(rule.id)} v{rule.version}<br>{_e(', '.join(rule.uses))}</td><td>{refs}</td></tr>"
        )
    out.append("</table>")

    out.append("<h2>Distribution of daily MME</h2>")
    hist = [(f"{b}-{b + 9}" if b < 200 else "200+", d) for b, d in result.histogram]
    out.append(_svg_bars(hist, "patient-days by total daily MME", "patient-days"))
    out.append(
        f"<p class='note'>Patient-days with any opioid MME, by the day's total MME (buckets of 10 MME; the last "
        f"holds 200 and above). The caution and high thresholds are {rs.mme_caution:g} and {rs.mme_high:g} "
        f"MME/day.</p>"
    )

    out.append("<h2>Flagged patients over time</h2>")
    months, series = _by_month(result)
    out.append(_svg_lines(series, months, "flagged patients by month of first flag"))
    out.append("<p class='note'>Patients by the month in which each flag first applied.</p>")

    out.append("<h2>Top prescribers by flagged patients</h2>")
    out.append(_svg_hbars(result.top_prescribers, "prescribers by flagged patients", "patients"))
    out.append(
        "<p class='note'>Prescribers of controlled-substance or thiopurine fills, by the number of flagged patients "
        "they prescribed for. A high count can mean a large practice or a pain or addiction service: review, do not "
        "conclude.</p>"
    )

    out.append("<h2>Flagged patients (first 200)</h2>")
    out.append(
        "<table><tr><th>patient</th><th>flag</th><th>from</th><th>to</th><th>detail</th><th>records</th>"
        "<th>prescribers</th><th>pharmacies</th></tr>"
    )
    for row in flags.slice(0, 200).to_pylist():
        evidence = ", ".join(str(x) for x in row["evidence_records"][:12]) + (
            " ..." if len(row["evidence_records"]) > 12 else ""
        )
        out.append(
            f"<tr><td>{_e(row['patient_id'])}</td><td>{_e(row['flag'])}</td><td>{_e(row['first_date'])}</td>"
            f"<td>{_e(row['last_date'])}</td><td>{_e(row['detail'])}</td><td>{_e(evidence)}</td>"
            f"<td>{_e(', '.join(row['prescribers'][:6]))}</td><td>{_e(', '.join(row['pharmacies'][:6]))}</td></tr>"
        )
    out.append(
        "</table><p class='note'>Records are the line numbers of the input file (see rejects.csv for the "
        "rows that were not accepted). Every flag is in flags.parquet.</p>"
    )
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    out.append(f"<h2>Run</h2><p class='note'>{_e(timings)}</p></body></html>")
    return "\n".join(out)


def _setting(flag: str, result: RunResult) -> str:
    rs = result.settings.rules
    if flag == "mme-90":
        return f"high threshold {rs.mme_high:g} MME/day; factor set {result.settings.factor_set.id}"
    if flag == "mme-50":
        return f"caution threshold {rs.mme_caution:g} MME/day; factor set {result.settings.factor_set.id}"
    if flag == "opioid-benzodiazepine":
        return f"at least {rs.overlap_min_days} day(s) of overlap"
    if flag == "multiple-provider":
        return f"{rs.mpe_prescribers} prescribers and {rs.mpe_pharmacies} pharmacies within {rs.mpe_window_days} days"
    if flag == "early-refill":
        return (
            f"before {rs.early_refill_share:.0%} of the previous supply; at least {rs.early_refill_min} early refill(s)"
        )
    if flag == "long-term-opioid":
        return (
            f"episode longer than {rs.ltot_longer_than_days} days with >= {rs.ltot_min_fills} fills or "
            f">= {rs.ltot_min_days_supply} days supplied; episode gap {rs.ltot_gap_days} days"
        )
    schedule = result.settings.schedule
    if schedule is None:
        return "not run: no lab results given (--labs)"
    phases = "; ".join(
        f"every {p.interval_days} days" + (f" until day {p.until_day}" if p.until_day is not None else " after that")
        for p in schedule.phases
    )
    return f"schedule {schedule.label}: {phases}; grace {rs.lab_grace_days} day(s)"


def _flag_sources(flag: str, result: RunResult) -> str:
    s = result.settings
    refs = list(s.own_sources.get(flag, ()))
    if flag in ("mme-90", "mme-50"):
        refs += list(s.factor_set.sources)
    if s.defaults is not None:
        key = {
            "mme-90": "mme",
            "mme-50": "mme",
            "early-refill": "early-refill",
            "multiple-provider": "multiple-provider",
        }
        if flag in key:
            refs += list(s.defaults.sources.get(key[flag], ()))
    if flag == "thiopurine-lab-overdue" and s.schedule is not None:
        refs += list(s.schedule.sources)
    return _sources(refs)


def _by_month(result: RunResult) -> tuple[list[str], dict[str, list[tuple[str, int]]]]:
    flags = result.flags
    if not flags.num_rows:
        return [], {}
    import pyarrow as pa
    import pyarrow.compute as pc

    # Counted by (flag, year * 100 + month) in Arrow: a report can list hundreds of thousands of flags.
    first = flags.column("first_date")
    month = pc.add(pc.multiply(pc.year(first), 100), pc.month(first))
    counts = (
        pa.table({"flag": flags.column("flag"), "month": month})
        .group_by(["flag", "month"])
        .aggregate([("month", "count")])
    )
    counter: Counter[tuple[str, str]] = Counter()
    for flag, ym, n in zip(*(counts.column(c).to_pylist() for c in ("flag", "month", "month_count")), strict=True):
        if ym is not None:
            counter[(flag, f"{ym // 100:04d}-{ym % 100:02d}")] += n
    months_seen = sorted({m for _, m in counter})
    if not months_seen:
        return [], {}
    start = dt.date.fromisoformat(months_seen[0] + "-01")
    end = dt.date.fromisoformat(months_seen[-1] + "-01")
    months = []
    current = start
    while current <= end:
        months.append(current.strftime("%Y-%m"))
        current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    series: dict[str, list[tuple[str, int]]] = {
        flag: [(m, counter.get((flag, m), 0)) for m in months] for flag in FLAGS if any(f == flag for f, _ in counter)
    }
    return months, series


def write_report(result: RunResult, path: Path) -> None:
    path.write_text(render(result), encoding="utf-8")
