"""Draw the paracetamol treatment nomogram with the patient's point (matplotlib, Agg backend: no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rxguard.errors import ConfigError, InputError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.overdose import (
    PARACETAMOL,
    ParacetamolAssessment,
    concentration_units,
    line_level,
    overdose_knowledge,
)

FORMATS = (".png", ".svg", ".pdf")


def plot_nomogram(kb: KnowledgeBase, result: ParacetamolAssessment, path: Path, *, other_lines: bool = True) -> Path:
    """Write the nomogram of `result.line` (and, dashed, the other lines) with the patient's level to `path`."""
    if path.suffix.lower() not in FORMATS:
        raise InputError("--plot", str(path), f"the file name must end in {', '.join(FORMATS)}")
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install 'rxguard[plot]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    units = concentration_units(kb, PARACETAMOL)
    molar = next((u.per_mg_per_l for u in units.units if u.unit == "umol/L"), None)
    lines = [result.line]
    if other_lines:
        lines += [
            line
            for line in overdose_knowledge(kb).nomogram_lines
            if line.ingredient == PARACETAMOL and line.status == "active" and line.id != result.line.id
        ]

    fig, ax = plt.subplots(figsize=(7.5, 5.5), dpi=120)
    try:
        for line in lines:
            steps = 200
            span = line.valid_to_hours - line.valid_from_hours
            xs = [line.valid_from_hours + span * i / steps for i in range(steps + 1)]
            main = line.id == result.line.id
            ax.plot(
                xs,
                [line_level(line, x) for x in xs],
                color="tab:red" if main else "tab:gray",
                linestyle="-" if main else "--",
                linewidth=2.2 if main else 1.2,
                label=f"{line.name}: {line.level_at_reference_mg_per_l:g} mg/L at {line.reference_hours:g} h",
            )
        ax.axvspan(0, result.line.valid_from_hours, color="0.92", zorder=0)
        ax.text(0.2, 1.2, f"before {result.line.valid_from_hours:g} h:\nnot interpretable", fontsize=8, color="0.35")
        if result.level_mg_per_l is not None and result.hours is not None and result.level_mg_per_l > 0:
            on = result.above_line is not None
            colour = ("tab:red" if result.above_line else "tab:green") if on else "tab:purple"
            ax.scatter([result.hours], [result.level_mg_per_l], s=80, color=colour, zorder=5, edgecolor="black")
            ax.annotate(
                f"patient: {result.level_mg_per_l:.1f} mg/L at {result.hours:g} h"
                + ("" if on else " (off the nomogram)"),
                (result.hours, result.level_mg_per_l),
                textcoords="offset points",
                xytext=(8, 8),
                fontsize=9,
            )
        ax.set_yscale("log")
        ax.set_xlim(0, max(result.line.valid_to_hours, (result.hours or 0) + 1))
        ax.set_ylim(1, 1000)
        ax.set_xlabel("Hours after ingestion")
        ax.set_ylabel("Serum paracetamol (mg/L = ug/mL)")
        if molar:
            factor = molar

            def to_umol(v: Any) -> Any:
                return v * factor

            def to_mg(v: Any) -> Any:
                return v / factor

            right = ax.secondary_yaxis("right", functions=(to_umol, to_mg))
            right.set_ylabel("Serum paracetamol (umol/L)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title(f"Paracetamol treatment nomogram - decision: {result.decision}", fontsize=11)
        fig.text(0.01, 0.01, f"rxguard knowledge base {kb.version}; {result.line.id}", fontsize=6)
        try:
            fig.savefig(path)
        except OSError as exc:
            raise InputError("--plot", str(path), f"cannot be written: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path
