"""The real SQLite audit store (in memory) with a synchronous view of what it committed.

``RecordingStore`` is ``SqliteStore(":memory:")`` that also keeps, in order, every event whose
``append`` returned (i.e. committed), and counts the ``append`` calls. Tests can then ask,
from inside a channel's ``send``, exactly what was durable at that moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.delivery import DeliveryState


class RecordingStore(SqliteStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.log: list[AuditEvent] = []
        self.appends = 0
        self._changed = asyncio.Condition()

    async def append(self, events: Sequence[AuditEvent]) -> None:
        await super().append(events)
        self.appends += 1
        self.log.extend(events)
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        """Wait (bounded) until ``predicate()`` holds after some committed append."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout_s)

    def kinds(self, key: str | None = None) -> list[str]:
        """The committed event kinds (for one delivery key, or all), in order."""
        return [e.kind.value for e in self.log if key is None or e.delivery_key == key]

    def events_of(self, kind: EventKind) -> list[AuditEvent]:
        return [e for e in self.log if e.kind is kind]

    async def state(self, key: str) -> DeliveryState:
        dispatch_id = key.split(":", 1)[0]
        for record in await self.deliveries(dispatch_id):
            if record.delivery.key == key:
                return record.state
        raise KeyError(key)
