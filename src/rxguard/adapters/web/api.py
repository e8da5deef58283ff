"""REST routes of the pharmacy for EHRs and pharmacy systems (JWT-authenticated under /api/v1, like the others).

- `POST /api/v1/pharmacy/prescriptions`: a FHIR R4 MedicationRequest (or a Bundle holding one, with its
  Practitioner) for a patient of the pharmacy (`subject.reference` = `Patient/<id>`): the prescription on file
  that a prescription-only order needs. The prescriber's NPI (and DEA number for a controlled drug) come from
  the Practitioner's identifiers.
- `POST /api/v1/pharmacy/orders` with an `Idempotency-Key` header: submit an order (201; a retry with the same key
  answers 200 with the same order). `GET /api/v1/pharmacy/orders/{id}`: its state and screening cards.

Mounted through `rxguard.adapters.http.extensions`; the pharmacy service is `request.app.state.pharmacy`, set by
`mount_pharmacy` (when it is not, these routes answer 404).
"""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Header, Request
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from rxguard.errors import InputError, NotFoundError
from rxguard.pharmacy.orders import Invalid, prescription_from_entry
from rxguard.pharmacy.records import Order
from rxguard.pharmacy.service import Actor, Forbidden, OrderView, PharmacyService

router = APIRouter(prefix="/pharmacy", tags=["Pharmacy"])

PRESCRIPTION_BODY = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 MedicationRequest, or a Bundle with one MedicationRequest and its Practitioner.",
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}
ORDER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["patient_id", "product_id", "quantity"],
                    "properties": {
                        "patient_id": {"type": "integer"},
                        "product_id": {"type": "string"},
                        "quantity": {"type": "integer", "minimum": 1},
                        "prescription_id": {"type": ["integer", "null"]},
                    },
                }
            }
        },
    }
}


def _service(request: Request) -> PharmacyService:
    service = getattr(request.app.state, "pharmacy", None)
    if not isinstance(service, PharmacyService):
        raise NotFoundError("pharmacy: the pharmacy is not configured on this service")
    return service


def _caller(request: Request) -> Actor:
    """Who called, for the audit log: the JWT's issuer and subject (the router's dependency verified it)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            claims = jwt.decode(header[7:], options={"verify_signature": False})
        except jwt.PyJWTError:
            claims = {}
        label = " ".join(str(claims[k]) for k in ("iss", "sub") if claims.get(k)) or "api client"
        return Actor.api(label[:200])
    return Actor.api("api client (authentication disabled)")


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("(body)", raw[:40].decode("utf-8", "replace"), "not valid JSON") from None


def _invalid(exc: Invalid) -> InputError:
    first = exc.problems[0]
    return InputError(first.field, "", "; ".join(f"{p.field}: {p.message}" for p in exc.problems))


def _order_json(order: Order, view: OrderView | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": order.id,
        "state": order.state.value,
        "patient_id": order.patient_id,
        "product_id": order.product_id,
        "quantity": order.quantity,
        "unit_price": str(order.unit_price),
        "currency": order.currency,
        "price_status": order.price_status,
        "total": str(order.total),
        "prescription_id": order.prescription_id,
        "idempotency_key": order.idempotency_key,
        "kb_version": order.kb_version,
        "rejection_reason": order.rejection_reason,
        "created_at": order.created_at.isoformat(),
    }
    if view is not None:
        data["cards"] = [
            {
                "id": c.id,
                "stage": c.stage,
                "code": c.code,
                "indicator": c.indicator_label,
                "summary": c.summary,
                "rule_id": c.rule_id,
                "overridden": c.id in view.overrides,
            }
            for c in view.cards
        ]
    return data


def _medication_request(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the MedicationRequest, a Bundle holding it as a draft order) from either input shape."""
    if not isinstance(body, dict):
        raise InputError("(body)", type(body).__name__, "expected a MedicationRequest or a Bundle")
    if body.get("resourceType") == "MedicationRequest":
        request, bundle = body, {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": body}]}
    elif body.get("resourceType") == "Bundle":
        entries = [e.get("resource") for e in body.get("entry") or [] if isinstance(e, dict)]
        found = [r for r in entries if isinstance(r, dict) and r.get("resourceType") == "MedicationRequest"]
        if len(found) != 1:
            raise InputError("entry", str(len(found)), "the Bundle must hold exactly one MedicationRequest")
        request, bundle = found[0], body
    else:
        raise InputError("resourceType", str(body.get("resourceType")), "expected MedicationRequest or Bundle")
    draft = copy.deepcopy(bundle)
    for entry in draft.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "MedicationRequest":
            resource["status"] = "draft"  # read as the order to take in, whatever its status
    return request, draft


def _patient_id(resource: dict[str, Any]) -> int:
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str) or not reference.startswith("Patient/") or not reference[8:].isdigit():
        raise InputError("subject.reference", str(reference), "must be Patient/<pharmacy patient id>")
    return int(reference[8:])


@router.post(
    "/prescriptions",
    summary="Receive a prescription as a FHIR MedicationRequest",
    status_code=201,
    openapi_extra=PRESCRIPTION_BODY,
)
async def receive_prescription(request: Request) -> Response:
    from rxguard.adapters.fhir.request import parse_request

    service = _service(request)
    body = await _json(request)
    resource, bundle = _medication_request(body)
    patient_id = _patient_id(resource)
    parsed = parse_request(bundle, validation="orders")
    if not parsed.orders:
        raise InputError("(body)", "", "no MedicationRequest could be read")
    entry = parsed.orders[0]
    resolution = service.screener.resolver.resolve(entry.concept)
    product_id = resolution.product_id
    if product_id is None or service.catalog.product(product_id) is None:
        raise InputError("medicationCodeableConcept", entry.name, "does not name a product of the pharmacy's catalog")
    fhir_id = str(resource.get("id") or "") or None
    try:
        prescription = await run_in_threadpool(
            lambda: service.enter_prescription(
                _caller(request),
                patient_id,
                product_id,
                prescription_from_entry(entry),
                fhir=(fhir_id or "", json.dumps(body, sort_keys=True)),
            )
        )
    except Invalid as exc:
        raise _invalid(exc) from None
    return JSONResponse(
        {
            "id": prescription.id,
            "patient_id": prescription.patient_id,
            "product_id": prescription.product_id,
            "quantity": prescription.quantity,
            "refills": prescription.refills,
            "written_on": prescription.written_on.isoformat(),
            "source": prescription.source,
            "warnings": list(parsed.warnings),
        },
        status_code=201,
    )


@router.post(
    "/orders",
    summary="Submit an order (idempotent on the Idempotency-Key header)",
    status_code=201,
    openapi_extra=ORDER_BODY,
)
async def submit_order(
    request: Request, idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=100)]
) -> Response:
    service = _service(request)
    body = await _json(request)
    if not isinstance(body, dict):
        raise InputError("(body)", type(body).__name__, "expected an object")
    patient = body.get("patient_id")
    if not isinstance(patient, int) or isinstance(patient, bool):
        raise InputError("patient_id", str(patient), "must be an integer")
    prescription = body.get("prescription_id")
    if prescription is not None and (not isinstance(prescription, int) or isinstance(prescription, bool)):
        raise InputError("prescription_id", str(prescription), "must be an integer or null")
    try:
        order, created = await run_in_threadpool(
            service.submit_order,
            _caller(request),
            patient,
            str(body.get("product_id", "")),
            str(body.get("quantity", "")),
            prescription,
            idempotency_key,
        )
    except Invalid as exc:
        raise _invalid(exc) from None
    except Forbidden:
        raise NotFoundError(f"patient: no patient {patient}") from None
    view = await run_in_threadpool(service.order_view, _caller(request), order.id)
    return JSONResponse(_order_json(order, view), status_code=201 if created else 200)


@router.get("/orders/{order_id}", summary="An order's state and screening cards")
async def get_order(request: Request, order_id: Annotated[int, FastApiPath(ge=1, le=2**62)]) -> dict[str, Any]:
    service = _service(request)
    view = await run_in_threadpool(service.order_view, _caller(request), order_id)
    return _order_json(view.order, view)
