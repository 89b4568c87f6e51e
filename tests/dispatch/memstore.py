"""A tiny in-memory ``AuditStore`` for dispatcher tests: the contract's behaviour, no I/O.

It keeps the event list and the two views (deliveries, dispatches) exactly as the contract
describes them, using the shared reducer ``next_state``. It does not hash-chain (``verify``
always succeeds): the audit store has its own contract suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from crisiscast.audit.base import AuditStore, DeliveryRecord, DispatchRecord, VerifyResult
from crisiscast.audit.events import AuditEvent, EventKind, StoredEvent, next_state
from crisiscast.delivery import Delivery, DeliveryState

_DISPATCH_STATE = {
    EventKind.DISPATCH_PLANNED: "planned",
    EventKind.DISPATCH_FINISHED: "finished",
    EventKind.DISPATCH_CANCEL_REQUESTED: "cancelled",
}


class MemStore(AuditStore):
    """In-memory store; ``append`` yields to the loop once, like a real commit would."""

    def __init__(self) -> None:
        self.log: list[AuditEvent] = []
        self.appends = 0
        self._deliveries: dict[str, DeliveryRecord] = {}
        self._order: dict[str, list[str]] = {}
        self._dispatches: dict[str, DispatchRecord] = {}
        self._keys: dict[str, str] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def append(self, events: Sequence[AuditEvent]) -> None:
        await asyncio.sleep(0)
        self.appends += 1
        for event in events:
            self.log.append(event)
            self._apply(event)

    def _apply(self, event: AuditEvent) -> None:
        data = event.data
        if event.kind is EventKind.DELIVERY_PLANNED:
            delivery = Delivery.from_json(data)
            self._order.setdefault(event.dispatch_id, []).append(delivery.key)
            self._deliveries[delivery.key] = DeliveryRecord(
                delivery, DeliveryState.PENDING, 0, None, None, None, event.at
            )
            return
        state = _DISPATCH_STATE.get(event.kind)
        if state is not None:
            self._dispatch_event(event, state)
            return
        key = event.delivery_key
        record = self._deliveries.get(key) if key is not None else None
        if record is None:
            return
        new = next_state(record.state, event.kind, data)
        attempts = record.attempts + (1 if event.kind is EventKind.ATTEMPT_STARTED else 0)
        provider_id = data.get("provider_id") or record.provider_id
        code = data.get("code", record.last_code)
        reason = data.get("reason", record.last_reason)
        self._deliveries[record.delivery.key] = DeliveryRecord(
            record.delivery, new or record.state, attempts, provider_id, code, reason, event.at
        )

    def _dispatch_event(self, event: AuditEvent, state: str) -> None:
        old = self._dispatches.get(event.dispatch_id)
        summary: dict[str, Any] = dict(old.summary) if old is not None else {}
        message = old.message if old is not None else {}
        if event.kind is EventKind.DISPATCH_PLANNED:
            message = event.data["message"]
            summary.update({k: event.data[k] for k in ("channels", "counts", "approval")})
        elif event.kind is EventKind.DISPATCH_CANCEL_REQUESTED:
            summary["cancel"] = dict(event.data)
        else:
            summary["report"] = dict(event.data)
        if old is not None and old.state in ("finished", "cancelled"):
            state = old.state
        created = old.created_at if old is not None else event.at
        self._dispatches[event.dispatch_id] = DispatchRecord(
            event.dispatch_id, created, state, message, summary
        )

    async def bind_key(self, idempotency_key: str, dispatch_id: str) -> tuple[str, bool]:
        bound = self._keys.setdefault(idempotency_key, dispatch_id)
        return bound, bound == dispatch_id

    async def dispatch(self, dispatch_id: str) -> DispatchRecord | None:
        return self._dispatches.get(dispatch_id)

    async def dispatches(self, *, limit: int = 50, unfinished: bool = False) -> list[DispatchRecord]:
        out = sorted(self._dispatches.values(), key=lambda r: r.created_at, reverse=True)
        if unfinished:
            out = [r for r in out if any(not d.state.terminal for d in await self.deliveries(r.dispatch_id))]
        return out[:limit]

    async def deliveries(
        self, dispatch_id: str, *, states: Sequence[DeliveryState] | None = None
    ) -> list[DeliveryRecord]:
        records = [self._deliveries[k] for k in self._order.get(dispatch_id, [])]
        return [r for r in records if states is None or r.state in states]

    async def events(self, dispatch_id: str | None = None) -> AsyncIterator[StoredEvent]:
        for seq, event in enumerate(self.log, start=1):
            if dispatch_id is None or event.dispatch_id == dispatch_id:
                yield StoredEvent(seq, event, "", "")

    async def verify(self) -> VerifyResult:
        return VerifyResult(ok=True, events_checked=len(self.log))

    # test helpers -------------------------------------------------------------------

    def kinds(self, key: str | None = None) -> list[str]:
        """The event kinds recorded (for one delivery key, or all), in order."""
        return [e.kind.value for e in self.log if key is None or e.delivery_key == key]

    def state(self, key: str) -> DeliveryState:
        return self._deliveries[key].state

    def events_of(self, kind: EventKind) -> list[AuditEvent]:
        return [e for e in self.log if e.kind is kind]


def now() -> datetime:
    return datetime.now(UTC)
