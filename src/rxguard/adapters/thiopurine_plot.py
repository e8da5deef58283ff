"""Draw a patient's thiopurine blood results: each lab's trend over its threshold band, the dose beneath.

Uses matplotlib (the optional `plot` extra) with the non-interactive Agg backend; nothing is shown on screen.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rxguard.adapters.fhir.patient_record import PatientRecord
from rxguard.therapy.thiopurine.knowledge import PgxIndex
from rxguard.therapy.thiopurine.labs import MONITORED, LabReport

TITLES = {
    "wbc": "White cells (x10^9/L)",
    "neutrophils": "Neutrophils (x10^9/L)",
    "lymphocytes": "Lymphocytes (x10^9/L): no threshold",
    "platelets": "Platelets (x10^9/L)",
    "mcv": "MCV (fL)",
    "alt": "ALT (U/L)",
    "ast": "AST (U/L)",
    "albumin": "Albumin (g/L)",
    "creatinine": "Creatinine (mg/dL)",
    "egfr": "eGFR (mL/min/1.73 m2)",
}


def draw_labs(index: PgxIndex, report: LabReport, record: PatientRecord, path: Path, now: date) -> None:
    """Write a PNG: one panel per monitored measure with results, then the thiopurine dose (mg/day)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    measures = [m for m in MONITORED if report.series.get(m)]
    timeline = record.dose_timeline()
    panels = len(measures) + 1
    fig, axes = plt.subplots(panels, 1, sharex=True, figsize=(9, 1.9 * panels + 0.6), squeeze=False)
    flagged = {f.measure for f in report.findings}
    all_dates = [p.on for m in measures for p in report.series[m] if p.on] + [d for d, _, _ in timeline]
    start = min(all_dates) - timedelta(days=7) if all_dates else now - timedelta(days=180)
    end = max([*all_dates, now]) + timedelta(days=7)
    for ax, measure in zip((a[0] for a in axes[:-1]), measures, strict=False):
        points = [p for p in report.series[measure] if p.on]
        xs = [p.on for p in points]
        ys = [p.value for p in points]
        ax.plot(xs, ys, marker="o", color="#1f4e79", linewidth=1.5)
        low_hi: list[Any] = [min(ys), max(ys)]
        for rule in index.data.lab_thresholds:
            if rule.status != "active" or rule.measure != measure:
                continue
            colour = "#c0392b" if rule.indicator == "critical" else "#e67e22"
            ax.axhline(rule.value, color=colour, linestyle="--", linewidth=1)
            low_hi.append(rule.value)
            bottom, top = min(low_hi) * 0.9, max(low_hi) * 1.1
            if rule.op == "<":
                ax.axhspan(min(bottom, 0), rule.value, color=colour, alpha=0.10)
            else:
                ax.axhspan(rule.value, top * 1.5, color=colour, alpha=0.10)
            ax.annotate(
                f"{rule.op} {rule.value:g}", (end, rule.value), fontsize=7, color=colour, ha="right", va="bottom"
            )
        ax.set_ylim(min(low_hi) * 0.85, max(low_hi) * 1.15)
        ax.set_title(
            TITLES.get(measure, measure) + ("  [flagged]" if measure in flagged else ""), fontsize=9, loc="left"
        )
        ax.grid(alpha=0.3)
    dose_ax = axes[-1][0]
    if timeline:
        dose_dates: list[date] = [*(d for d, _, _ in timeline), end]
        doses = [mg or 0 for _, mg, _ in timeline]
        dose_ax.step(dose_dates, [*doses, doses[-1]], where="post", color="#2e7d32", linewidth=2)
        for d, mg, _ in timeline:
            dose_ax.annotate(
                f"{mg:g} mg" if mg else "dose ?", (d, mg or 0), fontsize=7, xytext=(2, 4), textcoords="offset points"
            )
        dose_ax.set_ylim(0, max([*doses, 1]) * 1.4)
    else:
        dose_ax.text(
            0.5,
            0.5,
            "no thiopurine MedicationRequest in the file",
            ha="center",
            va="center",
            transform=dose_ax.transAxes,
        )
    dose_ax.set_title("Thiopurine dose (mg/day)", fontsize=9, loc="left")
    dose_ax.grid(alpha=0.3)
    dose_ax.set_xlim(start, end)
    dose_ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    fig.autofmt_xdate()
    fig.suptitle(f"Thiopurine monitoring as of {now.isoformat()}: {report.verdict}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
