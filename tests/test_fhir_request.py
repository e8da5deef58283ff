"""Reading CDS Hooks requests and FHIR Bundles: hooks, prefetch shapes, what counts as current, errors."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from rxguard.adapters.fhir.request import parse_request
from rxguard.errors import InputError
from tests import builders as b


def test_order_sign_reads_orders_profile_and_now() -> None:
    req = b.request(
        b.order("Imuran 50 mg tablet", per_day=2),
        meds=[b.med("allopurinol 100 mg tablet")],
        observations=[b.weight(70)],
        conditions=[b.condition("rheumatoid arthritis", "69896004")],
    )
    parsed = parse_request(req)
    assert [o.name for o in parsed.orders] == ["Imuran 50 mg tablet"]
    assert parsed.orders[0].dosage is not None and parsed.orders[0].dosage.doses_per_day == 2
    assert parsed.now == b.TODAY
    assert [m.name for m in parsed.profile.medications] == ["allopurinol 100 mg tablet"]
    assert parsed.profile.patient.age_years(parsed.now) == 45


@pytest.mark.parametrize("key", ["medication", "order"])
def test_medication_verify_accepts_both_context_keys(key: str) -> None:
    req = b.request(b.order("Panadol 500 mg tablets"), hook="medication-verify")
    mr = req["context"].pop("draftOrders")["entry"][0]["resource"]
    mr["status"] = "active"
    req["context"][key] = mr
    parsed = parse_request(req)
    assert [o.name for o in parsed.orders] == ["Panadol 500 mg tablets"]


def test_prefetch_is_read_by_resource_type_whatever_the_keys() -> None:
    req = b.request(b.order("Panadol 500 mg tablets"))
    prefetch = req["prefetch"]
    req["prefetch"] = {
        "item1": prefetch["patient"],
        "item2": None,
        "item3": b.weight(60),
        "item4": b.med("co-codamol 30/500 tablets"),
        "item5": prefetch["conditions"],
    }
    parsed = parse_request(req)
    assert parsed.profile.patient.id == "p1"
    assert len(parsed.profile.observations) == 1
    assert [m.name for m in parsed.profile.medications] == ["co-codamol 30/500 tablets"]


def test_order_select_screens_the_selected_draft_and_keeps_the_others_as_context() -> None:
    first, second = b.order("Panadol 500 mg tablets", ident="a"), b.order("ibuprofen 400 mg tablet", ident="b")
    req = b.request([first, second], hook="order-select")
    req["context"]["selections"] = ["MedicationRequest/b"]
    parsed = parse_request(req)
    assert [o.id for o in parsed.orders] == ["b"]
    assert [o.id for o in parsed.other_drafts] == ["a"]


def test_a_plain_bundle_screens_its_draft_and_order_picks_one() -> None:
    bundle = b.bundle([b.order("Panadol 500 mg tablets", ident="x"), b.med("ibuprofen 400 mg tablet", ident="y")])
    assert [o.id for o in parse_request(bundle).orders] == ["x"]
    assert [o.id for o in parse_request(copy.deepcopy(bundle), order_id="y").orders] == ["y"]


def test_as_of_overrides_now() -> None:
    parsed = parse_request(b.request(b.order("Panadol 500 mg tablets")), as_of=date(2027, 1, 1))
    assert parsed.now == date(2027, 1, 1)


def test_an_invalid_order_is_a_warning_when_it_can_still_be_read() -> None:
    order = b.order("Panadol 500 mg tablets")
    del order["subject"]
    parsed = parse_request(b.request(order))
    assert parsed.orders[0].name == "Panadol 500 mg tablets"
    assert any("does not validate as FHIR R4 MedicationRequest" in w and "subject" in w for w in parsed.warnings)


def test_strict_validation_of_everything_is_optional() -> None:
    req = b.request(
        b.order("Panadol 500 mg tablets"),
        observations=[{"resourceType": "Observation", "id": "bad", "status": "final"}],
    )
    assert not parse_request(copy.deepcopy(req)).warnings
    assert any("Observation/bad" in w for w in parse_request(req, validation="all").warnings)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([1, 2, 3], "(request)"),
        ({"resourceType": "Patient"}, "resourceType"),
        ({"hook": "order-sign", "context": "nope"}, "context"),
        ({"hook": "order-sign", "context": {"patientId": "p1"}}, "context.draftOrders"),
        ({"resourceType": "Bundle", "entry": []}, "Bundle.entry"),
    ],
)
def test_unreadable_requests_name_the_field(data: object, field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_request(data)
    assert err.value.field == field
    assert field in str(err.value)


def test_an_order_that_names_no_medicine_is_unreadable() -> None:
    order = b.order("x")
    order["medicationCodeableConcept"] = {}
    with pytest.raises(InputError, match="names no medication"):
        parse_request(b.request(order))


def test_an_unknown_order_id_is_named() -> None:
    with pytest.raises(InputError, match="--order"):
        parse_request(b.bundle([b.order("Panadol 500 mg tablets")]), order_id="nope")


def test_medication_reference_to_a_contained_medication() -> None:
    order = b.order("placeholder")
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "#med1"}
    order["contained"] = [{"resourceType": "Medication", "id": "med1", "code": {"text": "Voltarol 50mg tab"}}]
    assert parse_request(b.request(order)).orders[0].name == "Voltarol 50mg tab"


def test_timing_codes_and_prn_are_read() -> None:
    order = b.order("ibuprofen 400 mg tablet", per_day=None, prn=True)
    order["dosageInstruction"][0]["timing"] = {"code": {"coding": [{"code": "TID"}]}}
    dosage = parse_request(b.request(order)).orders[0].dosage
    assert dosage is not None and dosage.doses_per_day == 3 and dosage.as_needed


LIBRARY = Path(__file__).parent / "fixtures" / "cds-hooks-library"


@pytest.mark.parametrize("name", sorted(p.name for p in LIBRARY.glob("*.json")))
def test_published_cds_hooks_examples_are_read_or_rejected_clearly(name: str) -> None:
    data = json.loads((LIBRARY / name).read_text())
    if "DSTU2" in name:  # MedicationOrder, a DSTU2 resource: no R4 order to screen
        with pytest.raises(InputError, match="no order to screen"):
            parse_request(data)
        return
    parsed = parse_request(data)
    assert parsed.orders and all(o.concept.all_text() for o in parsed.orders)
    if "STU3" in name or "R4" in name:
        assert any("not R4" in w or "does not validate" in w for w in parsed.warnings)
