"""Knowledge schema for warning-sign triage: a sign vocabulary with lay synonyms, graded rules and urgency levels.

The files live under `knowledge/data/triage/` (fragments, each with any of the lists below) and are
validated with the rest of the knowledge base. Free words are mapped to the vocabulary (`signs`); rules
grade a sign for a set of medicines (or for every medicine) with an urgency, advice and sources.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from rxguard.knowledge.extensions import register
from rxguard.knowledge.schema import Citation, Confidence, Rule, Slug, Strict

if TYPE_CHECKING:
    from rxguard.knowledge.base import KnowledgeBase

Urgency = Literal["emergency", "today", "routine", "self-care"]
UrgencyOrUnknown = Literal["emergency", "today", "routine", "self-care", "unknown"]

TRIAGE_FILE = "triage.yaml"


class TriageScope(Strict):
    """Which medicines a rule is about: every medicine, or ingredients, classes and names not in the vocabulary."""

    all_medicines: bool = False
    ingredients: list[Slug] = Field(default_factory=list)
    classes: list[Slug] = Field(default_factory=list)
    other_names: list[str] = Field(
        default_factory=list,
        description="medicines rxguard has no ingredient entry for (e.g. zopiclone), matched by name",
    )
    description: str = Field(min_length=1, description="the sheet's drug or class wording")

    @model_validator(mode="after")
    def _says_who(self) -> TriageScope:
        named = self.ingredients or self.classes or self.other_names
        if self.all_medicines and named:
            raise ValueError("a scope is either all_medicines or names medicines, not both")
        if not self.all_medicines and not named:
            raise ValueError("a scope needs all_medicines: true or at least one ingredient, class or other name")
        return self


class TriageSign(Strict):
    """One entry of the controlled vocabulary: a warning sign or situation and the lay words for it."""

    id: Slug
    label: str = Field(min_length=1)
    synonyms: list[str] = Field(min_length=1)
    confidence: Confidence
    sources: list[Citation] = Field(min_length=1)
    notes: str | None = None


class WordVariant(Strict):
    """A spelling or word the matcher reads as another (US 'diarrhea' as 'diarrhoea', 'cannot' as "can't")."""

    word: str = Field(min_length=1)
    means: str = Field(min_length=1)
    confidence: Confidence
    sources: list[Citation] = Field(min_length=1)


class TriageRule(Rule):
    """Grades one or more vocabulary signs for a set of medicines: urgency, what to do, sources."""

    kind: Literal["warning-sign", "escalation"] = "warning-sign"
    applies_to: TriageScope
    signs: list[Slug] = Field(min_length=1)
    urgency: Urgency
    advice: str = Field(min_length=1)
    requires_any_of: list[Slug] = Field(
        default_factory=list,
        description="the rule applies only when one of these signs was also reported (e.g. after an overdose)",
    )
    sheet_row: str | None = Field(default=None, description="drug_or_class / sign of the reference sheet row")


class UrgencyLevel(Rule):
    """What an urgency means and the action it asks for; `rank` orders them (higher is more urgent)."""

    urgency: UrgencyOrUnknown
    rank: int = Field(ge=0)
    meaning: str = Field(min_length=1)
    action: str = Field(min_length=1)


class TriageFile(Strict):
    signs: list[TriageSign] = Field(default_factory=list)
    word_variants: list[WordVariant] = Field(default_factory=list)
    triage_rules: list[TriageRule] = Field(default_factory=list)
    urgencies: list[UrgencyLevel] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        """Every rule of the file, for the knowledge base's ids, sources and counts."""
        return [*self.triage_rules, *self.urgencies]

    def cross_check(self, kb: KnowledgeBase) -> list[str]:
        where = "triage"
        problems: list[str] = []
        sign_ids = Counter(s.id for s in self.signs)
        problems += [f"{where}: sign {i!r}: field id: defined {n} times" for i, n in sign_ids.items() if n > 1]
        rule_ids = Counter(r.id for r in self.rules())
        problems += [f"{where}: entry {i!r}: field id: defined {n} times" for i, n in rule_ids.items() if n > 1]
        used: set[str] = set()
        for rule in self.triage_rules:
            entry = f"{where}: entry {rule.id!r}"
            for sign_id in (*rule.signs, *rule.requires_any_of):
                used.add(sign_id)
                if sign_id not in sign_ids:
                    problems.append(f"{entry}: field signs: unknown sign {sign_id!r}")
            for ing in rule.applies_to.ingredients:
                if ing not in kb.ingredients:
                    problems.append(f"{entry}: field applies_to.ingredients: unknown ingredient {ing!r}")
            for cls in rule.applies_to.classes:
                if cls not in kb.classes:
                    problems.append(f"{entry}: field applies_to.classes: unknown class {cls!r}")
        for sign in self.signs:
            if sign.id not in used:
                problems.append(f"{where}: sign {sign.id!r}: no rule grades it")
        for label, citations in [
            *((f"sign {sign.id!r}", sign.sources) for sign in self.signs),
            *((f"word variant {v.word!r}", v.sources) for v in self.word_variants),
        ]:
            for citation in citations:
                if citation.source not in kb.sources:
                    problems.append(f"{where}: {label}: field sources: unknown source {citation.source!r}")
        levels = {u.urgency for u in self.urgencies}
        for name in ("emergency", "today", "routine", "self-care", "unknown"):
            if self.signs and name not in levels:
                problems.append(f"{where}: urgencies: no entry for {name!r}")
        ranks = Counter(u.rank for u in self.urgencies)
        problems += [f"{where}: urgencies: rank {r} used {n} times" for r, n in ranks.items() if n > 1]
        return problems


register(TRIAGE_FILE, TriageFile)
