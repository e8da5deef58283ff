"""Errors of the REST API as RFC 9457 problem details (application/problem+json), each naming the field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rxguard.errors import InputError

PROBLEM_TYPES = "https://rxguard.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    """One thing wrong with the request: where (`field`, and `pointer` for the body) and what."""

    field: str = Field(description="The field, dotted: 'body.context.draftOrders', 'query.as_of', 'path.drug'.")
    detail: str
    pointer: str | None = Field(default=None, description="JSON Pointer into the request body (RFC 6901).")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", description="A URI identifying the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


def _pointer(location: Sequence[Any]) -> str | None:
    if not location or location[0] != "body":
        return None
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in location[1:]]
    return "/" + "/".join(parts) if parts else ""


def field_name(location: Sequence[Any]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(request)"


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[FieldError] = (),
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPES + kind,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=list(errors),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


SECRET_FIELD_PARTS = ("authorization", "token", "password", "secret")
SHOWN_VALUE_MAX = 80


def shown_value(location: Sequence[Any], value: Any) -> str | None:
    """The bad value, quoted for the message, when it is safe and short: a number, a boolean or a short text,
    never under a field whose name suggests a credential (fhirAuthorization, access_token). Otherwise None."""
    if any(part in str(p).lower() for p in location for part in SECRET_FIELD_PARTS):
        return None
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, str) and len(value) <= SHOWN_VALUE_MAX:
        return json.dumps(value, ensure_ascii=False)
    return None


def validation_errors(errors: Sequence[Any]) -> list[FieldError]:
    """FastAPI/pydantic validation errors as field errors; the value is named when `shown_value` allows (a
    request may carry tokens, and a whole object is no help in a message)."""
    out = []
    for err in errors:
        location = tuple(err.get("loc", ())) if isinstance(err, dict) else ()
        message = str(err.get("msg", "invalid")) if isinstance(err, dict) else "invalid"
        if isinstance(err, dict) and "input" in err and err.get("type") != "missing":
            value = shown_value(location, err["input"])
            if value is not None:
                message += f" (value: {value})"
        out.append(FieldError(field=field_name(location), detail=message, pointer=_pointer(location)))
    return out


def body_error(exc: InputError) -> InputError:
    """A feature's InputError naming a command-line option (--weight-kg) renamed to the body field (weight_kg).

    Routes that call the features' pure functions re-raise it, so the 422 names the field of their JSON body.
    """
    text = str(exc)
    message = text.split(": ", 1)[1].rsplit(" (value:", 1)[0] if ": " in text else text
    return InputError(exc.field.removeprefix("--").replace("-", "_"), exc.value, message)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid JWT (bare 401, no body)."},
    404: {"model": Problem, "description": "Not found.", "content": {PROBLEM_MEDIA_TYPE: {}}},
    422: {
        "model": Problem,
        "description": "The request cannot be read; `errors` names each field.",
        "content": {PROBLEM_MEDIA_TYPE: {}},
    },
}
