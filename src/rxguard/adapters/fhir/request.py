"""Read a CDS Hooks request or a FHIR R4 Bundle into a ScreeningRequest.

Only what the checks need is read, once. The orders being screened are also validated strictly
against the FHIR R4B models (fhir.resources); with `validation="all"` every resource is. A resource
that fails strict validation but can still be read becomes a warning, not a failure: only a
request that cannot be read at all (not a request or Bundle, no order) raises InputError.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import ValidationError

from rxguard.domain.model import (
    Allergy,
    Coding,
    Concept,
    Condition,
    Dispense,
    Dosage,
    MedicationEntry,
    Observation,
    Patient,
    Practitioner,
    Profile,
    Quantity,
    ScreeningRequest,
)
from rxguard.domain.units import period_in_days
from rxguard.errors import InputError

Validation = Literal["orders", "all"]

# Meanings of HL7 v3 GTSAbbreviation timing codes (doses per day).
TIMING_CODES: dict[str, float] = {
    "QD": 1,
    "AM": 1,
    "PM": 1,
    "BED": 1,
    "BID": 2,
    "TID": 3,
    "QID": 4,
    "QOD": 0.5,
    "Q1H": 24,
    "Q2H": 12,
    "Q3H": 8,
    "Q4H": 6,
    "Q6H": 4,
    "Q8H": 3,
    "WK": 1 / 7,
    "MO": 1 / 30,
}
NEEDED_TYPES = frozenset(
    {
        "MedicationRequest",
        "MedicationDispense",
        "MedicationStatement",
        "Medication",
        "Observation",
        "Condition",
        "AllergyIntolerance",
        "Patient",
        "Practitioner",
    }
)
INACTIVE_VERIFICATION = frozenset({"refuted", "entered-in-error"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_date(value: Any) -> date | None:
    """FHIR date or dateTime (any precision) to a date; partial dates take the first day."""
    text = _str(value)
    if text is None:
        return None
    parts = text[:10].split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 1
        day = int(parts[2]) if len(parts) > 2 else 1
        return date(year, month, day)
    except (ValueError, IndexError):
        return None


def concept(value: Any) -> Concept:
    data = _dict(value)
    codings = []
    for c in _list(data.get("coding")):
        cd = _dict(c)
        code = _str(cd.get("code"))
        if code:
            codings.append(Coding(system=_str(cd.get("system")) or "", code=code, display=_str(cd.get("display"))))
    return Concept(codings=tuple(codings), text=_str(data.get("text")))


def quantity(value: Any) -> Quantity | None:
    data = _dict(value)
    number = _num(data.get("value"))
    if number is None:
        return None
    unit = _str(data.get("code")) or _str(data.get("unit")) or ""
    return Quantity(number, unit)


def _reference_id(value: Any) -> str | None:
    ref = _str(_dict(value).get("reference"))
    if ref is None:
        return None
    return ref.rsplit("/", 1)[-1].lstrip("#")


def _reference_label(value: Any) -> str | None:
    data = _dict(value)
    return _str(data.get("display")) or _str(data.get("reference"))


def _status_code(value: Any) -> str | None:
    for c in _list(_dict(value).get("coding")):
        code = _str(_dict(c).get("code"))
        if code:
            return code
    return None


def _same_medicine(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("medicationCodeableConcept", "medicationReference")
    return all(a.get(k) == b.get(k) for k in keys)


@dataclass
class _Collected:
    """Resources found in the request, with the ids of the orders to screen."""

    by_type: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    drafts: list[dict[str, Any]] = field(default_factory=list)
    selections: set[str] = field(default_factory=set)
    hook: str | None = None
    is_hook_request: bool = False

    def add(self, resource: dict[str, Any]) -> None:
        kind = resource.get("resourceType")
        if isinstance(kind, str) and kind in NEEDED_TYPES:
            self.by_type.setdefault(kind, []).append(resource)


def _resources(value: Any) -> Iterator[dict[str, Any]]:
    """A single resource, a Bundle's entries, or a list of either (prefetch values take all forms)."""
    if isinstance(value, list):
        for item in value:
            yield from _resources(item)
        return
    data = _dict(value)
    if data.get("resourceType") == "Bundle":
        for entry in _list(data.get("entry")):
            resource = _dict(entry).get("resource")
            if isinstance(resource, dict):
                yield resource
    elif isinstance(data.get("resourceType"), str):
        yield data


def _collect(data: dict[str, Any]) -> _Collected:
    collected = _Collected()
    if "hook" in data or "context" in data:
        collected.is_hook_request = True
        collected.hook = _str(data.get("hook"))
        context = data.get("context")
        if not isinstance(context, dict):
            raise InputError("context", context, "a CDS Hooks request needs a context object")
        for key in ("draftOrders", "medication", "order", "medications"):
            for resource in _resources(context.get(key)):
                if resource.get("resourceType") == "MedicationRequest":
                    collected.drafts.append(resource)
                else:
                    collected.add(resource)
        for item in _list(context.get("selections")):
            if isinstance(item, str):
                collected.selections.add(item.rsplit("/", 1)[-1])
        prefetch = data.get("prefetch")
        if prefetch is not None and not isinstance(prefetch, dict):
            raise InputError("prefetch", prefetch, "prefetch must be an object of key -> resource or Bundle")
        # Ids are strings in FHIR: a draft or a prefetched resource whose id is not (a list, an object) matches none.
        drafts_by_id = {r["id"]: r for r in collected.drafts if isinstance(r.get("id"), str)}
        for value in _dict(prefetch).values():
            for resource in _resources(value):
                # The draft itself echoed in prefetch is skipped; a different medicine that reuses the draft's
                # id (seen in the CDC opioid guide's examples) is a separate record and is kept.
                ident = resource.get("id")
                draft = drafts_by_id.get(ident) if isinstance(ident, str) else None
                if (
                    resource.get("resourceType") == "MedicationRequest"
                    and draft is not None
                    and _same_medicine(draft, resource)
                ):
                    continue
                collected.add(resource)
        if not collected.drafts:
            raise InputError(
                "context.draftOrders",
                None,
                "no order to screen: expected MedicationRequest(s) in context.draftOrders "
                "(order-select, order-sign) or context.medication / context.order (medication-verify)",
            )
        return collected
    if data.get("resourceType") == "Bundle":
        for resource in _resources(data):
            collected.add(resource)
        return collected
    raise InputError(
        "resourceType",
        data.get("resourceType", data.get("hook")),
        "expected a CDS Hooks request (with hook and context) or a FHIR R4 Bundle",
    )


class _Reader:
    """Turns raw FHIR resources into domain objects, collecting warnings instead of failing."""

    def __init__(self, collected: _Collected, validation: Validation) -> None:
        self.collected = collected
        self.validation = validation
        self.warnings: list[str] = []
        self.medications: dict[str, Concept] = {}
        for med in collected.by_type.get("Medication", []):
            ident = _str(med.get("id"))
            if ident:
                self.medications[ident] = concept(med.get("code"))
        self.practitioners: dict[str, dict[str, Any]] = {}
        for practitioner in collected.by_type.get("Practitioner", []):
            ident = _str(practitioner.get("id"))
            if ident:
                self.practitioners[ident] = practitioner

    def requester(self, value: Any) -> Practitioner | None:
        """The prescriber a reference names: the Practitioner resource in the request, else what the reference says.

        Registration numbers are read from Practitioner.identifier (or a logical reference's identifier, or a
        conditional reference such as 'Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893'):
        an identifier is an NPI when its type is v2-0203 'NPI' or its system ends in 'us-npi', and a DEA
        number when its type is 'DEA' or its system mentions 'dea'.
        """
        data = _dict(value)
        if not data:
            return None
        reference = _str(data.get("reference"))
        ident = _reference_id(data) if reference and "?" not in reference else None
        identifiers = [_dict(data.get("identifier"))] if data.get("identifier") else []
        if reference and "?identifier=" in reference:
            system, _, code = reference.split("?identifier=", 1)[1].partition("|")
            identifiers.append({"system": system, "value": code} if code else {"value": system})
        family = None
        resource = self.practitioners.get(ident or "")
        if resource is not None:
            identifiers.extend(_dict(i) for i in _list(resource.get("identifier")))
            for name in _list(resource.get("name")):
                family = _str(_dict(name).get("family"))
                if family:
                    break
        dea: list[str] = []
        npi: list[str] = []
        for identifier in identifiers:
            number = _str(identifier.get("value"))
            if number is None:
                continue
            system = (_str(identifier.get("system")) or "").lower()
            types = {str(_dict(c).get("code", "")).upper() for c in _list(_dict(identifier.get("type")).get("coding"))}
            if "NPI" in types or system.endswith("us-npi"):
                npi.append(number)
            elif "DEA" in types or "dea" in system:
                dea.append(number)
        return Practitioner(
            id=ident,
            display=_str(data.get("display")),
            family_name=family,
            dea_numbers=tuple(dict.fromkeys(dea)),
            npis=tuple(dict.fromkeys(npi)),
        )

    def strict(self, resource: dict[str, Any], where: str) -> None:
        from fhir.resources.R4B import get_fhir_model_class

        kind = resource.get("resourceType")
        try:
            model = get_fhir_model_class(str(kind))
        except KeyError:
            self.warnings.append(f"{where}: unknown FHIR resource type {kind!r}")
            return
        try:
            model.model_validate(resource)
        except (ValidationError, ValueError, TypeError) as exc:
            first = str(exc).splitlines()
            detail = "; ".join(line.strip() for line in first[1:3]) if len(first) > 1 else str(exc)
            self.warnings.append(f"{where}: does not validate as FHIR R4 {kind}: {detail}")

    def medication_concept(self, resource: dict[str, Any]) -> Concept:
        if "medicationCodeableConcept" in resource:
            return concept(resource.get("medicationCodeableConcept"))
        reference = _dict(resource.get("medicationReference"))
        ref_id = _reference_id(reference)
        if ref_id:
            for contained in _list(resource.get("contained")):
                cd = _dict(contained)
                if cd.get("resourceType") == "Medication" and cd.get("id") == ref_id:
                    return concept(cd.get("code"))
            if ref_id in self.medications:
                return self.medications[ref_id]
        display = _str(reference.get("display"))
        return Concept(text=display)

    def dosage(self, resource: dict[str, Any], where: str) -> Dosage | None:
        instructions = _list(resource.get("dosageInstruction")) or _list(resource.get("dosage"))
        if not instructions:
            return None
        if len(instructions) > 1:
            self.warnings.append(f"{where}.dosageInstruction: {len(instructions)} instructions; the first is screened")
        first = _dict(instructions[0])
        dose = None
        raw_rates = first.get("doseAndRate")
        if isinstance(raw_rates, dict):
            self.warnings.append(f"{where}.dosageInstruction.doseAndRate: an object, not a list (not R4); read anyway")
            raw_rates = [raw_rates]
        if "doseAndRate" not in first and ("doseQuantity" in first or "doseRange" in first):
            self.warnings.append(f"{where}.dosageInstruction.doseQuantity: the STU3 shape (not R4); read anyway")
            raw_rates = [{"doseQuantity": first.get("doseQuantity"), "doseRange": first.get("doseRange")}]
        rates = [_dict(r) for r in _list(raw_rates)]
        ordered = [r for r in rates if not r.get("type") or "ordered" in str(r.get("type")).lower()] or rates
        for rate in ordered:
            dose = quantity(rate.get("doseQuantity"))
            if dose is None:
                dose = quantity(_dict(rate.get("doseRange")).get("high"))
            if dose is not None:
                break
        timing = _dict(first.get("timing"))
        repeat = _dict(timing.get("repeat"))
        per_day = None
        frequency = _num(repeat.get("frequencyMax")) or _num(repeat.get("frequency"))
        period = _num(repeat.get("period"))
        unit = _str(repeat.get("periodUnit"))
        if period is not None and unit is not None and period > 0:
            days = period_in_days(period, unit)
            if days is None:
                self.warnings.append(f"{where}.timing.repeat.periodUnit: unknown unit {unit!r}")
            else:
                per_day = (frequency or 1.0) / days
        elif frequency is not None:
            per_day = None
        if per_day is None and _list(repeat.get("timeOfDay")):
            per_day = float(len(_list(repeat.get("timeOfDay"))))
        if per_day is None:
            code = _status_code(timing.get("code"))
            if code and code.upper() in TIMING_CODES:
                per_day = TIMING_CODES[code.upper()]
        as_needed = bool(first.get("asNeededBoolean")) or "asNeededCodeableConcept" in first
        return Dosage(dose=dose, doses_per_day=per_day, as_needed=as_needed, text=_str(first.get("text")))

    def medication_request(self, resource: dict[str, Any], index: int, is_order: bool) -> MedicationEntry:
        ident = _str(resource.get("id")) or f"MedicationRequest#{index + 1}"
        where = f"MedicationRequest/{ident}"
        if is_order or self.validation == "all":
            self.strict(resource, where)
        dispense = _dict(resource.get("dispenseRequest"))
        supply = quantity(dispense.get("expectedSupplyDuration"))
        days = None
        if supply is not None:
            days = period_in_days(supply.value, supply.unit or "d") or (
                supply.value if supply.unit in ("days", "day") else None
            )
        refills = dispense.get("numberOfRepeatsAllowed")
        return MedicationEntry(
            id=ident,
            concept=self.medication_concept(resource),
            status=_str(resource.get("status")) or "unknown",
            dosage=self.dosage(resource, where),
            authored_on=parse_date(resource.get("authoredOn")),
            quantity=quantity(dispense.get("quantity")),
            days_supply=days,
            refills=refills if isinstance(refills, int) and not isinstance(refills, bool) else None,
            prescriber=_reference_label(resource.get("requester")),
            reason=concept(_list(resource.get("reasonCode"))[0]) if _list(resource.get("reasonCode")) else None,
            is_order=is_order,
            requester=self.requester(resource.get("requester")),
        )

    def medication_statement(self, resource: dict[str, Any], index: int) -> MedicationEntry:
        ident = _str(resource.get("id")) or f"MedicationStatement#{index + 1}"
        if self.validation == "all":
            self.strict(resource, f"MedicationStatement/{ident}")
        period = _dict(resource.get("effectivePeriod"))
        return MedicationEntry(
            id=ident,
            concept=self.medication_concept(resource),
            status=_str(resource.get("status")) or "unknown",
            dosage=self.dosage(resource, f"MedicationStatement/{ident}"),
            authored_on=parse_date(resource.get("effectiveDateTime")) or parse_date(period.get("start")),
        )

    def dispense(self, resource: dict[str, Any], index: int) -> Dispense:
        ident = _str(resource.get("id")) or f"MedicationDispense#{index + 1}"
        if self.validation == "all":
            self.strict(resource, f"MedicationDispense/{ident}")
        days = quantity(resource.get("daysSupply"))
        prescriptions = _list(resource.get("authorizingPrescription"))
        performers = _list(resource.get("performer"))
        return Dispense(
            id=ident,
            concept=self.medication_concept(resource),
            handed_over=parse_date(resource.get("whenHandedOver")) or parse_date(resource.get("whenPrepared")),
            quantity=quantity(resource.get("quantity")),
            days_supply=days.value if days else None,
            prescription_id=_reference_id(prescriptions[0]) if prescriptions else None,
            pharmacy=_reference_label(_dict(performers[0]).get("actor")) if performers else None,
        )

    def observation(self, resource: dict[str, Any], index: int) -> Observation | None:
        if resource.get("status") in ("entered-in-error", "cancelled"):
            return None
        ident = _str(resource.get("id")) or f"Observation#{index + 1}"
        if self.validation == "all":
            self.strict(resource, f"Observation/{ident}")
        effective = (
            parse_date(resource.get("effectiveDateTime"))
            or parse_date(_dict(resource.get("effectivePeriod")).get("start"))
            or parse_date(resource.get("effectiveInstant"))
            or parse_date(resource.get("issued"))
        )
        value_concept = None
        if "valueCodeableConcept" in resource:
            value_concept = concept(resource.get("valueCodeableConcept"))
        elif _str(resource.get("valueString")):
            value_concept = Concept(text=_str(resource.get("valueString")))
        components = []
        for comp in _list(resource.get("component")):
            cd = _dict(comp)
            value: Concept | Quantity | None = None
            if "valueCodeableConcept" in cd:
                value = concept(cd.get("valueCodeableConcept"))
            elif "valueQuantity" in cd:
                value = quantity(cd.get("valueQuantity"))
            components.append((concept(cd.get("code")), value))
        return Observation(
            id=ident,
            concept=concept(resource.get("code")),
            effective=effective,
            value=quantity(resource.get("valueQuantity")),
            value_concept=value_concept,
            components=tuple(components),
        )

    def condition(self, resource: dict[str, Any], index: int) -> Condition | None:
        if _status_code(resource.get("verificationStatus")) in INACTIVE_VERIFICATION:
            return None
        ident = _str(resource.get("id")) or f"Condition#{index + 1}"
        if self.validation == "all":
            self.strict(resource, f"Condition/{ident}")
        clinical = _status_code(resource.get("clinicalStatus"))
        active = clinical in (None, "active", "recurrence", "relapse") and not (
            clinical is None and ("abatementDateTime" in resource or "abatementPeriod" in resource)
        )
        return Condition(id=ident, concept=concept(resource.get("code")), active=active)

    def allergy(self, resource: dict[str, Any], index: int) -> Allergy | None:
        if _status_code(resource.get("verificationStatus")) in INACTIVE_VERIFICATION:
            return None
        ident = _str(resource.get("id")) or f"AllergyIntolerance#{index + 1}"
        if self.validation == "all":
            self.strict(resource, f"AllergyIntolerance/{ident}")
        substance = concept(resource.get("code"))
        if not substance.codings and not substance.text:
            for reaction in _list(resource.get("reaction")):
                substance = concept(_dict(reaction).get("substance"))
                if substance.codings or substance.text:
                    break
        clinical = _status_code(resource.get("clinicalStatus"))
        categories = tuple(c for c in _list(resource.get("category")) if isinstance(c, str))
        return Allergy(
            id=ident,
            concept=substance,
            active=clinical in (None, "active"),
            category=categories,
            criticality=_str(resource.get("criticality")),
        )

    def patient(self) -> Patient:
        patients = self.collected.by_type.get("Patient", [])
        if not patients:
            return Patient()
        first = patients[0]
        if self.validation == "all":
            self.strict(first, f"Patient/{first.get('id')}")
        birth = first.get("birthDate")
        born = parse_date(birth)
        if birth is not None and born is None:
            self.warnings.append(f"Patient.birthDate: not a date ({birth!r}); age-based checks cannot run")
        return Patient(id=_str(first.get("id")), birth_date=born, sex=_str(first.get("gender")))


def _choose_orders(collected: _Collected, order_id: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(orders to screen, other draft orders) for the request."""
    if not collected.is_hook_request:
        requests = collected.by_type.get("MedicationRequest", [])
        if order_id is not None:
            chosen = [r for r in requests if r.get("id") == order_id]
            if not chosen:
                known = [r.get("id") for r in requests]
                raise InputError("--order", order_id, f"no MedicationRequest with this id in the Bundle (ids: {known})")
            collected.by_type["MedicationRequest"] = [r for r in requests if r.get("id") != order_id]
            return chosen, []
        drafts = [r for r in requests if r.get("status") == "draft"]
        if not drafts:
            raise InputError(
                "Bundle.entry",
                None,
                "no order to screen: no MedicationRequest with status 'draft' (use --order ID to pick one)",
            )
        collected.by_type["MedicationRequest"] = [r for r in requests if r.get("status") != "draft"]
        return drafts, []
    drafts = collected.drafts
    if order_id is not None:
        chosen = [r for r in drafts if r.get("id") == order_id]
        if not chosen:
            raise InputError("--order", order_id, "no draft order with this id in the request")
        return chosen, [r for r in drafts if r.get("id") != order_id]
    if collected.selections:
        chosen = [r for r in drafts if r.get("id") in collected.selections]
        if chosen:
            return chosen, [r for r in drafts if r.get("id") not in collected.selections]
    return drafts, []


def parse_request(
    data: Any,
    *,
    order_id: str | None = None,
    as_of: date | None = None,
    today: date | None = None,
    validation: Validation = "orders",
) -> ScreeningRequest:
    """Read a decoded JSON request; `today` is the clock's date when nothing else fixes 'now'."""
    if not isinstance(data, dict):
        raise InputError(
            "(request)",
            type(data).__name__,
            "expected a JSON object: a CDS Hooks request or a FHIR R4 Bundle",
        )
    collected = _collect(data)
    order_resources, other_resources = _choose_orders(collected, order_id)
    reader = _Reader(collected, validation)
    orders = tuple(reader.medication_request(r, i, True) for i, r in enumerate(order_resources))
    for order in orders:
        if not order.concept.codings and not order.concept.text:
            raise InputError(
                f"MedicationRequest/{order.id}.medication[x]",
                None,
                "the order names no medication (no code, no text)",
            )
    others = tuple(reader.medication_request(r, i, False) for i, r in enumerate(other_resources))
    meds = [
        reader.medication_request(r, i, False) for i, r in enumerate(collected.by_type.get("MedicationRequest", []))
    ]
    meds.extend(
        reader.medication_statement(r, i) for i, r in enumerate(collected.by_type.get("MedicationStatement", []))
    )
    observations = [
        o for i, r in enumerate(collected.by_type.get("Observation", [])) if (o := reader.observation(r, i))
    ]
    conditions = [c for i, r in enumerate(collected.by_type.get("Condition", [])) if (c := reader.condition(r, i))]
    allergies = [
        a for i, r in enumerate(collected.by_type.get("AllergyIntolerance", [])) if (a := reader.allergy(r, i))
    ]
    dispenses = [reader.dispense(r, i) for i, r in enumerate(collected.by_type.get("MedicationDispense", []))]
    profile = Profile(
        patient=reader.patient(),
        medications=tuple(meds),
        dispenses=tuple(dispenses),
        observations=tuple(observations),
        conditions=tuple(conditions),
        allergies=tuple(allergies),
    )
    now = as_of or next((o.authored_on for o in orders if o.authored_on), None) or today or date.today()
    return ScreeningRequest(
        orders=orders,
        profile=profile,
        now=now,
        other_drafts=others,
        hook=collected.hook,
        warnings=tuple(reader.warnings),
    )
