"""A patient's record (a FHIR Bundle of Observations and MedicationRequests) for thiopurine monitoring.

It is read with the screening reader, so results and medicines mean exactly what they mean in screening:
the newest MedicationRequest stands in as the 'order' (a placeholder when the Bundle has none) and every
MedicationRequest is kept for the dose timeline.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from rxguard.adapters.fhir.request import parse_date, parse_request
from rxguard.checks.context import dose_amounts
from rxguard.domain.model import MedicationEntry, Observation, Patient
from rxguard.errors import InputError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.resolve import Resolver
from rxguard.therapy.thiopurine.knowledge import DRUGS, PgxIndex
from rxguard.therapy.thiopurine.metabolites import ACCEPTED_UNITS, interpret_metabolites

PLACEHOLDER = "rxguard-labs-placeholder"
_TGN = re.compile(r"\b(6-?tgn|tgn|thioguanine nucleotides?|6-thioguanine nucleotides?)\b", re.IGNORECASE)
_MMP = re.compile(r"\b(6-?mmp|mmp|memp|6-?memp|methylmercaptopurine|6-methylmercaptopurine)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PatientRecord:
    patient: Patient
    observations: tuple[Observation, ...]
    medications: tuple[MedicationEntry, ...]
    kb: KnowledgeBase

    def latest_date(self) -> date | None:
        dates = [o.effective for o in self.observations if o.effective]
        dates += [m.authored_on for m in self.medications if m.authored_on]
        return max(dates) if dates else None

    def dose_timeline(self) -> list[tuple[date, float | None, str]]:
        """(start date, thiopurine mg/day or None, description) of every thiopurine MedicationRequest, oldest first."""
        resolver = Resolver(self.kb)
        timeline = []
        for entry in self.medications:
            resolution = resolver.resolve(entry.concept)
            drug = next((i for i in resolution.ids if i in DRUGS), None)
            if drug is None or entry.authored_on is None:
                continue
            med = dose_amounts(entry, resolution)
            timeline.append((entry.authored_on, med.daily_mg.get(drug), f"{entry.name} ({entry.status})"))
        return sorted(timeline, key=lambda t: t[0])

    def metabolites(self, index: PgxIndex) -> list[dict[str, Any]]:
        """TGN and MMP results of the same day, interpreted (results in other units are listed, not judged)."""
        by_day: dict[date | None, dict[str, tuple[float, str]]] = {}
        for obs in self.observations:
            if obs.value is None:
                continue
            text = " ".join(obs.concept.all_text())
            kind = "tgn" if _TGN.search(text) else "mmp" if _MMP.search(text) else None
            if kind is not None:
                by_day.setdefault(obs.effective, {})[kind] = (obs.value.value, obs.value.unit)
        found = []
        for day, values in sorted(by_day.items(), key=lambda kv: kv[0] or date.min):
            if "tgn" not in values or "mmp" not in values:
                continue
            (tgn, tgn_unit), (mmp, mmp_unit) = values["tgn"], values["mmp"]
            entry: dict[str, Any] = {"date": day.isoformat() if day else None, "tgn": tgn, "mmp": mmp}
            if tgn_unit not in ACCEPTED_UNITS or mmp_unit not in ACCEPTED_UNITS:
                entry.update(interpretation=f"not interpreted: units {tgn_unit!r}/{mmp_unit!r}", action="")
            else:
                result = interpret_metabolites(index, tgn, mmp)
                entry.update(interpretation=result.interpretation, action=result.action, ratio=result.ratio)
            found.append(entry)
        return found


def _entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for entry in data.get("entry", []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            found.append(resource)
    return found


def read_patient_record(kb: KnowledgeBase, data: Any) -> PatientRecord:
    """Observations and MedicationRequests of a Bundle (or a CDS Hooks request)."""
    if not isinstance(data, dict):
        raise InputError("(record)", type(data).__name__, "expected a FHIR Bundle (a JSON object)")
    working = copy.deepcopy(data)
    order_id: str | None = None
    if working.get("resourceType") == "Bundle":
        if working.get("entry") is None:
            working["entry"] = []
        elif not isinstance(working["entry"], list):
            raise InputError("entry", working["entry"], "a Bundle's entry must be a list")
        resources = _entries(working)
        requests = [r for r in resources if r.get("resourceType") == "MedicationRequest"]
        if requests:
            newest = max(requests, key=lambda r: parse_date(r.get("authoredOn")) or date.min)
            order_id = newest.get("id") or None
        if order_id is None:
            patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
            subject = f"Patient/{patient.get('id')}" if patient and patient.get("id") else "Patient/unknown"
            working["entry"].append(
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "id": PLACEHOLDER,
                        "status": "draft",
                        "intent": "order",
                        "medicationCodeableConcept": {"text": "azathioprine"},
                        "subject": {"reference": subject},
                    }
                }
            )
    request = parse_request(working, order_id=order_id)
    medications = tuple(m for m in (*request.orders, *request.profile.medications) if m.id != PLACEHOLDER)
    return PatientRecord(request.profile.patient, request.profile.observations, medications, kb)
