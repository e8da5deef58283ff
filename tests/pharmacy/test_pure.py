"""Pure parts of the pharmacy: the state machine, prescription and order validation, totals, site rules, charts."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from rxguard.domain.model import Alert, Indicator
from rxguard.knowledge.base import KnowledgeBase
from rxguard.pharmacy.audit import GENESIS, entry_hash, verify
from rxguard.pharmacy.charts import Fill, lab_series, mme_series, render_svg
from rxguard.pharmacy.orders import (
    InvalidTransition,
    check_transition,
    fingerprint,
    total,
    validate_prescription,
)
from rxguard.pharmacy.records import AuditRecord, NewAuditEvent, OrderState, RuleSetting
from rxguard.pharmacy.site_rules import RuleLocked, apply_settings, never_off_kind, validate_setting
from tests.pharmacy.conftest import NOW, imuran_prescription, oxycodone_prescription


def test_states_move_only_forward_along_the_issue_s_path() -> None:
    path = [
        OrderState.SUBMITTED,
        OrderState.SCREENED,
        OrderState.AWAITING_PHARMACIST,
        OrderState.APPROVED,
        OrderState.DISPENSED,
        OrderState.REFILL_DUE,
    ]
    for current, wanted in itertools.pairwise(path):
        check_transition(current, wanted)
    with pytest.raises(InvalidTransition):
        check_transition(OrderState.SUBMITTED, OrderState.APPROVED)
    with pytest.raises(InvalidTransition):
        check_transition(OrderState.REJECTED, OrderState.APPROVED)
    check_transition(OrderState.AWAITING_PHARMACIST, OrderState.REJECTED)
    check_transition(OrderState.SUBMITTED, OrderState.REJECTED)  # invalid prescription, before screening


def test_total_is_unit_price_times_quantity_to_the_cent() -> None:
    assert total(Decimal("1.20"), 56) == Decimal("67.20")
    assert total(Decimal("0.075"), 3) == Decimal("0.23")


def test_a_controlled_product_needs_the_dea_number_and_a_valid_npi(kb: KnowledgeBase) -> None:
    oxycodone = kb.products["oxycodone-10"]
    from rxguard.pharmacy.orders import Invalid

    with pytest.raises(Invalid) as missing:
        validate_prescription(oxycodone, oxycodone_prescription(prescriber_dea=""), NOW.date())
    assert {p.field for p in missing.value.problems} == {"prescriber_dea"}
    with pytest.raises(Invalid) as bad_npi:
        validate_prescription(oxycodone, oxycodone_prescription(prescriber_npi="1234567890"), NOW.date())
    assert "check digit of 1234567890 should be 3" in str(bad_npi.value)
    valid = validate_prescription(kb.products["imuran-50"], imuran_prescription(), NOW.date())
    assert valid.prescriber_dea is None and valid.quantity == 56 and valid.refills == 2
    with pytest.raises(Invalid) as future:
        validate_prescription(kb.products["imuran-50"], imuran_prescription(written_on="2026-12-01"), NOW.date())
    assert future.value.problems[0].field == "written_on"


def test_fingerprint_changes_with_what_is_asked_for() -> None:
    assert fingerprint(1, "imuran-50", 56, 3, None) == fingerprint(1, "imuran-50", 56, 3, None)
    assert fingerprint(1, "imuran-50", 56, 3, None) != fingerprint(1, "imuran-50", 28, 3, None)


def test_never_off_rules_and_site_settings(kb: KnowledgeBase) -> None:
    assert never_off_kind(kb, "ddi.azathioprine.febuxostat") == "contraindicated-interaction"
    opioid_benzo = [rid for rid, rule in kb.rules_by_id.items() if never_off_kind(kb, rid) == "opioid-benzodiazepine"]
    assert opioid_benzo
    assert any(never_off_kind(kb, rid) == "thiopurine-poor-metabolizer" for rid in kb.rules_by_id)
    assert never_off_kind(kb, "ddi.azathioprine.allopurinol") is None
    with pytest.raises(RuleLocked):
        validate_setting(kb, RuleSetting("ddi.azathioprine.febuxostat", False, None))
    with pytest.raises(RuleLocked):
        validate_setting(kb, RuleSetting(opioid_benzo[0], True, 0))
    validate_setting(kb, RuleSetting("ddi.azathioprine.allopurinol", False, None))
    with pytest.raises(KeyError):
        validate_setting(kb, RuleSetting("no.such.rule", False, None))


def _alert(rule_id: str, indicator: Indicator, code: str = "DD") -> Alert:
    return Alert(code, indicator, f"{rule_id} alert", "detail", "action", rule_id, 1, ())


def test_apply_settings_switches_off_and_retunes_but_never_a_locked_rule(kb: KnowledgeBase) -> None:
    alerts = [
        _alert("ddi.azathioprine.allopurinol", Indicator.WARNING),
        _alert("ddi.azathioprine.febuxostat", Indicator.CRITICAL),
        _alert("thiopurine.test.tpmt", Indicator.WARNING, "TN"),
    ]
    settings = {
        "ddi.azathioprine.allopurinol": RuleSetting("ddi.azathioprine.allopurinol", False, None),
        "ddi.azathioprine.febuxostat": RuleSetting("ddi.azathioprine.febuxostat", False, 0),
        "thiopurine.test.tpmt": RuleSetting("thiopurine.test.tpmt", True, 0),
    }
    kept, dropped = apply_settings(kb, alerts, settings)
    assert [a.rule_id for a in dropped] == ["ddi.azathioprine.allopurinol"]
    by_rule = {k.alert.rule_id: k for k in kept}
    assert by_rule["ddi.azathioprine.febuxostat"].alert.indicator is Indicator.CRITICAL
    assert by_rule["thiopurine.test.tpmt"].alert.indicator is Indicator.INFO
    assert by_rule["thiopurine.test.tpmt"].note == "indicator set by the site: warning -> info"


def test_audit_chain_detects_a_changed_entry() -> None:
    first = NewAuditEvent(NOW, 1, "phil", "pharmacist", "order.approved", "order", "7", None, {})
    h1 = entry_hash(GENESIS, 1, first)
    record = AuditRecord(1, NOW, 1, "phil", "pharmacist", "order.approved", "order", "7", None, {}, GENESIS, h1)
    assert verify([record]) is None
    assert verify([replace(record, action="order.rejected")]) == "entry 1: content does not match its hash"


def test_lab_series_carry_the_thiopurine_threshold_bands(kb: KnowledgeBase) -> None:
    labs = [("6690-2", v, "10*9/L", date(2026, 1, 1) + timedelta(weeks=4 * i)) for i, v in enumerate([6.1, 4.8, 3.2])]
    series = lab_series(kb, labs)
    wbc = next(s for s in series if s.key == "wbc")
    assert [p[1] for p in wbc.points] == [6.1, 4.8, 3.2]
    assert [(b.op, b.value) for b in wbc.bands] == [("<", 3.5)]
    svg = render_svg(wbc)
    assert svg.startswith("<svg") and "<title" in svg and "<desc" in svg and "3.5" in svg


def test_daily_mme_of_dispensed_oxycodone(kb: KnowledgeBase) -> None:
    oxycodone = kb.products["oxycodone-10"]
    fills = [Fill(date(2026, 10, 1), 28, 112, oxycodone), Fill(date(2026, 10, 29), 28, 168, oxycodone)]
    series = mme_series(kb, fills, date(2026, 11, 20))
    assert series is not None
    by_day = dict(series.points)
    assert by_day[date(2026, 10, 1)] == 60.0  # 10 mg x 4 a day x 1.5 (CDC 2022 oral oxycodone)
    assert by_day[date(2026, 11, 1)] == 90.0  # 10 mg x 6 a day x 1.5
    assert [b.value for b in series.bands] == [90.0, 50.0]
