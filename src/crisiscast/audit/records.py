"""Turning database rows back into the store's records (shared by the SQLite and PostgreSQL stores).

Both stores select the same columns in the same order (the ``*_COLUMNS`` strings below), so
one set of converters serves both. Timestamps are kept as the canonical ISO 8601 text the
events carry; lease expiry is a float epoch in SQLite and a ``timestamptz`` in PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from crisiscast.audit.base import DeliveryRecord, DispatchRecord
from crisiscast.audit.counts import NO_REASON
from crisiscast.audit.events import AuditEvent, EventKind, StoredEvent
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.errors import StoreError

__all__ = [
    "DELIVERY_COLUMNS",
    "DISPATCH_COLUMNS",
    "EVENT_COLUMNS",
    "delivered_to_sql",
    "delivery_record",
    "dispatch_record",
    "matching_records",
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


def delivered_to_sql(target: str, newest: str) -> str:
    """The query behind ``AuditStore.delivered_to`` with the two placeholders of a dialect.

    It probes the partial index ``deliveries_delivered_by_target`` once per recent dispatch, so
    it reads the rows of one number, never a whole dispatch (the literal ``'delivered'`` lets
    both databases use that index).
    """
    columns = ", ".join(f"d.{c.strip()}" for c in DELIVERY_COLUMNS.split(","))
    # assembled from constants and the placeholders the stores pass; values are always bound
    recent = f"SELECT dispatch_id, created_seq FROM dispatches ORDER BY created_seq DESC LIMIT {newest}"  # noqa: S608
    return (
        f"WITH recent AS ({recent}) SELECT {columns} FROM recent r "  # noqa: S608
        f"JOIN deliveries d ON d.dispatch_id = r.dispatch_id WHERE d.target = {target} "
        "AND d.state = 'delivered' ORDER BY r.created_seq DESC, d.plan_order"
    )


def tally_sql(param: str) -> str:
    """The states part of ``AuditStore.delivery_tally`` with the dialect's placeholder."""
    return (
        "SELECT channel, state, attempts > 0, count(*) FROM deliveries "  # noqa: S608 (constants)
        f"WHERE dispatch_id = {param} GROUP BY channel, state, attempts > 0"
    )


def reasons_sql(param: str) -> str:
    """The reasons part of ``AuditStore.delivery_tally``: failed and retrying deliveries by
    their last reason (else last code, else ``NO_REASON``), per channel."""
    why = f"COALESCE(NULLIF(last_reason, ''), NULLIF(last_code, ''), '{NO_REASON}')"
    return (
        f"SELECT channel, {why}, count(*) FROM deliveries WHERE dispatch_id = {param} "  # noqa: S608
        "AND (state = 'failed' OR (state = 'pending' AND attempts > 0)) "
        f"GROUP BY channel, {why}"
    )


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


def matching_records(rows: Iterable[Sequence[Any]]) -> list[DeliveryRecord]:
    """``delivery_record`` of each row whose stored key is the key its columns make (a cache row
    whose target or dispatch was edited in the database no longer matches, and is left out)."""
    records = [(row[0], delivery_record(row)) for row in rows]
    return [record for key, record in records if record.delivery.key == key]


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
