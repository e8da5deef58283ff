"""One-time import of the triage reference sheet (triage.csv, 150 rows) into rxguard's knowledge base.

Writes `src/rxguard/knowledge/data/triage/{vocabulary,rules,policy}.yaml` and
`src/rxguard/knowledge/data/sources/triage.yaml`. Every curation decision (which rxguard ingredients and
classes a sheet row's "drug_or_class" means, which document each source string names, added lay synonyms,
drug-independent escalation rules, the two azathioprine rows the sheet lacks) is in the tables below, so
the output can be regenerated and reviewed as a diff:

    python scripts/import_triage_sheet.py ../shared/reference/data/triage/triage.csv

The YAML it writes is the reviewed knowledge; this script is how it was made.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "rxguard" / "knowledge" / "data"
SHEET = "triage.csv (rxguard reference sheet 'Symptom-triage table', 150 rows)"

CONFIDENCE = {"P": "primary", "S": "secondary", "UNVERIFIED": "unverified"}

# --- what each sheet "drug_or_class" means in rxguard's vocabulary ------------------------------------------
SCOPES: dict[str, tuple[str, dict[str, Any]]] = {
    "ALL medicines (class-agnostic)": ("all", {"all_medicines": True}),
    "azathioprine": ("azathioprine", {"ingredients": ["azathioprine"]}),
    "mercaptopurine": ("mercaptopurine", {"ingredients": ["mercaptopurine"]}),
    "NSAIDs (ibuprofen, naproxen, diclofenac)": ("nsaids", {"classes": ["nsaid"]}),
    "ibuprofen (OTC)": ("ibuprofen", {"ingredients": ["ibuprofen"]}),
    "ibuprofen": ("ibuprofen", {"ingredients": ["ibuprofen"]}),
    "diclofenac": ("diclofenac", {"ingredients": ["diclofenac"]}),
    "naproxen": ("naproxen", {"ingredients": ["naproxen"]}),
    "paracetamol / acetaminophen": ("paracetamol", {"ingredients": ["paracetamol"]}),
    "opioids (oxycodone, morphine, codeine, tramadol, fentanyl patch, methadone)": ("opioids", {"classes": ["opioid"]}),
    "tramadol": ("tramadol", {"ingredients": ["tramadol"]}),
    "fentanyl patch": ("fentanyl", {"ingredients": ["fentanyl"]}),
    "methadone": ("methadone", {"ingredients": ["methadone"]}),
    "codeine": ("codeine", {"ingredients": ["codeine"]}),
    "benzodiazepines (diazepam etc.) & z-drugs": (
        "benzodiazepines",
        {"classes": ["benzodiazepine", "z-drug"], "other_names": ["zopiclone", "eszopiclone"]},
    ),
    "z-drugs (zolpidem, zopiclone, eszopiclone)": (
        "z-drugs",
        {"classes": ["z-drug"], "other_names": ["zopiclone", "eszopiclone"]},
    ),
    "zopiclone": ("zopiclone", {"other_names": ["zopiclone"]}),
    "gabapentinoids (gabapentin, pregabalin)": ("gabapentinoids", {"classes": ["gabapentinoid"]}),
    "stimulants (methylphenidate, amphetamines incl. lisdexamfetamine)": (
        "stimulants",
        {"classes": ["cns-stimulant"], "other_names": ["lisdexamfetamine"]},
    ),
    "warfarin": ("warfarin", {"ingredients": ["warfarin"]}),
    "methotrexate": ("methotrexate", {"ingredients": ["methotrexate"]}),
    "allopurinol": ("allopurinol", {"ingredients": ["allopurinol"]}),
    "lithium": ("lithium", {"ingredients": ["lithium"]}),
    # The sheet's serotonin-syndrome rows name the combination; their sources are the NHS sertraline page and
    # a generic serotonin-syndrome sheet, so rxguard applies them to a patient on either an SSRI or tramadol.
    "SSRIs + tramadol (serotonin syndrome)": ("serotonin", {"classes": ["ssri"], "ingredients": ["tramadol"]}),
    "SSRIs (e.g. sertraline)": ("ssris", {"classes": ["ssri"]}),
    "ACE inhibitors (ramipril, lisinopril etc.)": ("ace-inhibitors", {"classes": ["ace-inhibitor"]}),
}

# Sheet sign ids that mean different things for different drugs get one vocabulary entry per meaning.
SIGN_RENAMES: dict[tuple[str, str], str] = {
    ("lithium", "common_side_effects"): "lithium-common-side-effects",
    ("SSRIs (e.g. sertraline)", "common_side_effects"): "ssri-common-side-effects",
}

LABELS: dict[str, str] = {
    "anaphylaxis": "Serious allergic reaction (anaphylaxis)",
    "severe-skin-reaction-blistering-rash": "Blistering, peeling or spreading rash (severe skin reaction)",
    "jaundice": "Yellow skin or whites of the eyes (jaundice)",
    "dark-urine-or-pale-stools": "Dark urine or pale stools",
    "sjs-ten-or-severe-skin-reaction": "Severe skin reaction (Stevens-Johnson syndrome / TEN)",
    "slow-or-shallow-breathing": "Slow or shallow breathing",
    "pinpoint-pupils-with-drowsiness": "Pinpoint (very small) pupils",
    "extreme-sleepiness": "Extreme sleepiness",
    "suspected-overdose": "Suspected paracetamol overdose (too much taken)",
    "took-too-much": "Took too much of a medicine (possible overdose)",
    "heart-attack-or-stroke-signs": "Chest pain or signs of a stroke",
    "black-tarry-stools": "Black, tarry stools",
    "vomiting-blood-or-coffee-grounds": "Vomiting blood or 'coffee grounds'",
    "unusual-bruising-or-bleeding": "Unusual bruising or bleeding",
    "severe-vomiting": "Severe or persistent vomiting",
    "rash": "New rash",
    "fever": "Fever (high temperature)",
    "sore-throat": "Sore throat",
}

# Lay words rxguard adds to the sheet's synonyms (not from a source: vocabulary only, recorded on the sign).
ADDED_SYNONYMS: dict[str, list[str]] = {
    "unusual-bruising-or-bleeding": ["bruising", "unusual bruising", "unusual bleeding", "bleeding"],
    "dark-urine-or-pale-stools": ["urine is dark", "pee is dark"],
    "jaundice": ["eyes are yellow", "skin is yellow", "yellowing"],
    "fever": ["fever", "high fever"],
    "slow-or-shallow-breathing": ["slowed breathing", "breathing slowly", "breathing is slow"],
    "extreme-sleepiness": ["extreme sleepiness", "extremely sleepy"],
    "black-tarry-stools": ["black stool", "tarry stool"],
    "vomiting-blood-or-coffee-grounds": ["vomited blood", "vomiting up blood"],
    "rash": ["rash", "skin rash"],
}

# Signs the sheet does not have as rows: the generic overdose statement, the escalation rules' signs, and the
# azathioprine signs the medication guide lists (rash, severe vomiting). Synonyms are rxguard's vocabulary.
EXTRA_SIGNS: list[dict[str, Any]] = [
    {
        "id": "took-too-much",
        "label": "Took too much of a medicine (possible overdose)",
        "synonyms": [
            "took too many",
            "took too much",
            "overdose",
            "overdosed",
            "took an overdose",
            "double dose",
            "double dosed",
            "took extra",
            "swallowed too many",
            "swallowed a lot",
            "took the whole packet",
            "took a whole packet",
            "ate some tablets",
            "swallowed some tablets",
        ],
        "notes": "rxguard's generic overdose statement; each drug's own 'took too much' row grades it.",
    },
    {
        "id": "trouble-breathing",
        "label": "Trouble breathing",
        "synonyms": [
            "trouble breathing",
            "difficulty breathing",
            "can't breathe",
            "struggling to breathe",
            "hard to breathe",
            "not breathing",
            "stopped breathing",
        ],
        "notes": "Escalation sign (triage sheet section 4); phrases from the sheet's anaphylaxis and breathing rows.",
    },
    {
        "id": "blue-or-grey-lips",
        "label": "Blue or grey lips, skin or tongue",
        "synonyms": [
            "blue lips",
            "grey lips",
            "blue tongue",
            "grey tongue",
            "pale or blue tongue",
            "lips turning blue",
        ],
        "notes": "Escalation sign (triage sheet section 4).",
    },
    {
        "id": "seizure",
        "label": "Seizure (fit)",
        "synonyms": ["seizure", "fit", "fits", "fitting", "convulsion", "convulsing"],
        "notes": "Escalation sign (triage sheet section 4).",
    },
    {
        "id": "suicidal-intent",
        "label": "Suicidal intent, or has acted on it",
        "synonyms": [
            "want to kill myself",
            "going to kill myself",
            "tried to kill myself",
            "took them on purpose",
            "took overdose to hurt myself",
            "swallowed pills to end it",
            "harmed myself",
            "end my life",
        ],
        "notes": "Escalation sign (triage sheet section 4); phrases from the paracetamol self-harm and diazepam rows.",
    },
    {
        "id": "child-exposed",
        "label": "A child has swallowed or been exposed to a medicine",
        "synonyms": [
            "child swallowed",
            "child took",
            "child ate",
            "toddler swallowed",
            "baby swallowed",
            "kid swallowed",
            "child chewed",
            "child got into",
        ],
        "notes": "Escalation sign for opioids (triage sheet section 4: a child exposed to an opioid).",
    },
    {
        "id": "severe-vomiting",
        "label": "Severe or persistent vomiting",
        "synonyms": [
            "severe vomiting",
            "vomiting a lot",
            "can't stop vomiting",
            "keep vomiting",
            "keep being sick",
            "being sick a lot",
            "throwing up a lot",
            "severe nausea and vomiting",
        ],
        "notes": "Azathioprine gastrointestinal hypersensitivity (medication guide warning sign).",
    },
]

# Rules that grade extra signs besides the sheet row's own, or that apply only in a context.
EXTRA_RULE_SIGNS: dict[tuple[str, str], list[str]] = {
    ("paracetamol", "suspected_overdose"): ["took-too-much"],
    ("opioids", "took_too_much_no_symptoms_yet"): ["took-too-much"],
    ("benzodiazepines", "took_more_than_prescribed"): ["took-too-much"],
    ("ibuprofen", "took_more_than_maximum_dose"): ["took-too-much"],
    ("nsaids", "liver_problem_signs"): ["jaundice"],
    ("methotrexate", "bruising_or_bleeding"): ["unusual-bruising-or-bleeding"],
    ("methotrexate", "infection_signs"): ["fever", "sore-throat"],
    ("allopurinol", "fever_sore_throat_swollen_glands"): ["fever", "sore-throat"],
    ("allopurinol", "unexplained_bruising_or_gum_bleeding"): ["unusual-bruising-or-bleeding"],
    ("gabapentinoids", "breathing_problems_or_unrousable"): ["slow-or-shallow-breathing", "blue-or-grey-lips"],
    ("opioids", "blue_or_grey_lips_cold_clammy_skin"): ["blue-or-grey-lips"],
}
REQUIRES: dict[tuple[str, str], list[str]] = {
    # Signs of liver or kidney injury *after an overdose*: drowsiness or confusion alone on co-codamol is not 999.
    ("paracetamol", "late_overdose_signs"): [
        "suspected-overdose",
        "intentional-overdose-or-self-harm",
        "took-too-much",
    ],
}

# --- the documents the sheet's source strings name ------------------------------------------------------------
# (id, title, year, publisher, url, note, citation confidence, [patterns], default section)
NEW_SOURCES: list[dict[str, Any]] = [
    dict(
        id="nhs-diazepam-side-effects",
        title="NHS: Side effects of diazepam",
        publisher="nhs.uk (read directly); review date not captured",
        url="https://www.nhs.uk/medicines/diazepam/side-effects-of-diazepam/",
        conf="primary",
        pat=[r"NHS diazepam (side-effects )?page"],
        section="Side effects",
    ),
    dict(
        id="nhs-naproxen-side-effects",
        title="NHS: Side effects of naproxen",
        publisher="nhs.uk (read directly); review date not captured",
        url="https://www.nhs.uk/medicines/naproxen/side-effects-of-naproxen/",
        conf="primary",
        pat=[r"NHS naproxen side-effects page"],
        section="Side effects",
    ),
    dict(
        id="nhs-allopurinol-side-effects",
        title="NHS: Side effects of allopurinol",
        publisher="nhs.uk (read directly); review date not captured",
        url="https://www.nhs.uk/medicines/allopurinol/side-effects-of-allopurinol/",
        conf="primary",
        pat=[r"NHS allopurinol side-effects page"],
        section="Side effects",
    ),
    dict(
        id="nhs-warfarin-side-effects",
        title="NHS: Side effects of warfarin",
        publisher="nhs.uk (read directly); review date not captured",
        url="https://www.nhs.uk/medicines/warfarin/side-effects-of-warfarin/",
        conf="primary",
        pat=[r"NHS warfarin side-effects page"],
        section="Less serious bleeding",
    ),
    dict(
        id="nhs-anticoagulants-side-effects-older",
        title="NHS: Anticoagulant medicines - side effects (older nhs.uk page)",
        publisher="nhs.uk, older Conditions page; review date not captured",
        url="http://www.nhs.uk/Conditions/Anticoagulant-medicines/Pages/Side-effects.aspx",
        conf="secondary",
        note="An older page: the current nhs.uk serious-bleeding section was not retrieved, so citations are secondary.",
        pat=[r"Older NHS 'Anticoagulant medicines"],
        section="Side effects: bleeding",
    ),
    dict(
        id="nhs-opioid-side-effects",
        title="NHS: Side effects of codeine, morphine, oxycodone and tramadol (four medicine pages)",
        publisher="nhs.uk (read directly); review dates not captured",
        url="https://www.nhs.uk/medicines/morphine/side-effects-of-morphine/",
        conf="primary",
        pat=[
            r"NHS codeine, morphine, oxycodone side-effects",
            r"NHS codeine/morphine/oxycodone/tramadol",
            r"NHS tramadol & oxycodone side-effects",
            r"NHS codeine & morphine side-effects",
            r"NHS morphine, oxycodone, tramadol side-effects",
            r"NHS codeine side-effects page",
            r"NHS tramadol side-effects page",
        ],
        section="Common side effects",
    ),
    dict(
        id="nhs-ramipril-older",
        title="NHS: Ramipril (older beta.nhs.uk page, key facts)",
        publisher="beta.nhs.uk; review date not captured",
        url="https://beta.nhs.uk/medicines/ramipril",
        conf="primary",
        pat=[r"Older NHS ramipril page"],
        section="Key facts",
    ),
    dict(
        id="nhs-azathioprine-side-effects",
        title="NHS: Side effects of azathioprine (read via a mirror copy)",
        publisher="nhs.uk text via mirror (penndotteensador.pages.dev); list items lost in the copy",
        conf="secondary",
        pat=[r"NHS azathioprine side-effects page via mirror"],
        section="Side effects",
    ),
    dict(
        id="nhs-methotrexate-news",
        title="NHS: Methotrexate (as paraphrased in news reports)",
        publisher="news paraphrases of the nhs.uk page (theukreport.com, brumdaily.uk, theukinsider.com)",
        conf="secondary",
        pat=[r"NHS methotrexate page as paraphrased"],
        section="Serious side effects",
    ),
    dict(
        id="nhs-ibuprofen-news",
        title="NHS: Ibuprofen for adults (as paraphrased in news reports)",
        publisher="news paraphrases of the nhs.uk page (lovemainstream.com, wordupnews.com, healthproblemsnews.com)",
        conf="secondary",
        pat=[r"NHS ibuprofen page as paraphrased"],
        section="Serious side effects; taking too much",
    ),
    dict(
        id="nhs-diclofenac-copies",
        title="NHS: Diclofenac (how to take it, taking too much; read via copies and a news paraphrase)",
        publisher="copy of the nhs.uk how-to page (2gomed.com) and a news paraphrase (revolverdeblake.com)",
        conf="secondary",
        pat=[r"NHS diclofenac page as paraphrased", r"Copy of NHS diclofenac how-to page"],
        section="How to take it; if you take too much",
    ),
    dict(
        id="nhs-paracetamol-news",
        title="NHS: Paracetamol for adults (as paraphrased in news reports)",
        publisher="news paraphrases of the nhs.uk page (wstale.com / The Sun, uk.newschant.com)",
        conf="secondary",
        pat=[r"NHS paracetamol page as paraphrased"],
        section="If you take too much",
    ),
    dict(
        id="nhs-sertraline-news",
        title="NHS: Sertraline (as paraphrased in news reports)",
        publisher="Daily Mirror 10 Feb 2026 (via feed.ilidea.com), LADbible 12 Feb 2026, ahecblog.com",
        year=2026,
        conf="secondary",
        pat=[r"NHS sertraline page as paraphrased"],
        section="Side effects",
    ),
    dict(
        id="nhs-gabapentin-copies",
        title="NHS: Gabapentin (older page via a copy; current page as paraphrased in news)",
        publisher="buygabapentinonline.com copy of the older page; britbrief.co.uk and trendingtoday.london paraphrases",
        conf="secondary",
        pat=[r"Older NHS gabapentin page via copy", r"NHS gabapentin page as paraphrased"],
        section="Serious side effects",
    ),
    dict(
        id="us-label-acetaminophen-otc",
        title="Acetaminophen OTC Drug Facts (liver warning, allergy alert)",
        year=2026,
        publisher="US FDA OTC labels via openFDA (e.g. Medique APAP, Tylenol Extra Strength), last updated 2026-06 to 2026-10",
        conf="primary",
        note="The 'Overdose warning' paragraph was not visible in the retrieved excerpts.",
        pat=[r"FDA OTC acetaminophen"],
        section="Warnings",
        quote_is_section=True,
    ),
    dict(
        id="us-otc-narcan",
        title="NARCAN (naloxone HCl) nasal spray OTC Drug Facts",
        year=2026,
        publisher="US FDA OTC label via openFDA, last updated 2026-06-02",
        conf="primary",
        pat=[r"FDA OTC NARCAN"],
        section="Directions",
    ),
    dict(
        id="us-label-lorazepam",
        title="Lorazepam US prescribing information (benzodiazepine class boxed warning)",
        year=2026,
        publisher="US FDA label via openFDA (set_id 6dfbe8be-...), 2026-09-18",
        conf="primary",
        pat=[r"FDA benzodiazepine BOXED WARNING"],
        section="Boxed warning",
    ),
    dict(
        id="us-label-zolpidem-eszopiclone",
        title="Zolpidem and eszopiclone US prescribing information (boxed warning: complex sleep behaviors)",
        year=2026,
        publisher="US FDA label via openFDA (set_id af87df4e-2c97-e23e-e053-2a95a90ab354), 2026-09-25",
        conf="primary",
        pat=[r"FDA zolpidem/eszopiclone BOXED WARNING"],
        section="Boxed warning",
    ),
    dict(
        id="us-label-cns-stimulants",
        title="Methylphenidate and dexmethylphenidate US prescribing information (CNS stimulant boxed warning, revised 10/2023)",
        year=2023,
        publisher="US FDA labels via openFDA (methylphenidate set_id 238ff743-...; dexmethylphenidate f65759db-...)",
        conf="primary",
        pat=[r"FDA CNS stimulant BOXED WARNING"],
        section="Boxed warning",
    ),
    dict(
        id="mhra-dsu-2020-opioids-dependence",
        title="MHRA Drug Safety Update: Opioids: risk of dependence and addiction",
        year=2020,
        publisher="Medicines and Healthcare products Regulatory Agency, Sept 2020",
        url="https://www.gov.uk/drug-safety-update/opioids-risk-of-dependence-and-addiction",
        conf="primary",
        pat=[r"MHRA Drug Safety Update 'Opioids: risk of dependence"],
        section="Advice for patients",
    ),
    dict(
        id="eeast-2016-fentanyl-patches",
        title="East of England Ambulance Service: fentanyl patches awareness (MHRA safety notice)",
        year=2016,
        publisher="EEAST, 8 Jan 2016",
        url="https://ntk.eastamb.nhs.uk/news/Fentanyl-patches-awareness-for-clinicians.htm",
        conf="secondary",
        pat=[r"East of England Ambulance Service", r"EEAST/MHRA fentanyl notice"],
        section="MHRA fentanyl patch safety notice",
    ),
    dict(
        id="cuh-fentanyl-leaflet",
        title="Cambridge University Hospitals: fentanyl patch discharge leaflet",
        publisher="Cambridge University Hospitals NHS FT",
        conf="secondary",
        pat=[r"Cambridge University Hospitals fentanyl"],
        section="Heat and fever",
    ),
    dict(
        id="arthritis-research-uk-drug-leaflets",
        title="Arthritis Research UK drug information: possible side-effects (azathioprine, methotrexate, allopurinol)",
        publisher="Arthritis Research UK (now Versus Arthritis); dates not captured",
        url="http://www.arthritisresearchuk.org/arthritis-information/drugs/",
        conf="secondary",
        pat=[r"Arthritis Research UK"],
        section="Possible side-effects",
    ),
    dict(
        id="cdhb-my-medicines",
        title="Canterbury DHB (New Zealand) 'My Medicines' sheets (azathioprine; fentanyl)",
        publisher="Canterbury District Health Board, mymedicines.nz; dates not captured",
        url="https://mymedicines.nz/cdhb/Sheet/gpyHHkNuSDU%3D",
        conf="secondary",
        pat=[r"Canterbury DHB NZ", r"CDHB NZ fentanyl sheet"],
        section="Side-effects table",
    ),
    dict(
        id="singhealth-ndcs-mercaptopurine",
        title="SingHealth NDCS: Mercaptopurine (non-cancer) - side effects",
        publisher="National Dental Centre Singapore (SingHealth); date not captured",
        url="https://www.ndcs.com.sg/patient-care/medicine/mercaptopurine-non-cancer/side-effects",
        conf="secondary",
        pat=[r"SingHealth NDCS"],
        section="Side effects",
    ),
    dict(
        id="ibd-clinic-canada",
        title="IBD Clinic (Canada): azathioprine/mercaptopurine and methotrexate side-effects pages",
        publisher="ibdclinic.ca; dates not captured",
        url="https://www.ibdclinic.ca/treatment/medications/immunosuppressants/",
        conf="secondary",
        pat=[r"IBD Clinic Canada"],
        section="Side effects",
    ),
    dict(
        id="hsa-singapore-allopurinol",
        title="HSA Singapore: Safe use of allopurinol",
        publisher="Health Sciences Authority, Singapore",
        url="https://www.hsa.gov.sg/consumer-safety/articles/safe-use-of-allopurinol",
        conf="secondary",
        pat=[r"HSA Singapore"],
        section="Skin reactions",
    ),
    dict(
        id="medsafe-2010-allopurinol",
        title="Medsafe (New Zealand) Prescriber Update: allopurinol and severe skin reactions",
        year=2010,
        publisher="Medsafe, June 2010",
        conf="secondary",
        pat=[r"Medsafe NZ Prescriber Update June 2010"],
        section="Prescriber Update, June 2010",
    ),
    dict(
        id="north-tees-paracetamol",
        title="North Tees and Hartlepool NHS FT: Paracetamol safety for adults (patient leaflet)",
        publisher="North Tees and Hartlepool NHS Foundation Trust; date not captured",
        url="https://www.nth.nhs.uk/resources/paracetamol-safety-for-adults/",
        conf="secondary",
        pat=[r"North Tees & Hartlepool"],
        section="What should I do if I take too much?",
    ),
    dict(
        id="nhs-ggc-paracetamol-overdose",
        title="NHS Greater Glasgow and Clyde Medicines Companion: Paracetamol overdose (TOXBASE advice)",
        publisher="NHS GGC; date not captured",
        url="https://mypsych.nhsggc.org.uk/medicines-companion/emergencies-2222/paracetamol-overdose/",
        conf="secondary",
        pat=[r"NHS GGC Medicines Companion"],
        section="Paracetamol overdose",
    ),
    dict(
        id="nhs-ggc-lithium-toxicity",
        title="NHS Greater Glasgow and Clyde: Early identification and management of lithium toxicity",
        year=2023,
        publisher="NHS GGC (Right Decisions), reviewed 06/12/2023",
        conf="secondary",
        pat=[r"NHS GGC 'Early identification"],
        section="Signs of lithium toxicity",
    ),
    dict(
        id="paracetamol-poisoning-leaflets",
        title="Paracetamol poisoning patient leaflets: patient.info 'Paracetamol poisoning' and Barnsley Hospital ED discharge leaflet",
        year=2022,
        publisher="patient.info (via benthamsurgery.org.uk); Barnsley Hospital NHS FT (reviewed Oct 2022)",
        conf="secondary",
        pat=[r"patient\.info 'Paracetamol poisoning'"],
        section="Symptoms after an overdose",
    ),
    dict(
        id="headmeds",
        title="HeadMeds (YoungMinds UK): diazepam, lithium and methylphenidate pages",
        publisher="YoungMinds, headmeds.org.uk; dates not captured",
        url="https://www.headmeds.org.uk/",
        conf="secondary",
        pat=[r"HeadMeds"],
        section="Warnings and side effects",
    ),
    dict(
        id="crew-scot-benzodiazepines",
        title="Crew (Scotland): benzodiazepines",
        publisher="crew.scot",
        conf="secondary",
        pat=[r"crew\.scot"],
        section="Stopping suddenly",
    ),
    dict(
        id="warrington-pcn-benzodiazepines",
        title="Central and West Warrington PCN: benzodiazepine patient leaflet",
        publisher="NHS primary care network leaflet",
        conf="secondary",
        pat=[r"Warrington PCN"],
        section="Dependence",
    ),
    dict(
        id="primrose-lodge-zopiclone",
        title="Primrose Lodge: Side effects: zopiclone",
        publisher="primroselodge.com",
        url="https://primroselodge.com/blog/side-effects-zopiclone",
        conf="secondary",
        pat=[r"Primrose Lodge"],
        section="Side effects",
    ),
    dict(
        id="bangholm-gabapentinoids",
        title="Bangholm Medical Centre (NHS Lothian GP practice): Gabapentin and pregabalin for chronic pain",
        publisher="NHS Lothian GP practice; date not captured",
        url="https://bangholmmedicalcentre.scot.nhs.uk/gabapentin--pregabalin-for-chronic-pain",
        conf="secondary",
        pat=[r"Bangholm Medical Centre"],
        section="Side effects",
    ),
    dict(
        id="add-treatment-ritalin",
        title="ADD-treatment.com: Ritalin side effects (Drugs.com-derived text)",
        publisher="add-treatment.com",
        conf="secondary",
        pat=[r"ADD-treatment\.com"],
        section="Side effects",
    ),
    dict(
        id="ubie-lisdexamfetamine",
        title="Ubie Health: lisdexamfetamine",
        year=2026,
        publisher="Ubie Health, 25 Feb 2026",
        conf="secondary",
        pat=[r"UbieHealth lisdexamfetamine"],
        section="Side effects",
    ),
    dict(
        id="medfinder-lisdexamfetamine",
        title="MedFinder: lisdexamfetamine",
        year=2026,
        publisher="MedFinder, 15 Feb 2026",
        conf="secondary",
        pat=[r"MedFinder lisdexamfetamine"],
        section="Side effects",
    ),
    dict(
        id="readyhealth-serotonin-syndrome",
        title="ReadyHealth UK pharmacy fact sheet: Serotonin syndrome",
        year=2025,
        publisher="ReadyHealth, 24 Sep 2025",
        url="https://readyhealth.co.uk/blog/serotonin-syndrome",
        conf="secondary",
        pat=[r"ReadyHealth UK pharmacy fact sheet"],
        section="Symptoms",
    ),
    dict(
        id="healthify-ace-inhibitors",
        title="Healthify (New Zealand): ACE inhibitors",
        publisher="healthify.nz; date not captured",
        url="https://healthify.nz/medicines-a-z/a/ace-inhibitors",
        conf="secondary",
        pat=[r"Healthify NZ"],
        section="Side effects",
    ),
    dict(
        id="care-inspectorate-diclofenac",
        title="Care Inspectorate Scotland: Diclofenac - information for patients (MHRA advice)",
        publisher="Care Inspectorate; date not captured",
        url="https://www.careinspectorate.com/index.php/news/322-diclofenac-information-for-patients",
        conf="secondary",
        pat=[r"Care Inspectorate Scotland"],
        section="Information for patients",
    ),
    dict(
        id="ipharmacy-diclofenac",
        title="ipharmacy.com diclofenac sodium monograph (First Databank-derived, US)",
        publisher="ipharmacy.com",
        conf="secondary",
        pat=[r"ipharmacy\.com diclofenac"],
        section="Side effects",
    ),
    dict(
        id="medlineplus-morphine-overdose",
        title="MedlinePlus encyclopedia: Morphine overdose (read via a hospital copy)",
        publisher="US National Library of Medicine, via stlukes-stl.com",
        conf="secondary",
        url="https://stlukes-stl.com/health-content/health-ency-multimedia/1/002502.htm",
        pat=[r"MedlinePlus encyclopedia 'Morphine overdose'"],
        section="Symptoms",
    ),
    dict(
        id="patient-info-fentanyl",
        title="patient.info: Fentanyl for pain relief",
        year=2024,
        publisher="patient.info, updated 6 May 2024",
        conf="secondary",
        pat=[r"patient\.info 'Fentanyl"],
        section="Side effects",
    ),
    dict(
        id="painkillers-dont-exist",
        title="NHS Sunderland: 'Painkillers don't exist' campaign, support page",
        publisher="NHS Sunderland",
        url="https://painkillersdontexist.com/support/",
        conf="secondary",
        pat=[r"Painkillers don't exist"],
        section="Support",
    ),
    dict(
        id="rxguard-triage-table-2026",
        title="rxguard triage reference table: 150 warning signs with lay synonyms, urgency and advice (draft)",
        year=2026,
        publisher="rxguard project reference compilation (triage.csv and its report)",
        conf="secondary",
        note="Cited only for the lay synonyms, which are the compilers' wording of the symptom lists of the pages each "
        "row cites; every grading cites those pages themselves. Needs pharmacist or clinical-safety sign-off.",
        pat=[],
        section="",
    ),
    dict(
        id="triage-misc-pages",
        title="Consumer and clinical pages cited once by the triage sheet (the section names the page)",
        publisher="various (see section)",
        conf="secondary",
        note="One id for single supporting pages: drugabuse.com, BuzzRx, pillshome.com, Clear Chemist, UIHC, zana.com, RCEM Learning, MIMS HK, InsideRx, healthfully.com, wise-geek, usglobalhealth.us, snslive.uk.",
        pat=[],
        section="",
    ),
]
# Sources that already exist in the knowledge base (reused, not redefined).
REUSED: list[dict[str, Any]] = [
    dict(
        id="us-label-oxycodone",
        conf="primary",
        pat=[r"FDA oxycodone label BOXED WARNING"],
        section="Boxed warning (openFDA set_id 17f7946d-..., 2026-09-22)",
    ),
    dict(id="us-label-ibuprofen-otc", conf="primary", pat=[r"FDA OTC ibuprofen Drug Facts"], section="Warnings"),
    dict(
        id="us-label-lithium",
        conf="primary",
        pat=[r"FDA lithium BOXED WARNING"],
        section="Boxed warning (openFDA set_id c4973d87-..., 2026-09-22)",
    ),
    dict(
        id="nhs-codeine",
        conf="secondary",
        pat=[r"Older NHS codeine page via copy", r"older NHS codeine page copy"],
        section="Older page via a copy",
    ),
    dict(
        id="nhs-oxycodone",
        conf="secondary",
        pat=[r"NHS oxycodone 'stopping' text via copy"],
        section="Stopping oxycodone (copy)",
    ),
    dict(id="emedtv", conf="secondary", pat=[r"emedtv diclofenac"], section="Diclofenac side effects"),
    dict(
        id="rxguard-compiler-judgement",
        conf="unverified",
        pat=[r"Not retrieved in this review"],
        section="Triage sheet: not retrieved in the review",
    ),
]
MISC_PATTERNS: list[tuple[str, str]] = [
    (r"drugabuse\.com morphine overdose", "drugabuse.com: morphine overdose"),
    (r"BuzzRx tramadol", "BuzzRx: tramadol (reviewed Aug 2022)"),
    (r"pillshome\.com methadone", "pillshome.com: methadone (WebMD-derived)"),
    (r"Clear Chemist copy", "Clear Chemist copy of NHS warfarin content (Crown Copyright 2009)"),
    (r"UIHC warfarin", "University of Iowa Health Care: warfarin"),
    (r"zana\.com", "NHS-syndicated warfarin content on zana.com (reviewed 21 Dec 2018)"),
    (r"RCEM Learning", "RCEM Learning clinical case: sertraline and tramadol overdose"),
    (r"CAMCOLIT", "Camcolit (lithium) PIL text via MIMS Hong Kong"),
    (r"InsideRx lithium", "InsideRx: lithium"),
    (r"healthfully\.com ramipril", "healthfully.com: ramipril (NLM-derived)"),
    (r"wise-geek diclofenac", "wise-geek: diclofenac"),
    (r"usglobalhealth\.us", "usglobalhealth.us (Euronews/Sunday Times report on pregabalin-related deaths)"),
    (
        r"MHRA safety update on ACE-inhibitor angioedema as reported by snslive",
        "snslive.uk report of MHRA advice on ACE-inhibitor angioedema",
    ),
]
NOT_RETRIEVED = [
    (
        r"FDA NSAID Medication Guide \('Get emergency help right away' list\) NOT retrieved",
        "us-label-nsaid-class",
        "Medication Guide: 'Get emergency help right away' (NOT retrieved)",
    ),
]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_QUOTE = re.compile(r"(?:(?<=\s)|(?<=\())'((?:[^'\s]|'(?=[a-z]))(?:[^']|'(?=[a-z])){2,150}?)'(?![a-z])")


def segment_after(source: str, start: int) -> str:
    """The text from a document's name to the next document of the same source string."""
    rest = source[start:]
    stop = re.search(r";\s+(?=[A-Z])", rest)
    return rest[: stop.start()] if stop else rest


def quoted_section(segment: str, anywhere: bool = False) -> str | None:
    """A quoted section phrase after the document's name (not its quoted title): '..., 'Section''."""
    for m in _QUOTE.finditer(segment):
        if anywhere or "," in segment[: m.start()]:
            return m.group(1)
    return None


def citations(row: dict[str, str]) -> list[dict[str, Any]]:
    source = row["source"]
    found: list[dict[str, Any]] = []
    for doc in [*NEW_SOURCES, *REUSED]:
        for pattern in doc["pat"]:
            m = re.search(pattern, source)
            if m:
                section = doc["section"]
                segment = segment_after(source, m.end())
                quoted = quoted_section(segment, doc.get("quote_is_section", False))
                if quoted and quoted not in section:
                    section = f"{section}: '{quoted}'" if section else quoted
                citation: dict[str, Any] = {"source": doc["id"], "section": section, "confidence": doc["conf"]}
                if re.search(r"NOT (visible|retrieved)", segment):
                    citation["confidence"] = "unverified"
                    citation["note"] = "The sheet says this text was not visible in what was retrieved"
                if doc["id"] not in (c["source"] for c in found):
                    found.append(citation)
                break
    misc = [label for pattern, label in MISC_PATTERNS if re.search(pattern, source)]
    if misc:
        found.append({"source": "triage-misc-pages", "section": "; ".join(misc), "confidence": "secondary"})
    for pattern, doc_id, section in NOT_RETRIEVED:
        if re.search(pattern, source):
            found.append(
                {
                    "source": doc_id,
                    "section": section,
                    "confidence": "unverified",
                    "note": "Named by the sheet as not retrieved",
                }
            )
    if not found:
        raise SystemExit(f"no source document recognised in: {source!r}")
    return found


def sign_id(row: dict[str, str]) -> str:
    return SIGN_RENAMES.get((row["drug_or_class"], row["sign"]), slug(row["sign"]))


def label_for(sid: str) -> str:
    if sid in LABELS:
        return LABELS[sid]
    text = sid.replace("-", " ")
    text = re.sub(r"\bsjs\b", "SJS", text)
    text = re.sub(r"\bten\b", "TEN", text)
    text = re.sub(r"\botc\b", "OTC", text)
    return text[0].upper() + text[1:]


def split_synonyms(text: str) -> list[str]:
    return [s.strip() for s in text.split(";") if s.strip()]


def build(sheet: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    with sheet.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != 150:
        raise SystemExit(f"expected 150 rows, found {len(rows)}")

    signs: OrderedDict[str, dict[str, Any]] = OrderedDict()
    sheet_synonyms: dict[str, list[str]] = {}
    rules: list[dict[str, Any]] = []
    used_ids: set[str] = set()
    for row in rows:
        scope_slug, scope = SCOPES[row["drug_or_class"]]
        sid = sign_id(row)
        syns = sheet_synonyms.setdefault(sid, [])
        for syn in split_synonyms(row["synonyms"]):
            if syn.lower() not in (s.lower() for s in syns):
                syns.append(syn)
        signs.setdefault(sid, {"id": sid, "label": label_for(sid)})
        rule_id = f"triage.{scope_slug}.{sid}"
        if rule_id in used_ids:
            raise SystemExit(f"duplicate rule id {rule_id}")
        used_ids.add(rule_id)
        key = (scope_slug, row["sign"])
        rule: dict[str, Any] = {
            "id": rule_id,
            "version": 1,
            "confidence": CONFIDENCE[row["confidence"]],
            "applies_to": {**scope, "description": row["drug_or_class"]},
            "signs": [sid, *EXTRA_RULE_SIGNS.get(key, [])],
            "urgency": row["urgency"],
            "advice": row["advice"],
        }
        if key in REQUIRES:
            rule["requires_any_of"] = REQUIRES[key]
        rule["sources"] = citations(row)
        notes = row["notes"].strip()
        if row["confidence"] == "P" and any(c["confidence"] != "primary" for c in rule["sources"]):
            notes = (
                notes + " " if notes else ""
            ) + "Graded from the primary source; supporting citations are secondary."
        if notes:
            rule["notes"] = notes
        rule["sheet_row"] = f"{row['drug_or_class']}, sign {row['sign']}"
        rules.append(rule)
    for key in list(EXTRA_RULE_SIGNS) + list(REQUIRES):
        if not any(
            r["sheet_row"].endswith(f", sign {key[1]}") and r["id"].startswith(f"triage.{key[0]}.") for r in rules
        ):
            raise SystemExit(f"curation key {key} matches no sheet row")

    rules.extend(extra_rules())
    for extra in EXTRA_SIGNS:
        # An extra sign may extend a sheet sign of the same id (diclofenac's took_too_much).
        signs[extra["id"]] = {"id": extra["id"], "label": extra["label"]}
        sheet_synonyms.setdefault(extra["id"], [])
    vocabulary_signs = []
    for sid, sign in signs.items():
        extra = next((e for e in EXTRA_SIGNS if e["id"] == sid), None)
        base = list(sheet_synonyms.get(sid, []))
        added = [
            s
            for s in (extra["synonyms"] if extra else ADDED_SYNONYMS.get(sid, []))
            if s.lower() not in (b.lower() for b in base)
        ]
        entry: dict[str, Any] = {**sign, "synonyms": base + added}
        sign_citations: list[dict[str, Any]] = []
        if base:
            rows_for = sorted({r["sheet_row"] for r in rules if r["signs"][0] == sid and r.get("sheet_row")})
            sign_citations.append(
                {
                    "source": TABLE,
                    "section": "Synonyms column: " + "; ".join(rows_for),
                    "confidence": "secondary",
                    "note": "Lay wording compiled from the symptom lists of the pages each row cites",
                }
            )
        if added:
            sign_citations.append(
                {
                    "source": COMPILER,
                    "section": "Triage vocabulary: lay synonyms added by rxguard: " + "; ".join(added),
                    "confidence": "unverified",
                }
            )
        entry["confidence"] = "secondary" if base else "unverified"
        entry["sources"] = sign_citations
        if extra:
            entry["notes"] = extra["notes"] + " Synonyms are rxguard's vocabulary (unverified)."
        elif added:
            entry["notes"] = (
                "Synonyms from the sheet; added by rxguard (vocabulary, unverified): " + ", ".join(added) + "."
            )
        vocabulary_signs.append(entry)

    variants = [
        {
            **v,
            "confidence": "unverified",
            "sources": [
                {
                    "source": COMPILER,
                    "section": "Triage vocabulary: spelling and word variants read as the sheet's words",
                    "confidence": "unverified",
                }
            ],
        }
        for v in WORD_VARIANTS
    ]
    vocabulary = {"signs": vocabulary_signs, "word_variants": variants}
    policy = {"urgencies": URGENCIES}
    sources = {"sources": [source_entry(d) for d in NEW_SOURCES]}
    return vocabulary, {"triage_rules": rules}, policy, sources


def source_entry(doc: dict[str, Any]) -> dict[str, Any]:
    entry = {"id": doc["id"], "title": doc["title"]}
    for key in ("year", "publisher", "url", "note"):
        if doc.get(key):
            entry[key] = doc[key]
    return entry


COMPILER = "rxguard-compiler-judgement"
TABLE = "rxguard-triage-table-2026"
POLICY_SECTION = "Triage sheet section 4: override rules the tool should apply whatever the drug (tool policy)"


def escalation(rule_id: str, signs: list[str], scope: dict[str, Any], advice: str, note: str) -> dict[str, Any]:
    return {
        "id": f"triage.escalation.{rule_id}",
        "version": 1,
        "confidence": "unverified",
        "kind": "escalation",
        "applies_to": scope,
        "signs": signs,
        "urgency": "emergency",
        "advice": advice,
        "sources": [
            {
                "source": COMPILER,
                "section": POLICY_SECTION,
                "confidence": "unverified",
                "note": "Tool policy marked UNVERIFIED by the sheet; consistent with the NHS 999 blocks it read",
            }
        ],
        "notes": note,
    }


ALL = {"all_medicines": True, "description": "any medicine"}
CALL = "Call 999 (UK) or 911 (US), or go to A&E, now."


def extra_rules() -> list[dict[str, Any]]:
    aza_label = {
        "source": "us-label-azathioprine",
        "section": "Warnings: gastrointestinal hypersensitivity reaction",
        "confidence": "secondary",
        "note": "Label text read via scholarsinmedicine (thiopurines reference sheet, section 2)",
    }
    aza_guide = {
        "source": "nhs-azathioprine-side-effects",
        "section": "Serious side effects: 'stop taking and speak to a doctor or call 111 now' (list items not captured)",
        "confidence": "secondary",
    }
    aza_scope = {"ingredients": ["azathioprine"], "description": "azathioprine (medication guide warning signs)"}
    return [
        {
            "id": "triage.azathioprine.rash",
            "version": 1,
            "confidence": "unverified",
            "applies_to": aza_scope,
            "signs": ["rash"],
            "urgency": "today",
            "advice": "Contact the doctor or specialist team, or call 111, today: a rash with fever or feeling unwell can be a hypersensitivity reaction to azathioprine. A blistering or peeling rash is an emergency.",
            "sources": [aza_label, aza_guide],
            "notes": "The label lists rash within the gastrointestinal hypersensitivity reaction (secondary). The same-day grading is rxguard policy (UNVERIFIED), following the NHS 'call 111 now' wording for azathioprine's serious effects; the triage sheet has no azathioprine rash row.",
        },
        {
            "id": "triage.azathioprine.severe-vomiting",
            "version": 1,
            "confidence": "unverified",
            "applies_to": aza_scope,
            "signs": ["severe-vomiting"],
            "urgency": "today",
            "advice": "Contact the doctor or specialist team, or call 111, today: severe vomiting (with or without diarrhoea, fever or rash), usually in the first weeks, can be a hypersensitivity reaction that needs azathioprine stopped.",
            "sources": [aza_label, aza_guide],
            "notes": "Label: severe nausea and vomiting, with or without diarrhoea, rash, fever, malaise, myalgias, raised liver enzymes and occasionally hypotension, usually within the first weeks (secondary). The same-day grading is rxguard policy (UNVERIFIED).",
        },
        escalation(
            "breathing",
            ["trouble-breathing", "slow-or-shallow-breathing", "breathing-problems-or-unrousable"],
            ALL,
            CALL + " If naloxone is available and an opioid may be involved, give it.",
            "Trouble breathing, or slow or shallow breathing.",
        ),
        escalation(
            "unresponsive",
            ["unresponsive-or-cannot-be-woken"],
            ALL,
            CALL + " Stay with the person.",
            "Cannot be woken or unresponsive.",
        ),
        escalation("blue-lips", ["blue-or-grey-lips"], ALL, CALL, "Blue or grey lips."),
        escalation(
            "chest-pain-or-stroke", ["heart-attack-or-stroke-signs"], ALL, CALL, "Chest pain, or signs of a stroke."
        ),
        escalation(
            "face-throat-swelling",
            ["angioedema", "anaphylaxis"],
            ALL,
            CALL,
            "Swelling of the face, lips, tongue or throat.",
        ),
        escalation(
            "blistering-rash",
            ["severe-skin-reaction-blistering-rash", "sjs-ten-or-severe-skin-reaction"],
            ALL,
            CALL + " Stop the suspected medicine.",
            "A blistering or peeling rash.",
        ),
        escalation("seizure", ["seizure"], ALL, CALL, "A seizure."),
        escalation(
            "heavy-bleeding",
            ["bleeding-that-will-not-stop"],
            ALL,
            CALL + " Press firmly on the wound.",
            "Heavy bleeding that will not stop. Pressing on the wound is first-aid wording added by rxguard (UNVERIFIED).",
        ),
        escalation(
            "anticoagulant-head-injury",
            ["head-injury-or-major-accident"],
            {"classes": ["anticoagulant"], "description": "anticoagulants (warfarin)"},
            "Go to A&E now (call 999/911 if unwell), even if the person feels fine.",
            "A head injury while on warfarin.",
        ),
        escalation(
            "suicidal-intent",
            ["suicidal-intent", "intentional-overdose-or-self-harm"],
            ALL,
            CALL + " Stay with the person; do not leave them alone.",
            "Suicidal intent, or having acted on it.",
        ),
        escalation(
            "child-opioid-exposure",
            ["child-exposed", "accidental-exposure-child-or-other-person"],
            {"classes": ["opioid"], "description": "opioids, including fentanyl patches"},
            CALL + " Remove any patch; give naloxone if available.",
            "A child exposed to an opioid (including a fentanyl patch).",
        ),
        escalation(
            "paracetamol-on-purpose",
            ["intentional-overdose-or-self-harm", "suicidal-intent"],
            {"ingredients": ["paracetamol"], "description": "paracetamol / acetaminophen"},
            CALL + " Whatever the amount; stay with the person.",
            "Any paracetamol overdose taken on purpose.",
        ),
    ]


WORD_VARIANTS = [
    {"word": "diarrhea", "means": "diarrhoea"},
    {"word": "color", "means": "colour"},
    {"word": "colored", "means": "coloured"},
    {"word": "gray", "means": "grey"},
    {"word": "cannot", "means": "can't"},
    {"word": "couldn't", "means": "can't"},
    {"word": "unable", "means": "can't"},
    {"word": "stool", "means": "poo"},
    {"word": "stools", "means": "poo"},
    {"word": "feces", "means": "poo"},
    {"word": "faeces", "means": "poo"},
    {"word": "urine", "means": "pee"},
    {"word": "wee", "means": "pee"},
    {"word": "puking", "means": "vomiting"},
    {"word": "puke", "means": "vomit"},
    {"word": "tylenol", "means": "paracetamol"},
    {"word": "acetaminophen", "means": "paracetamol"},
    {"word": "panadol", "means": "paracetamol"},
    {"word": "temp", "means": "temperature"},
    {"word": "sleepiness", "means": "sleepy"},
]

NHS_PRIMARY = {"source": "nhs-diazepam-side-effects", "confidence": "primary"}
URGENCIES = [
    {
        "id": "triage.urgency.emergency",
        "version": 1,
        "confidence": "primary",
        "urgency": "emergency",
        "rank": 5,
        "meaning": "Emergency: call 999 (UK) or 911 (US), or go to A&E, now.",
        "action": "Call 999 (UK) or 911 (US), or go to A&E / the emergency department, now. Do not drive yourself.",
        "sources": [{**NHS_PRIMARY, "section": "'Immediate action required: Call 999 or go to A&E now'"}],
        "notes": "NHS grading mapped to rxguard's urgency by the triage sheet (section 1).",
    },
    {
        "id": "triage.urgency.today",
        "version": 1,
        "confidence": "primary",
        "urgency": "today",
        "rank": 4,
        "meaning": "See a clinician today: contact a doctor, the prescriber or NHS 111 now or the same day.",
        "action": "Contact the doctor, the prescriber, a pharmacist or NHS 111 now or the same day; do not wait for the next appointment.",
        "sources": [
            {
                "source": "nhs-naproxen-side-effects",
                "section": "'Call your doctor or call 111 now'",
                "confidence": "primary",
            }
        ],
        "notes": "NHS 'call a doctor or 111 now / straight away' wording (triage sheet section 1).",
    },
    {
        "id": "triage.urgency.unknown",
        "version": 1,
        "confidence": "unverified",
        "urgency": "unknown",
        "rank": 3,
        "meaning": "Unknown: rxguard could not grade this symptom for these medicines. It is not ignored.",
        "action": "rxguard has no sourced grading for this: do not ignore it. Describe it to a pharmacist, the doctor or NHS 111 for advice today; call 999 (UK) or 911 (US) at once if the person is very unwell (trouble breathing, collapse, chest pain).",
        "sources": [
            {
                "source": COMPILER,
                "section": "Triage: symptoms the vocabulary does not grade (tool policy)",
                "confidence": "unverified",
            }
        ],
        "notes": "Ranked between 'today' and 'routine' on purpose: an ungraded symptom never lets the result fall to routine or self-care, and never hides an emergency or same-day sign.",
    },
    {
        "id": "triage.urgency.routine",
        "version": 1,
        "confidence": "primary",
        "urgency": "routine",
        "rank": 2,
        "meaning": "Routine: mention it at the next appointment or review.",
        "action": "Mention it at the next appointment or medication review; speak to a doctor sooner if it bothers you or does not go away.",
        "sources": [
            {
                "source": "nhs-naproxen-side-effects",
                "section": "'Speak to a doctor if it bothers you or does not go away'",
                "confidence": "primary",
            }
        ],
    },
    {
        "id": "triage.urgency.self-care",
        "version": 1,
        "confidence": "primary",
        "urgency": "self-care",
        "rank": 1,
        "meaning": "Self-care: manage at home with the advice given.",
        "action": "Manage at home with the advice given; speak to a pharmacist or doctor if it does not settle or gets worse.",
        "sources": [
            {
                "source": "nhs-naproxen-side-effects",
                "section": "Common side effects: 'things you can do to help cope'",
                "confidence": "primary",
            }
        ],
    },
]


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def write(path: Path, header: str, data: dict[str, Any]) -> None:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=118)
    path.write_text(header + body, encoding="utf-8")


def main() -> None:
    sheet = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/reference/data/triage/triage.csv"
    vocabulary, rules, policy, sources = build(sheet)
    out = DATA / "triage"
    out.mkdir(exist_ok=True)
    note = f"# Generated from {SHEET} by scripts/import_triage_sheet.py, then reviewed.\n"
    write(
        out / "vocabulary.yaml",
        note + "# The controlled vocabulary: warning signs with lay synonyms, and word variants the matcher reads.\n",
        vocabulary,
    )
    write(
        out / "rules.yaml",
        note
        + "# Each sheet row graded for its medicines, plus rxguard's escalation rules (section 4) and two azathioprine rows.\n",
        rules,
    )
    write(
        out / "policy.yaml",
        note + "# Urgency levels: meaning, action and rank (unknown ranks between today and routine).\n",
        policy,
    )
    write(
        DATA / "sources" / "triage.yaml",
        "# Source documents cited by the triage knowledge (triage/*.yaml).\n" + note,
        sources,
    )
    print(
        f"{len(vocabulary['signs'])} signs, {len(rules['triage_rules'])} rules, {len(sources['sources'])} new source documents"
    )


if __name__ == "__main__":
    main()
