"""The ``AuditStore`` contract, shared by the SQLite and PostgreSQL stores.

One contract test suite (``tests/audit/test_store_contract.py``) runs against every store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crisiscast.audit.counts import DeliveryTally
from crisiscast.audit.events import AuditEvent, StoredEvent
from crisiscast.audit.prepare import EventRow
from crisiscast.delivery import Delivery, DeliveryState

RowsCallback = Callable[[Sequence[EventRow]], None]

__all__ = ["AuditStore", "DeliveryRecord", "DispatchRecord", "RowsCallback", "StoreHead", "VerifyResult"]


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
    lease_owner: str | None = None  # the worker holding a claim on it (see claim_deliveries)
    lease_until: datetime | None = None


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
class StoreHead:
    """Where the log stands: the store's id, its last event and (when asked) one dispatch's."""

    store_id: str
    seq: int
    hash: str
    dispatch_id: str | None = None
    dispatch_seq: int | None = None
    dispatch_hash: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the hash chain."""

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    note: str = ""  # said alongside OK (e.g. what signed checkpoint the events match)


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

    async def bind_key(
        self, idempotency_key: str, dispatch_id: str, *, reclaim_after_s: float | None = None
    ) -> tuple[str, bool]:
        """Map an external idempotency key (a webhook id) to a dispatch id, once.

        Returns ``(dispatch_id, created)``: the id already bound to the key and False, or the
        given id and True. Atomic across concurrent callers and processes.

        ``reclaim_after_s``: when the key is already bound, its dispatch has no row in the
        dispatches view (nothing was ever planned or drafted under it) and the binding is older
        than ``reclaim_after_s`` seconds, the binding is taken over: its time is refreshed to now
        (store clock) and ``(existing_dispatch_id, True)`` is returned, so the caller plans under
        the SAME dispatch id. The take-over is one conditional update, so of several concurrent
        callers at most one wins. ``None`` (the default) never takes over.
        """
        ...

    async def dispatch(self, dispatch_id: str) -> DispatchRecord | None: ...

    async def dispatches(self, *, limit: int = 50, unfinished: bool = False) -> list[DispatchRecord]:
        """Newest first; ``unfinished`` keeps those with pending or in-doubt deliveries."""
        ...

    async def deliveries(
        self,
        dispatch_id: str,
        *,
        states: Sequence[DeliveryState] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[DeliveryRecord]:
        """The deliveries of one dispatch in plan order, optionally only in ``states``; with
        ``offset``/``limit``, one page of them (``crisiscast.audit.paging`` walks every page)."""
        ...

    async def delivery_tally(self, dispatch_id: str, *, reasons: bool = False) -> DeliveryTally:
        """One dispatch's deliveries counted in the database from the delivery view, per channel,
        state and whether sent yet, and (``reasons``) the reasons of the failed and retrying ones
        (``crisiscast.audit.counts.DeliveryTally``): one small answer whatever the dispatch's
        size, for following a dispatch as it runs. Empty for an unknown dispatch."""
        ...

    async def delivered_to(self, target: str, *, newest_dispatches: int = 50) -> list[DeliveryRecord]:
        """The delivered deliveries to ``target`` (a phone number …) among the
        ``newest_dispatches`` most recent dispatches: newest dispatch first, each dispatch's in
        plan order. Reads the rows of that one target (an index), never a whole dispatch; a row
        whose key does not match its columns (edited in the database) is left out."""
        ...

    async def delivery_by_provider_id(self, channel: str, provider_id: str) -> DeliveryRecord | None:
        """The ``channel`` delivery the provider accepted as ``provider_id`` (Twilio's
        MessageSid …), through an index; None when no stored delivery has it (yet). A row whose
        key does not match its columns (edited in the database) is left out."""
        ...

    def events(self, dispatch_id: str | None = None) -> AsyncIterator[StoredEvent]:
        """Events in chain order, all or those of one dispatch."""
        ...

    async def verify(self, on_rows: RowsCallback | None = None) -> VerifyResult:
        """Walk the whole chain; report the first event whose hash or order does not hold.

        ``on_rows`` is given each chunk of rows once it has verified (in seq order, within the
        same read snapshot), so checkpoints and views are checked in the same single walk.
        """
        ...

    async def head(self, dispatch_id: str | None = None) -> StoreHead:
        """The store id and the chain head (last seq and hash) as committed; with
        ``dispatch_id``, also that dispatch's chain head (None fields when it has no events)."""
        ...

    def event_rows(self, dispatch_id: str | None = None) -> AsyncIterator[list[EventRow]]:
        """Raw event rows (both chains' hashes included) in seq order, in chunks; for export."""
        ...

    async def migrate(self) -> list[str]:
        """Apply the schema migrations not applied yet; returns their names (``db migrate``)."""
        ...

    async def claim_deliveries(
        self, worker_id: str, dispatch_id: str | None = None, *, limit: int = 100, lease_s: float = 30.0
    ) -> list[DeliveryRecord]:
        """Lease up to ``limit`` unfinished (pending or in-doubt) deliveries to ``worker_id``.

        Oldest plan first; only deliveries with no lease, an expired lease, or a lease already
        held by ``worker_id``. Two workers never hold the same delivery at once (PostgreSQL:
        ``FOR UPDATE SKIP LOCKED``). A lease is not an audit event: it only says who works on
        a delivery, and expires ``lease_s`` seconds after the claim unless renewed.
        """
        ...

    async def renew_leases(self, worker_id: str, keys: Sequence[str], lease_s: float) -> list[str]:
        """Extend ``worker_id``'s leases on ``keys``; returns the keys it still holds."""
        ...

    async def release_leases(self, worker_id: str, keys: Sequence[str]) -> None:
        """Give up ``worker_id``'s leases on ``keys`` (other workers' leases are untouched)."""
        ...

    async def claim_step(self, step_key: str, owner: str, *, lease_s: float) -> bool:
        """Claim one escalation step for ``owner`` for ``lease_s`` seconds; True when it is ours.

        Atomic across processes: of several owners only one holds a step at a time; a claim
        that lapsed (its owner died) can be taken, and an owner may renew its own claim.
        """
        ...
