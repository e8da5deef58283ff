"""REST routes over the thiopurine features: dose plan (JSON or iCalendar), CPIC advice, labs, metabolites.

Thin on purpose, like `therapy_routes.py`: validate the body, call the pure function the command calls
(`plan.plan_for`, `dosing.advise_patient`, `labs.interpret_labs`, `metabolites.read_metabolites` in
`rxguard.therapy.thiopurine`) and return its `as_dict`, so each answer is the JSON of the matching
`rxguard thiopurine ... --format json` / `rxguard pgx recommend --format json` command for the same input.
The features name command-line options in their errors (`--weight-kg`); `body_error` renames them to the
body's fields (`weight_kg`), so a 422 problem names the field and the value. Mounted through `extensions.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from rxguard.adapters.fhir.patient_record import read_patient_record
from rxguard.adapters.http.problems import body_error
from rxguard.adapters.http.therapy_routes import Name, NonNegative
from rxguard.errors import InputError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.therapy.thiopurine.dosing import MAX_WEIGHT_KG, advise_patient
from rxguard.therapy.thiopurine.knowledge import PgxIndex, ScheduleName, drug_named, pgx_index
from rxguard.therapy.thiopurine.labs import interpret_labs
from rxguard.therapy.thiopurine.metabolites import DEFAULT_UNIT, read_metabolites
from rxguard.therapy.thiopurine.plan import MAX_MONTHS, plan_for, to_ics

router = APIRouter(prefix="/thiopurine", tags=["Thiopurines"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
DRUG = "azathioprine, mercaptopurine or thioguanine (Imuran, 6-MP, 6-TG are understood)."
GENE = "A diplotype ('*1/*3A'), rsID genotypes ('rs1800460 C/T; rs1142345 T/C') or a phenotype ('IM')."

Weight = Annotated[float, Field(gt=0, le=MAX_WEIGHT_KG, allow_inf_nan=False, description="Body weight in kg.")]
Strength = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
GeneText = Annotated[str, Field(min_length=1, max_length=200, description=GENE)]
Strengths = Annotated[list[Strength], Field(min_length=1, max_length=6, description="Tablet strengths in mg.")]


class PlanBody(BaseModel):
    """The inputs of `rxguard thiopurine plan`; at least one of `tpmt` and `nudt15`."""

    model_config = ConfigDict(extra="forbid")

    drug: Name = Field(description=DRUG)
    weight_kg: Weight
    indication: Name = Field(
        description="An id (rheumatoid-arthritis, crohns-disease, ulcerative-colitis, autoimmune-hepatitis, "
        "kidney-transplant, acute-lymphoblastic-leukemia), an alias (RA, UC, ALL) or free text (Crohn's)."
    )
    start: date = Field(description="First day of treatment.")
    tpmt: GeneText | None = None
    nudt15: GeneText | None = None
    schedule: ScheduleName | None = Field(default=None, description="Monitoring schedule (default: by indication).")
    months: Annotated[int, Field(ge=1, le=MAX_MONTHS, description="Calendar length in months.")] = 12
    strengths: Strengths | None = Field(default=None, description="Tablet strengths in mg (default: the catalog's).")


class RecommendationBody(BaseModel):
    """The inputs of `rxguard pgx recommend`; at least one of `tpmt` and `nudt15`."""

    model_config = ConfigDict(extra="forbid")

    drug: Name = Field(description=DRUG)
    tpmt: GeneText | None = None
    nudt15: GeneText | None = None
    malignant: bool = Field(default=False, description="The indication is a malignancy (e.g. ALL).")
    weight_kg: Weight | None = Field(default=None, description="Body weight in kg, for the dose in mg/day.")
    strengths: Strengths = Field(default_factory=lambda: [25.0, 50.0])


class MetabolitesBody(BaseModel):
    """The inputs of `rxguard thiopurine metabolites`."""

    model_config = ConfigDict(extra="forbid")

    tgn: NonNegative = Field(description="6-TGN, pmol/8x10^8 RBC (0 = undetectable).")
    mmp: NonNegative = Field(description="6-MMP, pmol/8x10^8 RBC (0 = undetectable).")
    unit: Name = Field(default=DEFAULT_UNIT, description="Only pmol/8x10^8 RBC is interpreted.")


def _knowledge(request: Request) -> tuple[KnowledgeBase, PgxIndex]:
    kb: KnowledgeBase = request.app.state.screener.kb
    return kb, pgx_index(kb)


@router.post(
    "/plan",
    summary="Titration in whole tablets and the blood-test calendar (as `rxguard thiopurine plan`)",
    responses={
        200: {
            "description": "The plan as JSON, or with `?format=ics` its calendar as an RFC 5545 file.",
            "content": {"application/json": {}, "text/calendar": {"schema": {"type": "string"}}},
        }
    },
)
def plan(
    body: PlanBody,
    request: Request,
    output_format: Annotated[
        Literal["json", "ics"], Query(alias="format", description="json (default) or ics (text/calendar).")
    ] = "json",
) -> Response:
    kb, index = _knowledge(request)
    try:
        result = plan_for(
            index,
            kb,
            drug_named(body.drug),
            body.weight_kg,
            body.indication,
            body.start,
            body.tpmt,
            body.nudt15,
            body.schedule,
            body.months,
            body.strengths,
        )
    except InputError as exc:
        raise body_error(exc) from None
    if output_format == "ics":
        return Response(
            to_ics(result),
            media_type=ICS_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="thiopurine-plan.ics"'},
        )
    return JSONResponse(result.as_dict())


@router.post(
    "/recommendation",
    summary="TPMT/NUDT15 phenotypes and CPIC's recommendation (as `rxguard pgx recommend`)",
)
def recommendation(body: RecommendationBody, request: Request) -> dict[str, Any]:
    _, index = _knowledge(request)
    try:
        advice = advise_patient(
            index, drug_named(body.drug), body.tpmt, body.nudt15, body.malignant, body.weight_kg, body.strengths
        )
    except InputError as exc:
        raise body_error(exc) from None
    return advice.as_dict()


@router.post(
    "/labs",
    summary="Judge a patient's blood results and metabolites (as `rxguard thiopurine labs`)",
)
def labs(
    bundle: Annotated[
        dict[str, Any],
        Body(description="A FHIR R4 Bundle (or CDS Hooks request) with Observations and MedicationRequests."),
    ],
    request: Request,
    as_of: Annotated[
        date | None, Query(description="Judge as of this date (default: the latest result or order).")
    ] = None,
) -> dict[str, Any]:
    kb, index = _knowledge(request)
    record = read_patient_record(kb, bundle)  # its InputErrors already name fields of the Bundle
    return interpret_labs(kb, index, record, as_of, datetime.now(UTC).date()).as_dict()


@router.post(
    "/metabolites",
    summary="6-TGN and 6-MMP against the BSG 2019 table (as `rxguard thiopurine metabolites`)",
)
def metabolites(body: MetabolitesBody, request: Request) -> dict[str, Any]:
    _, index = _knowledge(request)
    try:
        result = read_metabolites(index, body.tgn, body.mmp, body.unit)
    except InputError as exc:
        raise body_error(exc) from None
    return result.as_dict()
