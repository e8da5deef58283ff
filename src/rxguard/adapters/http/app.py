"""The rxguard HTTP service (FastAPI): CDS Hooks services, the REST API, and a small home page.

Routes: `GET /cds-services` (discovery), `POST /cds-services/{id}` (order-select, order-sign,
medication-verify), `POST /cds-services/{id}/feedback`; `POST /api/v1/screen`, `POST /api/v1/screen/fhir`
(DetectedIssue Bundle), `GET /api/v1/knowledge`, `GET /api/v1/knowledge/{drug}`, plus routers that features
register in `extensions.py`. Every CDS Hooks and API call is authenticated by the client's JWT (bare 401
otherwise) unless authentication was disabled for development, which every response then says in a header.
CDS Hooks errors are FHIR OperationOutcomes; API errors are RFC 9457 problem details naming the field.
"""

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rxguard.adapters.cds_hooks.auth import (
    ANONYMOUS,
    Caller,
    JwtVerifier,
    ReplayGuard,
    ReplayStore,
    Unauthorized,
    log_rejection,
)
from rxguard.adapters.cds_hooks.cards import card_subject, to_response
from rxguard.adapters.cds_hooks.memory import AlertMemory
from rxguard.adapters.cds_hooks.prefetch import FhirFetcher
from rxguard.adapters.cds_hooks.service import BY_ID, CdsError, CdsHooksService, MemoryPolicy, operation_outcome
from rxguard.adapters.cds_hooks.suggestions import draft_orders
from rxguard.adapters.fhir.detected_issue import to_bundle
from rxguard.adapters.fhir.request import parse_request
from rxguard.adapters.http import pages
from rxguard.adapters.http.extensions import extension_routers
from rxguard.adapters.http.problems import PROBLEM_RESPONSES, FieldError, problem, validation_errors
from rxguard.adapters.http.settings import DEV_NO_AUTH_VARIABLE, ServiceSettings
from rxguard.errors import ConfigError, InputError, NotFoundError
from rxguard.knowledge.describe import describe
from rxguard.screen import Screener, ScreeningResult

log = logging.getLogger("rxguard.service")

DEV_WARNING = "authentication disabled for development: do not use with real patients"
CDS_PREFIX = "/cds-services"
SIMPLE_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
API_PREFIX = "/api/v1"


class Jurisdiction(StrEnum):
    US = "US"
    UK = "UK"


# --- schemas for the OpenAPI document (request bodies are read raw, for speed and exact error messages) ---

OBJECT_BODY = {"type": "object", "additionalProperties": True}
_CODING = {
    "type": "object",
    "properties": {"system": {"type": "string"}, "code": {"type": "string"}, "display": {"type": "string"}},
}
_QUANTITY = {"type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string"}}}
MEDICATION_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR R4 MedicationRequest (the fields rxguard reads).",
    "required": ["resourceType", "medicationCodeableConcept"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["MedicationRequest"]},
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["draft", "active", "on-hold", "completed", "stopped"]},
        "intent": {"type": "string", "enum": ["order", "proposal", "plan"]},
        "authoredOn": {"type": "string", "format": "date"},
        "medicationCodeableConcept": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string", "minLength": 1}, "coding": {"type": "array", "items": _CODING}},
        },
        "dosageInstruction": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "asNeededBoolean": {"type": "boolean"},
                    "doseAndRate": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"doseQuantity": _QUANTITY}},
                    },
                    "timing": {
                        "type": "object",
                        "properties": {
                            "repeat": {
                                "type": "object",
                                "properties": {
                                    "frequency": {"type": "integer"},
                                    "period": {"type": "number"},
                                    "periodUnit": {"type": "string", "enum": ["h", "d", "wk", "mo"]},
                                },
                            }
                        },
                    },
                },
            },
        },
        "dispenseRequest": {
            "type": "object",
            "properties": {
                "quantity": _QUANTITY,
                "expectedSupplyDuration": _QUANTITY,
                "numberOfRepeatsAllowed": {"type": "integer"},
            },
        },
    },
}
BUNDLE_OF_ORDERS = {
    "type": "object",
    "required": ["resourceType", "entry"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["resource"],
                "properties": {"resource": MEDICATION_REQUEST_SCHEMA},
            },
        },
    },
}
CDS_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["hook", "hookInstance", "context"],
    "properties": {
        "hook": {"type": "string", "enum": ["order-select", "order-sign", "medication-verify"]},
        "hookInstance": {"type": "string", "format": "uuid"},
        "fhirServer": {"type": "string", "format": "uri"},
        "fhirAuthorization": {
            "type": "object",
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
                "subject": {"type": "string"},
            },
        },
        "context": {
            "type": "object",
            "description": "userId, patientId, encounterId, selections, draftOrders (a Bundle of "
            "MedicationRequest); medication-verify: medication (or order), a MedicationRequest.",
            "properties": {
                "userId": {"type": "string"},
                "patientId": {"type": "string"},
                "selections": {"type": "array", "items": {"type": "string"}},
                "draftOrders": BUNDLE_OF_ORDERS,
                "medication": MEDICATION_REQUEST_SCHEMA,
            },
            "additionalProperties": True,
        },
        "prefetch": {
            "type": "object",
            "description": "Keys patient, medications, conditions, allergies, observations, dispenses: a resource, "
            "a Bundle or null.",
            "properties": {
                "patient": {
                    "type": "object",
                    "properties": {
                        "resourceType": {"type": "string", "enum": ["Patient"]},
                        "id": {"type": "string"},
                        "birthDate": {"type": "string", "format": "date"},
                        "gender": {"type": "string", "enum": ["male", "female", "other", "unknown"]},
                    },
                },
                "medications": BUNDLE_OF_ORDERS,
                "conditions": {"type": ["object", "null"]},
                "allergies": {"type": ["object", "null"]},
                "observations": {"type": ["object", "null"]},
                "dispenses": {"type": ["object", "null"]},
            },
            "additionalProperties": True,
        },
    },
}
SCREEN_BODY: dict[str, Any] = {"anyOf": [CDS_REQUEST_SCHEMA, BUNDLE_OF_ORDERS]}
FEEDBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["feedback"],
    "properties": {
        "feedback": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["card", "outcome", "outcomeTimestamp"],
                "properties": {
                    "card": {"type": "string"},
                    "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
                    "acceptedSuggestions": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
                    },
                    "overrideReason": {
                        "type": "object",
                        "properties": {
                            "reason": {
                                "type": "object",
                                "properties": {
                                    "system": {"type": "string"},
                                    "code": {"type": "string"},
                                    "display": {"type": "string"},
                                },
                            },
                            "userComment": {"type": "string"},
                        },
                    },
                    "outcomeTimestamp": {"type": "string", "format": "date-time"},
                },
            },
        }
    },
}


def _body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


class CdsResponse(BaseModel):
    cards: list[dict[str, Any]] = Field(description="CDS Hooks cards, most severe first.")
    extension: dict[str, Any] | None = None


class ScreenResponse(BaseModel):
    kb_version: str
    as_of: date
    jurisdiction: str
    orders: list[str]
    warnings: list[str]
    cards: list[dict[str, Any]]


class KnowledgeSummary(BaseModel):
    kb_version: str
    ingredients: int
    products: int
    sources: int
    rules: int


# --- a tiny ASGI middleware: headers on every response, without BaseHTTPMiddleware's overhead ---


class HeadersMiddleware:
    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Unauthenticated(Exception):  # noqa: N818 (reads as the HTTP status it becomes)
    pass


def _is_cds(request: Request) -> bool:
    return request.url.path.startswith(CDS_PREFIX)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = getattr(exc, "msg", "not UTF-8")
        raise InputError("(body)", raw[:40].decode("utf-8", "replace"), f"not valid JSON: {message}") from None


def _field_error(exc: InputError) -> FieldError:
    """Where an unreadable request went wrong, as a field of the HTTP request (body, or query for --order)."""
    field = exc.field
    if field.startswith("--"):
        return FieldError(field=f"query.{field[2:]}", detail=str(exc))
    if field in ("(body)", "(request)"):
        return FieldError(field="body", detail=str(exc), pointer="")
    pointer = "/" + field.replace(".", "/") if SIMPLE_FIELD.fullmatch(field) else None
    return FieldError(field=f"body.{field}", detail=str(exc), pointer=pointer)


def create_app(
    settings: ServiceSettings,
    screener: Screener,
    memory: AlertMemory,
    *,
    verifier: JwtVerifier | None = None,
    fhir_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    replay: ReplayStore | None = None,
) -> FastAPI:
    """The ASGI application. `verifier` defaults to one built from the settings' trusted issuers, remembering
    used `jti`s in `replay` (default: in this process)."""
    policy = MemoryPolicy(settings.suppress_for, settings.select_sign_window, settings.feedback_window)
    fetcher = FhirFetcher(
        timeout_s=settings.fhir_timeout_s, allowed_servers=settings.fhir_servers, transport=fhir_transport
    )
    cds = CdsHooksService(screener, memory, fetcher, policy, **({"clock": clock} if clock else {}))
    if not settings.auth_disabled_for_development and verifier is None:
        verifier = JwtVerifier(
            {i.iss: i for i in settings.trusted_issuers},
            algorithms=settings.jwt_algorithms,
            max_lifetime_s=settings.jwt_max_lifetime_s,
            replay=replay or ReplayGuard(),
        )
    base = settings.base_url

    async def authenticate(request: Request) -> Caller:
        if settings.auth_disabled_for_development:
            return ANONYMOUS
        assert verifier is not None  # noqa: S101 (set above whenever authentication is on)
        path = request.url.path
        audiences = [base + path]
        if path.startswith(API_PREFIX):
            audiences.append(base + API_PREFIX)
        if path.startswith(CDS_PREFIX) and path.endswith("/feedback"):
            audiences.append(base + path.removesuffix("/feedback"))
        try:
            return await verifier.verify(request.headers.get("authorization"), audiences)
        except Unauthorized as exc:
            log_rejection(exc)
            raise _Unauthenticated from None

    Authenticated = Annotated[Caller, Depends(authenticate)]  # noqa: N806 (a type alias)

    app = FastAPI(
        title="rxguard",
        version="0.1.0",
        description="Medication-safety screening: CDS Hooks services (order-select, order-sign, medication-verify) "
        "and a REST API. Decision support, not a medical device. Authenticate every call with a JWT signed by "
        "a trusted issuer (aud = the URL called, or the API base URL for /api/v1).",
        responses={},
    )
    app.state.screener = screener  # for routes that features add (extensions.py)
    extra_headers = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]
    if settings.auth_disabled_for_development:
        extra_headers.append((b"x-rxguard-warning", DEV_WARNING.encode()))
    app.add_middleware(HeadersMiddleware, headers=extra_headers)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )

    # --- errors ---------------------------------------------------------------------------------------

    @app.exception_handler(_Unauthenticated)
    async def unauthenticated(request: Request, exc: _Unauthenticated) -> Response:
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(CdsError)
    async def cds_error(request: Request, exc: CdsError) -> Response:
        return JSONResponse(exc.outcome, status_code=exc.status)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> Response:
        if _is_cds(request):
            return JSONResponse(operation_outcome("invalid", str(exc), expression=[exc.field]), status_code=400)
        return problem(
            422, "bad-input", "The request cannot be read", str(exc), [_field_error(exc)], instance=request.url.path
        )

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        field = str(exc).split(":", 1)[0]
        if request.url.path.startswith(API_PREFIX + "/knowledge/"):
            field = "path.drug"
        return problem(404, "not-found", "Not found", str(exc), [FieldError(field=field, detail=str(exc))])

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> Response:
        field = str(exc).split(":", 1)[0]
        return problem(422, "bad-configuration", "Bad setting", str(exc), [FieldError(field=field, detail=str(exc))])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc.errors())
        if _is_cds(request):
            text = "; ".join(f"{e.field}: {e.detail}" for e in errors)
            return JSONResponse(
                operation_outcome("invalid", text, expression=[e.field for e in errors]), status_code=400
            )
        return problem(
            422, "validation", "The request is not valid", "; ".join(f"{e.field}: {e.detail}" for e in errors), errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401:
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if _is_cds(request):
            return JSONResponse(
                operation_outcome("processing", str(exc.detail)),
                status_code=exc.status_code,
                headers=dict(exc.headers or {}),
            )
        return problem(exc.status_code, "http", str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=400)  # the client hung up before sending its body: nobody to answer

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path, exc.__class__.__name__, exc_info=exc)
        if _is_cds(request):
            return JSONResponse(
                operation_outcome("exception", "internal error in rxguard; the service log has the details"),
                status_code=500,
            )
        return problem(500, "internal", "Internal error", "rxguard failed; the service log has the details")

    # --- CDS Hooks -------------------------------------------------------------------------------------

    cds_router = APIRouter(prefix=CDS_PREFIX, tags=["CDS Hooks"])
    ServiceIdPath = Annotated[  # noqa: N806 (a type alias)
        str, FastApiPath(description="The service id from discovery.", json_schema_extra={"enum": list(BY_ID)})
    ]

    @cds_router.get("", summary="CDS Hooks discovery", responses={401: PROBLEM_RESPONSES[401]})
    async def discovery(caller: Authenticated) -> dict[str, Any]:
        return cds.discovery()

    @cds_router.post(
        "/{service_id}",
        summary="Call a CDS service (order-select, order-sign, medication-verify)",
        response_model=CdsResponse,
        responses={
            400: {"description": "Bad request: an OperationOutcome naming the field."},
            401: PROBLEM_RESPONSES[401],
            404: {"description": "No such service (OperationOutcome)."},
            412: {"description": "Prefetch missing and fhirServer not readable (OperationOutcome)."},
        },
        openapi_extra=_body(CDS_REQUEST_SCHEMA, "A CDS Hooks request."),
    )
    async def call_service(service_id: ServiceIdPath, request: Request, caller: Authenticated) -> Response:
        body = await _json_body(request)
        return JSONResponse(await cds.call(service_id, body, caller))

    @cds_router.post(
        "/{service_id}/feedback",
        summary="Feedback on cards: accepted suggestions and overrides (with reasons)",
        responses={400: {"description": "OperationOutcome naming the field."}, 401: PROBLEM_RESPONSES[401]},
        openapi_extra=_body(FEEDBACK_SCHEMA, "CDS Hooks feedback."),
    )
    async def feedback(service_id: ServiceIdPath, request: Request, caller: Authenticated) -> dict[str, Any]:
        body = await _json_body(request)
        return cds.feedback(service_id, body, caller)

    # --- REST API --------------------------------------------------------------------------------------

    api = APIRouter(prefix=API_PREFIX, responses=PROBLEM_RESPONSES)

    def _screen(body: Any, order: str | None, as_of: date | None, jurisdiction: Jurisdiction | None) -> ScreeningResult:
        engine = screener
        if jurisdiction is not None and jurisdiction.value != screener.config.jurisdiction:
            engine = Screener(screener.kb, screener.config.with_jurisdiction(jurisdiction.value), screener.checks)
        request = parse_request(
            body,
            order_id=order,
            as_of=as_of,
            today=datetime.now(UTC).date(),
            validation=engine.config.fhir_validation,
        )
        return engine.screen(request)

    OrderQuery = Annotated[  # noqa: N806 (a type alias)
        str | None, Query(max_length=200, description="Screen this MedicationRequest id (Bundle input).")
    ]
    AsOfQuery = Annotated[date | None, Query(description="Screen as of this date (default: the order's authoredOn).")]  # noqa: N806 (a type alias)
    JurisdictionQuery = Annotated[Jurisdiction | None, Query(description="US (FDA labels) or UK (SmPC/BNF) limits.")]  # noqa: N806 (a type alias)

    @api.post(
        "/screen",
        tags=["Screening"],
        summary="Screen the order(s) in a CDS Hooks request or FHIR R4 Bundle; the same cards as `rxguard screen`",
        response_model=ScreenResponse,
        openapi_extra=_body(
            OBJECT_BODY, "A CDS Hooks request (order-sign, order-select, medication-verify) or a Bundle."
        ),
    )
    async def screen(
        request: Request,
        caller: Authenticated,
        order: OrderQuery = None,
        as_of: AsOfQuery = None,
        jurisdiction: JurisdictionQuery = None,
    ) -> Response:
        body = await _json_body(request)
        result = _screen(body, order, as_of, jurisdiction)
        return JSONResponse(
            {
                "kb_version": result.kb_version,
                "as_of": result.request.now.isoformat(),
                "jurisdiction": result.context.config.jurisdiction,
                "orders": [o.id for o in result.request.orders],
                "warnings": list(result.warnings),
                "cards": to_response(result, draft_orders(body), card_subject(body))["cards"],
            }
        )

    @api.post(
        "/screen/fhir",
        tags=["Screening"],
        summary="Screen, answering with a FHIR R4 Bundle of DetectedIssue resources",
        responses={200: {"content": {"application/fhir+json": {}}, "description": "A collection Bundle."}},
        openapi_extra=_body(SCREEN_BODY, "A CDS Hooks request or a FHIR R4 Bundle."),
    )
    async def screen_fhir(
        request: Request,
        caller: Authenticated,
        order: OrderQuery = None,
        as_of: AsOfQuery = None,
        jurisdiction: JurisdictionQuery = None,
    ) -> Response:
        body = await _json_body(request)
        result = _screen(body, order, as_of, jurisdiction)
        return JSONResponse(to_bundle(result), media_type="application/fhir+json")

    @api.get(
        "/knowledge",
        tags=["Knowledge base"],
        summary="Knowledge-base version and size",
        response_model=KnowledgeSummary,
    )
    async def knowledge(caller: Authenticated) -> KnowledgeSummary:
        kb = screener.kb
        return KnowledgeSummary(
            kb_version=kb.version,
            ingredients=len(kb.ingredients),
            products=len(kb.products),
            sources=len(kb.sources),
            rules=sum(1 for _ in kb.all_rules()),
        )

    @api.get(
        "/knowledge/{drug}",
        tags=["Knowledge base"],
        summary="Everything rxguard knows about an ingredient, brand, product or class, with sources",
    )
    async def knowledge_drug(
        drug: Annotated[str, FastApiPath(max_length=200)], caller: Authenticated
    ) -> dict[str, Any]:
        return describe(screener.kb, drug)

    for router in extension_routers():
        api.include_router(router, dependencies=[Depends(authenticate)])

    app.include_router(cds_router)
    app.include_router(api)

    # --- public pages ----------------------------------------------------------------------------------

    @app.get("/health", tags=["Service"], summary="Liveness and knowledge-base version")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "kb_version": screener.kb.version,
            "authentication": not settings.auth_disabled_for_development,
        }

    @app.get("/", include_in_schema=False)
    async def home() -> HTMLResponse:
        return HTMLResponse(pages.home(settings, cds.discovery(), DEV_NO_AUTH_VARIABLE))

    if settings.demo_dir:

        @app.get("/demo", include_in_schema=False)
        async def demo() -> HTMLResponse:
            return HTMLResponse(pages.demo(settings, screener))

    return app
