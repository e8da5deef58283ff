"""MS: what could not be screened: an unknown order, a dose that cannot be converted, unknown current medicines.

Silence must mean "screened and found nothing", so every gap becomes a card saying what is missing.
"""

from __future__ import annotations

from rxguard.checks.common import make_alert
from rxguard.checks.context import ClinicalContext
from rxguard.domain.model import Alert, Indicator


def check_missing(ctx: ClinicalContext) -> list[Alert]:
    alerts: list[Alert] = []
    for order in ctx.orders:
        if not order.resolution.known:
            codes = ", ".join(f"{c.system.rsplit('/', 1)[-1]} {c.code}" for c in order.entry.concept.codings)
            alerts.append(
                make_alert(
                    ctx,
                    "MS",
                    Indicator.WARNING,
                    f"Unknown medicine, not screened: {order.name}",
                    f"rxguard does not recognise {order.name!r}{f' ({codes})' if codes else ''}: no dose, interaction, "
                    "allergy, disease, pregnancy or age check could be made for it.",
                    "Screen this order by hand, or correct the product name or RxNorm code and screen again.",
                    [order],
                    rule_id="rxguard.ms.unknown-drug",
                    facts={
                        "missing": "drug identity",
                        "text": order.name,
                        "codes": [c.code for c in order.entry.concept.codings],
                    },
                )
            )
            continue
        if order.issues:
            alerts.append(
                make_alert(
                    ctx,
                    "MS",
                    Indicator.WARNING,
                    f"Dose of {order.name} could not be worked out",
                    f"{order.name}: {'; '.join(order.issues)}. The dose checks could not run for this order.",
                    "Clarify the dose and frequency with the prescriber, then screen again.",
                    [order],
                    rule_id="rxguard.ms.dose-unreadable",
                    facts={"missing": "dose", "problems": list(order.issues)},
                )
            )
        if order.resolution.notes:
            pass
    unknown = [m for m in ctx.comeds if not m.resolution.known]
    if unknown and ctx.orders:
        listed = "; ".join(m.name for m in unknown)
        alerts.append(
            make_alert(
                ctx,
                "MS",
                Indicator.WARNING,
                f"{len(unknown)} current medicine(s) not recognised: {listed}",
                f"rxguard does not recognise {listed}, so interactions and duplications between the order and "
                f"{'it' if len(unknown) == 1 else 'them'} were not checked.",
                "Check these against the order by hand.",
                unknown,
                rule_id="rxguard.ms.unknown-current",
                facts={"missing": "drug identity", "medicines": [m.name for m in unknown]},
            )
        )
    return alerts
