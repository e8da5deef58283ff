"""The pharmacist's queue and decisions, pure: ordering, and what an approval or override needs.

Most severe first: by the worst card of each order (critical, warning, info, none), then oldest first.
A critical card must be overridden with a coded reason before the order can be approved; a warning or info
card may be overridden with or without one. Rejecting needs a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rxguard.pharmacy.knowledge import Coded
from rxguard.pharmacy.orders import FieldProblem, Invalid
from rxguard.pharmacy.records import CardRecord, Order, OverrideRecord

CRITICAL = 2


@dataclass(frozen=True, slots=True)
class QueueItem:
    order: Order
    cards: tuple[CardRecord, ...]
    overridden: frozenset[int]

    @property
    def worst(self) -> int:
        return max((c.indicator for c in self.cards), default=-1)

    @property
    def open_critical(self) -> tuple[CardRecord, ...]:
        return tuple(c for c in self.cards if c.indicator >= CRITICAL and c.id not in self.overridden)


def order_queue(items: Sequence[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=lambda i: (-i.worst, i.order.created_at, i.order.id))


def override_reason(
    card: CardRecord, reasons: Sequence[Coded], code: str | None, comment: str | None
) -> tuple[Coded | None, str | None]:
    """The coded reason for overriding this card; required (and must be a known code) for a critical card."""
    known = {r.code: r for r in reasons}
    text = (comment or "").strip() or None
    if code:
        if code not in known:
            raise Invalid([FieldProblem("reason_code", f"unknown override reason {code!r}")])
        return known[code], text
    if card.indicator >= CRITICAL:
        raise Invalid([FieldProblem("reason_code", "a coded reason is required to override a critical card")])
    return None, text


def can_approve(cards: Sequence[CardRecord], overrides: Mapping[int, OverrideRecord]) -> None:
    open_cards = [c for c in cards if c.indicator >= CRITICAL and c.id not in overrides]
    if open_cards:
        names = "; ".join(c.summary for c in open_cards)
        raise Invalid([FieldProblem("cards", f"override each critical card with a reason before approving: {names}")])


def rejection_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid([FieldProblem("reason", "a reason is required to reject an order")])
    if len(text) > 2000:
        raise Invalid([FieldProblem("reason", "at most 2000 characters")])
    return text
