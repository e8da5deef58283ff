"""Card suggestions, selection behaviour and override reasons: the interactive parts of a CDS Hooks card.

A check attaches concrete fixes to its alert as `Alert.suggestions` (domain terms: change this order's
dose, order this medicine, withdraw this order); this module turns them into CDS Hooks suggestions whose
actions carry FHIR R4 MedicationRequests. Where an alert carries a recommended daily dose range
(`facts["recommended_daily_dose_mg"]`, as the pharmacogenomic dosing card does) and no explicit
suggestion, a dose change within that range is derived here — only when whole units of the ordered
product can make it without going above the range. Override reasons come from the HL7 CDS Hooks
non-adherence reason code system.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from rxguard.checks.context import ClinicalContext, Med
from rxguard.domain.model import Alert, Concept, Dosage, Quantity, SuggestedAction, Suggestion

SUGGESTION_NAMESPACE = uuid.UUID("0b7c1a8e-55d2-4a5e-9f1b-3c6e2d4f8a11")
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
MASS_UNITS = frozenset({"mg", "g", "ug", "mcg"})

# HL7 CDS Hooks "Non-Adherence Reason Codes" (terminology.hl7.org, trial use), displays exactly as the code
# system gives them. Chosen for medication-safety cards from the clinical value set and its sub-codes:
# "tolerated before" is the most common override reason in the alert-override literature.
OVERRIDE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("action-performed-no-adverse-effect", "Intended action was performed previously without adverse effect"),
    ("risk-benefit-ratio", "Recipient assessment of risk/benefit ratio"),
    ("cds-not-applicable", "PC CDS does not apply to patient"),
    ("expert-contradicts", "Advice from expert contradicts the recommended action"),
    ("policy-contradicts", "Institutional policy/guideline contradicts the recommended action"),
    ("recipient-disagrees-evidence", "Recipient disagrees with recommendation because of issues with the evidence"),
)
# Offered in addition on cards that suggest something the patient may decline (naloxone, a new dose).
SUGGESTION_OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("patient-refuses", "Patient refuses/declines (no context given)*"),
    ("too-costly-uncovered", "Recommended action is too costly or not covered by insurance"),
)


def override_reasons(with_suggestions: bool) -> list[dict[str, str]]:
    reasons = OVERRIDE_REASONS + (SUGGESTION_OVERRIDE_REASONS if with_suggestions else ())
    return [{"system": OVERRIDE_SYSTEM, "code": code, "display": display} for code, display in reasons]


# --- suggestions derived from facts ----------------------------------------------------------------


def _range(value: Any) -> tuple[float, float] | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), float(value)
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        low, high = float(value[0]), float(value[1])
        return (low, high) if 0 < low <= high else None
    return None


def _frequency_text(per_day: float) -> str:
    if per_day == 1:
        return "once a day"
    if per_day == 2:
        return "twice a day"
    return f"{per_day:g} times a day"


def _unit_strength_mg(med: Med, ingredient: str) -> float | None:
    for ri in med.resolution.ingredients:
        if ri.ingredient == ingredient:
            return ri.strength_mg()
    return None


def _dose_change(med: Med, ingredient: str, low: float, high: float) -> Suggestion | None:
    """Whole units of the ordered product, at the order's frequency or once a day, within [low, high] mg/day."""
    current = med.daily_mg.get(ingredient)
    if current is None or current <= high + 1e-9 or len(med.ingredients()) != 1:
        return None
    dosage = med.entry.dosage
    if dosage is None or dosage.dose is None:
        return None
    strength = _unit_strength_mg(med, ingredient)
    if strength is None or strength <= 0:
        return None
    in_mass = dosage.dose.unit.lower() in MASS_UNITS
    frequencies = [f for f in (med.doses_per_day, 1.0) if f is not None and f > 0 and float(f).is_integer()]
    for per_day in dict.fromkeys(frequencies):
        units = math.floor(high / (per_day * strength) + 1e-9)
        daily = units * per_day * strength
        if units < 1 or daily < low - 1e-9:
            continue
        dose = Quantity(units * strength, "mg") if in_mass else Quantity(float(units), _bare(dosage.dose.unit))
        unit = _bare(dosage.dose.unit)
        shown = f"{units * strength:g} mg" if in_mass else f"{units:g} {unit} ({units * strength:g} mg)"
        text = f"{shown} {_frequency_text(per_day)}"
        label = f"Change to {daily:g} mg/day: {text} (recommended {low:g}–{high:g} mg/day)"
        action = SuggestedAction(
            kind="update",
            description=f"Rewrite {med.name} as {text} ({daily:g} mg/day)",
            order_id=med.id,
            dosage=Dosage(dose=dose, doses_per_day=per_day, as_needed=False, text=text),
        )
        return Suggestion(label=label, actions=(action,), recommended=True)
    return None


def derived_suggestions(alert: Alert, ctx: ClinicalContext | None) -> tuple[Suggestion, ...]:
    """A dose change at the recommended daily dose, when the alert carries one and no suggestion of its own."""
    if alert.suggestions or ctx is None:
        return alert.suggestions
    recommended = _range(alert.facts.get("recommended_daily_dose_mg"))
    if recommended is None:
        return ()
    ingredient = alert.facts.get("ingredient") or alert.facts.get("drug")
    found = []
    for med in ctx.orders:
        if med.id not in alert.medications:
            continue
        ingredients = med.ingredients()
        target = ingredient if isinstance(ingredient, str) else (ingredients[0] if len(ingredients) == 1 else None)
        if target is None or target not in ingredients:
            continue
        suggestion = _dose_change(med, target, *recommended)
        if suggestion is not None:
            found.append(suggestion)
    return tuple(found)


def draft_orders(data: Any) -> dict[str, dict[str, Any]]:
    """The raw MedicationRequests being ordered, by id (so an 'update' suggestion rewrites them as sent)."""
    found: dict[str, dict[str, Any]] = {}

    def add(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                add(item)
        elif isinstance(value, dict):
            if value.get("resourceType") == "Bundle":
                for entry in value.get("entry") or []:
                    if isinstance(entry, dict):
                        add(entry.get("resource"))
            elif value.get("resourceType") == "MedicationRequest" and isinstance(value.get("id"), str):
                found[value["id"]] = value

    if not isinstance(data, dict):
        return found
    context = data.get("context")
    if isinstance(context, dict):
        for key in ("draftOrders", "medication", "order", "medications"):
            add(context.get(key))
    elif data.get("resourceType") == "Bundle":
        add(data)
    return found


# --- FHIR rendering --------------------------------------------------------------------------------


def _codeable(concept: Concept) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if concept.codings:
        out["coding"] = [
            {k: v for k, v in (("system", c.system), ("code", c.code), ("display", c.display)) if v}
            for c in concept.codings
        ]
    if concept.text:
        out["text"] = concept.text
    return out


def _bare(unit: str) -> str:
    return unit.strip().removeprefix("{").removesuffix("}")


def _quantity(q: Quantity, like: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A UCUM Quantity; when the order being rewritten used the same unit, its unit fields are kept as sent."""
    unit = _bare(q.unit)
    if like and unit in {_bare(str(like.get("code", ""))), _bare(str(like.get("unit", "")))}:
        return {**dict(like), "value": q.value}
    if unit.lower() in MASS_UNITS or unit in ("mL", "L"):
        code = "ug" if unit.lower() in ("ug", "mcg") else unit
        return {"value": q.value, "unit": unit, "system": UCUM, "code": code}
    return {"value": q.value, "unit": unit, "system": UCUM, "code": "{" + unit + "}"}


def _template_dose(template: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    rates = template.get("doseAndRate") if template else None
    if isinstance(rates, list) and rates and isinstance(rates[0], dict):
        dose = rates[0].get("doseQuantity")
        return dose if isinstance(dose, dict) else None
    return None


def fhir_dosage(dosage: Dosage, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A FHIR Dosage for the new dose; route, site and method are kept from the instruction it replaces."""
    out: dict[str, Any] = {}
    if template:
        out = {k: copy.deepcopy(v) for k, v in template.items() if k in ("sequence", "route", "site", "method")}
    if dosage.text:
        out["text"] = dosage.text
    if dosage.doses_per_day is not None:
        per_day = dosage.doses_per_day
        if per_day >= 1 and float(per_day).is_integer():
            out["timing"] = {"repeat": {"frequency": int(per_day), "period": 1, "periodUnit": "d"}}
        else:
            out["timing"] = {"repeat": {"frequency": 1, "period": round(1 / per_day, 4), "periodUnit": "d"}}
    if dosage.as_needed:
        out["asNeededBoolean"] = True
    if dosage.dose is not None:
        out["doseAndRate"] = [{"doseQuantity": _quantity(dosage.dose, _template_dose(template))}]
    return out


def _patient_reference(ctx: ClinicalContext | None) -> dict[str, str] | None:
    pid = ctx.request.profile.patient.id if ctx is not None else None
    return {"reference": f"Patient/{pid}"} if pid else None


def _order_resource(
    action: SuggestedAction, ctx: ClinicalContext | None, orders: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The whole order rewritten with the new dosage (CDS Hooks 'update' carries the entire resource)."""
    if action.order_id is None or action.dosage is None:
        return None
    raw = orders.get(action.order_id)
    if raw is not None:
        resource = copy.deepcopy(dict(raw))
        instructions = resource.get("dosageInstruction")
        first = instructions[0] if isinstance(instructions, list) and instructions else None
        resource["dosageInstruction"] = [fhir_dosage(action.dosage, first if isinstance(first, dict) else None)]
        return resource
    entry = next((m.entry for m in (ctx.orders if ctx else ()) if m.id == action.order_id), None)
    if entry is None:
        return None
    resource = {
        "resourceType": "MedicationRequest",
        "id": entry.id,
        "status": entry.status if entry.status != "unknown" else "draft",
        "intent": "order",
        "medicationCodeableConcept": _codeable(entry.concept),
        "dosageInstruction": [fhir_dosage(action.dosage)],
    }
    subject = _patient_reference(ctx)
    if subject:
        resource["subject"] = subject
    return resource


def fhir_action(
    action: SuggestedAction, ctx: ClinicalContext | None, orders: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """A CDS Hooks action, or None when it cannot be made concrete (then the suggestion is left out)."""
    out: dict[str, Any] = {"type": action.kind, "description": action.description}
    if action.resource is not None:
        out["resource"] = copy.deepcopy(action.resource)
        return out
    if action.kind == "delete":
        if action.order_id is None:
            return None
        out["resourceId"] = f"MedicationRequest/{action.order_id}"
        return out
    if action.kind == "update":
        resource = _order_resource(action, ctx, orders)
        if resource is None:
            return None
        out["resource"] = resource
        return out
    if action.medication is None:
        return None
    resource = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": _codeable(action.medication),
    }
    subject = _patient_reference(ctx)
    if subject:
        resource["subject"] = subject
    if action.dosage is not None:
        resource["dosageInstruction"] = [fhir_dosage(action.dosage)]
    out["resource"] = resource
    return out


def suggestion_uuid(card_uuid: str, suggestion: Suggestion) -> str:
    return str(uuid.uuid5(SUGGESTION_NAMESPACE, f"{card_uuid}|{suggestion.label}"))


def selection_behavior(suggestions: Sequence[Suggestion]) -> str:
    """'at-most-one' when two suggestions change or withdraw the same order (they exclude each other), else 'any'."""
    touched: list[str] = []
    for suggestion in suggestions:
        touched.extend({a.order_id for a in suggestion.actions if a.kind in ("update", "delete") and a.order_id})
    return "at-most-one" if len(touched) != len(set(touched)) else "any"


def render(
    alert: Alert,
    card_uuid: str,
    ctx: ClinicalContext | None = None,
    orders: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The card fields `suggestions`, `selectionBehavior` (only with suggestions) and `overrideReasons`."""
    rendered: list[dict[str, Any]] = []
    kept: list[Suggestion] = []
    for suggestion in derived_suggestions(alert, ctx):
        actions = [fhir_action(a, ctx, orders or {}) for a in suggestion.actions]
        if not actions or any(a is None for a in actions):
            continue
        item: dict[str, Any] = {
            "label": suggestion.label,
            "uuid": suggestion_uuid(card_uuid, suggestion),
            "actions": actions,
        }
        if suggestion.recommended:
            item["isRecommended"] = True
        rendered.append(item)
        kept.append(suggestion)
    out: dict[str, Any] = {}
    if rendered:
        out["suggestions"] = rendered
        out["selectionBehavior"] = selection_behavior(kept)
    out["overrideReasons"] = override_reasons(bool(rendered))
    return out
