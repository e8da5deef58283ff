"""Build rxguard's NDC table (NDC -> ingredient, strength, dose form, DEA schedule) from the CDC NDC files.

Developer tool, not part of the package. Reads the CDC "Oral Morphine Milligram Equivalents" NDC files kept in
../shared/reference/data/opioids/ (the Sept 2018 workbook, and the Sept 2017 workbook's per-sheet CSV export)
and writes, under src/rxguard/knowledge/data/ndc/:

  cdc_ndc.csv      one row per 11-digit NDC: the columns the surveillance rules need (30,267 rows, 2 MB)
  manifest.json    what was read: file names, SHA-256, CDC version and NDC currency, rows per sheet, terms

The 2018 file wins where both list an NDC; NDCs only in the 2017 file are kept (older dispensing records still
carry them) and marked `cdc_version = 2017`. Values are copied as published: the strength is "the strength of
the controlled substance component ... per unit specified in UOM", the factor is the file's own analytic MME
conversion factor (blank for buprenorphine, which the file gives none), the DEA class code 2-5 is the federal
schedule at the time of the file (6 = not controlled).

    .venv/bin/python scripts/build_ndc_table.py [--reference DIR]      (needs openpyxl: pip install openpyxl)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "data" / "opioids"
OUT = ROOT / "src" / "rxguard" / "knowledge" / "data" / "ndc"
XLSX_2018 = "CDC_Oral_Morphine_Milligram_Equivalents_Sept_2018.xlsx"
CSV_2017 = "cdc_mme_2017_csv"

# sheet name in the 2018 workbook -> (CSV export of the 2017 sheet, the class rxguard gives its rows)
SHEETS = {
    "Opioids": ("Opioids.csv", "opioid"),
    "Benzos": ("Benzos.csv", "benzodiazepine"),
    "Muscle Relaxants": ("Muscle_Relaxants.csv", "muscle-relaxant"),
    "Stimulants": ("Stimulants.csv", "cns-stimulant"),
    "Misc Zolpidem": ("Misc_Zolpidem.csv", "z-drug"),
}
SCHEDULES = {"2": "II", "3": "III", "4": "IV", "5": "V", "6": ""}
COLUMNS = [
    "ndc",
    "ingredient",
    "drug_class",
    "strength_per_unit",
    "uom",
    "dose_form",
    "master_form",
    "acting",
    "dea_schedule",
    "cdc_mme_factor",
    "cdc_version",
]

# The file's "Drug" names that are not simply the ingredient name (after dropping " SA"/" LA").
INGREDIENT_NAMES = {"levomethadyl": "levomethadyl-acetate"}

TERMS = (
    "US federal government work (CDC National Center for Injury Prevention and Control), generally not subject "
    "to US copyright (17 U.S.C. 105). CDC states the NDC and drug-schedule data were derived from IBM/Truven "
    "MarketScan RED BOOK; CDC released the file publicly and discontinued it with the 2022 guideline. The MME "
    "conversion factors are 'intended only for analytic purposes' and are not clinical guidance. Confirm "
    "redistribution terms with counsel before shipping the table in a product (see the reference SOURCES.txt)."
)


def dose_form(master_form: str, uom: str) -> str:
    """A coarse dose-form category the rules use (fentanyl factors depend on it); the CDC text is kept too."""
    form = master_form.lower()
    if form.startswith("patch"):
        return "patch"
    if "lozenge" in form or "troche" in form:
        return "lozenge"
    if form.startswith("film"):
        return "film"
    if "spray" in form:
        return "spray"
    if form.startswith("suppositor"):
        return "suppository"
    if form.startswith("capsule"):
        return "capsule"
    if form.startswith("tablet"):
        return "tablet"
    if any(word in form for word in ("solution", "liquid", "syrup", "suspension", "elixir", "concentrate")):
        return "oral-liquid"
    if "gel" in form:
        return "gel"
    if form.startswith("implant"):
        return "implant"
    if form.startswith("powder"):
        return "powder"
    return "other" if form else ""


def ingredient_of(drug: str) -> str:
    name = drug.strip()
    for suffix in (" SA", " LA"):
        name = name.removesuffix(suffix)
    name = name.strip().lower().replace(" ", "-")
    return INGREDIENT_NAMES.get(name, name)


def number(value: Any) -> str:
    if value is None or str(value).strip() in ("", "N/A"):
        return ""
    as_float = float(value)
    return str(int(as_float)) if as_float == int(as_float) else repr(as_float)


def normalise(raw: dict[str, Any], drug_class: str, version: str) -> dict[str, str]:
    ndc = str(raw["NDC"]).strip()
    if not (len(ndc) == 11 and ndc.isdigit()):
        raise ValueError(f"NDC {ndc!r} is not 11 digits")
    master_form = str(raw.get("Master_Form") or "").strip()
    uom = str(raw.get("UOM") or "").strip().upper()
    code = str(raw.get("DEAClassCode") or "").strip()
    if code not in SCHEDULES:
        raise ValueError(f"NDC {ndc}: unknown DEA class code {code!r}")
    return {
        "ndc": ndc,
        "ingredient": ingredient_of(str(raw["Drug"])),
        "drug_class": drug_class,
        "strength_per_unit": number(raw.get("Strength_Per_Unit")),
        "uom": uom,
        "dose_form": dose_form(master_form, uom),
        "master_form": master_form,
        "acting": str(raw.get("LongShortActing") or "").strip(),
        "dea_schedule": SCHEDULES[code],
        "cdc_mme_factor": number(raw.get("MME_Conversion_Factor")) if drug_class == "opioid" else "",
        "cdc_version": version,
    }


def read_2018(path: Path) -> dict[str, list[dict[str, Any]]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    sheets: dict[str, list[dict[str, Any]]] = {}
    for name in SHEETS:
        rows = book[name].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        sheets[name] = [dict(zip(header, row, strict=False)) for row in rows if row and row[0] is not None]
    return sheets


PATCH_RULE = re.compile(r"Days Supply for fentanyl patches\s*=\s*# of patches X (\d+)", re.IGNORECASE)


def documented_patch_days(path: Path) -> tuple[int, str]:
    """The days-supply normalisation for fentanyl patches, as the 2018 Documentation sheet states it."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for row in book["Documentation"].iter_rows(values_only=True):
        for cell in row:
            match = PATCH_RULE.search(str(cell or ""))
            if match:
                return int(match.group(1)), str(cell).strip()
    raise SystemExit("the Documentation sheet no longer states the fentanyl patch days-supply rule")


def read_2017(directory: Path) -> dict[str, list[dict[str, Any]]]:
    sheets = {}
    for name, (filename, _) in SHEETS.items():
        with (directory / filename).open(newline="", encoding="utf-8") as handle:
            sheets[name] = [row for row in csv.DictReader(handle) if row.get("NDC")]
    return sheets


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="the CDC NDC files' folder")
    args = parser.parse_args()
    reference: Path = args.reference

    by_ndc: dict[str, dict[str, str]] = {}
    counts: dict[str, dict[str, int]] = {"2018": {}, "2017": {}, "2017_only": {}}
    conflicts: Counter[str] = Counter()
    for name, rows in read_2018(reference / XLSX_2018).items():
        counts["2018"][name] = len(rows)
        for raw in rows:
            row = normalise(raw, SHEETS[name][1], "2018")
            if row["ndc"] in by_ndc and by_ndc[row["ndc"]] != row:
                conflicts[f"2018 {name}: NDC listed twice, first row kept"] += 1
                continue
            by_ndc[row["ndc"]] = row
    for name, rows in read_2017(reference / CSV_2017).items():
        counts["2017"][name] = len(rows)
        added = 0
        for raw in rows:
            row = normalise(raw, SHEETS[name][1], "2017")
            if row["ndc"] not in by_ndc:
                by_ndc[row["ndc"]] = row
                added += 1
        counts["2017_only"][name] = added

    OUT.mkdir(parents=True, exist_ok=True)
    table = OUT / "cdc_ndc.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for ndc in sorted(by_ndc):
            writer.writerow(by_ndc[ndc])

    patch_days, patch_sentence = documented_patch_days(reference / XLSX_2018)
    manifest = {
        "table": table.name,
        "rows": len(by_ndc),
        "built_by": "scripts/build_ndc_table.py",
        "columns": COLUMNS,
        "sources": [
            {
                "file": XLSX_2018,
                "sha256": sha256(reference / XLSX_2018),
                "cdc_version": "2018",
                "title": "CDC compilation of benzodiazepines, muscle relaxants, stimulants, zolpidem, and opioid "
                "analgesics with oral morphine milligram equivalent conversion factors, 2018 version",
                "ndc_currency": "NDCs updated to May 2018 (2016 IBM MarketScan RED BOOK, finalized January 2018, "
                "plus the online RED BOOK)",
                "origin": "github.com/cqframework/opioid-mme-r4 @ 1357f45424c40c49911cd73ecf377b740013f21e, docs/",
                "rows_per_sheet": counts["2018"],
            },
            {
                "file": f"{CSV_2017}/*.csv (cell-for-cell export of "
                "CDC_Oral_Morphine_Milligram_Equivalents_Sept_2017.xlsx)",
                "sha256_of_workbook": "298755ef50e7f635c09dedf5d7975ac9772ab47cb4ebe582859caf8bb7c97001",
                "cdc_version": "2017",
                "title": "CDC compilation of benzodiazepines, muscle relaxants, stimulants, zolpidem, and opioid "
                "analgesics with oral morphine milligram equivalent conversion factors, 2017 version",
                "ndc_currency": "NDCs updated to August 10, 2017 (Truven MarketScan 2015 RED BOOK plus RED BOOK "
                "Online)",
                "origin": "github.com/mkiang/disproportionate_prescribing @ 1d2fc6f1f9079954044b2c60e8a92a2266bdd8e6",
                "rows_per_sheet": counts["2017"],
                "rows_added_not_in_2018": counts["2017_only"],
            },
        ],
        "precedence": "2018 wins where both files list an NDC; 2017-only NDCs are kept with cdc_version 2017",
        "conflicts": dict(conflicts),
        "fentanyl_patch_days_per_patch": patch_days,
        "fentanyl_patch_rule": patch_sentence,
        "terms": TERMS,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {table.relative_to(ROOT)}: {len(by_ndc)} NDCs ({table.stat().st_size / 1e6:.1f} MB)")
    print(json.dumps({k: v for k, v in counts.items()}, indent=1))
    if conflicts:
        print("conflicts:", dict(conflicts))


if __name__ == "__main__":
    main()
