"""Turning database rows back into the store's records (shared by the SQLite and PostgreSQL stores).

Both stores select the same columns in the same order (the ``*_COLUMNS`` strings below), so
one set of converters serves both. Timestamps are kept as the canonical ISO 8601 text the
events carry; lease expiry is a float epoch in SQLite and a ``timestamptz`` in PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crisiscast.audit.base import DeliveryRecord, DispatchRecord
from crisiscast.audit.events import AuditEvent, EventKind, StoredEvent
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.errors import StoreError

__all__ = [
    "DELIVERY_COLUMNS",
    "DISPATCH_COLUMNS",
    "EVENT_COLUMNS",
    "delivery_record",
    "dispatch_record",
    "stored_event",
]

EVENT_COLUMNS = (
    "seq, at, kind, dispatch_id, delivery_key, data, prev_hash, hash, dispatch_prev_hash, dispatch_hash"
)
DELIVERY_COLUMNS = (
    "key, dispatch_id, plan_order, channel, target, part, body, language, payload, after_key, state, "
    "attempts, provider_id, last_code, last_reason, updated_at, lease_owner, lease_until"
)
DISPATCH_COLUMNS = "dispatch_id, created_at, state, message, summary"


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), UTC)


def delivery_record(row: Sequence[Any]) -> DeliveryRecord:
    """A ``DeliveryRecord`` from a row of ``DELIVERY_COLUMNS``."""
    (_, dispatch_id, _, channel, target, part, body, language, payload, after, state) = row[:11]
    delivery = Delivery(
        dispatch_id=dispatch_id,
        channel=channel,
        target=target,
        part=part,
        body=body,
        language=language,
        payload=json.loads(payload),
        after=after,
    )
    return DeliveryRecord(
        delivery=delivery,
        state=DeliveryState(state),
        attempts=row[11],
        provider_id=row[12],
        last_code=row[13],
        last_reason=row[14],
        updated_at=datetime.fromisoformat(row[15]),
        lease_owner=row[16],
        lease_until=_when(row[17]),
    )


def dispatch_record(row: Sequence[Any]) -> DispatchRecord:
    """A ``DispatchRecord`` from a row of ``DISPATCH_COLUMNS``."""
    return DispatchRecord(
        dispatch_id=row[0],
        created_at=datetime.fromisoformat(row[1]),
        state=row[2],
        message=json.loads(row[3]),
        summary=json.loads(row[4]),
    )


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """A ``StoredEvent`` from a row of ``EVENT_COLUMNS``; a row that cannot be read is a StoreError."""
    try:
        event = AuditEvent(
            kind=EventKind(row[2]),
            dispatch_id=row[3],
            data=json.loads(row[5]),
            delivery_key=row[4],
            at=datetime.fromisoformat(row[1]),
        )
    except (ValueError, TypeError) as exc:
        raise StoreError(
            f"Audit event {row[0]} cannot be read; run 'crisiscast audit verify' to check the log."
        ) from exc
    return StoredEvent(seq=row[0], event=event, prev_hash=row[6], hash=row[7])
