"""Use cases end to end on both databases: screening, the queue, overrides, approval, refills, validity, access."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rxguard.errors import NotFoundError
from rxguard.pharmacy.orders import Invalid
from rxguard.pharmacy.records import OrderState
from rxguard.pharmacy.service import Actor, Forbidden, PharmacyService
from tests.pharmacy.conftest import Clock, People, imuran_prescription, oxycodone_prescription


def _imuran_order(service: PharmacyService, people: People, key: str = "alice-key-0001") -> int:
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    order, created = service.submit_order(Actor.of(people.alice), people.alice_id, "imuran-50", "56", rx.id, key)
    assert created
    return order.id


def test_an_order_is_screened_and_queued_with_its_total_from_the_unit_price(
    service: PharmacyService, people: People
) -> None:
    order_id = _imuran_order(service, people)
    view = service.order_view(Actor.of(people.alice), order_id)
    assert view.order.state is OrderState.AWAITING_PHARMACIST
    assert str(view.order.total) == "67.20" and view.order.price_status == "real"  # 56 x USD 1.20
    rules = {c.rule_id: c.indicator_label for c in view.cards}
    assert rules["ddi.azathioprine.febuxostat"] == "critical"  # Alice takes febuxostat: a contraindicated pair
    assert "thiopurine.test.tpmt" in rules
    actions = [a.action for a in reversed(view.audit)]
    assert actions == ["order.submitted", "order.screened", "order.queued"]
    queue = service.queue(Actor.of(people.pharmacist))
    assert [item.order.id for item in queue] == [order_id]
    assert queue[0].worst == 2


def test_a_critical_card_needs_a_coded_override_before_approval(service: PharmacyService, people: People) -> None:
    order_id = _imuran_order(service, people)
    pharmacist = Actor.of(people.pharmacist)
    with pytest.raises(Invalid, match="override each critical card"):
        service.approve(pharmacist, order_id)
    view = service.order_view(pharmacist, order_id)
    critical = view.open_critical[0]
    with pytest.raises(Invalid, match="coded reason is required"):
        service.override_card(pharmacist, order_id, critical.id, None, "looks fine")
    with pytest.raises(Invalid, match="unknown override reason"):
        service.override_card(pharmacist, order_id, critical.id, "because", None)
    service.override_card(pharmacist, order_id, critical.id, "recipient-concerns-outcomes", "gastroenterologist aware")
    service.record_intervention(pharmacist, order_id, "M0", "prescriber-confirmed-order", "phoned Dr Smith")
    approved = service.approve(pharmacist, order_id, "checked")
    assert approved.state is OrderState.APPROVED
    entries = {a.action: a for a in service.order_view(pharmacist, order_id).audit}
    override = entries["card.overridden"]
    assert override.actor == "phil" and override.role == "pharmacist"
    assert override.details["reason_code"] == "recipient-concerns-outcomes"
    assert override.reason == "Benefit judged to outweigh the risk for this patient - gastroenterologist aware"
    assert entries["intervention.recorded"].details["outcome"] == "prescriber-confirmed-order"
    assert entries["order.approved"].reason == "checked"
    assert service.verify_audit() is None


def test_a_retry_with_the_same_key_returns_the_same_order_and_a_different_order_is_refused(
    service: PharmacyService, people: People
) -> None:
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    alice = Actor.of(people.alice)
    first, created = service.submit_order(alice, people.alice_id, "imuran-50", "56", rx.id, "retry-key-1")
    again, created_again = service.submit_order(alice, people.alice_id, "imuran-50", "56", rx.id, "retry-key-1")
    assert created and not created_again and again.id == first.id
    with pytest.raises(Invalid, match="already used for a different order"):
        service.submit_order(alice, people.alice_id, "imuran-50", "28", rx.id, "retry-key-1")
    assert len(service.orders_for(alice, people.alice_id)) == 1


def test_prescription_only_products_need_a_prescription_of_the_patient(
    service: PharmacyService, people: People
) -> None:
    rx = service.enter_prescription(Actor.of(people.pharmacist), people.alice_id, "imuran-50", imuran_prescription())
    with pytest.raises(Invalid, match="needs a prescription on file"):
        service.submit_order(Actor.of(people.alice), people.alice_id, "imuran-50", "56", None, "no-rx-key-1")
    with pytest.raises(Invalid, match="not a prescription of this patient"):
        service.submit_order(Actor.of(people.bob), people.bob_id, "imuran-50", "56", rx.id, "bob-key-0001")
    with pytest.raises(Invalid, match="more than the prescribed quantity"):
        service.submit_order(Actor.of(people.alice), people.alice_id, "imuran-50", "100", rx.id, "too-many-key")
    with pytest.raises(Forbidden):
        service.submit_order(Actor.of(people.bob), people.alice_id, "imuran-50", "56", rx.id, "for-alice-key")
    order, _ = service.submit_order(Actor.of(people.bob), people.bob_id, "panadol-500", "32", None, "otc-key-001")
    assert order.state is OrderState.AWAITING_PHARMACIST and str(order.total) == "2.56"  # 32 x demo 0.08


def test_a_patient_cannot_see_another_patients_order(service: PharmacyService, people: People) -> None:
    order_id = _imuran_order(service, people)
    with pytest.raises(NotFoundError):
        service.order_view(Actor.of(people.bob), order_id)
    with pytest.raises(NotFoundError):
        service.patient_page(Actor.of(people.bob), people.alice_id)
    with pytest.raises(Forbidden):
        service.queue(Actor.of(people.bob))
    assert service.order_view(Actor.of(people.pharmacist), order_id).order.id == order_id


def test_controlled_validity_rules_run_before_screening_and_reject_an_invalid_prescription(
    service: PharmacyService, people: People
) -> None:
    pharmacist = Actor.of(people.pharmacist)
    # Schedule II with a refill: 21 CFR 1306 allows none, so the prescription is invalid before any screening.
    rx = service.enter_prescription(pharmacist, people.bob_id, "oxycodone-10", oxycodone_prescription(refills="1"))
    order, _ = service.submit_order(Actor.of(people.bob), people.bob_id, "oxycodone-10", "56", rx.id, "cii-refill-1")
    assert order.state is OrderState.REJECTED
    assert order.rejection_reason is not None and "prescription invalid" in order.rejection_reason
    view = service.order_view(pharmacist, order.id)
    assert {c.stage for c in view.cards} == {"validity"}
    assert "rx.us.cii.no-refills" in {c.rule_id for c in view.cards}
    assert [a.action for a in reversed(view.audit)] == ["order.submitted", "order.rejected"]
    # A DEA number whose check digit is wrong.
    bad = service.enter_prescription(
        pharmacist, people.bob_id, "oxycodone-10", oxycodone_prescription(prescriber_dea="AJ1234567")
    )
    order, _ = service.submit_order(Actor.of(people.bob), people.bob_id, "oxycodone-10", "56", bad.id, "cii-dea-1")
    assert order.state is OrderState.REJECTED
    assert "rx.us.dea-number" in {c.rule_id for c in service.order_view(pharmacist, order.id).cards}
    # A valid one is screened.
    good = service.enter_prescription(pharmacist, people.bob_id, "oxycodone-10", oxycodone_prescription())
    order, _ = service.submit_order(Actor.of(people.bob), people.bob_id, "oxycodone-10", "56", good.id, "cii-good-1")
    assert order.state is OrderState.AWAITING_PHARMACIST


def test_dispensing_refill_due_and_the_refill(service: PharmacyService, people: People, clock: Clock) -> None:
    pharmacist = Actor.of(people.pharmacist)
    order_id = _imuran_order(service, people)
    view = service.order_view(pharmacist, order_id)
    for card in view.open_critical:
        service.override_card(pharmacist, order_id, card.id, "recipient-concerns-outcomes", None)
    service.approve(pharmacist, order_id)
    dispensed = service.dispense(pharmacist, order_id)
    assert dispensed.days_supply == 28.0  # 56 tablets at 2 a day
    assert dispensed.refill_due_on == (clock.moment + timedelta(days=28)).date()
    assert service.mark_refills_due(clock.moment.date()) == []
    clock.moment += timedelta(days=28)
    assert [o.id for o in service.mark_refills_due()] == [order_id]
    refill, created = service.request_refill(Actor.of(people.alice), order_id, "refill-key-01")
    assert created and refill.refill_of == order_id and refill.state is OrderState.AWAITING_PHARMACIST
    assert service.order_view(pharmacist, order_id).refills_left == 2
    assert service.order_view(pharmacist, refill.id).refills_left == 1


def test_an_admin_switches_a_rule_off_for_the_site_but_not_a_never_off_rule(
    service: PharmacyService, people: People
) -> None:
    admin = Actor.of(people.admin)
    with pytest.raises(Forbidden):
        service.set_rule(Actor.of(people.pharmacist), "thiopurine.test.tpmt", False, None)
    service.set_rule(admin, "thiopurine.test.tpmt", False, None)
    from rxguard.pharmacy.site_rules import RuleLocked

    with pytest.raises(RuleLocked):
        service.set_rule(admin, "ddi.azathioprine.febuxostat", False, None)
    order_id = _imuran_order(service, people)
    rules = {c.rule_id for c in service.order_view(admin, order_id).cards}
    assert "thiopurine.test.tpmt" not in rules
    assert "ddi.azathioprine.febuxostat" in rules
    screened = next(a for a in service.audit_log(admin) if a.action == "order.screened")
    assert screened.details["switched_off_by_site"] == ["thiopurine.test.tpmt"]
    changed = next(a for a in service.audit_log(admin) if a.action == "rule.setting-changed")
    assert changed.details["after"] == {"enabled": False, "indicator": None}


def test_sign_in_sessions_and_audit_of_failures(service: PharmacyService, people: People, clock: Clock) -> None:
    assert service.login("alice", "wrong password") is None
    found = service.login("Alice", "alice-password-1")
    assert found is not None
    user, token, csrf = found
    session = service.session(token)
    assert session is not None and session[0].id == user.id and session[1] == csrf
    clock.moment += timedelta(hours=13)
    assert service.session(token) is None  # expired after 12 hours
    actions = [a.action for a in service.audit_log(Actor.of(people.admin))]
    assert "session.login-failed" in actions and "session.login" in actions
