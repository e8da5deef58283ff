"""Builders for controlled-substance test requests: dispensing records, prescribers, and a screen helper."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from rxguard.adapters.fhir.request import parse_request
from rxguard.config import ScreeningConfig
from rxguard.config_controlled import ControlledConfig
from rxguard.domain.model import Alert
from rxguard.knowledge.base import KnowledgeBase
from rxguard.screen import Screener, ScreeningResult
from tests import builders as b

TODAY = b.TODAY
OXYCODONE_5 = {"text": "oxycodone hydrochloride 5 mg oral tablet", "rxnorm": "1049621"}
OXYCODONE_10 = {"text": "oxycodone hydrochloride 10 mg oral tablet", "rxnorm": "1049683"}
OXYCODONE_ER_10 = {"text": "12 HR Oxycodone Hydrochloride 10 MG Extended Release Oral Tablet", "rxnorm": "1049502"}
FENTANYL_25 = {"text": "fentanyl 25 mcg/h patch", "rxnorm": "245134"}
ALPRAZOLAM = {"text": "alprazolam 0.5 mg oral tablet", "rxnorm": "308048"}

_ids = itertools.count(1)


def _next(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def drug(product: dict[str, str], dose: float = 1, unit: str = "tablet", per_day: float | None = 1, **kw: Any) -> Any:
    return b.med(product["text"], dose, unit, per_day, rxnorm=product.get("rxnorm"), **kw)


def order(product: dict[str, str], dose: float = 1, unit: str = "tablet", per_day: float | None = 1, **kw: Any) -> Any:
    return b.order(product["text"], dose, unit, per_day, rxnorm=product.get("rxnorm"), **kw)


def prescribed_by(resource: dict[str, Any], prescriber: str) -> dict[str, Any]:
    resource["requester"] = {"reference": f"Practitioner/{prescriber}", "display": prescriber}
    return resource


def fill(
    product: dict[str, str],
    days_ago: int,
    days_supply: float | None = 30,
    *,
    prescriber: str = "dr-a",
    pharmacy: str = "pharmacy-1",
    quantity: float = 30,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A completed prescription and its dispensing record `days_ago` days before TODAY."""
    prescription = prescribed_by(
        drug(product, status="completed", authored=TODAY - timedelta(days=days_ago + 1), ident=_next("rx")), prescriber
    )
    concept: dict[str, Any] = {"text": product["text"]}
    if product.get("rxnorm"):
        concept["coding"] = [{"system": b.RXNORM, "code": product["rxnorm"], "display": product["text"]}]
    dispense: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": _next("md"),
        "status": "completed",
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/p1"},
        "authorizingPrescription": [{"reference": f"MedicationRequest/{prescription['id']}"}],
        "performer": [{"actor": {"reference": f"Organization/{pharmacy}", "display": pharmacy}}],
        "quantity": {"value": quantity},
        "whenHandedOver": (TODAY - timedelta(days=days_ago)).isoformat(),
    }
    if days_supply is not None:
        dispense["daysSupply"] = {"value": days_supply, "unit": "days", "system": b.UCUM, "code": "d"}
    return prescription, dispense


def practitioner(ident: str, family: str, dea: str | None = None, npi: str | None = None) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = []
    if dea:
        identifiers.append(
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "DEA"}]},
                "value": dea,
            }
        )
    if npi:
        identifiers.append({"system": "http://hl7.org/fhir/sid/us-npi", "value": npi})
    return {"resourceType": "Practitioner", "id": ident, "name": [{"family": family}], "identifier": identifiers}


def request(
    order_resource: dict[str, Any] | list[dict[str, Any]],
    *,
    meds: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    fills: list[tuple[dict[str, Any], dict[str, Any]]] | tuple[tuple[dict[str, Any], dict[str, Any]], ...] = (),
    conditions: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    practitioners: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    age: int = 45,
) -> dict[str, Any]:
    data = b.request(order_resource, meds=[*meds, *(p for p, _ in fills)], conditions=conditions, age=age)
    data["prefetch"]["dispenses"] = b.bundle([d for _, d in fills])
    if practitioners:
        data["prefetch"]["practitioner"] = b.bundle(list(practitioners))
    return data


def screener(kb: KnowledgeBase, jurisdiction: str = "US", **settings: Any) -> Screener:
    return Screener(kb, ScreeningConfig(jurisdiction=jurisdiction, controlled=ControlledConfig(**settings)))  # type: ignore[arg-type]


def screen(
    kb: KnowledgeBase, data: dict[str, Any], jurisdiction: str = "US", as_of: date | None = None, **settings: Any
) -> ScreeningResult:
    return screener(kb, jurisdiction, **settings).screen(parse_request(data, as_of=as_of))


def alerts(result: ScreeningResult, code: str, rule_prefix: str = "") -> list[Alert]:
    """Alerts with a code, including findings merged under another alert of that code ('also')."""
    return [a for a in result.alerts if a.code == code and a.rule_id.startswith(rule_prefix)]


def by_rule(result: ScreeningResult, rule_id: str) -> Alert | None:
    return next((a for a in result.alerts if a.rule_id == rule_id), None)


def merged_rule_ids(alert: Alert) -> list[str]:
    return [alert.rule_id] + [str(x.get("rule_id")) for x in alert.facts.get("also", [])]


def days_before(days: int) -> date:
    return TODAY - timedelta(days=days)
