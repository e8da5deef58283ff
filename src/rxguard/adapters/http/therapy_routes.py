"""REST routes over the therapy features' pure functions: paracetamol and other overdose assessment, triage.

Thin on purpose: validate the body, call `rxguard.therapy.overdose` / `rxguard.therapy.triage`, return what
their `as_dict` gives (the same JSON as the `rxguard overdose ... --format json` and `rxguard triage` commands).
The thiopurine routes (plan, recommendation, labs, metabolites) live beside this module in
`thiopurine_routes.py`, also mounted through `extensions.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from rxguard.adapters.http.problems import body_error
from rxguard.errors import InputError
from rxguard.knowledge.base import KnowledgeBase

router = APIRouter(tags=["Therapy"])

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ParacetamolIngestionBody(BaseModel):
    """What is known about a paracetamol ingestion; every field optional as the situation allows."""

    model_config = ConfigDict(extra="forbid")

    weight_kg: Positive | None = None
    amount_mg: Positive | None = None
    hours: NonNegative | None = Field(default=None, description="Hours from ingestion to the level.")
    staggered: bool = Field(default=False, description="Taken over more than an hour: no nomogram answer.")
    level: NonNegative | None = None
    unit: Literal["mg/L", "ug/mL", "umol/L"] | None = None
    line: Literal["us", "uk"] = "us"


class IngestionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drug: Name
    amount_mg: Positive | None = None
    tablets: Positive | None = None
    weight_kg: Positive | None = None
    hours: NonNegative | None = None
    staggered: bool = False
    child: bool = False
    jurisdiction: Literal["US", "UK"] = "US"


class TriageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drugs: list[Name] = Field(default_factory=list, max_length=30)
    symptoms: list[Name] = Field(min_length=1, max_length=30)


def _kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.screener.kb
    return kb


@router.post("/overdose/paracetamol", summary="Paracetamol ingestion against the treatment nomogram")
def paracetamol(body: ParacetamolIngestionBody, request: Request) -> dict[str, Any]:
    from rxguard.therapy.overdose import ParacetamolIngestion, assess_paracetamol

    ingestion = ParacetamolIngestion(**body.model_dump())
    try:
        return assess_paracetamol(_kb(request), ingestion).as_dict()
    except InputError as exc:
        raise body_error(exc) from None


@router.post("/overdose", summary="An ingestion of any known drug against its labelled maxima")
def ingestion(body: IngestionBody, request: Request) -> dict[str, Any]:
    from rxguard.therapy.overdose import assess_ingestion

    kb = _kb(request)
    values = body.model_dump()
    drug = values.pop("drug")
    try:
        return assess_ingestion(kb, drug, **values).as_dict(kb)
    except InputError as exc:
        raise body_error(exc) from None


@router.post("/triage", summary="Warning-sign triage: urgency and advice for symptoms on these medicines")
def triage(body: TriageBody, request: Request) -> dict[str, Any]:
    from rxguard.therapy.triage import triage as grade

    kb = _kb(request)
    try:
        return grade(kb, body.drugs, body.symptoms).as_dict(kb)
    except InputError as exc:
        raise body_error(exc) from None
