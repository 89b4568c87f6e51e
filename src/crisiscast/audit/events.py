"""Audit events, their hash chain, and the reducer that turns them into delivery state.

Every store keeps the same two things: the append-only event log (each row chained to the
previous one by ``hash = SHA-256(prev_hash ‖ canonical(event))``) and a current-state view
of deliveries, derived from the events by ``next_state`` in the same transaction. The view
is only a cache: replaying the log rebuilds it exactly.

Canonical form: JSON with sorted keys, no spaces, UTF-8, times as ISO 8601 UTC.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crisiscast.delivery import DeliveryState
from crisiscast.jsontypes import JsonMapping, JsonObject, json_list

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "EventKind",
    "StoredEvent",
    "canonical_json",
    "chain_hash",
    "fold_dispatch_summary",
    "next_dispatch_state",
    "next_state",
]

GENESIS_HASH = "0" * 64


class EventKind(StrEnum):
    """Every kind of event the audit records."""

    # dispatch level
    DRAFT_CREATED = "draft_created"  # data: message, author
    APPROVAL_RECORDED = "approval_recorded"  # data: approver, method, template
    APPROVAL_REFUSED = "approval_refused"  # data: who, reason
    DISPATCH_PLANNED = "dispatch_planned"  # data: message, channels, counts, approval, forecast
    DISPATCH_PLAN_COMPLETED = "dispatch_plan_completed"  # data: deliveries, chunks (plan of several chunks)
    DISPATCH_FINISHED = "dispatch_finished"  # data: report summary
    DISPATCH_CANCEL_REQUESTED = "dispatch_cancel_requested"  # data: who, reason
    CHANNEL_SKIPPED = "channel_skipped"  # data: channel, reason
    # delivery level (delivery_key set)
    DELIVERY_PLANNED = "delivery_planned"  # data: Delivery.to_json()
    ATTEMPT_STARTED = "attempt_started"  # data: attempt, ambiguous_resend?
    ATTEMPT_SUCCEEDED = "attempt_succeeded"  # data: attempt, provider_id, latency_ms
    ATTEMPT_FAILED = "attempt_failed"  # data: attempt, error (kind), code, reason, retry_after_s
    DELIVERY_FAILED = "delivery_failed"  # data: code, reason (final: permanent/exhausted/expired)
    DELIVERY_CANCELLED = "delivery_cancelled"  # data: reason
    DELIVERY_SKIPPED = "delivery_skipped"  # data: reason
    DELIVERY_RECONCILED = "delivery_reconciled"  # data: found (bool), provider_id
    RECEIPT_STATUS = "receipt_status"  # data: provider_id, status, error_code (provider callback)
    # replies (dispatch level, no delivery_key)
    REPLY_RECEIVED = "reply_received"  # data: from, kind (answer|opt_out|help|unknown), code, late, text
    # escalation (dispatch level; crisiscast.escalation)
    ESCALATION_SCHEDULED = "escalation_scheduled"  # data: steps [{step, after_min, action, due_at}]
    ESCALATION_STEP = "escalation_step"  # data: step, action, people, deliveries [key], not_reached
    ESCALATION_STOPPED = "escalation_stopped"  # data: who, reason (by hand, all-clear or cancel)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An event to append. ``at`` is when it happened (UTC)."""

    kind: EventKind
    dispatch_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    delivery_key: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def canonical_fields(self, seq: int) -> JsonObject:
        return {
            "seq": seq,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "kind": self.kind.value,
            "dispatch_id": self.dispatch_id,
            "delivery_key": self.delivery_key,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store keeps it: numbered and chained."""

    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str

    def to_json(self) -> JsonObject:
        out = self.event.canonical_fields(self.seq)
        out["prev_hash"] = self.prev_hash
        out["hash"] = self.hash
        return out


# json.dumps with these settings would build a new encoder on every call; this one is built once
# (an encoder keeps no state between calls, so every thread may share it).
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: JsonMapping) -> str:
    """The one serialisation that is hashed: sorted keys, compact, UTF-8."""
    return _CANONICAL_ENCODER.encode(value)


def chain_hash(prev_hash: str, canonical: str) -> str:
    """``SHA-256(prev_hash ‖ canonical)`` as lowercase hex."""
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


_ON_FAILURE = {
    "transient": DeliveryState.PENDING,
    "rate_limited": DeliveryState.PENDING,
    "unanswered": DeliveryState.PENDING,  # a busy line or no answer: called again later
    "ambiguous": DeliveryState.IN_DOUBT,
    "permanent": DeliveryState.FAILED,
    "duplicate": DeliveryState.FAILED,
}


def next_state(
    current: DeliveryState | None, kind: EventKind, data: JsonMapping
) -> DeliveryState | None:
    """The delivery state after ``kind`` happened; None when the event does not change it.

    Terminal states are final: a late event never reopens a delivered or cancelled delivery
    (status callbacks, which arrive after delivery, do not change the state either).
    """
    if current is not None and current.terminal:
        return None
    match kind:
        case EventKind.DELIVERY_PLANNED:
            return DeliveryState.PENDING if current is None else None
        case EventKind.ATTEMPT_STARTED:
            return DeliveryState.IN_DOUBT
        case EventKind.ATTEMPT_SUCCEEDED:
            return DeliveryState.DELIVERED
        case EventKind.ATTEMPT_FAILED:
            return _ON_FAILURE.get(str(data.get("error")), DeliveryState.PENDING)
        case EventKind.DELIVERY_FAILED:
            return DeliveryState.FAILED
        case EventKind.DELIVERY_CANCELLED:
            return DeliveryState.CANCELLED
        case EventKind.DELIVERY_SKIPPED:
            return DeliveryState.SKIPPED
        case EventKind.DELIVERY_RECONCILED:
            return DeliveryState.DELIVERED if data.get("found") else DeliveryState.PENDING
        case _:
            return None


_DISPATCH_STATE_AFTER = {
    EventKind.DRAFT_CREATED: "draft",
    EventKind.DISPATCH_PLANNED: "planned",
    EventKind.DISPATCH_FINISHED: "finished",
    EventKind.DISPATCH_CANCEL_REQUESTED: "cancelled",
}


def next_dispatch_state(current: str | None, kind: EventKind) -> str | None:
    """The dispatch state after ``kind``; None when the event does not change it.

    ``draft_created`` → ``draft``, ``dispatch_planned`` → ``planned``, ``dispatch_finished`` →
    ``finished``, ``dispatch_cancel_requested`` → ``cancelled``. ``finished`` and ``cancelled``
    are final (the run that notices a cancel still finishes, but the dispatch stays cancelled;
    a cancel after the end changes nothing); a late ``draft_created`` never demotes a dispatch.
    """
    after = _DISPATCH_STATE_AFTER.get(kind)
    if after is None or current == after or current in ("finished", "cancelled"):
        return None
    if after == "draft" and current is not None:
        return None
    return after


def fold_dispatch_summary(
    summary: JsonMapping, kind: EventKind, data: JsonMapping
) -> JsonObject:
    """The dispatch summary after ``kind`` (a new dict; ``summary`` is not modified).

    Keys: ``approvals`` and ``refusals`` (lists, one entry per event's data), ``skipped``
    (``[{channel, reason}]``), ``channels`` / ``counts`` / ``approval`` (from the plan),
    ``report`` (the finished summary) and ``cancel`` (who, reason). A plan written in several
    chunks (``crisiscast.dispatch.chunks``) adds ``plan_complete`` (false until its
    ``dispatch_plan_completed`` event) and ``plan_render`` (what a resume needs to render it again).
    """
    out: JsonObject = dict(summary)
    match kind:
        case EventKind.APPROVAL_RECORDED:
            out["approvals"] = [*json_list(out.get("approvals", ())), dict(data)]
        case EventKind.APPROVAL_REFUSED:
            out["refusals"] = [*json_list(out.get("refusals", ())), dict(data)]
        case EventKind.CHANNEL_SKIPPED:
            out["skipped"] = [*json_list(out.get("skipped", ())), dict(data)]
        case EventKind.DISPATCH_PLANNED:
            for name in ("channels", "counts", "approval", "forecast", "plan_complete", "plan_render"):
                if name in data:
                    out[name] = data[name]
        case EventKind.DISPATCH_PLAN_COMPLETED:
            out["plan_complete"] = True
        case EventKind.DISPATCH_FINISHED:
            out["report"] = dict(data)
        case EventKind.DISPATCH_CANCEL_REQUESTED:
            out["cancel"] = dict(data)
    return out
