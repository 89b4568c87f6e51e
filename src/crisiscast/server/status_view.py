"""Where a dispatch stands, as the status API and ``crisiscast status`` show it.

``state`` (one word):

- ``awaiting_approval``: a draft (free text from a webhook, or held by policy), never sent;
- ``dispatching``: deliveries are pending or in doubt;
- ``delivered``: every planned delivery was delivered (or deliberately skipped);
- ``partially_delivered``: finished; some delivered, some failed or were cancelled;
- ``failed``: finished; nothing was delivered;
- ``cancelled``: the dispatch was cancelled.

Per channel: ``planned``, ``delivered``, ``failed``, ``in_progress`` (pending or in doubt),
``cancelled``, ``skipped``. Per SMS recipient: the delivery state, the Twilio message SID and
the latest delivery receipt from Twilio's status callbacks. Receipts are monotonic: a late
``sent`` never replaces ``delivered``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from crisiscast.audit.base import AuditStore, DeliveryRecord, DispatchRecord
from crisiscast.audit.counts import ChannelCounts, DeliveryTally, add, empty_counts
from crisiscast.audit.events import EventKind
from crisiscast.audit.views import ChainViews
from crisiscast.channels.registry import specs
from crisiscast.jsontypes import JsonObject, json_str

__all__ = [
    "RECEIPT_RANK",
    "api_state",
    "channel_counts",
    "dispatch_status",
    "progress_document",
    "tallied",
]

_RUNNING = ("dispatching", "awaiting_approval")  # the states of a dispatch that is not over

# Twilio MessageStatus values, by how far along they are (terminal ones last).
RECEIPT_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "read": 5,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}


def channel_counts(deliveries: Sequence[DeliveryRecord]) -> ChannelCounts:
    """Counts per channel: planned, delivered, failed, in_progress, cancelled, skipped."""
    out: ChannelCounts = {}
    for record in deliveries:
        add(out, record.delivery.channel, record.state.value)
    return out


def with_unwritten(counts: ChannelCounts, record: DispatchRecord) -> ChannelCounts:
    """``counts`` with the deliveries of a plan still being written (``plan_complete: false``:
    ``crisiscast.dispatch.chunks``) counted as planned and in progress, from the plan's counts,
    so a dispatch whose first chunk is all delivered is not reported delivered too early."""
    planned = record.summary.get("counts") if record.summary.get("plan_complete") is False else None
    if not isinstance(planned, Mapping):
        return counts
    for channel, total in planned.items():
        row = counts.setdefault(str(channel), empty_counts())
        missing = int(total) - row["planned"] if isinstance(total, int) else 0
        if missing > 0:
            row["planned"] += missing
            row["in_progress"] += missing
    return counts


def api_state(record: DispatchRecord, counts: Mapping[str, Mapping[str, int]] | None) -> str:
    """The one-word state of a dispatch (see the module docstring)."""
    if record.state == "draft":
        return "awaiting_approval"
    if record.state == "cancelled":
        return "cancelled"
    if counts is None:
        return "dispatching" if record.state == "planned" else record.state
    total = {k: sum(c[k] for c in counts.values()) for k in ("planned", "delivered", "failed", "in_progress")}
    if total["in_progress"]:
        return "dispatching"
    if total["failed"] or total["delivered"] + sum(c["skipped"] for c in counts.values()) < total["planned"]:
        return "partially_delivered" if total["delivered"] else "failed"
    return "delivered"


def tallied(record: DispatchRecord, tally: DeliveryTally) -> tuple[ChannelCounts, str]:
    """The counts (with a plan's unwritten deliveries) and the one-word state of a dispatch from
    its delivery tally: what the progress answer and the console's board both show."""
    counts = with_unwritten(tally.counts(), record)
    return counts, api_state(record, counts or None)


async def progress_document(store: AuditStore, dispatch_id: str) -> JsonObject | None:
    """The progress document of ``dispatch_id`` (``crisiscast.server.progress``), or None when
    there is no such dispatch: counts from the database (``AuditStore.delivery_tally``), a small
    read whatever the dispatch's size, unlike ``dispatch_status``."""
    record = await store.dispatch(dispatch_id)
    if record is None:
        return None
    counts, state = tallied(record, await store.delivery_tally(dispatch_id))
    run_over = record.state == "finished"
    digest = hashlib.blake2b(
        json.dumps([state, run_over, counts], sort_keys=True).encode(), digest_size=8
    ).hexdigest()
    return {
        "dispatch_id": dispatch_id,
        "state": state,
        "finished": state not in _RUNNING,
        # the run is over (dispatch_finished recorded) though deliveries may still be pending or
        # in doubt (held for a resume): nobody is sending them now
        "run_over": run_over,
        "channels": dict(counts),
        "version": digest,
    }


async def sms_receipts(store: AuditStore, dispatch_id: str) -> dict[str, JsonObject]:
    """The latest receipt per SMS delivery key, from the ``receipt_status`` events."""
    latest: dict[str, JsonObject] = {}
    async for stored in store.events(dispatch_id):
        event = stored.event
        if event.kind is not EventKind.RECEIPT_STATUS or event.delivery_key is None:
            continue
        status = str(event.data.get("status", ""))
        current = latest.get(event.delivery_key)
        current_rank = 0 if current is None else RECEIPT_RANK.get(json_str(current["status"]), 0)
        if current is not None and RECEIPT_RANK.get(status, 0) < current_rank:
            continue
        latest[event.delivery_key] = {
            "status": status,
            "error_code": event.data.get("error_code"),
            "at": event.at.isoformat(),
        }
    return latest


async def dispatch_status(store: AuditStore, dispatch_id: str) -> JsonObject | None:
    """The status document of one dispatch, or None when there is no such dispatch (rebuilt
    from the dispatch's own events)."""
    views = ChainViews(store)
    record = await views.dispatch(dispatch_id)
    if record is None:
        return None
    deliveries = await views.deliveries(dispatch_id)
    counts = with_unwritten(channel_counts(deliveries), record)
    with_receipts = {s.name for s in specs() if s.receipts}  # per-recipient handset receipts
    receipts = await sms_receipts(store, dispatch_id) if with_receipts & set(counts) else {}
    message = record.message
    template = message.get("template") if isinstance(message, Mapping) else None
    sms = [
        {
            "key": r.delivery.key,
            "target": r.delivery.target,
            "language": r.delivery.language,
            "state": r.state.value,
            "provider_id": r.provider_id,
            "attempts": r.attempts,
            "last_code": r.last_code,
            "receipt": receipts.get(r.delivery.key),
        }
        for r in deliveries
        if r.delivery.channel in with_receipts
    ]
    return {
        "dispatch_id": record.dispatch_id,
        "state": api_state(record, counts if deliveries else None),
        "created_at": record.created_at.isoformat(),
        "message": {
            "identifier": message.get("identifier"),
            "status": message.get("status"),
            "msg_type": message.get("msg_type"),
            "event": message.get("event"),
            "headline": message.get("headline"),
            "template": template,
        },
        "channels": counts,
        "sms_receipts": sms,
    }
