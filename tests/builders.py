"""Small builders for FHIR R4 test requests (CDS Hooks order-sign), so tests read as sentences."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
TODAY = date(2026, 11, 20)

_ids = itertools.count(1)


def _next(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def med(
    text: str,
    dose: float = 1,
    unit: str = "tablet",
    per_day: float | None = 1,
    *,
    rxnorm: str | None = None,
    status: str = "active",
    quantity: float | None = None,
    days: float | None = None,
    every_days: float | None = None,
    authored: date | None = None,
    prn: bool = False,
    refills: int | None = None,
    ident: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """A MedicationRequest; `per_day` administrations a day, or one every `every_days` days."""
    concept: dict[str, Any] = {"text": text}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": text}]
    code = unit if unit in ("mg", "g", "ug", "mL", "ug/h") else "{" + unit + "}"
    dosage: dict[str, Any] = {
        "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": code}}]
    }
    if every_days is not None:
        dosage["timing"] = {"repeat": {"frequency": 1, "period": every_days, "periodUnit": "d"}}
    elif per_day is not None:
        dosage["timing"] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    if prn:
        dosage["asNeededBoolean"] = True
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": ident or _next("mr"),
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/p1"},
        "authoredOn": (authored or TODAY - timedelta(days=7)).isoformat(),
        "dosageInstruction": [dosage],
    }
    dispense: dict[str, Any] = {}
    if quantity is not None:
        dispense["quantity"] = {"value": quantity, "unit": unit}
    if days is not None:
        dispense["expectedSupplyDuration"] = {"value": days, "unit": "days", "system": UCUM, "code": "d"}
    if refills is not None:
        dispense["numberOfRepeatsAllowed"] = refills
    if dispense:
        resource["dispenseRequest"] = dispense
    if reason:
        resource["reasonCode"] = [{"text": reason}]
    return resource


def order(text: str, dose: float = 1, unit: str = "tablet", per_day: float | None = 1, **kw: Any) -> dict[str, Any]:
    kw.setdefault("authored", TODAY)
    return med(text, dose, unit, per_day, status="draft", **kw)


def lab(loinc: str, value: float, unit: str, days_ago: int = 5) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": _next("obs"),
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": (TODAY - timedelta(days=days_ago)).isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def weight(kg: float) -> dict[str, Any]:
    return lab("29463-7", kg, "kg", days_ago=10)


def pregnant(weeks: float) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Observation",
            "id": _next("obs"),
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": TODAY.isoformat(),
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "77386006", "display": "Pregnant"}]},
        },
        lab("49051-6", weeks, "wk", days_ago=1),
    ]


def condition(text: str, snomed: str | None = None, status: str = "active") -> dict[str, Any]:
    code: dict[str, Any] = {"text": text}
    if snomed:
        code["coding"] = [{"system": SNOMED, "code": snomed, "display": text}]
    return {
        "resourceType": "Condition",
        "id": _next("cond"),
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
        },
        "code": code,
        "subject": {"reference": "Patient/p1"},
    }


def allergy(text: str) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "id": _next("alg"),
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}
            ]
        },
        "code": {"text": text},
        "patient": {"reference": "Patient/p1"},
    }


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def request(
    order_resource: dict[str, Any] | list[dict[str, Any]],
    *,
    meds: Sequence[dict[str, Any]] = (),
    observations: Sequence[dict[str, Any]] = (),
    conditions: Sequence[dict[str, Any]] = (),
    allergies: Sequence[dict[str, Any]] = (),
    age: int = 45,
    sex: str = "female",
    hook: str = "order-sign",
) -> dict[str, Any]:
    orders = order_resource if isinstance(order_resource, list) else [order_resource]
    born = date(TODAY.year - age, 1, 15)
    return {
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "hook": hook,
        "context": {"userId": "Practitioner/dr-1", "patientId": "p1", "draftOrders": bundle(orders)},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p1", "gender": sex, "birthDate": born.isoformat()},
            "medications": bundle(list(meds)),
            "conditions": bundle(list(conditions)),
            "allergies": bundle(list(allergies)),
            "observations": bundle(list(observations)),
            "dispenses": bundle([]),
        },
    }
