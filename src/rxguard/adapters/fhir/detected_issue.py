"""Screening results as FHIR R4 DetectedIssue resources (validated with the fhir.resources R4B models).

For systems that store what decision support found: one DetectedIssue per alert, with its severity
(critical -> high, warning -> moderate, info -> low), its code (rxguard's reason-for-service topic and, where
HL7 v3 ActCode has a matching detected-issue code, that too), the implicated medication requests, the
evidence (each source document with year, section and confidence) and the rule that fired.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue

from rxguard.adapters.cds_hooks.cards import card_uuid
from rxguard.checks.common import REASON_CODES, TOPIC_SYSTEM
from rxguard.domain.model import Alert, Indicator
from rxguard.screen import ScreeningResult

SEVERITY = {Indicator.CRITICAL: "high", Indicator.WARNING: "moderate", Indicator.INFO: "low"}
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# Only codes read in the v3 ActCode code system (DetectedIssue "_ActDetectedIssueCode" branch).
ACT_CODES: dict[str, tuple[str, str]] = {
    "DD": ("DRG", "Drug Interaction Alert"),
    "HD": ("DOSEH", "High Dose Alert"),
    "LD": ("DOSEL", "Low Dose Alert"),
    "TD": ("DUPTHPCLS", "duplicate therapeutic alass alert"),  # sic: the code system's own display
    "ID": ("DUPTHPGEN", "duplicate generic alert"),
}
RULE_SYSTEM = "https://rxguard.dev/fhir/NamingSystem/rule"


def _code(alert: Alert) -> dict[str, Any]:
    reason = REASON_CODES.get(alert.code)
    codings = [{"system": TOPIC_SYSTEM, "code": alert.code, "display": reason.display if reason else alert.code}]
    act = ACT_CODES.get(alert.code)
    if act is not None:
        codings.append({"system": ACT_CODE_SYSTEM, "code": act[0], "display": act[1]})
    return {"coding": codings, "text": alert.summary}


def _evidence(alert: Alert) -> list[dict[str, Any]]:
    out = []
    for src in alert.sources:
        year = f" ({src.year})" if src.year else ""
        out.append(
            {
                "code": [{"text": f"source, confidence {src.confidence}"}],
                "detail": [{"display": f"{src.document}{year}, {src.section}"}],
            }
        )
    return out


def to_detected_issue(
    alert: Alert,
    kb_version: str,
    patient_id: str | None = None,
    identified: date | datetime | None = None,
) -> dict[str, Any]:
    """One alert as a validated DetectedIssue (JSON-ready dict); its id is the card's uuid."""
    resource: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": card_uuid(alert),
        "identifier": [{"system": RULE_SYSTEM, "value": f"{alert.rule_id}|{alert.rule_version}"}],
        "status": "preliminary",
        "code": _code(alert),
        "severity": SEVERITY[alert.indicator],
        "author": {"display": f"rxguard, knowledge base {kb_version}"},
        "implicated": [{"reference": f"MedicationRequest/{m}"} for m in alert.medications],
        "detail": f"{alert.detail}\n\nWhat to do: {alert.action}",
    }
    if patient_id:
        resource["patient"] = {"reference": f"Patient/{patient_id}"}
    if identified is not None:
        resource["identifiedDateTime"] = identified.isoformat()
    evidence = _evidence(alert)
    if evidence:
        resource["evidence"] = evidence
    if not resource["implicated"]:
        del resource["implicated"]
    validated: dict[str, Any] = DetectedIssue.model_validate(resource).model_dump(mode="json", exclude_none=True)
    return validated


def to_bundle(result: ScreeningResult) -> dict[str, Any]:
    """A collection Bundle of the result's DetectedIssues, most severe first."""
    patient = result.request.profile.patient.id
    entries = [
        {
            "fullUrl": f"urn:uuid:{card_uuid(a)}",
            "resource": to_detected_issue(a, result.kb_version, patient, result.request.now),
        }
        for a in result.alerts
    ]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    validated: dict[str, Any] = Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)
    return validated
