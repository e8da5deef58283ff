"""Synthetic dispensing records with planted positive cases of every surveillance rule.

The background population is built so that, with the default thresholds of every factor set, it triggers no
rule: every flag the rules raise on synthetic data should be a planted case, so `planted.csv` checks recall
(every planted case found) and precision (nothing else flagged) at any scale. Distributions (per patient):

- acute opioid (30%): 1-2 fills, the second 60-240 days later; hydrocodone 5 mg, oxycodone 5 mg or tramadol
  50 mg tablets for 3, 5 or 7 days, 4 tablets a day;
- short opioid course (5%): 2-3 fills every 28-30 days of hydrocodone 5 mg, 30 days, 3 a day (15 MME/day);
- opioid, then a benzodiazepine (5%): oxycodone 5 mg for 7 days, then alprazolam 0.5 mg for 30 days starting
  3-30 days after the opioid ran out;
- benzodiazepine (15%): 2-6 monthly fills (refilled after 28-33 days) of alprazolam 0.5 mg, lorazepam 1 mg or
  clonazepam 0.5 mg, 30 days each;
- stimulant (12%): 2-8 monthly fills of methylphenidate 10 mg;
- z-drug or carisoprodol (10%): 1-4 monthly fills of zolpidem 10 mg or carisoprodol 350 mg;
- not controlled (18%): 1-6 monthly fills of cyclobenzaprine 10 mg (in the NDC table) or of NDCs not in it;
- azathioprine, monitored (5%): 3-12 monthly fills of azathioprine 50 mg (RxNorm 197388), with a blood count
  1-3 days before each due date of the schedule.

Each background patient has one prescriber and one pharmacy (a pool of one prescriber per 50 patients and one
pharmacy per 200); one fill in ten is written by a second prescriber. Fills start uniformly over the first 550
days of a 730-day period beginning 2024-01-01. NDCs are real ones from the NDC table (the first NDC, in code
order, of each product), so the drug identification path is exercised.

Planted cases (0.2% of patients per rule, at least one): daily MME >= 90 (oxycodone 30 mg x 4 a day = 180),
50-90 (hydrocodone 10 mg x 6 a day = 60), opioid + benzodiazepine for 10 days, five prescribers and five
pharmacies within 41 days, an alprazolam refill after 20 of 30 days, five monthly hydrocodone fills (150 days),
and azathioprine for six months with only a baseline blood count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rxguard.adapters.surveillance.drugs import NdcTable, ndc_table
from rxguard.adapters.surveillance.knowledge import SchedulePhase

START = dt.date(2024, 1, 1)
SPAN_DAYS = 730
EPOCH = dt.date(1970, 1, 1)
START_DAY = (START - EPOCH).days
WBC_LOINC = "6690-2"
AZATHIOPRINE_50_RXNORM = "197388"

# product key -> (ingredient, dose form, strength, unit) looked up in the NDC table
PRODUCTS: dict[str, tuple[str, str, str, str]] = {
    "hydrocodone5": ("hydrocodone", "tablet", "5", "MG"),
    "hydrocodone10": ("hydrocodone", "tablet", "10", "MG"),
    "oxycodone5": ("oxycodone", "tablet", "5", "MG"),
    "oxycodone30": ("oxycodone", "tablet", "30", "MG"),
    "tramadol50": ("tramadol", "tablet", "50", "MG"),
    "alprazolam05": ("alprazolam", "tablet", "0.5", "MG"),
    "lorazepam1": ("lorazepam", "tablet", "1", "MG"),
    "clonazepam05": ("clonazepam", "tablet", "0.5", "MG"),
    "methylphenidate10": ("methylphenidate", "tablet", "10", "MG"),
    "zolpidem10": ("zolpidem", "tablet", "10", "MG"),
    "carisoprodol350": ("carisoprodol", "tablet", "350", "MG"),
    "cyclobenzaprine10": ("cyclobenzaprine", "tablet", "10", "MG"),
}
UNLISTED_NDCS = ("00000000101", "00000000202", "00000000303")  # no labeler 00000 in the table
PLANTED_RULES = (
    "mme-90",
    "mme-50",
    "opioid-benzodiazepine",
    "multiple-provider",
    "early-refill",
    "long-term-opioid",
    "thiopurine-lab-overdue",
)
SCENARIOS = {
    "mme-90": ("mme-90", "mme-50"),
    "mme-50": ("mme-50",),
    "opioid-benzodiazepine": ("opioid-benzodiazepine",),
    "multiple-provider": ("multiple-provider",),
    "early-refill": ("early-refill",),
    "long-term-opioid": ("long-term-opioid",),
    "thiopurine-lab-overdue": ("thiopurine-lab-overdue",),
}


def product_codes(table: NdcTable | None = None) -> dict[str, str]:
    """Product key -> the first NDC (in code order) of that ingredient, form and strength."""
    rows = (table or ndc_table()).rows
    found: dict[str, str] = {}
    wanted = {v: k for k, v in PRODUCTS.items()}
    for row in rows:
        key = wanted.get((row["ingredient"], row["dose_form"], row["strength_per_unit"], row["uom"]))
        if key and key not in found:
            found[key] = row["ndc"]
    missing = set(PRODUCTS) - set(found)
    if missing:
        raise RuntimeError(f"no NDC for {sorted(missing)} in the NDC table")
    listed = {row["ndc"] for row in rows}
    clash = [n for n in UNLISTED_NDCS if n in listed]
    if clash:
        raise RuntimeError(f"the 'unlisted' NDCs {clash} are in the NDC table")
    return found


@dataclass
class Columns:
    """Growing column arrays of dispensing records (patient index, not id, until the end)."""

    patient: list[np.ndarray[Any, Any]]
    day: list[np.ndarray[Any, Any]]
    code: list[np.ndarray[Any, Any]]  # index into the code list
    quantity: list[np.ndarray[Any, Any]]
    supply: list[np.ndarray[Any, Any]]
    prescriber: list[np.ndarray[Any, Any]]
    pharmacy: list[np.ndarray[Any, Any]]

    @classmethod
    def empty(cls) -> Columns:
        return cls([], [], [], [], [], [], [])

    def add(
        self, patient: Any, day: Any, code: Any, quantity: Any, supply: Any, prescriber: Any, pharmacy: Any
    ) -> None:
        n = np.broadcast(patient, day).shape
        full = [
            np.broadcast_to(np.asarray(x), n).astype(t)
            for x, t in (
                (patient, np.int64),
                (day, np.int64),
                (code, np.int32),
                (quantity, np.float64),
                (supply, np.int32),
                (prescriber, np.int64),
                (pharmacy, np.int64),
            )
        ]
        for target, values in zip(
            (self.patient, self.day, self.code, self.quantity, self.supply, self.prescriber, self.pharmacy),
            full,
            strict=True,
        ):
            target.append(values.ravel())

    def cat(self) -> dict[str, np.ndarray[Any, Any]]:
        names = ("patient", "day", "code", "quantity", "supply", "prescriber", "pharmacy")
        return {n: np.concatenate(getattr(self, n)) if getattr(self, n) else np.array([], np.int64) for n in names}


@dataclass
class Synthetic:
    """The generated data: dispensing and lab columns, and the planted cases."""

    fills: dict[str, Any]  # pyarrow arrays by column name
    labs: dict[str, Any]
    planted: list[tuple[str, str, str]]  # (patient_id, flag, scenario)
    as_of: dt.date
    n_patients: int


def _monthly(
    rng: np.random.Generator, first: np.ndarray[Any, Any], counts: np.ndarray[Any, Any], lo: int, hi: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Owner index and day of `counts[i]` fills starting at `first[i]`, each lo..hi days after the previous."""
    owner = np.repeat(np.arange(len(first)), counts)
    group_start = np.repeat(np.cumsum(counts) - counts, counts)
    steps = rng.integers(lo, hi + 1, size=len(owner))
    steps[np.arange(len(owner)) == group_start] = 0
    cum = np.cumsum(steps)
    return owner, np.repeat(first, counts) + cum - cum[group_start]


def generate(
    n_patients: int,
    lab_phases: Sequence[SchedulePhase],
    seed: int = 7,
    planted_share: float = 0.002,
) -> Synthetic:
    """Synthetic dispensing records for `n_patients` patients (about 3.1 records each)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    codes = product_codes()
    code_list = [codes[k] for k in PRODUCTS] + list(UNLISTED_NDCS) + ["rx:" + AZATHIOPRINE_50_RXNORM]
    idx = {k: i for i, k in enumerate(PRODUCTS)}
    aza = len(code_list) - 1
    unlisted = [len(PRODUCTS) + i for i in range(len(UNLISTED_NDCS))]

    per_rule = max(1, round(n_patients * planted_share))
    n_planted = per_rule * len(PLANTED_RULES)
    n_background = max(0, n_patients - n_planted)
    n_prescribers = max(10, n_patients // 50)
    n_pharmacies = max(10, n_patients // 200)
    cols = Columns.empty()
    labs_patient: list[np.ndarray[Any, Any]] = []
    labs_day: list[np.ndarray[Any, Any]] = []

    # --- background ---------------------------------------------------------------------------------------
    shares = np.array([0.30, 0.05, 0.05, 0.15, 0.12, 0.10, 0.18, 0.05])
    profile = rng.choice(len(shares), size=n_background, p=shares / shares.sum())
    home_presc = rng.integers(0, n_prescribers, size=n_background)
    home_pharm = rng.integers(0, n_pharmacies, size=n_background)
    first_day = START_DAY + rng.integers(0, 550, size=n_background)

    def presc_for(owner: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        other = rng.integers(0, n_prescribers, size=len(owner))
        return np.where(rng.random(len(owner)) < 0.1, other, home_presc[owner])

    def pick(mask_value: int) -> np.ndarray[Any, Any]:
        return np.flatnonzero(profile == mask_value)

    # 0 acute opioid
    p = pick(0)
    counts = rng.integers(1, 3, size=len(p))
    owner, day = _monthly(rng, first_day[p], counts, 60, 240)
    who = p[owner]
    drug = rng.choice([idx["hydrocodone5"], idx["oxycodone5"], idx["tramadol50"]], size=len(who))
    supply = rng.choice([3, 5, 7], size=len(who))
    cols.add(who, day, drug, supply * 4, supply, presc_for(who), home_pharm[who])
    # 1 short opioid course
    p = pick(1)
    counts = rng.integers(2, 4, size=len(p))
    owner, day = _monthly(rng, first_day[p], counts, 28, 30)
    who = p[owner]
    cols.add(who, day, idx["hydrocodone5"], 90, 30, presc_for(who), home_pharm[who])
    # 2 opioid then benzodiazepine, no overlap
    p = pick(2)
    cols.add(p, first_day[p], idx["oxycodone5"], 28, 7, home_presc[p], home_pharm[p])
    later = first_day[p] + 7 + rng.integers(3, 31, size=len(p))
    cols.add(p, later, idx["alprazolam05"], 30, 30, home_presc[p], home_pharm[p])
    # 3 benzodiazepine, 4 stimulant, 5 z-drug / carisoprodol, 6 not controlled
    for prof, choices, lo, hi in (
        (3, [idx["alprazolam05"], idx["lorazepam1"], idx["clonazepam05"]], 2, 6),
        (4, [idx["methylphenidate10"]], 2, 8),
        (5, [idx["zolpidem10"], idx["carisoprodol350"]], 1, 4),
        (6, [idx["cyclobenzaprine10"], *unlisted], 1, 6),
    ):
        p = pick(prof)
        counts = rng.integers(lo, hi + 1, size=len(p))
        owner, day = _monthly(rng, first_day[p], counts, 28, 33)
        who = p[owner]
        drug = np.asarray(choices)[rng.integers(0, len(choices), size=len(p))][owner]
        cols.add(who, day, drug, rng.choice([30, 60], size=len(who)), 30, presc_for(who), home_pharm[who])
    # 7 azathioprine, monitored to the schedule
    p = pick(7)
    counts = rng.integers(3, 13, size=len(p))
    owner, day = _monthly(rng, first_day[p], counts, 28, 30)
    who = p[owner]
    cols.add(who, day, aza, 60, 30, home_presc[who], home_pharm[who])
    end = first_day[p] + np.bincount(owner, minlength=len(p)) * 30 + 30
    lp, ld = _schedule_tests(rng, p, first_day[p], end, lab_phases)
    labs_patient.append(lp)
    labs_day.append(ld)

    # --- planted ------------------------------------------------------------------------------------------
    planted: list[tuple[int, str]] = []
    base = n_background
    presc_base = n_prescribers  # planted cases use prescribers and pharmacies of their own
    pharm_base = n_pharmacies

    def block(rule: str) -> np.ndarray[Any, Any]:
        nonlocal base
        ids = np.arange(base, base + per_rule)
        base += per_rule
        planted.extend((int(i), rule) for i in ids)
        return ids

    def start() -> np.ndarray[Any, Any]:
        return START_DAY + rng.integers(0, 500, size=per_rule)

    ids = block("mme-90")
    d0 = start()
    cols.add(ids, d0, idx["oxycodone30"], 120, 30, presc_base, pharm_base)
    ids = block("mme-50")
    cols.add(ids, start(), idx["hydrocodone10"], 180, 30, presc_base, pharm_base)
    ids = block("opioid-benzodiazepine")
    d0 = start()
    cols.add(ids, d0, idx["oxycodone5"], 60, 15, presc_base, pharm_base)
    cols.add(ids, d0 + 5, idx["alprazolam05"], 30, 30, presc_base + 1, pharm_base)
    ids = block("multiple-provider")
    d0 = start()
    for k in range(5):
        cols.add(ids, d0 + 10 * k, idx["hydrocodone5"], 12, 3, presc_base + 10 + k, pharm_base + 10 + k)
    ids = block("early-refill")
    d0 = start()
    cols.add(ids, d0, idx["alprazolam05"], 30, 30, presc_base, pharm_base)
    cols.add(ids, d0 + 20, idx["alprazolam05"], 30, 30, presc_base, pharm_base)
    ids = block("long-term-opioid")
    d0 = start()
    for k in range(5):
        cols.add(ids, d0 + 30 * k, idx["hydrocodone5"], 90, 30, presc_base, pharm_base)
    ids = block("thiopurine-lab-overdue")
    d0 = start()
    for k in range(6):
        cols.add(ids, d0 + 30 * k, aza, 60, 30, presc_base, pharm_base)
    labs_patient.append(ids)
    labs_day.append(d0 - 3)

    # --- assemble -----------------------------------------------------------------------------------------
    c = cols.cat()
    order = np.lexsort((c["patient"], c["day"]))
    for name in c:
        c[name] = c[name][order]
    n_total = base
    patient_ids = pa.array([f"P{i:08d}" for i in range(n_total)], pa.string())
    prescriber_ids = pa.array([f"DR{i:06d}" for i in range(n_prescribers + 20)], pa.string())
    pharmacy_ids = pa.array([f"PH{i:05d}" for i in range(n_pharmacies + 20)], pa.string())
    code_arr = np.asarray(code_list)[c["code"]]
    is_rx = np.char.startswith(code_arr, "rx:")
    ndc = pa.array(
        [None if rx else code for code, rx in zip(code_arr.tolist(), is_rx.tolist(), strict=True)], pa.string()
    )
    rxnorm = pa.array(
        [code[3:] if rx else None for code, rx in zip(code_arr.tolist(), is_rx.tolist(), strict=True)], pa.string()
    )
    fills = {
        "patient_id": pa.DictionaryArray.from_arrays(pa.array(c["patient"].astype(np.int32)), patient_ids),
        "prescriber_id": pa.DictionaryArray.from_arrays(pa.array(c["prescriber"].astype(np.int32)), prescriber_ids),
        "pharmacy_id": pa.DictionaryArray.from_arrays(pa.array(c["pharmacy"].astype(np.int32)), pharmacy_ids),
        "fill_date": pa.array(c["day"].astype(np.int32)).cast(pa.date32()),
        "ndc": ndc,
        "rxnorm": rxnorm,
        "quantity": pa.array(c["quantity"]),
        "days_supply": pa.array(c["supply"]),
    }
    lp_all = np.concatenate(labs_patient) if labs_patient else np.array([], np.int64)
    ld_all = np.concatenate(labs_day) if labs_day else np.array([], np.int64)
    lab_order = np.lexsort((lp_all, ld_all))
    lp_all, ld_all = lp_all[lab_order], ld_all[lab_order]
    labs = {
        "patient_id": pa.DictionaryArray.from_arrays(pa.array(lp_all.astype(np.int32)), patient_ids),
        "test_date": pa.array(ld_all.astype(np.int32)).cast(pa.date32()),
        "loinc": pa.array([WBC_LOINC] * len(lp_all), pa.string()),
        "value": pa.array(np.round(rng.uniform(4.0, 9.0, size=len(lp_all)), 1)),
        "unit": pa.array(["10*9/L"] * len(lp_all), pa.string()),
    }
    as_of = START + dt.timedelta(days=SPAN_DAYS - 1)
    rows = [(f"P{i:08d}", flag, rule) for i, rule in planted for flag in SCENARIOS[rule]]
    return Synthetic(fills=fills, labs=labs, planted=rows, as_of=as_of, n_patients=n_total)


def _schedule_tests(
    rng: np.random.Generator,
    patients: np.ndarray[Any, Any],
    starts: np.ndarray[Any, Any],
    ends: np.ndarray[Any, Any],
    phases: Sequence[SchedulePhase],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Blood counts 1-3 days before each due date of the schedule, from the start to the end of therapy."""
    who: list[np.ndarray[Any, Any]] = []
    when: list[np.ndarray[Any, Any]] = []
    current = starts.copy()
    alive = np.ones(len(patients), bool)
    for _ in range(400):
        since = current - starts
        interval = np.full(len(patients), phases[-1].interval_days)
        for phase in reversed(phases):
            if phase.until_day is not None:
                interval = np.where(since < phase.until_day, phase.interval_days, interval)
        nxt = current + interval - rng.integers(1, 4, size=len(patients))
        alive &= nxt <= ends
        if not alive.any():
            break
        who.append(patients[alive])
        when.append(nxt[alive])
        current = np.where(alive, nxt, current)
    if not who:
        return np.array([], np.int64), np.array([], np.int64)
    return np.concatenate(who), np.concatenate(when)


def write(data: Synthetic, out: Path, fmt: str = "parquet") -> dict[str, Path]:
    """Write dispensing.<fmt>, labs.<fmt|ndjson>, planted.csv into `out`; returns the paths."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    fills = pa.table(data.fills)
    labs = pa.table(data.labs)
    paths: dict[str, Path] = {}
    if fmt == "parquet":
        # Plain strings: Parquet dictionary-encodes them per row group (an Arrow dictionary would be written whole
        # into every row group).
        paths["dispensing"] = out / "dispensing.parquet"
        pq.write_table(_plain(fills), paths["dispensing"], compression="zstd")
        paths["labs"] = out / "labs.parquet"
        pq.write_table(_plain(labs), paths["labs"], compression="zstd")
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        paths["dispensing"] = out / "dispensing.csv"
        pcsv.write_csv(_plain(fills), paths["dispensing"])
        paths["labs"] = out / "labs.csv"
        pcsv.write_csv(_plain(labs), paths["labs"])
    elif fmt == "asap":
        paths["dispensing"] = out / "dispensing.asap"
        _write_asap(fills, paths["dispensing"])
        paths["labs"] = out / "labs.ndjson"
        _write_ndjson(labs, paths["labs"])
    else:
        raise ValueError(f"unknown format {fmt!r}")
    paths["planted"] = out / "planted.csv"
    with paths["planted"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["patient_id", "flag", "scenario"])
        writer.writerows(data.planted)
    return paths


def _plain(table: Any) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            name: (col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col)
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )


def _write_asap(fills: Any, path: Path) -> int:
    from rxguard.adapters.surveillance.asap import AsapRecord, write_asap

    plain = _plain(fills).to_pylist()
    controlled = set(ndc_table_controlled())
    records = (
        AsapRecord(
            patient_id=r["patient_id"],
            prescriber_id=r["prescriber_id"],
            pharmacy_id=r["pharmacy_id"],
            fill_date=r["fill_date"],
            ndc=r["ndc"],
            quantity=r["quantity"],
            days_supply=r["days_supply"],
            rx_number=f"RX{i:09d}",
        )
        for i, r in enumerate(plain)
        if r["ndc"] in controlled
    )
    return write_asap(
        records,
        path,
        source_id="RXGUARD-SYNTH",
        source_name="rxguard synthetic data",
        control_number="1",
        now=dt.datetime(2026, 1, 1, 0, 0, 0),
    )


def ndc_table_controlled() -> list[str]:
    return [row["ndc"] for row in ndc_table().rows if row["dea_schedule"]]


def _write_ndjson(labs: Any, path: Path) -> None:
    import json

    with path.open("w", encoding="utf-8") as handle:
        for i, r in enumerate(_plain(labs).to_pylist()):
            resource = {
                "resourceType": "Observation",
                "id": f"lab-{i}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": r["loinc"]}]},
                "subject": {"reference": f"Patient/{r['patient_id']}"},
                "effectiveDateTime": r["test_date"].isoformat(),
                "valueQuantity": {"value": r["value"], "unit": r["unit"], "system": "http://unitsofmeasure.org"},
            }
            handle.write(json.dumps(resource, separators=(",", ":")) + "\n")
