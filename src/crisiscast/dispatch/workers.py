"""Several workers on one store: deliveries are claimed with leases, and a dead worker's work moves on.

``LeaseWorker`` is the loop ``crisiscast serve --worker-id NAME`` runs. It claims batches of
unfinished deliveries (``AuditStore.claim_deliveries``: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two workers never hold the same delivery), groups them by dispatch, rebuilds
each dispatch's channels from its stored message and runs them through the ``Dispatcher``.
While a batch runs its leases are renewed every third of ``lease_s``. When a worker dies
(``kill -9``, a lost host) its leases lapse after ``lease_s`` and another worker claims those
deliveries: pending ones are sent; in-doubt ones (an attempt started, no outcome recorded)
are put first in their channel's queue and reconciled with the provider before anything is
sent again (the dispatcher's in-doubt rule).

Safety rules:

- A worker that cannot renew its leases (the database unreachable, the process stalled past
  ``lease_s``) stops that batch at once: another worker may own those deliveries now. What
  was in flight stays ``in_doubt`` and is reconciled by whoever takes it.
- Deliveries the dispatcher left open (held in doubt, or waiting for a thread part another
  worker holds) are released and not retried here for ``park_s``.
- The ``dispatch_finished`` event is written once per dispatch, by the worker that sees no
  open delivery left (made atomic across workers with the store's ``bind_key``).

Rate limits: each worker has its own limiter per provider account, so with N workers each
should be configured with its share (1/N) of the account's rate and concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.registry import ChannelsFactory, build_channels
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch.plan import Plan
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage

if TYPE_CHECKING:
    from crisiscast.audit.base import AuditStore, DeliveryRecord
    from crisiscast.config import Secrets, Settings
    from crisiscast.dispatch import Dispatcher

__all__ = ["LeaseWorker", "ServeWork", "finished_summary"]

log = structlog.get_logger(__name__)

_OPEN = (DeliveryState.PENDING, DeliveryState.IN_DOUBT)


class LeaseWorker:
    """Claims leased batches of deliveries and runs them; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        dispatcher: Dispatcher,
        *,
        worker_id: str,
        lease_s: float = 30.0,
        batch: int = 500,
        max_batches: int = 4,
        idle_poll_s: float = 1.0,
        park_s: float = 30.0,
        build: ChannelsFactory = build_channels,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.dispatcher = dispatcher
        self.store: AuditStore = dispatcher.store
        self.worker_id = worker_id
        self.lease_s = lease_s
        self.batch = batch
        self.max_batches = max_batches
        self.idle_poll_s = idle_poll_s
        self.park_s = park_s
        self.build = build
        self.delivered = 0  # deliveries this worker took to a terminal state
        self._wake = asyncio.Event()
        self._running: set[str] = set()  # keys in a batch of this process
        self._parked: dict[str, float] = {}  # key -> monotonic time before which it is not retried
        self._tasks: set[asyncio.Task[None]] = set()
        self._log = log.bind(worker=worker_id)

    def wake(self, dispatch_id: str | None = None) -> None:
        """Claim now (a dispatch was just planned here) instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, grace_s: float = 20.0) -> None:
        """Claim and run batches until ``stop`` is set; then give running batches ``grace_s``.

        Batches still running after the grace are cancelled: their deliveries stay pending or
        in doubt, and their leases lapse, so another worker (or a restart) finishes them.
        """
        self._log.info("worker_started", lease_s=self.lease_s, batch=self.batch)
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                if len(self._tasks) < self.max_batches and await self._claim_and_start():
                    continue
                self._wake.clear()
                waker = asyncio.create_task(self._wake.wait())
                await asyncio.wait(
                    {stopping, waker, *self._tasks}, timeout=self.idle_poll_s, return_when="FIRST_COMPLETED"
                )
                waker.cancel()
        finally:
            stopping.cancel()
            await self._drain(grace_s)
            self._log.info("worker_stopped", delivered=self.delivered)

    async def run_once(self) -> int:
        """Claim one batch and run it to its end; returns how many deliveries were claimed."""
        records = await self._claim()
        if records:
            await self._run_batch(records)
        return len(records)

    # -- claiming ------------------------------------------------------------------------------

    async def _claim(self) -> list[DeliveryRecord]:
        now = time.monotonic()
        self._parked = {k: until for k, until in self._parked.items() if until > now}
        limit = self.batch + len(self._running) + len(self._parked)
        claimed = await self.store.claim_deliveries(self.worker_id, limit=limit, lease_s=self.lease_s)
        fresh = [r for r in claimed if r.delivery.key not in self._running]
        parked = [r.delivery.key for r in fresh if r.delivery.key in self._parked]
        if parked:
            await self.store.release_leases(self.worker_id, parked)
        return [r for r in fresh if r.delivery.key not in self._parked][: self.batch]

    async def _claim_and_start(self) -> bool:
        try:
            records = await self._claim()
        except Exception:
            self._log.warning("claim_failed", exc_info=True)
            return False
        if not records:
            return False
        self._running.update(r.delivery.key for r in records)
        task = asyncio.create_task(self._run_batch(records))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _drain(self, grace_s: float) -> None:
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- one batch -----------------------------------------------------------------------------

    async def _run_batch(self, records: Sequence[DeliveryRecord]) -> None:
        keys = [r.delivery.key for r in records]
        self._running.update(keys)
        by_dispatch: dict[str, list[DeliveryRecord]] = {}
        for r in records:
            by_dispatch.setdefault(r.delivery.dispatch_id, []).append(r)
        work = asyncio.gather(*(self._run_dispatch(d, rs) for d, rs in by_dispatch.items()))
        lost: list[str] = []
        renewer = asyncio.create_task(self._renew(keys, work, lost))
        try:
            await work
        except asyncio.CancelledError:
            if not lost:
                raise
            self._log.error("batch_stopped_lease_lost", deliveries=len(keys), why=lost[0])
        except Exception:
            self._log.error("batch_crashed", deliveries=len(keys), exc_info=True)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
            self._running.difference_update(keys)
            with contextlib.suppress(Exception):
                await self.store.release_leases(self.worker_id, keys)

    async def _renew(self, keys: list[str], work: asyncio.Future[Any], lost: list[str]) -> None:
        """Renew the batch's leases every third of ``lease_s``; stop the batch when they are lost."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                held = await self.store.renew_leases(self.worker_id, keys, self.lease_s)
            except Exception as exc:
                self._log.warning("lease_renewal_failed", exc_info=True)
                lost.append(f"renewal failed: {type(exc).__name__}")
            else:
                if len(held) == len(keys):
                    continue
                lost.append(f"{len(keys) - len(held)} of {len(keys)} leases lost")
            work.cancel()
            return

    async def _run_dispatch(self, dispatch_id: str, records: list[DeliveryRecord]) -> None:
        bound = self._log.bind(dispatch_id=dispatch_id)
        record = await self.store.dispatch(dispatch_id)
        if record is None:  # cannot happen with a consistent store; leave the leases to lapse
            bound.error("worker_dispatch_missing")
            return
        from crisiscast.escalation.steps import with_escalation_channels

        message = CrisisMessage.model_validate(record.message)
        channels, skipped = self.build(self.settings, self.secrets, with_escalation_channels(message))
        claimed = {r.delivery.key for r in records}
        prior = {r.delivery.key: r for r in records}
        missing = {r.delivery.after for r in records if r.delivery.after and r.delivery.after not in claimed}
        if missing:  # a thread part whose predecessor is not in this batch: use its stored state
            stored = await self.store.deliveries(dispatch_id)
            prior.update({r.delivery.key: r for r in stored if r.delivery.key in missing})
        deliveries: dict[str, list[Delivery]] = {}
        for r in _in_doubt_first(records):
            deliveries.setdefault(r.delivery.channel, []).append(r.delivery)
        plan = Plan(
            dispatch_id=dispatch_id,
            message=message,
            channels={c.name: c for c in channels if c.name in deliveries},
            deliveries=deliveries,
            approval=dict(record.summary.get("approval") or {}),
            prior=prior,
        )
        for name, reason in skipped:
            if name in deliveries:
                bound.warning("worker_channel_unavailable", channel=name, reason=reason)
        in_doubt = sum(1 for r in records if r.state is DeliveryState.IN_DOUBT)
        bound.info("worker_batch", deliveries=len(records), in_doubt=in_doubt)
        report = await self.dispatcher.run(plan, record_finish=False)
        settled = sum(r.delivered + len(r.failed) + r.cancelled + r.skipped for r in report.channels.values())
        self.delivered += settled
        still_open = {r.delivery.key for r in await self.store.deliveries(dispatch_id, states=_OPEN)}
        until = time.monotonic() + self.park_s
        for key in claimed & still_open:
            self._parked[key] = until
        if not still_open:
            await self._finish(dispatch_id)

    async def _finish(self, dispatch_id: str) -> None:
        """Record ``dispatch_finished`` once across all workers (``bind_key`` is atomic)."""
        _, first = await self.store.bind_key(f"crisiscast:dispatch-finished:{dispatch_id}", dispatch_id)
        if not first:
            return
        records = await self.store.deliveries(dispatch_id)
        event = AuditEvent(EventKind.DISPATCH_FINISHED, dispatch_id, finished_summary(records))
        await self.store.append([event])
        self._log.info("dispatch_finished", dispatch_id=dispatch_id, by=self.worker_id)


def _in_doubt_first(records: Sequence[DeliveryRecord]) -> list[DeliveryRecord]:
    """In-doubt deliveries first (reconciled before anything new is sent); chained parts keep their order."""
    first = [r for r in records if r.state is DeliveryState.IN_DOUBT and r.delivery.after is None]
    taken = {id(r) for r in first}
    return first + [r for r in records if id(r) not in taken]


_COUNTED_STATES = ("delivered", "failed", "cancelled", "skipped", "in_doubt")


@dataclass(slots=True)
class _ChannelTally:
    """One channel's counts while ``finished_summary`` walks the delivery records."""

    planned: int = 0
    attempts: int = 0
    states: Counter[str] = field(default_factory=Counter)
    failures: list[JsonObject] = field(default_factory=list)

    def to_json(self) -> JsonObject:
        return {
            "planned": self.planned,
            **{state: self.states[state] for state in _COUNTED_STATES},
            "attempts": self.attempts,
            "failures": list(self.failures),
        }


def finished_summary(records: Sequence[DeliveryRecord]) -> JsonObject:
    """The ``dispatch_finished`` data from the stored delivery states (same shape as the dispatcher's)."""
    channels: dict[str, _ChannelTally] = {}
    for r in records:
        c = channels.setdefault(r.delivery.channel, _ChannelTally())
        c.planned += 1
        c.attempts += r.attempts
        c.states[r.state.value] += 1
        if r.state is DeliveryState.FAILED and len(c.failures) < 20:
            c.failures.append({"key": r.delivery.key, "code": r.last_code, "reason": r.last_reason})
    ok = all(c.states["delivered"] + c.states["skipped"] == c.planned for c in channels.values())
    tallies: JsonObject = {name: c.to_json() for name, c in channels.items()}
    return {"ok": ok, "channels": tallies, "finished_by": "workers"}


class ServeWork:
    """What ``crisiscast serve`` runs beside its HTTP server.

    With a ``worker_id``: a ``LeaseWorker`` (the server's intake only plans, then wakes it),
    so several ``serve`` processes on one PostgreSQL share the work. Without: the server is
    the only process sending, and it resumes every unfinished dispatch at start-up (pending
    ones sent, in-doubt ones reconciled first). ``stop`` gives running work ``grace_s``.
    """

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        dispatcher: Dispatcher,
        *,
        worker_id: str | None = None,
        lease_s: float = 30.0,
        grace_s: float = 20.0,
        claim_batch: int = 500,
        build: ChannelsFactory = build_channels,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.dispatcher = dispatcher
        self.grace_s = grace_s
        self.build = build
        self.worker = (
            LeaseWorker(
                settings,
                secrets,
                dispatcher,
                worker_id=worker_id,
                lease_s=lease_s,
                batch=claim_batch,
                build=build,
            )
            if worker_id
            else None
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._unfinished_at_start: list[str] | None = None

    @property
    def on_planned(self) -> Callable[[str], None] | None:
        """For ``build_app``: in worker mode the intake hands planned dispatches to the worker."""
        return self.worker.wake if self.worker is not None else None

    async def prepare(self) -> None:
        """Call before the HTTP site opens: note which dispatches were unfinished at start-up.

        The start-up resume then takes only those, never a dispatch the new intake has just
        planned and is already running (which it would otherwise send a second time).
        """
        if self.worker is None:
            from crisiscast.dispatch import unfinished_dispatches

            records = await unfinished_dispatches(self.dispatcher.store)
            self._unfinished_at_start = [r.dispatch_id for r in records]

    async def started(self) -> None:
        """Wait until the start-up resume is over (at once with a lease worker, or before ``start``)."""
        if self.worker is None and self._task is not None:
            await asyncio.wait({self._task})

    def start(self) -> None:
        if self.worker is not None:
            self._task = asyncio.create_task(self.worker.run(self._stop, grace_s=self.grace_s))
        else:
            self._task = asyncio.create_task(self._resume_at_start())

    async def _resume_at_start(self) -> None:
        from crisiscast.dispatch.resume import resume_unfinished

        try:
            if self._unfinished_at_start is None:  # not prepared: every unfinished dispatch now
                resumed = await resume_unfinished(
                    self.settings, self.secrets, self.dispatcher, build=self.build
                )
            else:
                batches = await asyncio.gather(
                    *(
                        resume_unfinished(
                            self.settings, self.secrets, self.dispatcher, dispatch_id=d, build=self.build
                        )
                        for d in self._unfinished_at_start
                    )
                )
                resumed = [r for batch in batches for r in batch]
        except Exception:
            log.error("startup_resume_failed", exc_info=True)
            return
        for r in resumed:
            log.info("dispatch_resumed_at_startup", dispatch_id=r.dispatch_id, ok=r.report.ok)

    async def stop(self) -> None:
        """Stop claiming; let running work finish within ``grace_s``; cancel what remains."""
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        if self.worker is None:
            await asyncio.wait({task}, timeout=self.grace_s)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
