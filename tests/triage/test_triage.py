"""Warning-sign triage: every warning sign of the catalog's medication guides, nonsense, escalation, context."""

from __future__ import annotations

import pytest

from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.triage import TriageResult, triage, triage_knowledge


def grade(kb: KnowledgeBase, drugs: list[str], symptom: str) -> TriageResult:
    return triage(kb, drugs, [symptom])


# The medication guides' warning signs (issue 4, item 7) with the triage sheet's grading.
GUIDE_SIGNS = [
    # azathioprine (Imuran): marrow suppression, liver, hypersensitivity
    (["Imuran 50mg"], "fever", "fever", "today"),
    (["Imuran 50mg"], "I have a high temperature", "fever", "today"),
    (["Imuran 25mg"], "sore throat", "sore-throat", "today"),
    (["azathioprine"], "bruising", "unusual-bruising-or-bleeding", "today"),
    (["azathioprine"], "unusual bleeding", "unusual-bruising-or-bleeding", "today"),
    (["azathioprine"], "bleeding gums", "unusual-bruising-or-bleeding", "today"),
    (["Imuran"], "yellow eyes", "jaundice", "today"),
    (["Imuran"], "my skin looks yellow", "jaundice", "today"),
    (["Imuran"], "jaundice", "jaundice", "today"),
    (["Imuran"], "dark urine", "dark-urine-or-pale-stools", "today"),
    (["Imuran"], "dark pee", "dark-urine-or-pale-stools", "today"),
    (["Imuran"], "a new rash", "rash", "today"),
    (["Imuran"], "severe vomiting", "severe-vomiting", "today"),
    # opioids: overdose signs
    (["oxycodone 5mg"], "slowed breathing", "slow-or-shallow-breathing", "emergency"),
    (["co-codamol 30/500"], "shallow breathing", "slow-or-shallow-breathing", "emergency"),
    (["tramadol"], "extreme sleepiness", "extreme-sleepiness", "today"),
    (["oxycodone"], "can't stay awake", "extreme-sleepiness", "today"),
    (["morphine"], "pinpoint pupils", "pinpoint-pupils-with-drowsiness", "emergency"),
    # paracetamol overdose: no early symptoms, so any suspected overdose is urgent
    (["Panadol"], "took too many paracetamol but I feel fine", "suspected-overdose", "emergency"),
    (["Panadol 500mg"], "took too many", "took-too-much", "emergency"),
    (["acetaminophen"], "overdose", "suspected-overdose", "emergency"),
    (["Panadol"], "took a whole packet", "suspected-overdose", "emergency"),
    # NSAIDs: bleeding and cardiovascular signs
    (["Voltarol 50mg"], "black stools", "black-tarry-stools", "today"),
    (["Voveran SR 75"], "black tarry poo", "black-tarry-stools", "today"),
    (["diclofenac"], "vomiting blood", "vomiting-blood-or-coffee-grounds", "today"),
    (["ibuprofen"], "vomit looks like coffee grounds", "vomiting-blood-or-coffee-grounds", "today"),
    (["naproxen"], "chest pain", "heart-attack-or-stroke-signs", "emergency"),
]


@pytest.mark.parametrize(("drugs", "symptom", "sign", "urgency"), GUIDE_SIGNS)
def test_every_medication_guide_warning_sign(
    kb: KnowledgeBase, drugs: list[str], symptom: str, sign: str, urgency: str
) -> None:
    result = grade(kb, drugs, symptom)
    assert result.urgency == urgency
    assert sign in {g.sign for g in result.matched}
    assert not result.unknown
    assert result.sources, "a graded answer cites its sources"
    data = result.as_dict(kb)
    assert {"urgency", "advice", "matched_signs", "sources"} <= set(data)
    assert data["urgency"] in {"emergency", "today", "routine", "self-care", "unknown"}


def test_yellow_eyes_maps_to_jaundice_with_the_sheet_advice(kb: KnowledgeBase) -> None:
    data = grade(kb, ["Imuran 50mg"], "yellow eyes").as_dict(kb)
    (match,) = data["matched_signs"]
    assert match["sign"] == "jaundice"
    assert match["rule_id"] == "triage.azathioprine.jaundice"
    assert "liver blood tests" in match["advice"]
    assert data["advice"].startswith("Contact the doctor")


@pytest.mark.parametrize("nonsense", ["asdf qwerty", "", "purple elephant feelings", "12345"])
def test_nonsense_is_unknown_never_ignored(kb: KnowledgeBase, nonsense: str) -> None:
    result = triage(kb, ["Imuran"], [nonsense or "???"])
    assert result.urgency == "unknown"
    data = result.as_dict(kb)
    assert data["matched_signs"] == []
    assert [u["status"] for u in data["unknown_symptoms"]] == ["not-recognised"]
    assert "Not recognised" in data["advice"]
    assert data["sources"], "even 'unknown' cites the policy that grades it"


def test_an_unknown_symptom_keeps_a_self_care_answer_from_looking_safe(kb: KnowledgeBase) -> None:
    mild = triage(kb, ["oxycodone"], ["constipated"])
    assert mild.urgency == "self-care"
    mixed = triage(kb, ["oxycodone"], ["constipated", "zorbly toes"])
    assert mixed.urgency == "unknown"
    urgent = triage(kb, ["oxycodone"], ["extreme sleepiness", "zorbly toes"])
    assert urgent.urgency == "today"  # an unknown symptom never hides a same-day sign


def test_a_recognised_sign_not_graded_for_the_medicine_is_unknown(kb: KnowledgeBase) -> None:
    result = triage(kb, ["Imuran"], ["black stools"])
    assert result.urgency == "unknown"
    (unknown,) = result.as_dict(kb)["unknown_symptoms"]
    assert unknown["status"] == "not-graded"
    assert any("black" in label.lower() for label in unknown["recognised_as"])


def test_drug_independent_escalation(kb: KnowledgeBase) -> None:
    for symptom in ("chest pain", "trouble breathing", "having a seizure", "blue lips", "can't wake him"):
        result = triage(kb, ["Imuran"], [symptom])
        assert result.urgency == "emergency", symptom
        assert any(g.rule.kind == "escalation" or g.rule.applies_to.all_medicines for g in result.matched)


def test_escalation_works_with_no_medicine_and_an_unknown_medicine(kb: KnowledgeBase) -> None:
    none = triage(kb, [], ["trouble breathing"])
    assert none.urgency == "emergency"
    assert any("No medicine" in n for n in none.notes)
    unknown = triage(kb, ["xylotrexin"], ["swollen lips"])
    assert unknown.urgency == "emergency"
    assert any("xylotrexin" in n for n in unknown.notes)
    assert unknown.as_dict(kb)["medicines"] == [{"name": "xylotrexin", "recognised": False, "ingredients": []}]


def test_late_overdose_signs_need_an_overdose(kb: KnowledgeBase) -> None:
    # Drowsiness on co-codamol is the opioid's common effect, not the paracetamol late-overdose emergency...
    assert triage(kb, ["co-codamol 30/500"], ["drowsy"]).urgency == "self-care"
    # ... unless an overdose was reported.
    after = triage(kb, ["co-codamol 30/500"], ["took too many", "now drowsy"])
    assert after.urgency == "emergency"
    assert "triage.paracetamol.late-overdose-signs" in {g.rule.id for g in after.matched}


def test_medicines_outside_the_vocabulary_are_matched_by_name(kb: KnowledgeBase) -> None:
    result = triage(kb, ["zopiclone 7.5mg"], ["sleepwalking"])
    assert result.urgency == "today"
    assert result.matched[0].rule.id == "triage.z-drugs.complex-sleep-behaviour"


def test_the_most_urgent_sign_wins(kb: KnowledgeBase) -> None:
    result = triage(kb, ["oxycodone", "Imuran"], ["constipated", "yellow eyes", "slow breathing"])
    assert result.urgency == "emergency"
    assert [s.urgency for s in result.symptoms] == ["self-care", "today", "emergency"]


def test_us_spelling_and_word_variants(kb: KnowledgeBase) -> None:
    assert triage(kb, ["lithium"], ["diarrhea and vomiting"]).urgency == "today"  # early lithium toxicity
    assert triage(kb, ["Imuran"], ["dark urine"]).matched[0].sign == "dark-urine-or-pale-stools"


def test_all_150_sheet_rows_are_in_the_knowledge_base(kb: KnowledgeBase) -> None:
    rules = triage_knowledge(kb).triage_rules
    sheet = [r for r in rules if r.sheet_row]
    assert len(sheet) == 150
    counts: dict[str, int] = {}
    for rule in sheet:
        counts[rule.urgency] = counts.get(rule.urgency, 0) + 1
    assert counts == {"today": 73, "emergency": 28, "self-care": 26, "routine": 23}  # the sheet's grading
    primary = sum(1 for r in sheet if r.confidence == "primary")
    assert primary == 43  # "Only 43 rows are backed by a primary source retrieved"
    assert all(r.sources for r in rules)
