"""Demo data for `make demo`: people, patient records, prescriptions and orders that show every page.

Made up for demonstration (no real person); prices are the knowledge base's (real for Imuran, demo otherwise).
- alice: Crohn's disease, on febuxostat from elsewhere (a contraindicated pair with azathioprine: a critical
  card), a falling white-cell count; an Imuran 50 mg prescription on file entered by the pharmacy, and one
  order already waiting in the pharmacist's queue.
- bob: a second patient, with a paracetamol order of his own (to show that patients see only their own).
- carol: chronic back pain, oxycodone dispensed over five months (the daily MME chart) and an alprazolam
  prescription received from the prescriber's system as FHIR (ordering it gives the never-off
  opioid + benzodiazepine card).
The prescriber numbers are test numbers that pass the check-digit rules (NPI 1234567893 is CMS's example).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from rxguard.pharmacy.orders import PrescriptionInput
from rxguard.pharmacy.ports import Store
from rxguard.pharmacy.records import ConditionRecord, LabRecord, MedicationRecord, OrderState, Role
from rxguard.pharmacy.service import Actor, PharmacyService
from rxguard.screen import Screener

NPI = "1234567893"
DEA_JONES = "AJ1234563"  # registrant type A, last name Jones, check digit 3


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    password: str
    role: str
    who: str


ACCOUNTS = (
    DemoAccount("admin", "admin-demo-2026", "admin", "site administrator: rule settings, users"),
    DemoAccount("pharmacist", "pharmacist-demo-2026", "pharmacist", "verification queue, overrides, audit log"),
    DemoAccount("alice", "alice-demo-2026", "patient", "thiopurine patient: Imuran prescription, lab chart"),
    DemoAccount("bob", "bob-demo-2026", "patient", "second patient: cannot see Alice's orders"),
    DemoAccount("carol", "carol-demo-2026", "patient", "opioid patient: daily MME chart"),
)


def _service_at(store: Store, screener: Screener, moment: datetime) -> PharmacyService:
    return PharmacyService(store, screener, clock=lambda: moment)


def seed(store: Store, screener: Screener, today: date | None = None) -> list[DemoAccount]:
    """Create the demo people and records (on an empty database) and return the accounts to print."""
    day = today or datetime.now(UTC).date()
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    system = Actor.system()

    def at(days_ago: int, hour: int = 9) -> Callable[[], PharmacyService]:
        moment = now - timedelta(days=days_ago) + timedelta(hours=hour - 9)
        return lambda: _service_at(store, screener, moment)

    service = at(0)()
    with store.unit() as uow:
        alice = uow.add_patient("Alice Example", date(1972, 3, 14), "female")
        bob = uow.add_patient("Bob Sample", date(1985, 7, 2), "male")
        carol = uow.add_patient("Carol Demo", date(1960, 11, 23), "female")
        uow.add_condition(alice.id, ConditionRecord("Crohn's disease", "34000006"))
        uow.add_medication(
            alice.id, MedicationRecord("febuxostat 80 mg tablet", 80, "mg", 1, day - timedelta(days=200))
        )
        uow.add_lab(alice.id, LabRecord("29463-7", "Body weight", 68, "kg", day - timedelta(days=10)))
        for weeks_ago, wbc, neut, plt, alt in [
            (24, 6.4, 3.9, 265, 22),
            (20, 6.1, 3.6, 250, 25),
            (16, 5.6, 3.1, 231, 31),
            (12, 4.9, 2.5, 204, 38),
            (8, 4.2, 2.0, 176, 44),
            (4, 3.6, 1.7, 152, 41),
            (1, 3.3, 1.5, 138, 39),
        ]:
            taken = day - timedelta(weeks=weeks_ago)
            uow.add_lab(alice.id, LabRecord("6690-2", "White blood cell count", wbc, "10*9/L", taken))
            uow.add_lab(alice.id, LabRecord("751-8", "Neutrophil count", neut, "10*9/L", taken))
            uow.add_lab(alice.id, LabRecord("777-3", "Platelet count", plt, "10*9/L", taken))
            uow.add_lab(alice.id, LabRecord("1742-6", "ALT", alt, "U/L", taken))
        uow.add_condition(carol.id, ConditionRecord("chronic low back pain"))
        uow.add_lab(carol.id, LabRecord("29463-7", "Body weight", 74, "kg", day - timedelta(days=30)))
    users = {}
    for account in ACCOUNTS:
        patient_id = {"alice": alice.id, "bob": bob.id, "carol": carol.id}.get(account.username)
        users[account.username] = service.create_user(
            system, account.username, account.password, Role(account.role), account.username.title(), patient_id
        )
    pharmacist = Actor.of(users["pharmacist"])

    # Carol: oxycodone 10 mg, 4 a day for three months, then 6 a day (each fill a 28-day supply, no refills).
    oxy_rx = []
    for fill, (days_ago, per_day) in enumerate([(150, 4), (122, 4), (94, 4), (66, 6), (38, 6), (10, 6)]):
        svc = at(days_ago)()
        rx = svc.enter_prescription(
            pharmacist,
            carol.id,
            "oxycodone-10",
            PrescriptionInput(
                prescriber_name="Dr Robert Jones",
                prescriber_family_name="Jones",
                prescriber_npi=NPI,
                prescriber_dea=DEA_JONES,
                written_on=(day - timedelta(days=days_ago)).isoformat(),
                directions=f"Take 1 tablet {per_day} times a day for back pain",
                dose_units="1",
                doses_per_day=str(per_day),
                quantity=str(28 * per_day),
                refills="0",
            ),
        )
        oxy_rx.append(rx)
        order, _ = svc.submit_order(
            Actor.of(users["carol"]), carol.id, "oxycodone-10", str(28 * per_day), rx.id, f"demo-carol-oxy-{fill}"
        )
        view = svc.order_view(pharmacist, order.id)
        for card in view.open_critical:
            svc.override_card(
                pharmacist, order.id, card.id, "recipient-concerns-outcomes", "demo: reviewed with prescriber"
            )
        if order.state is OrderState.AWAITING_PHARMACIST:
            svc.approve(pharmacist, order.id, "demo fill")
            svc.dispense(pharmacist, order.id)

    # Carol: an alprazolam prescription sent by the prescriber's system (FHIR MedicationRequest).
    fhir = {
        "resourceType": "MedicationRequest",
        "id": "demo-alprazolam-1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{carol.id}"},
        "medicationCodeableConcept": {"text": "alprazolam 0.5 mg tablet"},
        "authoredOn": (day - timedelta(days=3)).isoformat(),
        "dosageInstruction": [{"text": "Take 1 tablet at night when needed for anxiety"}],
        "dispenseRequest": {"quantity": {"value": 30, "unit": "tablet"}, "numberOfRepeatsAllowed": 0},
    }
    at(3)().enter_prescription(
        Actor.api("demo EHR"),
        carol.id,
        "alprazolam-0-5",
        PrescriptionInput(
            prescriber_name="Dr Robert Jones",
            prescriber_family_name="Jones",
            prescriber_npi=NPI,
            prescriber_dea=DEA_JONES,
            written_on=(day - timedelta(days=3)).isoformat(),
            directions="Take 1 tablet at night when needed for anxiety",
            dose_units="1",
            doses_per_day="1",
            quantity="30",
            refills="0",
            as_needed=True,
        ),
        fhir=("demo-alprazolam-1", json.dumps(fhir, sort_keys=True)),
    )

    # Alice: an Imuran prescription entered by the pharmacy, and one order waiting for the pharmacist.
    svc = at(2)()
    imuran = svc.enter_prescription(
        pharmacist,
        alice.id,
        "imuran-50",
        PrescriptionInput(
            prescriber_name="Dr Jane Smith",
            prescriber_family_name="Smith",
            prescriber_npi=NPI,
            written_on=(day - timedelta(days=2)).isoformat(),
            directions="Take 2 tablets once a day with food",
            dose_units="2",
            doses_per_day="1",
            quantity="56",
            refills="2",
        ),
    )
    at(1)().submit_order(Actor.of(users["alice"]), alice.id, "imuran-50", "56", imuran.id, "demo-alice-imuran-1")

    # Bob: a paracetamol order (no prescription needed), approved and dispensed.
    svc = at(5)()
    order, _ = svc.submit_order(Actor.of(users["bob"]), bob.id, "panadol-500", "32", None, "demo-bob-panadol-1")
    if order.state is OrderState.AWAITING_PHARMACIST:
        svc.approve(pharmacist, order.id)
        svc.dispense(pharmacist, order.id)
    return list(ACCOUNTS)
