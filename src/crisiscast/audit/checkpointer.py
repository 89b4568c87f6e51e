"""Signing checkpoints while crisiscast runs: a store wrapper, off the hot path.

``CheckpointingStore`` wraps any ``AuditStore``. Appending costs one pass over the events'
kinds and nothing else; checkpoints are signed:

- right after a ``dispatch_planned`` or ``dispatch_finished`` event is committed (before the
  fan-out starts, and when it ends), naming that dispatch's chain head as well;
- every ``checkpoint_every_s`` seconds while other events arrive (one checkpoint covers all
  the events since the last, however many: signing is batched, never per event);
- when the store is closed, if anything was appended since the last checkpoint.

Each checkpoint is appended to the checkpoint file (fsynced) before ``append`` returns when a
plan or end triggered it; network witnesses get it in the background. A failing witness or
an unwritable checkpoint file is logged (``audit_checkpoint_failed``) and never stops a
broadcast: the chain in the database still holds everything, and ``audit verify`` will show
the gap in checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crisiscast.audit.base import (
    AuditStore,
    DeliveryRecord,
    DispatchRecord,
    RowsCallback,
    StoreHead,
    VerifyResult,
)
from crisiscast.audit.checkpoint import Checkpoint, sign_head
from crisiscast.audit.counts import DeliveryTally
from crisiscast.audit.events import AuditEvent, EventKind, StoredEvent
from crisiscast.audit.prepare import EventRow
from crisiscast.audit.witness import FileWitness, Witness
from crisiscast.delivery import DeliveryState

__all__ = ["CheckpointingStore"]

log = structlog.get_logger(__name__)

_TRIGGERS = frozenset({EventKind.DISPATCH_PLANNED, EventKind.DISPATCH_FINISHED})


class CheckpointingStore:
    """An ``AuditStore`` that signs checkpoints of the one it wraps; see the module docstring."""

    def __init__(
        self,
        inner: AuditStore,
        key: Ed25519PrivateKey,
        witnesses: Sequence[Witness],
        *,
        checkpoint_every_s: float = 10.0,
    ) -> None:
        self.inner = inner
        self.key = key
        self.witnesses = list(witnesses)
        self.checkpoint_every_s = checkpoint_every_s
        self.signed = 0  # checkpoints signed so far (for tests and benchmarks)
        self.checkpointed = asyncio.Event()  # set after each checkpoint is written (tests await it)
        self._lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._last: tuple[int, str | None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    def __getattr__(self, name: str) -> Any:  # store-specific extras (commits, path …)
        return getattr(self.inner, name)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        await self.inner.open()
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(
                self._tick(), name="crisiscast-audit-checkpoints"
            )

    async def close(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # stopping it is what we asked for
                await ticker
            if self._dirty.is_set():
                await self.checkpoint()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.inner.close()

    async def _tick(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.checkpoint_every_s)
            await self.checkpoint()

    # -- signing -----------------------------------------------------------------------------

    async def checkpoint(self, dispatch_id: str | None = None) -> Checkpoint | None:
        """Sign the current head (and ``dispatch_id``'s) and write it out; None when nothing
        changed since the last checkpoint or the head could not be read."""
        async with self._lock:
            self._dirty.clear()
            try:
                head: StoreHead = await self.inner.head(dispatch_id)
            except Exception as exc:  # the store is closing or broken: the next checkpoint will tell
                log.warning("audit_checkpoint_failed", error=type(exc).__name__)
                return None
            if self._last == (head.seq, head.dispatch_id) or (head.seq == 0 and self._last is None):
                return None
            cp = sign_head(self.key, head)
            self._last = (head.seq, head.dispatch_id)
            self.signed += 1
            for witness in self.witnesses:
                if isinstance(witness, FileWitness):
                    await self._publish(witness, cp)
                else:
                    task = asyncio.get_running_loop().create_task(self._publish(witness, cp))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            self.checkpointed.set()
            return cp

    @staticmethod
    async def _publish(witness: Witness, cp: Checkpoint) -> None:
        try:
            await witness.publish([cp])
        except Exception as exc:  # a witness outage never stops a broadcast; logged, next one retries
            log.warning("audit_checkpoint_failed", witness=witness.name, error=type(exc).__name__)

    # -- the AuditStore contract -------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        await self.inner.append(events)
        trigger = None
        for e in events:
            if e.kind in _TRIGGERS:
                trigger = e.dispatch_id
        if trigger is not None:
            await self.checkpoint(trigger)
        elif events:
            self._dirty.set()

    async def bind_key(
        self, idempotency_key: str, dispatch_id: str, *, reclaim_after_s: float | None = None
    ) -> tuple[str, bool]:
        return await self.inner.bind_key(idempotency_key, dispatch_id, reclaim_after_s=reclaim_after_s)

    async def dispatch(self, dispatch_id: str) -> DispatchRecord | None:
        return await self.inner.dispatch(dispatch_id)

    async def dispatches(self, *, limit: int = 50, unfinished: bool = False) -> list[DispatchRecord]:
        return await self.inner.dispatches(limit=limit, unfinished=unfinished)

    async def deliveries(
        self,
        dispatch_id: str,
        *,
        states: Sequence[DeliveryState] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[DeliveryRecord]:
        return await self.inner.deliveries(dispatch_id, states=states, offset=offset, limit=limit)

    async def delivery_tally(self, dispatch_id: str, *, reasons: bool = False) -> DeliveryTally:
        return await self.inner.delivery_tally(dispatch_id, reasons=reasons)

    async def delivered_to(self, target: str, *, newest_dispatches: int = 50) -> list[DeliveryRecord]:
        return await self.inner.delivered_to(target, newest_dispatches=newest_dispatches)

    async def delivery_by_provider_id(self, channel: str, provider_id: str) -> DeliveryRecord | None:
        return await self.inner.delivery_by_provider_id(channel, provider_id)

    def events(self, dispatch_id: str | None = None) -> AsyncIterator[StoredEvent]:
        return self.inner.events(dispatch_id)

    async def verify(self, on_rows: RowsCallback | None = None) -> VerifyResult:
        return await self.inner.verify(on_rows)

    async def head(self, dispatch_id: str | None = None) -> StoreHead:
        return await self.inner.head(dispatch_id)

    def event_rows(self, dispatch_id: str | None = None) -> AsyncIterator[list[EventRow]]:
        return self.inner.event_rows(dispatch_id)

    async def migrate(self) -> list[str]:
        return await self.inner.migrate()

    async def claim_deliveries(
        self, worker_id: str, dispatch_id: str | None = None, *, limit: int = 100, lease_s: float = 30.0
    ) -> list[DeliveryRecord]:
        return await self.inner.claim_deliveries(worker_id, dispatch_id, limit=limit, lease_s=lease_s)

    async def renew_leases(self, worker_id: str, keys: Sequence[str], lease_s: float) -> list[str]:
        return await self.inner.renew_leases(worker_id, keys, lease_s)

    async def release_leases(self, worker_id: str, keys: Sequence[str]) -> None:
        await self.inner.release_leases(worker_id, keys)

    async def claim_step(self, step_key: str, owner: str, *, lease_s: float) -> bool:
        return await self.inner.claim_step(step_key, owner, lease_s=lease_s)
