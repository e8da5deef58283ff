"""What the request reader gives the controlled-substance checks: prescribers and reused draft ids."""

from __future__ import annotations

from rxguard.adapters.fhir.request import parse_request
from tests import builders as b
from tests.controlled import helpers as h


def test_the_prescriber_is_read_with_dea_number_npi_and_last_name() -> None:
    order = h.prescribed_by(h.order(h.OXYCODONE_5, 1, "tablet", 4), "dr-brown")
    doctor = h.practitioner("dr-brown", "Brown", dea="AB1234563", npi="1234567893")
    doctor["identifier"].append({"system": "urn:oid:2.16.840.1.113883.4.814", "value": "FB1234563"})
    (entry,) = parse_request(h.request(order, practitioners=[doctor])).orders
    assert entry.requester is not None
    assert entry.requester.id == "dr-brown" and entry.requester.family_name == "Brown"
    assert entry.requester.dea_numbers == ("AB1234563",)  # the OID system is not recognised as DEA
    assert entry.requester.npis == ("1234567893",)


def test_a_requester_without_a_practitioner_resource() -> None:
    order = h.prescribed_by(h.order(h.OXYCODONE_5, 1, "tablet", 4), "dr-x")
    (entry,) = parse_request(h.request(order)).orders
    assert entry.requester is not None and entry.requester.display == "dr-x"
    assert entry.requester.dea_numbers == () and entry.requester.family_name is None


def test_the_draft_echoed_in_prefetch_is_not_counted_twice() -> None:
    draft = h.order(h.OXYCODONE_5, 1, "tablet", 4, ident="same-id")
    echo = dict(draft, status="active")
    request = parse_request(h.request(draft, meds=[echo]))
    assert [m.id for m in request.profile.medications] == []


def test_another_medicine_reusing_the_draft_id_is_kept() -> None:
    # The CDC opioid guide's examples give the patient's current temazepam the draft order's id.
    draft = h.order(h.OXYCODONE_5, 1, "tablet", 4, ident="same-id")
    other = b.med("temazepam 20 mg oral tablet", 1, "tablet", 1, rxnorm="104693", ident="same-id")
    request = parse_request(h.request(draft, meds=[other]))
    assert [m.name for m in request.profile.medications] == ["temazepam 20 mg oral tablet"]
