"""Warning-sign triage: the patient's medicines and symptoms in free words -> an urgency, what to do, and why.

Pure: reads the loaded knowledge base and its inputs, no I/O. Free words are mapped to the controlled
vocabulary of signs (`triage/vocabulary.yaml`) by their lay synonyms; the rules grade each recognised sign
for the patient's medicines (`triage/rules.yaml`). A symptom that is not recognised, or that is recognised
but not graded for these medicines, is reported as unknown and ranks above routine and self-care: it is
never ignored and never lets the answer fall to "routine". Negations ("no fever") are not understood:
each symptom is taken as something the patient has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rxguard.domain.model import Concept, SourceRef
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolver
from rxguard.therapy.triage_knowledge import TRIAGE_FILE, TriageFile, TriageRule, TriageScope, UrgencyLevel

# Words that carry no meaning for matching; negations, quantities and "very" are kept on purpose.
_STOPWORD_TEXT = (
    "a an the my i im me is are am was were be been it its of to and or with in on at for he she his her hers "
    "they them their him has have had just really some this that there so also got get getting we our you your "
    "like feel feels feeling"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SUFFIXES = ("ing", "ies", "ed", "es", "en", "s", "e")
_CLAUSE = re.compile(r"[,;.!?\n]+|\bbut\b")
_TOKEN = re.compile(r"[a-z0-9']+")


def _stem(word: str) -> str:
    """A deliberately small suffix stripper: 'bruising', 'bruises', 'bruise' -> 'bruis'."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            if suffix == "ies":
                return word[:-3] + "y"
            return word[: -len(suffix)]
    return word


def _raw_tokens(text: str) -> list[str]:
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("-", " ").replace("/", " ")
    return [t.replace("'", "") for t in _TOKEN.findall(lowered) if t.strip("'")]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The signs' synonyms as bags of word stems, and the word variants, indexed once per knowledge base."""

    bags: tuple[tuple[frozenset[str], str], ...]  # (synonym bag, sign id)
    variants: dict[str, str]
    labels: dict[str, str]

    def words(self, text: str) -> frozenset[str]:
        out: set[str] = set()
        for token in _raw_tokens(text):
            for word in self.variants.get(token, token).split():
                if word not in STOPWORDS:
                    out.add(_stem(word))
        return frozenset(out)

    def signs_in(self, text: str) -> tuple[str, ...]:
        """Sign ids whose synonym's words all appear in one clause of the text (in any order)."""
        found: list[str] = []
        for clause in _CLAUSE.split(text.lower()):
            words = self.words(clause)
            if not words:
                continue
            for bag, sign in self.bags:
                if bag <= words and sign not in found:
                    found.append(sign)
        return tuple(found)


def _vocabulary(data: TriageFile) -> Vocabulary:
    variants: dict[str, str] = {}
    for v in data.word_variants:
        key = "".join(_raw_tokens(v.word))
        variants[key] = " ".join(_raw_tokens(v.means))
    plain = Vocabulary((), variants, {})
    bags: list[tuple[frozenset[str], str]] = []
    for sign in data.signs:
        # A short sign id ("jaundice", "sore-throat") is itself a word patients and pharmacists use.
        own = [sign.id.replace("-", " ")] if sign.id.count("-") <= 1 else []
        for synonym in (*sign.synonyms, *own):
            bag = plain.words(synonym)
            if bag and (bag, sign.id) not in bags:
                bags.append((bag, sign.id))
    return Vocabulary(tuple(bags), variants, {s.id: s.label for s in data.signs})


def triage_knowledge(kb: KnowledgeBase) -> TriageFile:
    return kb.extension(TRIAGE_FILE, TriageFile)


def vocabulary(kb: KnowledgeBase) -> Vocabulary:
    return kb.memo("triage.vocabulary", lambda: _vocabulary(triage_knowledge(kb)))


def _levels(kb: KnowledgeBase) -> dict[str, UrgencyLevel]:
    return kb.memo("triage.levels", lambda: {u.urgency: u for u in triage_knowledge(kb).urgencies})


def _rules_by_sign(kb: KnowledgeBase) -> dict[str, tuple[TriageRule, ...]]:
    def build() -> dict[str, tuple[TriageRule, ...]]:
        index: dict[str, list[TriageRule]] = {}
        for rule in triage_knowledge(kb).triage_rules:
            if rule.status != "active":
                continue
            for sign in rule.signs:
                index.setdefault(sign, []).append(rule)
        return {k: tuple(v) for k, v in index.items()}

    return kb.memo("triage.rules_by_sign", build)


def _other_names(kb: KnowledgeBase) -> frozenset[str]:
    def build() -> frozenset[str]:
        names: set[str] = set()
        for rule in triage_knowledge(kb).triage_rules:
            names.update(n.lower() for n in rule.applies_to.other_names)
        return frozenset(names)

    return kb.memo("triage.other_names", build)


# --- the patient's medicines ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Medicine:
    """A medicine the patient named, as far as the knowledge base can tell."""

    name: str
    ingredients: tuple[str, ...] = ()
    classes: frozenset[str] = frozenset()
    other_names: tuple[str, ...] = ()

    @property
    def recognised(self) -> bool:
        return bool(self.ingredients or self.other_names)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "recognised": self.recognised,
            "ingredients": list(self.ingredients or self.other_names),
        }


def identify_medicines(
    kb: KnowledgeBase, names: Iterable[str], resolver: Resolver | None = None
) -> tuple[Medicine, ...]:
    """Resolve each medicine name to ingredients and classes; names the vocabulary lacks are kept as names."""
    resolver = resolver or Resolver(kb)
    known_other = _other_names(kb)
    found: list[Medicine] = []
    for name in names:
        resolution = resolver.resolve(Concept(text=name))
        ingredients = tuple(dict.fromkeys(resolution.ingredient_ids()))
        classes: set[str] = set()
        for ing in ingredients:
            classes |= kb.ingredient_classes.get(ing, frozenset())
        words = set(_raw_tokens(name))
        others = tuple(sorted(n for n in known_other if set(_raw_tokens(n)) <= words)) if not ingredients else ()
        found.append(Medicine(name, ingredients, frozenset(classes), others))
    return tuple(found)


def applies(scope: TriageScope, medicines: Sequence[Medicine]) -> tuple[Medicine, ...] | None:
    """The patient's medicines a scope covers; () for an every-medicine rule; None when it does not apply."""
    if scope.all_medicines:
        return ()
    covered = tuple(
        m
        for m in medicines
        if set(scope.ingredients) & set(m.ingredients)
        or set(scope.classes) & m.classes
        or {n.lower() for n in scope.other_names} & set(m.other_names)
    )
    return covered or None


# --- results -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignGrade:
    """One recognised sign of one symptom, graded by one rule for the medicines it covers."""

    symptom: str
    sign: str
    label: str
    rule: TriageRule
    medicines: tuple[str, ...]

    def as_dict(self, kb: KnowledgeBase) -> dict[str, Any]:
        return {
            "symptom": self.symptom,
            "sign": self.sign,
            "label": self.label,
            "medicines": list(self.medicines) or ["any medicine"],
            "urgency": self.rule.urgency,
            "advice": self.rule.advice,
            "rule_id": self.rule.id,
            "rule_version": self.rule.version,
            "kind": self.rule.kind,
            "confidence": self.rule.confidence,
            "notes": self.rule.notes,
            "sources": [s.as_dict() for s in kb.cite(self.rule.sources)],
        }


@dataclass(frozen=True, slots=True)
class SymptomResult:
    text: str
    urgency: str
    recognised: tuple[str, ...]  # sign ids found in the words
    grades: tuple[SignGrade, ...]

    @property
    def status(self) -> str:
        if self.grades:
            return "graded"
        return "not-graded" if self.recognised else "not-recognised"


@dataclass(frozen=True, slots=True)
class TriageResult:
    """The answer: overall urgency, what to do, and every sign, rule and source behind it."""

    urgency: str
    advice: tuple[str, ...]
    symptoms: tuple[SymptomResult, ...]
    medicines: tuple[Medicine, ...]
    notes: tuple[str, ...]
    sources: tuple[SourceRef, ...]
    kb_version: str
    labels: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def matched(self) -> tuple[SignGrade, ...]:
        return tuple(g for s in self.symptoms for g in s.grades)

    @property
    def unknown(self) -> tuple[SymptomResult, ...]:
        return tuple(s for s in self.symptoms if not s.grades)

    def as_dict(self, kb: KnowledgeBase) -> dict[str, Any]:
        return {
            "urgency": self.urgency,
            "advice": "\n".join(self.advice),
            "matched_signs": [g.as_dict(kb) for g in self.matched],
            "unknown_symptoms": [
                {
                    "symptom": s.text,
                    "status": s.status,
                    "recognised_as": [self.labels.get(x, x) for x in s.recognised],
                }
                for s in self.unknown
            ],
            "medicines": [m.as_dict() for m in self.medicines],
            "notes": list(self.notes),
            "sources": [s.as_dict() for s in self.sources],
            "kb_version": self.kb_version,
        }


def _medicine_names(medicines: Sequence[Medicine]) -> str:
    return ", ".join(m.name for m in medicines) if medicines else "no medicine named"


def triage(
    kb: KnowledgeBase,
    medicine_names: Sequence[str],
    symptoms: Sequence[str],
    resolver: Resolver | None = None,
) -> TriageResult:
    """Grade each symptom for the patient's medicines and combine them into one urgency with advice."""
    vocab = vocabulary(kb)
    levels = _levels(kb)
    by_sign = _rules_by_sign(kb)
    medicines = identify_medicines(kb, medicine_names, resolver)
    texts = [s.strip() for s in symptoms if s.strip()]
    recognised = {text: vocab.signs_in(text) for text in texts}
    reported = {sign for signs in recognised.values() for sign in signs}

    results: list[SymptomResult] = []
    for text in texts:
        grades: list[SignGrade] = []
        for sign in recognised[text]:
            for rule in by_sign.get(sign, ()):
                if rule.requires_any_of and not reported & set(rule.requires_any_of):
                    continue
                covered = applies(rule.applies_to, medicines)
                if covered is None:
                    continue
                if any(g.rule.id == rule.id for g in grades):
                    continue
                # Name the rule's own sign when several of its signs were recognised ("took too many paracetamol").
                own = next(s for s in (*rule.signs, sign) if s in recognised[text])
                grades.append(SignGrade(text, own, vocab.labels.get(own, own), rule, tuple(m.name for m in covered)))
        urgency = max((g.rule.urgency for g in grades), key=lambda u: levels[u].rank, default="unknown")
        results.append(SymptomResult(text, urgency, recognised[text], tuple(grades)))

    overall = max((r.urgency for r in results), key=lambda u: levels[u].rank, default="unknown")
    advice: list[str] = [levels[overall].action]
    top = [g for r in results for g in r.grades if g.rule.urgency == overall]
    seen: set[str] = set()
    for grade in top:
        if grade.rule.advice not in seen:
            seen.add(grade.rule.advice)
            who = ", ".join(grade.medicines) if grade.medicines else "any medicine"
            advice.append(f"{grade.label} ({who}): {grade.rule.advice}")
    unknown_lines: list[str] = []
    for result in results:
        if result.status == "not-recognised":
            unknown_lines.append(f"Not recognised: '{result.text}'.")
        elif result.status == "not-graded":
            labels = "; ".join(vocab.labels.get(s, s) for s in result.recognised)
            unknown_lines.append(
                f"Recognised '{result.text}' as {labels}, but rxguard has no sourced grading of it for "
                f"{_medicine_names(medicines)}."
            )
    if unknown_lines:
        advice.extend(unknown_lines)
        if overall != "unknown":  # otherwise the first line already says what to do about it
            advice.append(f"For what could not be graded: {levels['unknown'].action}")

    notes: list[str] = []
    if not medicines:
        notes.append("No medicine was named: only the signs that apply to every medicine were checked.")
    for medicine in medicines:
        if not medicine.recognised:
            notes.append(
                f"'{medicine.name}' is not a medicine rxguard knows: its own warning signs were not checked "
                "(only the signs that apply to every medicine were)."
            )
    if not texts:
        notes.append("No symptom was given.")

    citations: list[SourceRef] = []
    for grade in top or [g for r in results for g in r.grades]:
        for ref in kb.cite(grade.rule.sources):
            if ref not in citations:
                citations.append(ref)
    for ref in kb.cite(levels[overall].sources):
        if ref not in citations:
            citations.append(ref)
    return TriageResult(
        urgency=overall,
        advice=tuple(advice),
        symptoms=tuple(results),
        medicines=medicines,
        notes=tuple(notes),
        sources=tuple(citations),
        kb_version=kb.version,
        labels=dict(vocab.labels),
    )


def grade_signs(kb: KnowledgeBase, medicines: Sequence[Medicine], signs: Iterable[str]) -> tuple[TriageRule, ...]:
    """The active rules that grade any of these sign ids for these medicines (used by overdose assessment)."""
    by_sign = _rules_by_sign(kb)
    wanted = set(signs)
    found: list[TriageRule] = []
    for sign in wanted:
        for rule in by_sign.get(sign, ()):
            if rule.requires_any_of and not wanted & set(rule.requires_any_of):
                continue
            if applies(rule.applies_to, medicines) is not None and rule not in found:
                found.append(rule)
    return tuple(found)


def urgency_rank(kb: KnowledgeBase, urgency: str) -> int:
    return _levels(kb)[urgency].rank


def urgency_level(kb: KnowledgeBase, urgency: str) -> UrgencyLevel:
    return _levels(kb)[urgency]
