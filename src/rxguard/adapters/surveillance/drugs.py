"""Drug identification for surveillance: NDC (the CDC-derived table) or RxNorm (the knowledge base's products).

`drug_table(kb, factor_set)` returns one row per code with the ingredient, class, DEA schedule, strength per unit,
dose form and how a fill of it turns into MME per day under the chosen factor set, the same arithmetic as the
point-of-sale check's `fill_mme` (checks/mme.py):

    MME/day = strength x quantity / days supply x mme_k            (tablets, capsules, liquids, buccal, ...)
    MME/day = strength x mme_rate                                   (patches: the rate of the patches worn)
    MME/day = strength x quantity / days supply x tier factor       (CDC 2016 methadone: by that mg/day)

each rounded to 0.1 MME. The factor is looked up by ingredient and form as the point-of-sale check does (the
form as taken: oral, transdermal, buccal, film, nasal; else a factor for "any" form). With the CDC file factors
(`cdc-file`) `mme_k` is the NDC's own factor; a patch's rate factor is the file's 7.2 divided by the days one
patch is worn (3, from the file's documentation) and its supply lasts patches x 3 days (`mme_days_per_unit`),
as the file tells analysts to normalise. Forms and ingredients a set has no factor for get none (buprenorphine,
rectal forms, buccal fentanyl under the clinical sets): those fills are counted and reported as not converted.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rxguard.adapters.surveillance.knowledge import MmeFactorSet
from rxguard.knowledge.base import KnowledgeBase

ORAL_FORMS = frozenset({"tablet", "capsule", "oral-liquid"})
# The classes the surveillance rules look at, in the order that decides a product's class.
CLASSES = ("opioid", "benzodiazepine", "z-drug", "cns-stimulant", "gabapentinoid", "thiopurine")
UNITS = {"mg": "MG", "ug": "MCG", "ug/h": "MCG/HR", "mg/mL": "MG/ML", "g": "G", "IU": "IU"}
FORMS = {"oral-solution": "oral-liquid", "patch": "patch", "tablet": "tablet", "capsule": "capsule", "film": "film"}


def ndc_dir() -> Path:
    return Path(str(resources.files("rxguard.knowledge") / "data" / "ndc"))


@dataclass(frozen=True, slots=True)
class NdcTable:
    rows: list[dict[str, str]]
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        versions = ", ".join(f"CDC {s['cdc_version']} ({s['ndc_currency']})" for s in self.manifest["sources"])
        return f"{self.manifest['rows']} NDCs from {versions}"

    @property
    def patch_days(self) -> float:
        return float(self.manifest["fentanyl_patch_days_per_patch"])


_CACHE: dict[str, NdcTable] = {}


def ndc_table(directory: Path | None = None) -> NdcTable:
    """The committed NDC table and its manifest (built by scripts/build_ndc_table.py)."""
    folder = directory or ndc_dir()
    key = str(folder)
    if key not in _CACHE:
        with (folder / "cdc_ndc.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        _CACHE[key] = NdcTable(rows=rows, manifest=manifest)
    return _CACHE[key]


def taken_as(ingredient: str, dose_form: str, cdc_factor: str = "") -> str:
    """The form in the factor tables' terms, from the table's dose form (as checks/mme.form_of does from routes)."""
    if dose_form == "patch":
        return "transdermal"
    if ingredient == "fentanyl" and dose_form in ("tablet", "lozenge"):
        return "buccal"
    if dose_form == "film":
        return "film"
    if dose_form == "spray":
        # The file gives nasal fentanyl 0.16 and oral spray 0.18 (grouped with films); other sprays are nasal.
        return "film" if ingredient == "fentanyl" and cdc_factor == "0.18" else "nasal"
    if dose_form in ORAL_FORMS:
        return "oral"
    return dose_form or "other"


def _unit_scale(uom: str, basis: str) -> float | None:
    """What turns strength x quantity (in the product's unit) into the factor's basis amount."""
    amount = uom.split("/", maxsplit=1)[0]
    if basis == "mg/day":
        return {"MG": 1.0, "MCG": 0.001, "G": 1000.0}.get(amount)
    if basis == "ug/day":
        return {"MG": 1000.0, "MCG": 1.0}.get(amount)
    return None


def _set_k(
    factor_set: MmeFactorSet, ingredient: str, uom: str, dose_form: str
) -> tuple[float | None, float | None, str | None]:
    """(mme_k, mme_rate, tier ingredient) of one product under a set from the knowledge base."""
    form = taken_as(ingredient, dose_form)
    factor = factor_set.factor(ingredient, form)
    if factor is None:
        return None, None, None
    if factor.basis == "ug/h":
        if uom != "MCG/HR" or factor.factor is None:
            return None, None, None
        return None, factor.factor / (factor.patch_days or 1.0), None
    scale = _unit_scale(uom, factor.basis)
    if scale is None:
        return None, None, None
    if factor.tiers:
        return None, None, ingredient if scale == 1.0 else None
    return (factor.factor * scale if factor.factor is not None else None), None, None


def _file_factors_by_product(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], float]:
    """(ingredient, dose form, uom) -> the file's factor, where every NDC of that product kind agrees."""
    seen: dict[tuple[str, str, str], set[str]] = {}
    for row in rows:
        if row["drug_class"] == "opioid":
            seen.setdefault((row["ingredient"], row["dose_form"], row["uom"]), set()).add(row["cdc_mme_factor"])
    return {key: float(next(iter(v))) for key, v in seen.items() if len(v) == 1 and next(iter(v))}


def drug_table(kb: KnowledgeBase, factor_set: MmeFactorSet, table: NdcTable | None = None) -> dict[str, list[Any]]:
    """Columns of the drug lookup (code_system, code, ingredient, ...) for `factor_set`; small enough to build
    in Python (about 30,000 NDCs plus the knowledge base's RxNorm products)."""
    ndc = table or ndc_table()
    cols: dict[str, list[Any]] = {
        name: []
        for name in (
            "code_system",
            "code",
            "ingredient",
            "drug_class",
            "dea_schedule",
            "strength",
            "uom",
            "dose_form",
            "mme_k",
            "mme_rate",
            "mme_tier",
            "mme_days_per_unit",
        )
    }

    def add(
        system: str,
        code: str,
        row: dict[str, Any],
        k: float | None,
        rate: float | None,
        tier: str | None,
        days: float | None,
    ) -> None:
        cols["code_system"].append(system)
        cols["code"].append(code)
        cols["ingredient"].append(row["ingredient"])
        cols["drug_class"].append(row["drug_class"])
        cols["dea_schedule"].append(row["dea_schedule"])
        cols["strength"].append(float(row["strength_per_unit"]) if row["strength_per_unit"] else None)
        cols["uom"].append(row["uom"])
        cols["dose_form"].append(row["dose_form"])
        cols["mme_k"].append(k)
        cols["mme_rate"].append(rate)
        cols["mme_tier"].append(tier)
        cols["mme_days_per_unit"].append(days)

    patch_days = ndc.patch_days
    seen: set[tuple[str, str]] = set()
    for row in ndc.rows:
        k: float | None = None
        rate: float | None = None
        tier: str | None = None
        days: float | None = None
        if row["drug_class"] == "opioid" and row["strength_per_unit"]:
            if factor_set.from_ndc_file:
                factor = float(row["cdc_mme_factor"]) if row["cdc_mme_factor"] else None
                if factor is not None and row["dose_form"] == "patch" and row["uom"] == "MCG/HR":
                    rate, days = factor / patch_days, patch_days
                else:
                    k = factor
            else:
                k, rate, tier = _set_k(factor_set, row["ingredient"], row["uom"], row["dose_form"])
        seen.add(("ndc", row["ndc"]))
        add("ndc", row["ndc"], row, k, rate, tier, days)

    file_factors = _file_factors_by_product(ndc.rows) if factor_set.from_ndc_file else {}
    for product in kb.products.values():
        if not product.rxnorm:
            continue
        chosen: tuple[str, str, float, str] | None = None
        for part in product.ingredients:
            classes = kb.ingredient_classes.get(part.ingredient, frozenset())
            cls = next((c for c in CLASSES if c in classes), "")
            if cls and part.strength is not None:
                chosen = (part.ingredient, cls, part.strength.value, part.strength.unit)
                break
        if chosen is None:
            continue
        ingredient, cls, strength, unit = chosen
        row = {
            "ingredient": ingredient,
            "drug_class": cls,
            "dea_schedule": product.dea_schedule or "",
            "strength_per_unit": str(strength),
            "uom": UNITS.get(unit, unit.upper()),
            "dose_form": FORMS.get(product.dose_form, product.dose_form),
        }
        k, rate, tier, days = None, None, None, None
        if cls == "opioid":
            if factor_set.from_ndc_file:
                factor = file_factors.get((row["ingredient"], row["dose_form"], row["uom"]))
                if factor is not None and row["dose_form"] == "patch":
                    rate, days = factor / patch_days, patch_days
                else:
                    k = factor
            else:
                k, rate, tier = _set_k(factor_set, row["ingredient"], row["uom"], row["dose_form"])
        for code in product.rxnorm:
            if ("rxnorm", code) not in seen:
                seen.add(("rxnorm", code))
                add("rxnorm", code, row, k, rate, tier, days)
    return cols
