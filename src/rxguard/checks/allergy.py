"""DA: an order for something the patient is allergic to, or cross-sensitive with.

A documented allergy to an ingredient of the order (or to a class it belongs to) is critical; an
allergy to another member of an allergy group the sources support (NSAIDs and aspirin, thiopurines,
benzodiazepines) is a warning. An allergy record rxguard cannot read is reported, not ignored.
"""

from __future__ import annotations

from rxguard.checks.common import make_alert
from rxguard.checks.context import ClinicalContext
from rxguard.domain.model import Alert, Indicator


def check_allergies(ctx: ClinicalContext) -> list[Alert]:
    kb = ctx.kb
    alerts: list[Alert] = []
    unreadable = [a for a in ctx.allergies if not a.recognised and a.drug_related]
    if unreadable and ctx.orders:
        listed = "; ".join(a.text for a in unreadable)
        alerts.append(
            make_alert(
                ctx,
                "MS",
                Indicator.WARNING,
                f"Allergy not recognised, not screened: {listed}",
                f"The allergy record(s) {listed!r} name no ingredient or class rxguard knows, so the order could "
                "not be checked against them.",
                "Check the allergy against the order by hand, or record it with an RxNorm ingredient code.",
                list(ctx.orders),
                rule_id="rxguard.ms.allergy-unrecognised",
                facts={"allergies": [a.text for a in unreadable]},
            )
        )
    # An allergy naming no ingredient or class can match nothing (it is reported above when drug-related).
    readable = [a for a in ctx.allergies if a.ingredients or a.classes]
    for order in ctx.orders:
        for allergy in readable:
            direct = [
                i
                for i in order.ingredients()
                if i in allergy.ingredients or kb.ingredient_classes.get(i, frozenset()) & allergy.classes
            ]
            if direct:
                names = ", ".join(kb.ingredient_name(i) for i in direct)
                alerts.append(
                    make_alert(
                        ctx,
                        "DA",
                        Indicator.CRITICAL,
                        f"Allergy: patient is allergic to {allergy.text} ({names})",
                        f"{order.name} contains {names}; the patient has a documented allergy to {allergy.text}.",
                        "Do not dispense. Contact the prescriber for an alternative.",
                        [order],
                        rule_id="rxguard.da.documented-allergy",
                        facts={"ingredients": direct, "allergy": allergy.text, "cross_sensitivity": False},
                    )
                )
                continue
            for group in kb.allergy_groups:
                if group.status != "active":
                    continue
                members = kb.expand(group.members)
                named = allergy.ingredients & members or {
                    i for i in members if kb.ingredient_classes.get(i, frozenset()) & allergy.classes
                }
                hit = [i for i in order.ingredients() if i in members]
                if named and hit:
                    names = ", ".join(kb.ingredient_name(i) for i in hit)
                    alerts.append(
                        make_alert(
                            ctx,
                            "DA",
                            Indicator.WARNING,
                            f"Possible cross-sensitivity: {allergy.text} allergy and {names}",
                            f"{order.name} contains {names}, which belongs with {allergy.text} to the group "
                            f"'{group.name}': {group.text}",
                            "Ask the patient and prescriber what the previous reaction was before dispensing.",
                            [order],
                            group,
                            {
                                "ingredients": hit,
                                "allergy": allergy.text,
                                "cross_sensitivity": True,
                                "group": group.id,
                            },
                        )
                    )
                    break
    return alerts
