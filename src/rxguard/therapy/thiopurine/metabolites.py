"""Thiopurine metabolites (6-TGN, 6-MMP) read against the BSG table: adherence, dosing, shunting.

Values are pmol/8x10^8 red cells; other units are refused (the cut-offs are assay-specific). A combination
the source table does not cover (high TGN with normal MMP) is said to be outside the table, not guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rxguard.errors import InputError
from rxguard.therapy.thiopurine.knowledge import MetaboliteCutoffs, MetaboliteInterpretation, PgxIndex

ACCEPTED_UNITS = frozenset({"pmol/8x10^8 RBC", "pmol/8x10*8 RBC", "pmol/8x10^8 rbc", "pmol/8e8 RBC", "pmol/8x10e8 RBC"})
DEFAULT_UNIT = "pmol/8x10^8 RBC"


@dataclass(frozen=True, slots=True)
class MetaboliteResult:
    tgn: float
    mmp: float
    ratio: float | None
    tgn_band: str
    mmp_band: str
    shunter_by_ratio: bool
    row: MetaboliteInterpretation | None
    cutoffs: MetaboliteCutoffs
    interpretation: str
    action: str

    def as_dict(self) -> dict[str, Any]:
        """As `rxguard thiopurine metabolites --format json` and `POST /api/v1/thiopurine/metabolites` give it."""
        return {
            "tgn": self.tgn,
            "mmp": self.mmp,
            "ratio": self.ratio,
            "tgn_band": self.tgn_band,
            "mmp_band": self.mmp_band,
            "interpretation": self.interpretation,
            "action": self.action,
            "rule_id": self.row.id if self.row else None,
            "caveat": self.cutoffs.caveat,
        }


def cutoffs(index: PgxIndex) -> MetaboliteCutoffs:
    return next(c for c in index.data.metabolite_cutoffs if c.status == "active")


def interpret_metabolites(index: PgxIndex, tgn: float, mmp: float) -> MetaboliteResult:
    """TGN and MMP (pmol/8x10^8 RBC; 0 = undetectable) -> the table's interpretation and action."""
    if tgn < 0 or mmp < 0:
        raise ValueError("metabolite levels cannot be negative")
    c = cutoffs(index)
    ratio = round(mmp / tgn, 2) if tgn > 0 else None
    if tgn == 0:
        tgn_band = "undetectable"
    elif tgn < c.tgn_low_below:
        tgn_band = "low"
    elif tgn <= c.tgn_high_above:
        tgn_band = "therapeutic"
    else:
        tgn_band = "high"
    shunter_by_ratio = ratio is not None and ratio > c.ratio_shunter_above
    if mmp == 0:
        mmp_band = "undetectable"
    elif mmp > c.mmp_high_above:
        mmp_band = "high"
    else:
        mmp_band = "normal"
    lookup_mmp = "high" if (tgn_band == "low" and shunter_by_ratio) else mmp_band
    if tgn_band != "undetectable" and lookup_mmp == "undetectable":
        lookup_mmp = "normal"
    row = next(
        (r for r in index.data.metabolite_table if r.status == "active" and r.tgn == tgn_band and r.mmp == lookup_mmp),
        None,
    )
    if row is not None:
        interpretation, action = row.interpretation, row.action
    else:
        interpretation = f"TGN {tgn_band}, MMP {mmp_band}: a combination the source table does not cover"
        action = "Interpret with the specialist team (no rule in the table)."
    return MetaboliteResult(tgn, mmp, ratio, tgn_band, mmp_band, shunter_by_ratio, row, c, interpretation, action)


def read_metabolites(index: PgxIndex, tgn: float, mmp: float, unit: str = DEFAULT_UNIT) -> MetaboliteResult:
    """Levels as a user gives them: checked (an InputError names `--tgn`, `--mmp` or `--unit`), then interpreted."""
    if unit not in ACCEPTED_UNITS:
        raise InputError(
            "--unit", unit, "the cut-offs are for pmol/8x10^8 RBC; other assay units are not interchangeable"
        )
    for name, value in (("--tgn", tgn), ("--mmp", mmp)):
        if not math.isfinite(value) or value < 0:
            raise InputError(name, value, "levels cannot be negative: expected 0 (undetectable) or more")
    return interpret_metabolites(index, tgn, mmp)
