"""One-time import of the guide side-effect table (side_effects.csv, 81 rows) into rxguard's knowledge base.

Writes `src/rxguard/knowledge/data/pharmacy/side-effects.yaml`. Every curation decision is in the tables
below (which rxguard ingredients a sheet "ingredient" means, which documents each source string names, the
frequency band of each wording), so the output can be regenerated and reviewed as a diff:

    python scripts/import_guide_side_effects.py ../shared/reference/data/guides/side_effects.csv

The YAML it writes is the reviewed knowledge; this script is how it was made.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "rxguard" / "knowledge" / "data" / "pharmacy" / "side-effects.yaml"

INGREDIENTS = {
    "azathioprine": ["azathioprine"],
    "diclofenac": ["diclofenac"],
    "paracetamol": ["paracetamol"],
    "codeine/paracetamol": ["codeine", "paracetamol"],
    "oxycodone": ["oxycodone"],
    "tramadol": ["tramadol"],
    "alprazolam": ["alprazolam"],
    "diazepam": ["diazepam"],
    "mercaptopurine": ["mercaptopurine"],
}
CONFIDENCE = {"P": "primary", "S": "secondary", "UNVERIFIED": "unverified"}


def cite(source: str, section: str, confidence: str, note: str | None = None) -> dict[str, Any]:
    out = {"source": source, "section": section, "confidence": confidence}
    if note:
        out["note"] = note
    return out


MIRROR = "read through a third-party mirror of the NHS page"
NHS_AZA = cite("nhs-azathioprine-side-effects", "side effects", "secondary", MIRROR)
CCUK = cite("ccuk-thiopurines", "side effects (SmPC bands summarised by the charity)", "secondary")
ARUK = cite("arthritis-research-uk-drug-leaflets", "azathioprine: possible side-effects", "secondary")
VOLTAREN = cite("novartis-voltaren-label", "Adverse reactions (MIMS Hong Kong reproduction)", "primary")
NHS_DICLO = cite("nhs-diclofenac", "side effects", "primary")
PARA_48 = cite("uk-smpc-paracetamol-101607", "4.8 Undesirable effects", "primary")
CCM_NHS = cite("nhs-co-codamol", "side effects", "secondary", "read through limelighthealthhub.nhs.uk")
CCM_SMPC = cite("uk-smpc-co-codamol-30-500", "4.2-4.3 (medthority reproduction, 2023)", "primary")
OXY_NHS = cite("nhs-oxycodone", "Side effects of oxycodone", "primary")
OXY_US = cite(
    "us-label-oxycontin", "Adverse Reactions (placebo-controlled trials, >5%)", "secondary", "drugs.com-derived copy"
)
TRAM_NHS = cite("nhs-tramadol", "Side effects of tramadol", "primary")
NOAX = cite("pl-spc-noax-uno", "4.8 Undesirable effects", "primary", "reproduction (ktomalek.pl)")
XANAX_T1 = cite("us-label-alprazolam", "Adverse Reactions, Table 1 (GAD trials)", "primary", "reproduction (mdtodate)")
STADA = cite("de-pil-diazepam-stada", "section 4 (side effects)", "primary")
DIAZ_US = cite("us-label-diazepam", "Adverse Reactions", "primary")
MP_PIL = cite("uk-pil-mercaptopurine", "section 4 (possible side effects)", "primary")
PURINETHOL = cite("us-label-purinethol", "Adverse Reactions", "primary")
WEST_KENT = cite("west-kent-gastro-thiopurines", "side effects (IBD clinic estimates)", "secondary")

SOURCES: dict[str, list[dict[str, Any]]] = {
    "Arthritis Research UK (S); SmPC band UNVERIFIED": [ARUK],
    "Crohn's & Colitis UK (n.d.)": [CCUK],
    "Crohn's & Colitis UK (n.d.); Arthritis Research UK": [CCUK, ARUK],
    "IBD Clinic Canada page (S); SmPC band UNVERIFIED": [
        cite("ibd-clinic-canada", "azathioprine/mercaptopurine side effects", "secondary")
    ],
    "NHS 'Side effects of azathioprine' (via mirror penndotteensador.pages.dev, n.d.); Crohn's & Colitis UK "
    "azathioprine/mercaptopurine page (n.d.)": [NHS_AZA, CCUK],
    "NHS via mirror (n.d.)": [NHS_AZA],
    "NHS via mirror (n.d.); CCUK": [NHS_AZA, CCUK],
    "US Imuran label, Adverse Reactions (section not read)": [
        cite("us-label-azathioprine", "Adverse Reactions", "unverified", "section not read: figures recalled")
    ],
    "openFDA Imuran label set_id 606101a0-6244-7eff-e053-2a91aa0acadd, Boxed Warning (openFDA 2026)": [
        cite("us-label-azathioprine", "Boxed Warning (openFDA set_id 606101a0-6244-7eff-e053-2a91aa0acadd)", "primary")
    ],
    "Co-codamol 30/500 SmPC 4.2/4.3 (medthority repro, 2023); BNF copy": [
        CCM_SMPC,
        cite("bnf", "codeine: contra-indications (copy)", "secondary"),
    ],
    "NHS 'Co-codamol for adults' via limelighthealthhub.nhs.uk (n.d.); cocodamol.net": [CCM_NHS],
    "NHS text quoted in press report (giachinoplasticsurgery.com)": [
        cite("nhs-co-codamol", "serious side effects", "secondary", "NHS text quoted in a press report")
    ],
    "NHS via limelighthealthhub.nhs.uk": [CCM_NHS],
    "NHS via limelighthealthhub.nhs.uk; NHS codeine text via mirror": [
        CCM_NHS,
        cite("nhs-codeine", "side effects", "secondary", MIRROR),
    ],
    "SmPC 4.2 (2023); NHS via limelighthealthhub": [
        cite("uk-smpc-co-codamol-30-500", "4.2 (2023)", "primary"),
        CCM_NHS,
    ],
    "Diazepam STADA 10 mg PIL (DE), repro medikamio": [STADA],
    "Diazepam STADA PIL (DE)": [STADA],
    "UK SmPC 4.2 (emc Sandoz 2024); NHS via press": [
        cite("uk-smpc-diazepam-sandoz", "4.2 Posology (2024)", "primary"),
        cite("nhs-diazepam", "addiction and stopping", "secondary", "NHS text quoted in a press report"),
    ],
    "US diazepam label (repro)": [cite("us-label-diazepam", "Warnings: paradoxical reactions", "primary")],
    "US diazepam label Adverse Reactions (repro globalrph)": [DIAZ_US],
    "US diazepam label postmarketing (repro globalrph)": [
        cite("us-label-diazepam", "Adverse Reactions: postmarketing", "primary")
    ],
    "Novartis Voltaren/Voltaren SR label, Adverse reactions (MIMS Hong Kong reproduction, n.d.)": [VOLTAREN],
    "Voltaren label (MIMS HK)": [VOLTAREN],
    "Voltaren label (MIMS HK); nhs.uk": [VOLTAREN, NHS_DICLO],
    "Voltaren label (MIMS HK); nhs.uk About diclofenac": [VOLTAREN, NHS_DICLO],
    "Voltaren label warnings (repro) and 4.8 (MIMS HK)": [
        cite("novartis-voltaren-label", "4.4 Warnings and 4.8 (MIMS Hong Kong reproduction)", "primary")
    ],
    "DailyMed 2024 W&P 5.2; cancertherapyadvisor summary; West Kent leaflet": [
        cite("us-label-mercaptopurine", "5.2 Hepatotoxicity (DailyMed, July 2024)", "primary"),
        WEST_KENT,
    ],
    "Dana-Farber consent document (studyres copy); IBD leaflets": [
        cite("dfci-consent-mercaptopurine", "risks: pancreatitis", "secondary", "copy on studyres"),
    ],
    "Puri-Nethol/Mercaptopurine UK PIL s.4 (repro drugs.com/uk)": [MP_PIL],
    "Purinethol US label Adverse Reactions (repro druglib.com); DailyMed 2024 W&P 5.1": [
        PURINETHOL,
        cite("us-label-mercaptopurine", "5.1 Myelosuppression (DailyMed, July 2024)", "primary"),
    ],
    "Purinethol label (repro druglib)": [PURINETHOL],
    "Purinethol label (repro druglib); West Kent Gastro leaflet": [PURINETHOL, WEST_KENT],
    "UK PIL s.4": [MP_PIL],
    "UK PIL s.4 (repro drugs.com/uk)": [MP_PIL],
    "West Kent Gastro / Digestive Health London leaflets": [WEST_KENT],
    "OxyContin US label summary (drugs.com-derived copy)": [OXY_US],
    "OxyContin label paediatric data via drugs.com-derived copy": [
        cite("us-label-oxycontin", "paediatric adverse reactions (11-16 years)", "secondary", "drugs.com-derived copy")
    ],
    "nhs.uk": [],  # resolved per ingredient below
    "nhs.uk 'Side effects of oxycodone' (n.d.); OxyContin label summary (S)": [OXY_NHS, OXY_US],
    "openFDA oxycodone HCl tablets label, Boxed Warning (openFDA 2026)": [
        cite("us-label-oxycodone", "Boxed Warning (openFDA)", "primary")
    ],
    "openFDA oxycodone label Boxed Warning": [cite("us-label-oxycodone", "Boxed Warning (openFDA)", "primary")],
    "Toms 2008 Cochrane CD004602 via EBM Guidelines summary": [
        cite("toms-2008-cochrane", "results (via an EBM Guidelines summary)", "secondary")
    ],
    "emc SmPC (product 101607) s.4.8": [PARA_48],
    "emc SmPC 101607 s.4.8": [PARA_48],
    "emc SmPC 101607 s.4.8; Panadol SmPC 4.4 (Haleon, MHRA 2023)": [
        PARA_48,
        cite("uk-smpc-panadol", "4.4 (Haleon, MHRA revision 2023)", "primary"),
    ],
    "emc SmPC 101607 s.4.8; emc SmPC 100693 s.4.9": [
        PARA_48,
        cite("uk-smpc-paracetamol-500", "4.9 Overdose", "primary"),
    ],
    "Drug-info page summary": [cite("tramadol-drug-info-summary", "serotonin syndrome", "secondary")],
    "Noax Uno SPC 4.8 (PL)": [NOAX],
    "Noax Uno SPC 4.8 (PL, repro ktomalek.pl)": [NOAX],
    "nhs.uk 'Side effects of tramadol' (n.d.); Noax Uno SPC 4.8 (PL)": [TRAM_NHS, NOAX],
    "nhs.uk; Noax Uno SPC 4.8": [TRAM_NHS, NOAX],
    "Older Xanax label figures via droracle.ai summary": [
        cite(
            "us-label-alprazolam",
            "older label: panic disorder trials, adverse reactions",
            "secondary",
            "figures read in an AI-generated summary (droracle.ai), not the label",
        )
    ],
    "Xanax US label Table 1 (repro)": [XANAX_T1],
    "Xanax US label Table 1 (repro: mdtodate.com, 2022 copy)": [XANAX_T1],
    "Xanax label cross-ref list (repro)": [
        cite("us-label-alprazolam", "Warnings and Precautions cross-reference list", "primary", "reproduction")
    ],
    "Xanax label sections 5/6 cross-refs and 2.x (repro)": [
        cite("us-label-alprazolam", "sections 2, 5 and 6", "primary", "reproduction")
    ],
}
NHS_BY_INGREDIENT = {"oxycodone": OXY_NHS, "tramadol": TRAM_NHS}

# Rows whose confidence mixes a primary band with a secondary figure ('P (NHS band); S (US >5% figure)'): the
# row is as sure as its weakest part.
MIXED = "P (NHS band); S (US >5% figure)"


# Wordings the pattern below would misread: a band the sheet only "believes", or "rare" inside a quotation.
BAND_OVERRIDES = {
    "Not banded in sources read (SmPC band believed 'uncommon')": "not-quantified",
    "Not quantified ('rare if taken as advised' - NHS)": "not-quantified",
}


def band(frequency: str) -> str:
    """The frequency band of the source's wording (the first band it names wins)."""
    if frequency.strip() in BAND_OVERRIDES:
        return BAND_OVERRIDES[frequency.strip()]
    text = frequency.lower()
    checks = [
        (r"very common|>\s*1 in 10\b|>=1/10\b", "very-common"),
        (r"very rare|<1/10,000", "very-rare"),
        (r"\buncommon\b", "uncommon"),
        (r"\bcommon\b|>\s*1 in 100\b|1/10 to 1/100", "common"),
        (r"\brare\b", "rare"),
        (r"most common|most frequent|among most common", "most-common"),
        (r"\d+(\.\d+)?\s*%", "percent"),
        (r"not known", "not-known"),
        (r"increased risk", "increased-risk"),
    ]
    found = [(m.start(), name) for pattern, name in checks if (m := re.search(pattern, text))]
    if not found:
        return "not-quantified"
    return min(found)[1]


def slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:5])


def main(path: str) -> None:
    with Path(path).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    entries: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        ingredients = INGREDIENTS[row["ingredient"]]
        citations = SOURCES[row["source"]] or [NHS_BY_INGREDIENT[row["ingredient"]]]
        raw = row["confidence"].strip()
        confidence = "secondary" if raw == MIXED else CONFIDENCE[raw]
        key = f"side-effect.{'-'.join(ingredients)}.{slug(row['effect'])}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key += f"-{seen[key]}"
        seriousness = row["seriousness"].strip()
        entry: dict[str, Any] = {
            "id": key,
            "version": 1,
            "status": "active",
            "confidence": confidence,
            "ingredients": ingredients,
            "effect": row["effect"].strip(),
            "frequency": row["frequency_value_or_band"].strip(),
            "band": band(row["frequency_value_or_band"]),
            "population": row["population"].strip(),
            "serious": seriousness.lower().startswith(("serious", "potentially serious")),
            "seriousness": seriousness,
            "sheet_row": number,
            "sources": citations,
        }
        advice = row["advice"].strip()
        if advice and advice != "-":
            entry["advice"] = advice
        if raw == MIXED:
            entry["notes"] = "The band is from the NHS page (primary); the US '>5%' figure from a secondary copy."
        if confidence == "unverified":
            # Recorded for review, never shown: a draft entry does not reach the guides.
            entry["status"] = "draft"
            entry["notes"] = "UNVERIFIED: the label section was not read; do not publish these figures until checked."
        entries.append(entry)
    header = (
        "# Generated from side_effects.csv (rxguard reference sheet for the patient medication guides, 81 rows) by\n"
        "# scripts/import_guide_side_effects.py, then reviewed. Frequencies are as each source states them, with the\n"
        "# population the figure comes from; rates are comparable only with the placebo arm of the same trial.\n"
    )
    text = yaml.safe_dump({"side_effects": entries}, sort_keys=False, allow_unicode=True, width=120)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(header + text, encoding="utf-8")
    print(f"wrote {len(entries)} side effects to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared/reference/data/guides/side_effects.csv"))
