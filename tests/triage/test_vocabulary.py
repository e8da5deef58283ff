"""The controlled vocabulary: every lay synonym of every graded sign reaches its rule for a medicine in scope."""

from __future__ import annotations

from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.triage import triage, triage_knowledge, vocabulary
from rxguard.therapy.triage_knowledge import TriageRule


def medicine_for(kb: KnowledgeBase, rule: TriageRule) -> list[str]:
    scope = rule.applies_to
    if scope.all_medicines:
        return []
    if scope.ingredients:
        return [scope.ingredients[0]]
    for cls in scope.classes:
        members = sorted(kb.class_members.get(cls, ()))
        if members:
            return [members[0]]
    return [scope.other_names[0]]


def test_every_synonym_reaches_its_rule(kb: KnowledgeBase) -> None:
    data = triage_knowledge(kb)
    signs = {s.id: s for s in data.signs}
    missed: list[str] = []
    checked = 0
    for rule in data.triage_rules:
        drugs = medicine_for(kb, rule)
        context = [next(s for s in signs[rule.requires_any_of[0]].synonyms)] if rule.requires_any_of else []
        for sign_id in rule.signs:
            for synonym in signs[sign_id].synonyms:
                checked += 1
                result = triage(kb, drugs, [synonym, *context])
                if rule.id not in {g.rule.id for g in result.matched}:
                    missed.append(f"{rule.id}: {synonym!r} with {drugs}")
    assert checked > 900
    assert not missed, "\n".join(missed)


def test_the_vocabulary_words(kb: KnowledgeBase) -> None:
    vocab = vocabulary(kb)
    assert vocab.words("My eyes are YELLOW!") == vocab.words("yellow eyes")
    assert vocab.words("bruises") == vocab.words("bruising") == vocab.words("bruise")
    assert vocab.words("diarrhea") == vocab.words("diarrhoea")
    assert vocab.words("can't wake him") == vocab.words("cannot wake him")
    assert "jaundice" in vocab.signs_in("her eyes are yellow")
    assert vocab.signs_in("") == ()


def test_the_vocabulary_has_a_label_and_synonyms_for_every_sign(kb: KnowledgeBase) -> None:
    data = triage_knowledge(kb)
    assert len(data.signs) >= 123  # the sheet's 123 distinct signs, plus rxguard's escalation and guide signs
    assert all(s.label and s.synonyms for s in data.signs)
    ranks = {u.urgency: u.rank for u in data.urgencies}
    assert ranks["emergency"] > ranks["today"] > ranks["unknown"] > ranks["routine"] > ranks["self-care"]
