"""The ``AuditStore`` contract, shared by the SQLite and PostgreSQL stores.

One contract test suite (``tests/audit/test_store_contract.py``) runs against every store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crisiscast.audit.events import AuditEvent, StoredEvent
from crisiscast.delivery import Delivery, DeliveryState

__all__ = ["AuditStore", "DeliveryRecord", "DispatchRecord", "VerifyResult"]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The current state of one delivery (the view derived from the events)."""

    delivery: Delivery
    state: DeliveryState
    attempts: int
    provider_id: str | None
    last_code: str | None
    last_reason: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    """One dispatch (or draft): its message and where it stands.

    ``state``: ``draft`` (awaiting approval), ``planned``, ``finished``, ``cancelled``.
    """

    dispatch_id: str
    created_at: datetime
    state: str
    message: Mapping[str, Any]
    summary: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the hash chain."""

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    problem: str = ""


class AuditStore(Protocol):
    """Append-only, hash-chained audit events plus the current state of every delivery."""

    async def open(self) -> None:
        """Connect and create the schema if needed."""
        ...

    async def close(self) -> None:
        """Flush pending writes and disconnect; safe to call twice."""
        ...

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Append events atomically and durably, updating the delivery view in the same
        transaction. Returns once they are committed. Concurrent callers are batched into one
        commit (group commit)."""
        ...

    async def bind_key(self, idempotency_key: str, dispatch_id: str) -> tuple[str, bool]:
        """Map an external idempotency key (a webhook id) to a dispatch id, once.

        Returns ``(dispatch_id, created)``: the id already bound to the key and False, or the
        given id and True. Atomic across concurrent callers and processes.
        """
        ...

    async def dispatch(self, dispatch_id: str) -> DispatchRecord | None: ...

    async def dispatches(self, *, limit: int = 50, unfinished: bool = False) -> list[DispatchRecord]:
        """Newest first; ``unfinished`` keeps those with pending or in-doubt deliveries."""
        ...

    async def deliveries(
        self, dispatch_id: str, *, states: Sequence[DeliveryState] | None = None
    ) -> list[DeliveryRecord]:
        """The deliveries of one dispatch in plan order, optionally only in ``states``."""
        ...

    def events(self, dispatch_id: str | None = None) -> AsyncIterator[StoredEvent]:
        """Events in chain order, all or those of one dispatch."""
        ...

    async def verify(self) -> VerifyResult:
        """Walk the whole chain; report the first event whose hash or order does not hold."""
        ...
