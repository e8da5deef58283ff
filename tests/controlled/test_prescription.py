"""Prescription validity for controlled drugs: prescriber identifiers (PP/MS) and per-schedule limits (PP)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rxguard.adapters.fhir.request import parse_request
from rxguard.checks.prescription import add_months, jurisdiction_chain
from rxguard.domain.model import Indicator
from rxguard.errors import ConfigError
from rxguard.knowledge.base import KnowledgeBase
from rxguard.knowledge.load import default_data_dir, load_knowledge
from tests import builders as b
from tests.controlled import helpers as h

ALPRAZOLAM_ORDER = {"text": "alprazolam 0.5 mg oral tablet", "rxnorm": "308048"}


def cii_order(prescriber: str = "dr-brown", **kw: Any) -> dict[str, Any]:
    kw.setdefault("quantity", 28)
    kw.setdefault("days", 7)
    return h.prescribed_by(h.order(h.OXYCODONE_10, 1, "tablet", 4, **kw), prescriber)


def pp(result: Any) -> list[Any]:
    return h.alerts(result, "PP")


def test_a_valid_dea_number_and_npi_raise_nothing(kb: KnowledgeBase) -> None:
    doctor = h.practitioner("dr-brown", "Brown", dea="AB1234563", npi="1234567893")
    result = h.screen(kb, h.request(cii_order(), practitioners=[doctor]))
    assert not pp(result)
    assert h.by_rule(result, "rx.us.dea-number") is None


def test_a_dea_number_failing_its_check_digit(kb: KnowledgeBase) -> None:
    doctor = h.practitioner("dr-brown", "Brown", dea="AB4523763")
    (card,) = pp(h.screen(kb, h.request(cii_order(), practitioners=[doctor])))
    assert card.rule_id == "rx.us.dea-number" and card.indicator is Indicator.WARNING
    assert card.facts["problems"] == ["check-digit"] and card.facts["value"] == "AB4523763"


def test_a_dea_number_for_another_last_name(kb: KnowledgeBase) -> None:
    doctor = h.practitioner("dr-brown", "Smith", dea="AB1234563")
    (card,) = pp(h.screen(kb, h.request(cii_order(), practitioners=[doctor])))
    assert card.facts["problems"] == ["last-name-letter"]


def test_a_manufacturer_registration_is_not_a_prescriber(kb: KnowledgeBase) -> None:
    doctor = h.practitioner("dr-brown", "Brown", dea="PB1234563")
    (card,) = pp(h.screen(kb, h.request(cii_order(), practitioners=[doctor])))
    assert card.facts["problems"] == ["registrant-type"]


def test_a_missing_dea_number_is_missing_information(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(cii_order()))
    card = h.by_rule(result, "rx.us.dea-number")
    assert card is not None and card.code == "MS" and card.indicator is Indicator.INFO
    assert card.facts == {"missing": "prescriber DEA number", "schedule": "II"}


def test_an_invalid_npi(kb: KnowledgeBase) -> None:
    doctor = h.practitioner("dr-brown", "Brown", dea="AB1234563", npi="1234567890")
    (card,) = pp(h.screen(kb, h.request(cii_order(), practitioners=[doctor])))
    assert card.rule_id == "rx.us.npi" and card.facts["problems"] == ["check-digit"]


def test_registration_numbers_from_a_conditional_reference(kb: KnowledgeBase) -> None:
    order = cii_order()
    order["requester"] = {
        "reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567890",
        "display": "Dr. Brown",
    }
    entry = parse_request(h.request(order)).orders[0]
    assert entry.requester is not None and entry.requester.npis == ("1234567890",)
    (card,) = pp(h.screen(kb, h.request(order)))
    assert card.rule_id == "rx.us.npi"


def test_a_non_controlled_order_is_not_checked(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(b.order("ibuprofen 400 mg tablet", 1, "tablet", 3, refills=11)))
    assert not pp(result) and h.by_rule(result, "rx.us.dea-number") is None


@pytest.mark.parametrize(("refills", "flagged"), [(0, False), (1, True)])
def test_schedule_ii_cannot_be_refilled(kb: KnowledgeBase, refills: int, flagged: bool) -> None:
    cards = [c for c in pp(h.screen(kb, h.request(cii_order(refills=refills)))) if c.rule_id == "rx.us.cii.no-refills"]
    assert bool(cards) is flagged


@pytest.mark.parametrize(("refills", "flagged"), [(5, False), (6, True)])
def test_schedule_iv_at_most_five_refills(kb: KnowledgeBase, refills: int, flagged: bool) -> None:
    order = h.order(ALPRAZOLAM_ORDER, 1, "tablet", 3, refills=refills, quantity=90, days=30)
    cards = pp(h.screen(kb, h.request(order)))
    assert [c.rule_id for c in cards] == (["rx.us.ciii-civ.max-refills"] if flagged else [])


@pytest.mark.parametrize(("days", "flagged"), [(90, False), (91, True)])
def test_schedule_ii_at_most_90_days_supply(kb: KnowledgeBase, days: int, flagged: bool) -> None:
    cards = pp(h.screen(kb, h.request(cii_order(quantity=days * 4, days=days))))
    assert [c.rule_id for c in cards] == (["rx.us.cii.max-days-supply"] if flagged else [])
    if flagged:
        assert cards[0].facts["days_supply"] == 91


@pytest.mark.parametrize(("months_ago_days", "flagged"), [(0, False), (1, True)])
def test_schedule_iv_prescription_expires_six_months_after_issue(
    kb: KnowledgeBase, months_ago_days: int, flagged: bool
) -> None:
    # Written 20 May 2026 (exactly six months before 20 Nov 2026): still valid; written 19 May: expired.
    written = add_months(h.TODAY, -6) - timedelta(days=months_ago_days)
    order = h.order(ALPRAZOLAM_ORDER, 1, "tablet", 3, quantity=90, days=30, authored=written)
    cards = pp(h.screen(kb, h.request(order), as_of=h.TODAY))
    assert [c.rule_id for c in cards] == (["rx.us.ciii-civ.max-age"] if flagged else [])


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    from datetime import date

    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2026, 5, 20), 6) == date(2026, 11, 20)
    assert add_months(date(2026, 11, 20), -6) == date(2026, 5, 20)


def test_a_codeine_order_without_a_known_product_cannot_be_scheduled(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(b.order("codeine", 30, "mg", 4)))
    card = h.by_rule(result, "rx.schedule-unknown")
    assert card is not None and card.code == "MS" and card.indicator is Indicator.INFO


def test_the_product_schedule_wins_codeine_paracetamol_is_schedule_iii(kb: KnowledgeBase) -> None:
    order = b.order("acetaminophen 300 mg / codeine phosphate 30 mg oral tablet", 1, "tablet", 4, rxnorm="993781")
    card = h.by_rule(h.screen(kb, h.request(order)), "rx.us.dea-number")
    assert card is not None and card.facts["schedule"] == "III"


# --- UK (the 28-day validity of Schedule 2 and 3 read in the regulations; the rest recalled, unverified) ----


@pytest.mark.parametrize(("age_days", "flagged"), [(28, False), (29, True)])
def test_uk_schedule_2_prescription_valid_for_28_days(kb: KnowledgeBase, age_days: int, flagged: bool) -> None:
    """Misuse of Drugs Regulations 2001, regulation 16(1)(e): not supplied "later than twenty-eight days after"."""
    order = h.order(h.OXYCODONE_10, 1, "tablet", 4, quantity=28, days=7, authored=h.days_before(age_days))
    cards = pp(h.screen(kb, h.request(order), jurisdiction="UK", as_of=h.TODAY))
    assert [c.rule_id for c in cards] == (["rx.uk.cd2-cd3.max-age"] if flagged else [])
    if flagged:
        assert [(s.section.startswith("regulation 16(1)(e)"), s.confidence) for s in cards[0].sources] == [
            (True, "primary")
        ]


@pytest.mark.parametrize(("age_days", "flagged"), [(28, False), (29, True)])
def test_uk_schedule_4_validity_is_kept_apart_and_secondary(kb: KnowledgeBase, age_days: int, flagged: bool) -> None:
    """Not in regulation 16(1) (which excludes Schedule 4): read only in a secondary source, and the card says so."""
    order = h.order(h.ALPRAZOLAM, 1, "tablet", 2, quantity=28, days=14, authored=h.days_before(age_days))
    cards = pp(h.screen(kb, h.request(order), jurisdiction="UK", as_of=h.TODAY))
    assert [c.rule_id for c in cards] == (["rx.uk.cd4.max-age"] if flagged else [])
    if flagged:
        assert "evidence level: secondary" in cards[0].detail.lower()  # the card carries the evidence level
        assert sorted(s.confidence for s in cards[0].sources) == ["secondary", "unverified"]


def test_uk_prescriptions_are_not_checked_for_a_dea_number(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(cii_order()), jurisdiction="UK")
    assert h.by_rule(result, "rx.us.dea-number") is None


def test_the_prescription_jurisdiction_can_differ_from_the_dose_jurisdiction(kb: KnowledgeBase) -> None:
    result = h.screen(kb, h.request(cii_order(refills=1)), jurisdiction="US", rx_jurisdiction="UK")
    assert [c.rule_id for c in pp(result)] == ["rx.uk.cd2-cd3.no-repeats"]


def test_an_unknown_jurisdiction_is_a_configuration_error(kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError, match="US-ZZ"):
        h.screen(kb, h.request(cii_order()), rx_jurisdiction="US-ZZ")


def test_a_knowledge_update_can_add_a_jurisdiction_that_extends_another(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(default_data_dir(), data)
    rules = data / "controlled" / "prescriptions.yaml"
    text = rules.read_text()
    text = text.replace(
        "\nschedules:\n",
        "\n  - {id: US-XX, name: Example state, schedule_system: US-DEA, extends: US}\n\nschedules:\n",
        1,
    )
    text += """
  - id: rx.us-xx.cii.max-days-supply
    version: 1
    confidence: unverified
    jurisdictions: [US-XX]
    schedules: [II]
    kind: max-days-supply
    value: 30
    unit: days
    indicator: warning
    text: "Example state: Schedule II at most 30 days."
    management: "Supply at most 30 days."
    sources: [{source: rxguard-compiler-judgement, section: "test jurisdiction", confidence: unverified}]
"""
    rules.write_text(text)
    kb = load_knowledge(data)
    assert [j.id for j in jurisdiction_chain(kb, "US-XX")] == ["US-XX", "US"]
    result = h.screen(kb, h.request(cii_order(quantity=124, days=31, refills=1)), rx_jurisdiction="US-XX")
    (card,) = pp(result)  # both findings on one order: one PP card, the other listed under "Also"
    assert sorted(h.merged_rule_ids(card)) == ["rx.us-xx.cii.max-days-supply", "rx.us.cii.no-refills"]
