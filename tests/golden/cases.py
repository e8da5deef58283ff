"""Golden screening cases: each is a case for the shared case builder plus why its cards are expected.

scripts/golden.py turns these into tests/golden/<name>/request.json; expected.json holds the reviewed cards.
"""

IMURAN_50 = {"text": "Imuran 50 mg tablet", "rxnorm": "105611"}
AZA_50 = {"text": "azathioprine 50 mg oral tablet", "rxnorm": "197388"}
PANADOL = {"text": "Panadol 500 mg tablets"}
CO_CODAMOL = {"text": "co-codamol 30/500 tablets"}
VOLTAROL_50 = {"text": "Voltarol 50 mg gastro-resistant tablets"}
VOVERAN_SR_75 = {"text": "Voveran SR 75 tablets"}
IBUPROFEN_400 = {"text": "ibuprofen 400 mg tablet"}
NAPROXEN_500 = {"text": "naproxen 500 mg oral tablet", "rxnorm": "198014"}
OXYCODONE_5 = {"text": "oxycodone hydrochloride 5 mg oral tablet", "rxnorm": "1049621"}
ALPRAZOLAM = {"text": "alprazolam 0.5 mg oral tablet", "rxnorm": "308048"}
LORAZEPAM_1 = {"text": "lorazepam 1 mg oral tablet", "rxnorm": "197901"}
ALLOPURINOL = {"text": "allopurinol 100 mg oral tablet", "rxnorm": "197319"}
FEBUXOSTAT = {"text": "febuxostat 80 mg tablet"}
MERCAPTOPURINE = {"text": "mercaptopurine 50 mg oral tablet", "rxnorm": "197931"}
METHOTREXATE = {"text": "methotrexate 2.5 mg oral tablet", "rxnorm": "105585"}
CODEINE_APAP = {"text": "acetaminophen 300 mg / codeine phosphate 30 mg oral tablet", "rxnorm": "993781"}


def med(product, dose, per_day, **extra):
    return {**product, "dose": dose, "per_day": per_day, **extra}


CASES = [
    # --- the shared examples this issue owns -------------------------------------------------------
    {
        "name": "azathioprine-with-allopurinol",
        "why": "allopurinol + azathioprine: major interaction (DDInter/FDB), reduce azathioprine to 1/4-1/3; "
        "no TPMT result: TN",
        "case": {
            "age": 58,
            "sex": "female",
            "weight_kg": 70,
            "conditions": ["rheumatoid arthritis"],
            "active": [med(ALLOPURINOL, (1, "tablet"), 1, quantity=30, days=30)],
            "order": med(IMURAN_50, (1, "tablet"), 2, quantity=56, days=28, prescriber="dr-rheum"),
        },
    },
    {
        "name": "paracetamol-in-two-products",
        "why": "Panadol 2x500 mg QDS + co-codamol 2x30/500 QDS = 8000 mg/day paracetamol, twice the 4000 mg maximum; "
        "co-codamol is controlled: counselling (ED) and no DEA number in the request (MS info)",
        "case": {
            "age": 40,
            "weight_kg": 72,
            "active": [med(PANADOL, (2, "tablet"), 4, quantity=100, days=12, started_days_ago=2)],
            "order": med(CO_CODAMOL, (2, "tablet"), 4, quantity=100, days=12, prescriber="dr-gp"),
        },
    },
    {
        "name": "clean-paracetamol",
        "why": "Panadol 2x500 mg TDS (3 g/day) for a healthy 35-year-old: nothing to report",
        "case": {
            "age": 35,
            "weight_kg": 68,
            "order": med(PANADOL, (2, "tablet"), 3, quantity=60, days=10, prescriber="dr-gp"),
        },
    },
    {
        "name": "unknown-drug-fails-closed",
        "why": "an unknown product must give MS, never silence",
        "case": {
            "age": 50,
            "weight_kg": 80,
            "order": med({"text": "Xylotrexin 40 mg tablet"}, (1, "tablet"), 1, quantity=30, days=30),
        },
    },
    {
        "name": "diclofenac-third-trimester",
        "why": "NSAID at >= 30 weeks: FDA 2020 avoid (US)",
        "case": {
            "age": 31,
            "weight_kg": 74,
            "pregnant_weeks": 34,
            "order": med(VOLTAROL_50, (1, "tablet"), 3, quantity=21, days=7, prescriber="dr-gp"),
        },
    },
    {
        "name": "opioid-with-benzodiazepine",
        "why": "FDA 2016 boxed warning: opioid + benzodiazepine (with the naloxone suggestion); counselling; "
        "no DEA number (MS info)",
        "case": {
            "age": 47,
            "weight_kg": 80,
            "active": [med(ALPRAZOLAM, (1, "tablet"), 3, quantity=90, days=30)],
            "order": med(OXYCODONE_5, (1, "tablet"), 4, quantity=20, days=5, prescriber="dr-ortho"),
        },
    },
    # --- more of the foundation's checks -------------------------------------------------------------
    {
        "name": "diclofenac-in-two-brands",
        "why": "Voltarol 50 mg TDS (150) + Voveran SR 75 BD (150) = 300 mg/day diclofenac > 200 mg US maximum; ID",
        "case": {
            "age": 52,
            "weight_kg": 80,
            "active": [med(VOLTAROL_50, (1, "tablet"), 3, quantity=84, days=28)],
            "order": med(VOVERAN_SR_75, (1, "tablet"), 2, quantity=56, days=28, prescriber="dr-gp"),
        },
    },
    {
        "name": "diclofenac-uk-maximum",
        "why": "diclofenac 50 mg QDS = 200 mg/day: within the US maximum (200) but above the UK maximum (150)",
        "args": ["--jurisdiction", "UK"],
        "case": {
            "age": 44,
            "weight_kg": 70,
            "order": med(VOLTAROL_50, (1, "tablet"), 4, quantity=56, days=14, prescriber="dr-gp"),
        },
    },
    {
        "name": "azathioprine-above-ra-maximum",
        "why": "Imuran 200 mg/day at 60 kg = 3.33 mg/kg/day > 2.5 mg/kg/day (US label, RA); "
        "normal TPMT/NUDT15: PGX info",
        "case": {
            "age": 61,
            "weight_kg": 60,
            "conditions": ["rheumatoid arthritis"],
            "genotypes": {"TPMT": "*1/*1", "NUDT15": "*1/*1"},
            "order": med(IMURAN_50, (2, "tablet"), 2, quantity=112, days=28, prescriber="dr-rheum"),
        },
    },
    {
        "name": "azathioprine-without-weight",
        "why": "an mg/kg/day limit with no weight on record gives MS; no TPMT result: TN",
        "case": {
            "age": 40,
            "conditions": ["crohn's disease"],
            "order": med(AZA_50, (1, "tablet"), 2, quantity=56, days=28, prescriber="dr-gi"),
        },
    },
    {
        "name": "methotrexate-daily",
        "why": "methotrexate is once weekly; daily dosing is a known fatal error: critical",
        "case": {
            "age": 66,
            "weight_kg": 70,
            "conditions": ["rheumatoid arthritis"],
            "order": med(METHOTREXATE, (4, "tablet"), 1, quantity=28, days=7, prescriber="dr-rheum"),
        },
    },
    {
        "name": "febuxostat-with-azathioprine",
        "why": "febuxostat is contraindicated with azathioprine (Uloric label; ONC high-priority list)",
        "case": {
            "age": 57,
            "weight_kg": 82,
            "conditions": ["crohn's disease"],
            "active": [med(AZA_50, (2, "tablet"), 1, quantity=56, days=28)],
            "order": med(FEBUXOSTAT, (1, "tablet"), 1, quantity=28, days=28, prescriber="dr-gp"),
        },
    },
    {
        "name": "two-thiopurines",
        "why": "azathioprine + mercaptopurine: contraindicated therapeutic duplication; no TPMT result: TN",
        "case": {
            "age": 34,
            "weight_kg": 65,
            "conditions": ["ulcerative colitis"],
            "active": [med(AZA_50, (2, "tablet"), 1, quantity=56, days=28)],
            "order": med(MERCAPTOPURINE, (1, "tablet"), 1, quantity=28, days=28, prescriber="dr-gi"),
        },
    },
    {
        "name": "ibuprofen-with-naproxen",
        "why": "two NSAIDs: reported once, as TD with the NSAID + NSAID interaction's severity (major)",
        "case": {
            "age": 39,
            "weight_kg": 77,
            "active": [med(NAPROXEN_500, (1, "tablet"), 2, quantity=60, days=30)],
            "order": med(IBUPROFEN_400, (1, "tablet"), 3, quantity=30, days=10, prescriber="dr-gp"),
        },
    },
    {
        "name": "nsaid-allergy",
        "why": "documented NSAID allergy and an ibuprofen order: DA critical",
        "case": {
            "age": 29,
            "weight_kg": 60,
            "allergies": ["NSAIDs"],
            "order": med(IBUPROFEN_400, (1, "tablet"), 3, quantity=30, days=10, prescriber="dr-gp"),
        },
    },
    {
        "name": "aspirin-allergy-cross-sensitivity",
        "why": "aspirin allergy and a naproxen order: NSAID cross-sensitivity, DA warning",
        "case": {
            "age": 33,
            "weight_kg": 64,
            "allergies": ["aspirin"],
            "order": med(NAPROXEN_500, (1, "tablet"), 2, quantity=20, days=10, prescriber="dr-gp"),
        },
    },
    {
        "name": "diclofenac-heart-failure-uk",
        "why": "UK (MHRA 2013): systemic diclofenac contraindicated in congestive heart failure",
        "args": ["--jurisdiction", "UK"],
        "case": {
            "age": 62,
            "weight_kg": 90,
            "conditions": ["heart failure"],
            "order": med(VOLTAROL_50, (1, "tablet"), 2, quantity=28, days=14, prescriber="dr-gp"),
        },
    },
    {
        "name": "diclofenac-low-egfr",
        "why": "eGFR 24 infers severe renal impairment: NSAIDs avoid (DC, inferred from the lab)",
        "case": {
            "age": 58,
            "weight_kg": 75,
            "labs": [("egfr", 24, 20)],
            "order": med(VOLTAROL_50, (1, "tablet"), 2, quantity=28, days=14, prescriber="dr-gp"),
        },
    },
    {
        "name": "lorazepam-older-adult",
        "why": "Beers 2023: avoid benzodiazepines at 65 and over (PA warning); "
        "controlled: counselling (ED), no DEA number (MS info)",
        "case": {
            "age": 81,
            "weight_kg": 58,
            "order": med(LORAZEPAM_1, (1, "tablet"), 1, quantity=14, days=14, prescriber="dr-gp"),
        },
    },
    {
        "name": "codeine-child",
        "why": "codeine under 12 years is contraindicated (MHRA 2013); "
        "no paediatric dose limit sourced and no DEA number (MS info); ED",
        "case": {
            "age": 9,
            "weight_kg": 30,
            "order": med(CODEINE_APAP, (1, "tablet"), 3, quantity=9, days=3, prescriber="dr-gp"),
        },
    },
]
