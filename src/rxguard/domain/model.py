"""Domain types for screening: the patient, their medicines, the order, and the alerts found.

Everything here is pure data: no I/O, no clock, no knowledge-base lookups. Adapters build these
objects from FHIR (or anything else); checks read them and return alerts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal


class Indicator(enum.IntEnum):
    """How urgent an alert is, in CDS Hooks terms; ordered so that max() finds the worst."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Indicator:
        return cls[text.strip().upper()]


class Severity(enum.IntEnum):
    """The knowledge base's severity scale for interactions and duplications."""

    NONE = 0
    MINOR = 1
    MODERATE = 2
    MAJOR = 3
    CONTRAINDICATED = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class Level(enum.IntEnum):
    """How strongly a drug-disease, pregnancy, breastfeeding or age rule advises against use."""

    CAUTION = 1
    AVOID = 2
    CONTRAINDICATED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value with a unit as written in the order (UCUM code or a dose-form word such as 'tablet')."""

    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Concept:
    """A coded or free-text concept, as FHIR CodeableConcept carries it."""

    codings: tuple[Coding, ...] = ()
    text: str | None = None

    def codes(self, system_suffix: str) -> tuple[str, ...]:
        return tuple([c.code for c in self.codings if c.system.rstrip("/").endswith(system_suffix)])

    def all_text(self) -> tuple[str, ...]:
        texts = [self.text] if self.text else []
        texts.extend([c.display for c in self.codings if c.display])
        return tuple(texts)

    def first_text(self) -> str | None:
        """all_text()[0], or None when there is no text (without building the tuple)."""
        if self.text:
            return self.text
        for coding in self.codings:
            if coding.display:
                return coding.display
        return None


@dataclass(frozen=True, slots=True)
class Dosage:
    """One administration pattern: how much each time and how often."""

    dose: Quantity | None
    doses_per_day: float | None
    as_needed: bool = False
    text: str | None = None


@dataclass(frozen=True, slots=True)
class MedicationEntry:
    """A medicine on the patient's record or being ordered, as written (not yet resolved to a product)."""

    id: str
    concept: Concept
    status: str
    dosage: Dosage | None = None
    authored_on: date | None = None
    quantity: Quantity | None = None
    days_supply: float | None = None
    refills: int | None = None
    prescriber: str | None = None
    reason: Concept | None = None
    is_order: bool = False
    # Who wrote it, with their registration numbers where the request carries them (controlled drugs).
    requester: Practitioner | None = None

    @property
    def name(self) -> str:
        return self.concept.first_text() or f"medication {self.id}"


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A prescriber as the request names them: reference id, names, and registration numbers (DEA, NPI)."""

    id: str | None = None
    display: str | None = None
    family_name: str | None = None
    dea_numbers: tuple[str, ...] = ()
    npis: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dispense:
    """A completed dispensing of a medicine, for history-based checks."""

    id: str
    concept: Concept
    handed_over: date | None
    quantity: Quantity | None
    days_supply: float | None
    prescription_id: str | None = None
    pharmacy: str | None = None
    prescriber: str | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """A lab result, vital sign or other coded finding (LOINC codes preferred)."""

    id: str
    concept: Concept
    effective: date | None
    value: Quantity | None = None
    value_concept: Concept | None = None
    components: tuple[tuple[Concept, Concept | Quantity | None], ...] = ()

    def loinc(self) -> tuple[str, ...]:
        return self.concept.codes("loinc.org")


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    concept: Concept
    active: bool = True


@dataclass(frozen=True, slots=True)
class Allergy:
    id: str
    concept: Concept
    active: bool = True
    category: tuple[str, ...] = ()
    criticality: str | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    id: str | None = None
    birth_date: date | None = None
    sex: str | None = None

    def age_years(self, on: date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything known about the patient that a check may read."""

    patient: Patient = field(default_factory=Patient)
    medications: tuple[MedicationEntry, ...] = ()
    dispenses: tuple[Dispense, ...] = ()
    observations: tuple[Observation, ...] = ()
    conditions: tuple[Condition, ...] = ()
    allergies: tuple[Allergy, ...] = ()


@dataclass(frozen=True, slots=True)
class ScreeningRequest:
    """The order(s) to screen, the profile to screen them against, and the moment of screening."""

    orders: tuple[MedicationEntry, ...]
    profile: Profile
    now: date
    other_drafts: tuple[MedicationEntry, ...] = ()
    hook: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a rule comes from: the document, its year, the section, and how sure we are."""

    document: str
    year: int | None
    section: str
    confidence: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "year": self.year,
            "section": self.section,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class SuggestedAction:
    """One change a suggestion proposes, in domain terms; the CDS Hooks adapter turns it into FHIR.

    `kind` is "create" (order a new medicine: `medication` and `dosage`), "update" (rewrite the order
    `order_id` being screened with the new `dosage`) or "delete" (withdraw the order `order_id`).
    `resource` is for a check that already holds a complete FHIR resource: it is sent as is.
    """

    kind: Literal["create", "update", "delete"]
    description: str
    order_id: str | None = None
    medication: Concept | None = None
    dosage: Dosage | None = None
    resource: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A concrete fix the user can accept in one step (all its actions together); not advice text."""

    label: str
    actions: tuple[SuggestedAction, ...]
    recommended: bool = False


@dataclass(frozen=True, slots=True)
class Alert:
    """One finding of a check: what is wrong, how urgent, what to do, and on what authority."""

    code: str
    indicator: Indicator
    summary: str
    detail: str
    action: str
    rule_id: str
    rule_version: int
    sources: tuple[SourceRef, ...]
    medications: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None
    # Concrete fixes (change the dose, add naloxone); rendered as CDS Hooks card suggestions.
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """Identity for de-duplication: one card per code and set of implicated medicines."""
        meds = self.medications
        if len(meds) > 1 or not isinstance(meds, tuple):  # one medicine (most alerts) is already in order
            meds = tuple(sorted(meds))
        return (self.code, meds)
