"""The audit log's hash chain, pure: each entry's hash covers its content and the previous entry's hash.

The database refuses to change or delete audit rows (triggers); the chain makes any change made around the
application (a superuser dropping the triggers) detectable: `verify` names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rxguard.pharmacy.records import AuditRecord, NewAuditEvent

GENESIS = "0" * 64


def _canonical_time(moment: datetime) -> str:
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000).isoformat(timespec="milliseconds")


def entry_hash(prev_hash: str, seq: int, event: NewAuditEvent | AuditRecord) -> str:
    payload: dict[str, Any] = {
        "prev": prev_hash,
        "seq": seq,
        "at": _canonical_time(event.at),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "reason": event.reason,
        "details": event.details,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def verify(records: Iterable[AuditRecord]) -> str | None:
    """None when the chain is intact; else a sentence naming the first broken entry."""
    prev = GENESIS
    expected_seq = None
    for record in records:
        if expected_seq is not None and record.seq != expected_seq:
            return f"entry {record.seq}: sequence gap (expected {expected_seq})"
        if record.prev_hash != prev:
            return f"entry {record.seq}: previous hash does not match entry {record.seq - 1}"
        if entry_hash(prev, record.seq, record) != record.hash:
            return f"entry {record.seq}: content does not match its hash"
        prev = record.hash
        expected_seq = record.seq + 1
    return None
