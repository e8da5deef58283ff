"""The pharmacy's records: plain data passed between the service layer and a store (no I/O here).

A store (`rxguard.adapters.store`) persists these; the service layer (`rxguard.pharmacy.service`) reads and
writes them through the `Store` protocol of `rxguard.pharmacy.ports`. Money is `Decimal`, moments are aware
UTC datetimes, dates are dates.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class Role(enum.StrEnum):
    PATIENT = "patient"
    PHARMACIST = "pharmacist"
    ADMIN = "admin"


class OrderState(enum.StrEnum):
    SUBMITTED = "submitted"
    SCREENED = "screened"
    AWAITING_PHARMACIST = "awaiting-pharmacist"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISPENSED = "dispensed"
    REFILL_DUE = "refill-due"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    display_name: str
    patient_id: int | None
    password_hash: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class SessionRecord:
    token_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PatientRecord:
    id: int
    display_name: str
    birth_date: date | None
    sex: str | None


@dataclass(frozen=True, slots=True)
class ConditionRecord:
    text: str
    snomed: str | None = None


@dataclass(frozen=True, slots=True)
class LabRecord:
    loinc: str
    name: str
    value: float
    unit: str
    taken_on: date


@dataclass(frozen=True, slots=True)
class MedicationRecord:
    """A medicine the patient takes that this pharmacy did not dispense (from their record)."""

    text: str
    dose_value: float | None
    dose_unit: str | None
    doses_per_day: float | None
    started_on: date | None
    rxnorm: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class PatientProfile:
    patient: PatientRecord
    conditions: tuple[ConditionRecord, ...] = ()
    allergies: tuple[str, ...] = ()
    labs: tuple[LabRecord, ...] = ()
    medications: tuple[MedicationRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Prescription:
    """A prescription on file: entered by the pharmacy or received as a FHIR MedicationRequest."""

    id: int
    patient_id: int
    product_id: str
    prescriber_name: str
    prescriber_family_name: str | None
    prescriber_npi: str
    prescriber_dea: str | None
    written_on: date
    directions: str
    dose_units: float
    doses_per_day: float
    as_needed: bool
    quantity: int
    refills: int
    source: str  # "pharmacy" or "fhir"
    entered_by: int | None
    created_at: datetime
    fhir_id: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    patient_id: int
    product_id: str
    quantity: int
    unit_price: Decimal
    currency: str
    price_status: str
    total: Decimal
    state: OrderState
    idempotency_key: str
    fingerprint: str
    submitted_by: int | None
    created_at: datetime
    updated_at: datetime
    prescription_id: int | None = None
    refill_of: int | None = None
    kb_version: str | None = None
    rejection_reason: str | None = None
    dispensed_at: datetime | None = None
    days_supply: float | None = None
    refill_due_on: date | None = None


@dataclass(frozen=True, slots=True)
class CardRecord:
    """One screening alert as stored with its order (stage: 'validity' before screening, or 'screening')."""

    id: int
    order_id: int
    position: int
    stage: str
    code: str
    indicator: int  # 0 info, 1 warning, 2 critical
    summary: str
    detail: str
    action: str
    rule_id: str
    rule_version: int
    severity: str | None
    sources: tuple[dict[str, Any], ...]
    facts: dict[str, Any]
    site_note: str | None = None

    @property
    def indicator_label(self) -> str:
        return ("info", "warning", "critical")[self.indicator]


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    card_id: int
    order_id: int
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    comment: str | None
    pharmacist_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class InterventionRecord:
    id: int
    order_id: int
    code: str
    display: str
    outcome_code: str
    outcome_display: str
    note: str | None
    pharmacist_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor_id: int | None
    actor: str
    role: str
    action: str
    entity: str
    entity_id: str
    reason: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class RuleSetting:
    rule_id: str
    enabled: bool
    indicator: int | None  # None: the knowledge base's own indicator
    updated_by: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewOrder:
    """What a submission stores before screening decides its state."""

    patient_id: int
    product_id: str
    quantity: int
    unit_price: Decimal
    currency: str
    price_status: str
    total: Decimal
    idempotency_key: str
    fingerprint: str
    submitted_by: int | None
    prescription_id: int | None
    refill_of: int | None
    days_supply: float | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewPrescription:
    patient_id: int
    product_id: str
    prescriber_name: str
    prescriber_family_name: str | None
    prescriber_npi: str
    prescriber_dea: str | None
    written_on: date
    directions: str
    dose_units: float
    doses_per_day: float
    as_needed: bool
    quantity: int
    refills: int
    source: str
    entered_by: int | None
    created_at: datetime
    fhir_id: str | None = None
    fhir_json: str | None = None


@dataclass(frozen=True, slots=True)
class NewCard:
    stage: str
    code: str
    indicator: int
    summary: str
    detail: str
    action: str
    rule_id: str
    rule_version: int
    severity: str | None
    sources: tuple[dict[str, Any], ...]
    facts: dict[str, Any]
    site_note: str | None = None


@dataclass(frozen=True, slots=True)
class NewAuditEvent:
    at: datetime
    actor_id: int | None
    actor: str
    role: str
    action: str
    entity: str
    entity_id: str
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
