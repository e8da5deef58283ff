"""Generate rxguard's thiopurine pharmacogenomics tables from the reference data (developer tool).

Reads ../shared/reference/data/thiopurines/ (PharmCAT allele definitions and phenotypes, the flattened
PharmGKB annotations of the CPIC guideline, PyPGx's allele table for GRCh37 coordinates) and writes:

    src/rxguard/knowledge/data/pgx/genes.yaml            allele definitions (GRCh38 + GRCh37) and functions
    src/rxguard/knowledge/data/pgx/diplotypes.yaml       every diplotype -> phenotype row
    src/rxguard/knowledge/data/pgx/recommendations.yaml  every drug x TPMT x NUDT15 recommendation row

Facts and numbers are carried over; the recommendation wording is rxguard's own, composed from the parsed
facts (the source sentences are not copied). The March 2024 CPIC amendment is NOT applied here: it lives in
the hand-written pgx/amendments.yaml, over these rows. To move to the 2025 CPIC update, point --reference at
the new tables, set GUIDELINE below, regenerate, and review the diff.

    .venv/bin/python scripts/pgx_tables.py [--reference ../shared/reference/data/thiopurines]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "data" / "thiopurines"
OUT = ROOT / "src" / "rxguard" / "knowledge" / "data" / "pgx"

GUIDELINE = "CPIC 2018 thiopurine guideline (Relling 2019, PMID 30447069) with CPIC updates to 2020"
ANNOTATION = {"azathioprine": "PA166104933", "mercaptopurine": "PA166104945", "thioguanine": "PA166104965"}
PHENOTYPES = {
    "Normal Metabolizer": "nm",
    "Intermediate Metabolizer": "im",
    "Possible Intermediate Metabolizer": "pim",
    "Poor Metabolizer": "pm",
    "Indeterminate": "ind",
    "No Result": "none",
}
HGNC = {"TPMT": "HGNC:12014", "NUDT15": "HGNC:23063"}
CHROM37 = {"TPMT": "6", "NUDT15": "13"}


def normalise(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Minimal VCF representation: trim the shared suffix, then the shared prefix (keeping one base)."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def flow(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- genes -------------------------------------------------------------------------------------------


def pypgx_coordinates(reference: Path) -> dict[tuple[str, int, str, str], tuple[int, str, str]]:
    """(gene, normalised GRCh38 change) -> GRCh37 change, from PyPGx's allele table."""
    mapping: dict[tuple[str, int, str, str], tuple[int, str, str]] = {}
    with (reference / "pypgx" / "allele-table_TPMT_NUDT15.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["GRCh38Core"] in ("N/A", "") or row["GRCh37Core"] in ("N/A", ""):
                continue
            items38 = row["GRCh38Core"].split(",")
            items37 = row["GRCh37Core"].split(",")
            for a, b in zip(items38, items37, strict=True):
                _, p38, r38, x38 = a.split("-")
                _, p37, r37, x37 = b.split("-")
                key = (row["Gene"], *normalise(int(p38), r38, x38))
                mapping[key] = (int(p37), r37, x37)
    return mapping


def pypgx_functions(reference: Path) -> dict[tuple[str, str], str]:
    found = {}
    with (reference / "pypgx" / "allele-table_TPMT_NUDT15.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found[(row["Gene"], row["StarAllele"])] = row["Function"].replace("Function", "function")
    return found


def gene_entry(reference: Path, gene: str, coords37: dict[Any, Any], functions37: dict[Any, Any]) -> str:
    definition = json.loads((reference / "pharmcat" / f"definition_alleles_{gene}_translation.json").read_text())
    phenotype = json.loads((reference / "pharmcat" / f"phenotype_{gene}.json").read_text())
    functions: dict[str, str] = phenotype["haplotypes"]
    variants = definition["variants"]
    lines = [
        f"  - id: pgx.gene.{gene.lower()}",
        "    version: 1",
        "    status: active",
        "    confidence: primary",
        f"    gene: {gene}",
        f'    hgnc: "{HGNC[gene]}"',
        f'    chromosome_grch38: "{definition["chromosome"]}"',
        f'    chromosome_grch37: "{CHROM37[gene]}"',
        f'    definition_version: "{definition["source"]} {definition["version"]}"',
        f'    function_version: "{phenotype["version"]}"',
        "    sources:",
        "      - source: pharmcat-allele-definitions",
        f'        section: "definition/alleles/{gene}_translation.json (GRCh38 positions, rsIDs)"',
        "        confidence: primary",
        "      - source: pharmcat-phenotypes",
        f'        section: "phenotype/{gene}.json: haplotypes (allele clinical function)"',
        "        confidence: primary",
        "      - source: pypgx-tables",
        '        section: "pypgx/api/data/allele-table.csv: GRCh37Core (GRCh37 coordinates)"',
        "        confidence: secondary",
        "        note: GRCh37 positions only; GRCh38 definitions are PharmCAT's",
        "    variants:",
    ]
    keys37: dict[int, dict[str, Any]] = {}
    changes: dict[str, list[dict[str, Any]]] = {}
    for index, variant in enumerate(variants):
        pos, ref = variant["position"], variant["ref"]
        grch37: dict[str, Any] | None = None
        for allele in definition["namedAlleles"]:
            alt = allele["alleles"][index]
            if alt is None or allele["reference"] or alt == ref:
                continue
            norm = normalise(pos, ref, alt)
            mapped = coords37.get((gene, *norm))
            change = {
                "variant": str(pos),
                "grch38": f"{pos}:{ref}>{alt}",
                "grch37": f"{mapped[0]}:{mapped[1]}>{mapped[2]}" if mapped else None,
            }
            changes.setdefault(allele["name"], []).append(change)
            if mapped and grch37 is None:
                # the GRCh37 reference base at the definition position, in PyPGx's normalisation
                grch37 = {"pos": mapped[0], "ref": mapped[1]}
        keys37[pos] = grch37 or {}
        entry: dict[str, Any] = {
            "key": str(pos),
            "rsid": variant["rsid"],
            "hgvs": variant["chromosomeHgvsName"],
            "grch38": {"pos": pos, "ref": ref},
            "grch37": grch37,
        }
        if grch37 is None:
            entry["grch37_note"] = "no GRCh37 coordinate in the sources: matched by rsID only on GRCh37"
        lines.append(f"      - {flow(entry)}")
    lines.append("    alleles:")
    for allele in definition["namedAlleles"]:
        name = allele["name"]
        function = functions.get(name)
        source = "pharmcat"
        if function is None:
            function = functions37.get((gene, name))
            source = "pypgx"
        if function is None:
            # defined by ClinPGx but given no clinical function by CPIC, PharmCAT or PyPGx (NUDT15 *21)
            function, source = "Unknown function", "none"
        entry = {"name": name, "function": function, "function_source": source, "changes": changes.get(name, [])}
        lines.append(f"      - {flow(entry)}")
    return "\n".join(lines)


def write_genes(reference: Path) -> None:
    coords37 = pypgx_coordinates(reference)
    functions37 = pypgx_functions(reference)
    body = "\n".join(gene_entry(reference, g, coords37, functions37) for g in ("TPMT", "NUDT15"))
    header = (
        "# GENERATED by scripts/pgx_tables.py from the reference data: do not edit by hand.\n"
        "# TPMT and NUDT15 star-allele definitions (PharmCAT/ClinPGx, GRCh38) with GRCh37 coordinates from\n"
        "# PyPGx where it has them, and each allele's CPIC clinical function. Functions marked\n"
        "# function_source: pypgx (TPMT *42-*44, NUDT15 *10-*20) are not in PharmCAT's phenotype file: secondary;\n"
        "# function_source: none (NUDT15 *21) has no assigned function anywhere: treated as Unknown function.\n"
        "# The Feb-2026 CPIC function changes (2025 update) are NOT here: their values are UNVERIFIED.\n"
    )
    (OUT / "genes.yaml").write_text(header + "genes:\n" + body + "\n", encoding="utf-8")


# --- diplotypes -------------------------------------------------------------------------------------


def write_diplotypes(reference: Path) -> None:
    lines = [
        "# GENERATED by scripts/pgx_tables.py from the reference data: do not edit by hand.",
        "# Every diplotype -> CPIC phenotype row of PharmCAT's phenotype files (data version 2025-11-05).",
        "diplotype_tables:",
    ]
    for gene in ("TPMT", "NUDT15"):
        phenotype = json.loads((reference / "pharmcat" / f"phenotype_{gene}.json").read_text())
        rows = [[d["diplotype"], d["generesult"]] for d in phenotype["diplotypes"]]
        lines += [
            f"  - id: pgx.phenotype.{gene.lower()}",
            "    version: 1",
            "    status: active",
            "    confidence: primary",
            f"    gene: {gene}",
            f'    data_version: "{phenotype["version"]}"',
            "    sources:",
            "      - source: pharmcat-phenotypes",
            f'        section: "phenotype/{gene}.json: diplotypes ({len(rows)} rows)"',
            "        confidence: primary",
            "      - source: cpic-thiopurines-2018",
            '        section: "Table 1 (assigning phenotypes), with the April 2020 Indeterminate update"',
            "        confidence: primary",
            "    rows:",
        ]
        lines += [f"      - {flow(r)}" for r in rows]
    (OUT / "diplotypes.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- recommendations ----------------------------------------------------------------------------------

_PERCENT = re.compile(r"(\d+)%\s*(?:-|to)\s*(\d+)%")
_WEEKS = re.compile(r"Allow (at least )?(\d+)(?:-(\d+))? weeks")
_MG_KG = re.compile(r"([\d.]+)\s*[–-]\s*([\d.]+) mg/kg/day")
_MG_M2 = re.compile(r"([\d.]+)\s*[–-]\s*([\d.]+) mg/m2/day")
_PMID = re.compile(r"\d{7,8}")


def parse_recommendation(row: dict[str, str]) -> dict[str, Any]:
    """The facts of one CPIC recommendation row, read from its text."""
    text, _, other = row["recommendation_text"].partition(" | Other Considerations | ")
    facts: dict[str, Any] = {}
    lower = text.lower()
    if "alternative non-thiopurine" in lower:
        facts["action"] = "poor"
        malignant: dict[str, Any] = {}
        if "10-fold" in lower:
            malignant["percent"] = [10, 10]
        if "25% of normal" in lower:
            malignant["percent"] = [25, 25]
        if "10 mg/m2/day" in lower and "10-fold" not in lower:
            malignant["absolute"] = "10 mg/m2/day"
        malignant["thrice_weekly"] = "thrice weekly" in lower
        facts["malignant"] = malignant
    elif "reduced" in lower and _PERCENT.search(text):
        m = _PERCENT.search(text)
        if m is None:  # pragma: no cover - the elif above found it
            raise SystemExit("unreachable")
        facts["action"] = "reduce"
        facts["start_dose_percent"] = [int(m.group(1)), int(m.group(2))]
    elif "normal starting dose" in lower:
        facts["action"] = "normal"
        facts["start_dose_percent"] = [100, 100]
    else:
        facts["action"] = "no-dose"
    weeks = _WEEKS.search(text)
    if weeks:
        low = int(weeks.group(2))
        facts["steady_state_weeks"] = [low, int(weeks.group(3) or low)]
        if weeks.group(1):
            facts["steady_state_at_least"] = True
    examples = [m for m in _MG_KG.finditer(text)]
    if examples and facts["action"] in ("reduce", "normal"):
        facts["example_mg_per_kg_day"] = [float(examples[-1].group(1)), float(examples[-1].group(2))]
    m2 = _MG_M2.search(text)
    if m2 and facts["action"] in ("reduce", "normal"):
        facts["example_mg_per_m2_day"] = [float(m2.group(1)), float(m2.group(2))]
    if "based on tpmt" in lower:
        facts["governing_gene"] = "TPMT"
    elif "based on nudt15" in lower or "based nudt15" in lower:
        facts["governing_gene"] = "NUDT15"
    tests = []
    if "tpmt activity" in lower or "tpmt erythrocyte activity" in lower:
        tests.append("erythrocyte-tpmt-activity")
    if "monitor closely for toxicity" in lower:
        tests.append("monitor-closely")
    if tests:
        facts["test_advice"] = tests
    if "further dose reduction might be needed" in other.lower():
        facts["both_intermediate_note"] = True
    if "falsely low" in other.lower():
        facts["activity_test_caveat"] = True
    facts["pmids"] = sorted(set(_PMID.findall(text)))
    return facts


def pct(values: list[int]) -> str:
    return f"{values[0]}%" if values[0] == values[1] else f"{values[0]}-{values[1]}%"


def summary(drug: str, tpmt: str, nudt15: str, facts: dict[str, Any]) -> str:
    """rxguard's own wording of the parsed facts."""
    action = facts["action"]
    weeks = facts.get("steady_state_weeks")
    steady = ""
    if weeks:
        span = f"{weeks[0]}" if weeks[0] == weeks[1] else f"{weeks[0]}-{weeks[1]}"
        steady = (
            f" Steady state {'at least ' if facts.get('steady_state_at_least') else ''}{span} weeks after each change."
        )
    if action == "normal":
        text = f"Usual starting dose of {drug}; adjust by disease-specific guidelines."
    elif action == "reduce":
        text = (
            f"Start {drug} at {pct(facts['start_dose_percent'])} of the usual starting dose and adjust to "
            "myelosuppression and disease guidelines."
        )
    elif action == "poor":
        malignant = facts["malignant"]
        if "absolute" in malignant:
            cancer = f"start at {malignant['absolute']}"
        else:
            cancer = f"start at {pct(malignant['percent'])} of the usual daily dose"
        if malignant.get("thrice_weekly"):
            cancer += ", given three times a week instead of daily"
        text = f"Non-malignant disease: use a non-thiopurine immunosuppressant instead. Malignancy: {cancer}."
    else:
        text = "No phenotype-based dose: neither gene gives a usable result."
    extra = []
    advice = facts.get("test_advice", [])
    if "erythrocyte-tpmt-activity" in advice:
        extra.append("Consider measuring erythrocyte TPMT activity.")
    if "monitor-closely" in advice:
        extra.append("If a thiopurine is needed while a status is unknown, monitor closely for toxicity.")
    if facts.get("both_intermediate_note"):
        extra.append("Intermediate for both genes: a further reduction may be needed.")
    return " ".join([text + steady, *extra]).strip()


def write_recommendations(reference: Path) -> None:
    path = reference / "cpic_thiopurine_recommendations_2024-03-25_flat.tsv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    lines = [
        "# GENERATED by scripts/pgx_tables.py from the reference data: do not edit by hand.",
        f"# One rule per drug x TPMT phenotype x NUDT15 phenotype ({len(rows)} rows), read from the PharmGKB",
        "# annotations of the CPIC guideline as shipped by PharmCAT on 2024-03-25. These rows PREDATE the March",
        "# 2024 TPMT IM + NUDT15 IM amendment: pgx/amendments.yaml overrides those rows. Wording is rxguard's own.",
        "recommendations:",
    ]
    for row in rows:
        drug, tpmt, nudt15 = row["drug"], row["TPMT_phenotype"], row["NUDT15_phenotype"]
        facts = parse_recommendation(row)
        rule_id = f"pgx.cpic.{drug}.tpmt-{PHENOTYPES[tpmt]}.nudt15-{PHENOTYPES[nudt15]}"
        annotation = f"PharmGKB {ANNOTATION[drug]} v{row['annotation_version']}"
        entry: dict[str, Any] = {"drug": drug, "tpmt": tpmt, "nudt15": nudt15, "strength": row["strength"], **facts}
        pmids = entry.pop("pmids")
        lines += [
            f"  - id: {rule_id}",
            "    version: 1",
            "    status: active",
            "    confidence: primary",
            f'    guideline_version: "{GUIDELINE}"',
            f'    annotation: "{annotation}, recommendation {row["pharmgkb_recommendation_id"]}"',
            "    sources:",
            "      - source: cpic-thiopurines-2018",
            f'        section: "{"Table 2 (TPMT)" if nudt15 in ("Normal Metabolizer", "No Result") else "Tables 2-3"}'
            f' as annotated by PharmGKB: {tpmt} x {nudt15}"',
            "        confidence: primary",
            "      - source: pharmgkb-cpic-thiopurine-annotations",
            f'        section: "{annotation}, {row["pharmgkb_recommendation_id"]}"',
            "        confidence: primary",
        ]
        for key, value in entry.items():
            lines.append(f"    {key}: {flow(value)}")
        lines.append(f"    pmids: {flow(pmids)}")
        lines.append(f"    summary: {flow(summary(drug, tpmt, nudt15, facts))}")
    (OUT / "recommendations.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    args = parser.parse_args()
    if not args.reference.is_dir():
        print(f"no reference data at {args.reference}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    write_genes(args.reference)
    write_diplotypes(args.reference)
    write_recommendations(args.reference)
    print(f"wrote {OUT}/genes.yaml, diplotypes.yaml, recommendations.yaml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
