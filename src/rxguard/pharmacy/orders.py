"""Orders, pure: the state machine, what a prescription and an order must contain, totals, and the screening input.

States: submitted -> screened -> awaiting-pharmacist -> approved | rejected -> dispensed -> refill-due.
An order whose controlled-drug prescription fails the validity rules (`rxguard.checks.prescription`, run before
clinical screening) goes submitted -> rejected. No I/O and no clock: `today`/`now` are parameters.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from rxguard.checks.prescription import check_prescriptions
from rxguard.domain.identifiers import DEA_FORMAT, check_npi, normalise
from rxguard.domain.model import (
    Alert,
    Allergy,
    Coding,
    Concept,
    Condition,
    Dispense,
    Dosage,
    Indicator,
    MedicationEntry,
    Observation,
    Patient,
    Practitioner,
    Profile,
    Quantity,
    ScreeningRequest,
)
from rxguard.knowledge import schema as s
from rxguard.pharmacy.records import Order, OrderState, PatientProfile, Prescription
from rxguard.screen import Screener

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.SUBMITTED: frozenset({OrderState.SCREENED, OrderState.REJECTED}),
    OrderState.SCREENED: frozenset({OrderState.AWAITING_PHARMACIST}),
    OrderState.AWAITING_PHARMACIST: frozenset({OrderState.APPROVED, OrderState.REJECTED}),
    OrderState.APPROVED: frozenset({OrderState.DISPENSED}),
    OrderState.DISPENSED: frozenset({OrderState.REFILL_DUE}),
    OrderState.REJECTED: frozenset(),
    OrderState.REFILL_DUE: frozenset(),
}
MAX_QUANTITY = 1000
MAX_REFILLS = 11
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


class InvalidTransition(Exception):  # noqa: N818 (reads as the condition)
    def __init__(self, current: OrderState, wanted: OrderState) -> None:
        super().__init__(f"an order that is {current.label} cannot become {wanted.label}")
        self.current = current
        self.wanted = wanted


def check_transition(current: OrderState, wanted: OrderState) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(current, wanted)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


class Invalid(Exception):  # noqa: N818 (reads as the condition)
    """Input that cannot be accepted; every problem names its field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


# --- prescriptions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrescriptionInput:
    """A prescription as entered (every value a string, as a form sends it) or mapped from FHIR."""

    prescriber_name: str
    prescriber_npi: str
    written_on: str
    directions: str
    dose_units: str
    doses_per_day: str
    quantity: str
    refills: str
    prescriber_family_name: str = ""
    prescriber_dea: str = ""
    as_needed: bool = False


@dataclass(frozen=True, slots=True)
class ValidPrescription:
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


def _number(raw: str, name: str, problems: list[FieldProblem], *, whole: bool = False) -> float | None:
    text = raw.strip()
    if not text:
        problems.append(FieldProblem(name, "required"))
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(FieldProblem(name, f"must be a number (value: {text!r})"))
        return None
    if not math.isfinite(value):
        problems.append(FieldProblem(name, f"must be a finite number (value: {text!r})"))
        return None
    if whole and not value.is_integer():
        problems.append(FieldProblem(name, f"must be a whole number (value: {text!r})"))
        return None
    return value


def validate_prescription(product: s.Product, form: PrescriptionInput, today: date) -> ValidPrescription:
    """Every field a prescription needs; the DEA number only (and then always) for a controlled product.

    Formats are checked here (NPI: ten digits with a valid check digit; DEA: two letters and seven digits);
    the DEA check digit, registrant type and last-name letter, refills, days supply and prescription age are
    the controlled-substance validity rules, run on the order before it is screened.
    """
    problems: list[FieldProblem] = []
    name = form.prescriber_name.strip()
    if not name:
        problems.append(FieldProblem("prescriber_name", "required"))
    family = form.prescriber_family_name.strip() or (name.split()[-1] if name else "")
    npi = normalise(form.prescriber_npi)
    if not npi:
        problems.append(FieldProblem("prescriber_npi", "required"))
    else:
        checked = check_npi(npi)
        if not checked.valid:
            problems.append(FieldProblem("prescriber_npi", "; ".join(p.message for p in checked.problems)))
    dea = normalise(form.prescriber_dea)
    if product.dea_schedule:
        if not dea:
            problems.append(
                FieldProblem("prescriber_dea", f"required: {product.name} is a Schedule {product.dea_schedule} drug")
            )
        elif not DEA_FORMAT.match(dea):
            problems.append(FieldProblem("prescriber_dea", f"{dea!r} is not two letters and seven digits"))
    elif dea and not DEA_FORMAT.match(dea):
        problems.append(FieldProblem("prescriber_dea", f"{dea!r} is not two letters and seven digits"))
    written: date | None = None
    if not form.written_on.strip():
        problems.append(FieldProblem("written_on", "required"))
    else:
        try:
            written = date.fromisoformat(form.written_on.strip())
        except ValueError:
            problems.append(FieldProblem("written_on", f"must be a date YYYY-MM-DD (value: {form.written_on!r})"))
        if written is not None and written > today:
            problems.append(FieldProblem("written_on", f"is in the future ({written.isoformat()})"))
    directions = form.directions.strip()
    if not directions:
        problems.append(FieldProblem("directions", "required"))
    dose = _number(form.dose_units, "dose_units", problems)
    if dose is not None and not 0 < dose <= 100:
        problems.append(FieldProblem("dose_units", f"must be above 0 and at most 100 {product.unit}s"))
    per_day = _number(form.doses_per_day, "doses_per_day", problems)
    if per_day is not None and not 0 < per_day <= 24:
        problems.append(FieldProblem("doses_per_day", "must be above 0 and at most 24"))
    quantity = _number(form.quantity, "quantity", problems, whole=True)
    if quantity is not None and not 1 <= quantity <= MAX_QUANTITY:
        problems.append(FieldProblem("quantity", f"must be between 1 and {MAX_QUANTITY}"))
    refills = _number(form.refills, "refills", problems, whole=True)
    if refills is not None and not 0 <= refills <= MAX_REFILLS:
        problems.append(FieldProblem("refills", f"must be between 0 and {MAX_REFILLS}"))
    if problems:
        raise Invalid(problems)
    assert written is not None and dose is not None and per_day is not None  # noqa: S101 (checked above)
    assert quantity is not None and refills is not None  # noqa: S101 (checked above)
    return ValidPrescription(
        prescriber_name=name,
        prescriber_family_name=family or None,
        prescriber_npi=npi,
        prescriber_dea=dea or None,
        written_on=written,
        directions=directions,
        dose_units=dose,
        doses_per_day=per_day,
        as_needed=form.as_needed,
        quantity=int(quantity),
        refills=int(refills),
    )


def prescription_from_entry(entry: MedicationEntry) -> PrescriptionInput:
    """Map a MedicationRequest read by the FHIR adapter to the fields a prescription needs (strings, for validation)."""
    requester = entry.requester
    dosage = entry.dosage

    def text(value: float | int | None) -> str:
        return "" if value is None else f"{value:g}"

    return PrescriptionInput(
        prescriber_name=(requester.display or requester.family_name or "") if requester else "",
        prescriber_family_name=(requester.family_name or "") if requester else "",
        prescriber_npi=requester.npis[0] if requester and requester.npis else "",
        prescriber_dea=requester.dea_numbers[0] if requester and requester.dea_numbers else "",
        written_on=entry.authored_on.isoformat() if entry.authored_on else "",
        directions=(dosage.text if dosage and dosage.text else ""),
        dose_units=text(dosage.dose.value if dosage and dosage.dose else None),
        doses_per_day=text(dosage.doses_per_day if dosage else None),
        quantity=text(entry.quantity.value if entry.quantity else None),
        refills=text(entry.refills if entry.refills is not None else 0),
        as_needed=bool(dosage and dosage.as_needed),
    )


# --- orders ------------------------------------------------------------------------------------------------------


def total(unit_price: Decimal, quantity: int) -> Decimal:
    return (unit_price * quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fingerprint(
    patient_id: int, product_id: str, quantity: int, prescription_id: int | None, refill_of: int | None
) -> str:
    """What a submission asks for: a retry with the same idempotency key must ask for the same thing."""
    text = f"{patient_id}|{product_id}|{quantity}|{prescription_id}|{refill_of}"
    return hashlib.sha256(text.encode()).hexdigest()


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_\-:.]{8,100}$")


def validate_order(
    product: s.Product | None,
    quantity_text: str,
    prescription: Prescription | None,
    idempotency_key: str,
    patient_id: int,
    has_price: bool,
    refills_used: int = 0,
) -> int:
    """The quantity, once the product, price, key and (for prescription-only products) prescription are right."""
    problems: list[FieldProblem] = []
    if not IDEMPOTENCY_KEY.match(idempotency_key or ""):
        problems.append(FieldProblem("idempotency_key", "8-100 letters, digits, '-', '_', ':' or '.'"))
    if product is None:
        problems.append(FieldProblem("product_id", "not a product of the catalog"))
        raise Invalid(problems)
    if not has_price:
        problems.append(FieldProblem("product_id", f"{product.name} has no price and cannot be ordered"))
    quantity = _number(quantity_text, "quantity", problems, whole=True)
    if quantity is not None and not 1 <= quantity <= MAX_QUANTITY:
        problems.append(FieldProblem("quantity", f"must be between 1 and {MAX_QUANTITY}"))
    if product.rx_only:
        if prescription is None:
            problems.append(FieldProblem("prescription_id", f"{product.name} needs a prescription on file"))
        else:
            if prescription.patient_id != patient_id:
                problems.append(FieldProblem("prescription_id", "not a prescription of this patient"))
            if prescription.product_id != product.id:
                problems.append(FieldProblem("prescription_id", "the prescription is for another product"))
            if quantity is not None and quantity > prescription.quantity:
                problems.append(
                    FieldProblem("quantity", f"more than the prescribed quantity ({prescription.quantity})")
                )
            if refills_used > prescription.refills:
                problems.append(FieldProblem("prescription_id", "no refills left on this prescription"))
    if problems:
        raise Invalid(problems)
    assert quantity is not None  # noqa: S101 (checked above)
    return int(quantity)


def days_supply(prescription: Prescription | None, quantity: int) -> float | None:
    if prescription is None or prescription.as_needed:
        return None
    per_day = prescription.dose_units * prescription.doses_per_day
    return round(quantity / per_day, 1) if per_day > 0 else None


# --- the screening request ---------------------------------------------------------------------------------------


def _concept(product: s.Product) -> Concept:
    return Concept(tuple(Coding(RXNORM, code) for code in product.rxnorm[:1]), product.name)


def order_entry(order_id: str, product: s.Product, prescription: Prescription | None, quantity: int) -> MedicationEntry:
    requester = None
    dosage = None
    if prescription is not None:
        requester = Practitioner(
            id=f"prescriber-{prescription.prescriber_npi}",
            display=prescription.prescriber_name,
            family_name=prescription.prescriber_family_name,
            dea_numbers=(prescription.prescriber_dea,) if prescription.prescriber_dea else (),
            npis=(prescription.prescriber_npi,),
        )
        dosage = Dosage(
            Quantity(prescription.dose_units, product.unit),
            prescription.doses_per_day,
            prescription.as_needed,
            prescription.directions,
        )
    return MedicationEntry(
        id=order_id,
        concept=_concept(product),
        status="draft",
        dosage=dosage,
        authored_on=prescription.written_on if prescription else None,
        quantity=Quantity(float(quantity), product.unit),
        days_supply=days_supply(prescription, quantity),
        refills=prescription.refills if prescription else None,
        prescriber=prescription.prescriber_name if prescription else None,
        is_order=True,
        requester=requester,
    )


def screening_request(
    order_id: str,
    product: s.Product,
    prescription: Prescription | None,
    quantity: int,
    profile: PatientProfile,
    history: Iterable[tuple[Order, s.Product, Prescription | None]],
    now: date,
) -> ScreeningRequest:
    """The order against the patient's record and this pharmacy's earlier dispensing."""
    patient = Patient(f"patient-{profile.patient.id}", profile.patient.birth_date, profile.patient.sex)
    medications: list[MedicationEntry] = []
    for i, med in enumerate(profile.medications):
        if not med.active:
            continue
        dose = Quantity(med.dose_value, med.dose_unit) if med.dose_value and med.dose_unit else None
        medications.append(
            MedicationEntry(
                id=f"record-med-{i + 1}",
                concept=Concept((Coding(RXNORM, med.rxnorm),) if med.rxnorm else (), med.text),
                status="active",
                dosage=Dosage(dose, med.doses_per_day) if dose or med.doses_per_day else None,
                authored_on=med.started_on,
            )
        )
    dispenses: list[Dispense] = []
    for earlier, earlier_product, earlier_rx in history:
        if earlier.dispensed_at is None:
            continue
        handed = earlier.dispensed_at.date()
        entry = order_entry(f"order-{earlier.id}", earlier_product, earlier_rx, earlier.quantity)
        medications.append(
            MedicationEntry(
                id=f"order-{earlier.id}",
                concept=entry.concept,
                status="active",
                dosage=entry.dosage,
                authored_on=handed,
                quantity=entry.quantity,
                days_supply=earlier.days_supply,
                refills=0,
                prescriber=entry.prescriber,
                requester=entry.requester,
            )
        )
        dispenses.append(
            Dispense(
                id=f"dispense-{earlier.id}",
                concept=entry.concept,
                handed_over=handed,
                quantity=entry.quantity,
                days_supply=earlier.days_supply,
                prescription_id=f"order-{earlier.id}",
                pharmacy="this-pharmacy",
                prescriber=entry.prescriber,
            )
        )
    observations = tuple(
        Observation(
            id=f"lab-{i + 1}",
            concept=Concept((Coding(LOINC, lab.loinc, lab.name),), lab.name),
            effective=lab.taken_on,
            value=Quantity(lab.value, lab.unit),
        )
        for i, lab in enumerate(profile.labs)
    )
    conditions = tuple(
        Condition(f"condition-{i + 1}", Concept((Coding(SNOMED, c.snomed),) if c.snomed else (), c.text))
        for i, c in enumerate(profile.conditions)
    )
    allergies = tuple(Allergy(f"allergy-{i + 1}", Concept((), text)) for i, text in enumerate(profile.allergies))
    return ScreeningRequest(
        orders=(order_entry(order_id, product, prescription, quantity),),
        profile=Profile(patient, tuple(medications), tuple(dispenses), observations, conditions, allergies),
        now=now,
        hook="medication-verify",
    )


def validity_alerts(screener: Screener, request: ScreeningRequest) -> list[Alert]:
    """The controlled-substance prescription rules alone (PP, and MS for what they could not check)."""
    return check_prescriptions(screener.context(request))


def blocks(alerts: Sequence[Alert]) -> bool:
    """A prescription that fails a validity rule at warning or critical cannot be screened or dispensed."""
    return any(a.code == "PP" and a.indicator >= Indicator.WARNING for a in alerts)


def refill_due_on(dispensed_at: datetime, supply_days: float | None) -> date | None:
    if supply_days is None:
        return None
    return (dispensed_at + timedelta(days=supply_days)).date()


def refills_used(order: Order, chain: Mapping[int, Order]) -> int:
    """How many refills this order is (0 for the first fill), following refill_of links."""
    used = 0
    current = order
    while current.refill_of is not None and current.refill_of in chain:
        used += 1
        current = chain[current.refill_of]
    return used
