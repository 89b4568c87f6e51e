"""Plans written in chunks: each chunk durable before any of its deliveries is sent.

A large plan (a whole-system SMS alert to 100,000 staff) is not written in one transaction:
``PlanWriter`` writes it ``[store] plan_chunk_size`` deliveries at a time, each chunk one
``store.append`` (one transaction), the first chunk ``[store] plan_first_chunk_size`` (200 by
default: what the first texts wait for is that transaction, so a small one lets them leave
sooner). The first chunk carries the dispatch itself
(``dispatch_planned`` with the full counts, the approval, skipped channels); the fan-out may
start as soon as it is committed, while later chunks are still being written. A delivery is
taken by a sender only once the chunk holding it is durable (``DurablePlan.wait``), so
"nothing is sent before its delivery is durably planned" holds for every delivery.

Write order: channels with fewer deliveries first (an X thread, the Page post and the banner
are in the first chunk, never behind 100,000 texts), each channel's deliveries in plan order.

A plan of more than one chunk says so: ``dispatch_planned`` carries ``plan_complete: false``
(and ``plan_render``: what a resume needs to render the message again), and a
``dispatch_plan_completed`` event follows the last chunk. A crash between chunks leaves a partial
plan that ``crisiscast.dispatch.resume_plan`` completes before the dispatch is resumed. A plan
that fits one chunk is written exactly as before (one transaction, no ``dispatch_plan_completed``).

Failure modes: a chunk that cannot be written stops the writer; the deliveries already
durable are sent, the rest are never sent and the channel's report says so (resume the
dispatch once the store works: the plan is completed then).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

import structlog

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.base import RenderContext
from crisiscast.delivery import Delivery
from crisiscast.dispatch.failpoints import failpoint
from crisiscast.dispatch.plan import Plan, plan_events
from crisiscast.errors import StoreError
from crisiscast.jsontypes import JsonObject

__all__ = [
    "DEFAULT_PLAN_CHUNK_SIZE",
    "WHOLE_PLAN",
    "ChunkSlice",
    "DurablePlan",
    "PlanWriter",
    "chunk_slices",
    "delivery_events",
    "write_plan",
]

log = structlog.get_logger(__name__)

DEFAULT_PLAN_CHUNK_SIZE = 1000
REST_WAITS_FOR_FIRST_SEND_S = 0.05
"""How long the later chunks wait for the first ``attempt_started`` to be committed: written
first, a large second chunk would hold that commit (and so the first texts) back by its own
serialising and commit; written after it, it is committed while the first requests are on the
wire. Only the order changes: a delivery is still sent only once its own chunk is durable, and
the wait is bounded, so a dispatch whose first chunk sends nothing (cancelled, expired) goes on."""
WHOLE_PLAN = 1 << 62  # a chunk size that writes any plan in one transaction

ChunkSlice = tuple[str, int, int]
"""``(channel, start, stop)``: that channel's deliveries ``[start:stop]`` in plan order."""


def chunk_slices(
    counts: Mapping[str, int], chunk_size: int, first_chunk_size: int | None = None
) -> list[list[ChunkSlice]]:
    """Split a plan of ``counts`` deliveries per channel into chunks of at most ``chunk_size``,
    the first of at most ``first_chunk_size`` (when given and smaller: sending starts once the
    first chunk is durable, so a small one lets the first texts leave sooner).

    Channels with fewer deliveries come first (ties in the given order); a plan with no
    deliveries is one empty chunk (the dispatch itself is still written).
    """
    size = max(1, chunk_size)
    chunks: list[list[ChunkSlice]] = [[]]
    room = size if first_chunk_size is None else max(1, min(first_chunk_size, size))
    for name in sorted(counts, key=lambda n: counts[n]):
        start, total = 0, counts[name]
        while start < total:
            if room == 0:
                chunks.append([])
                room = size
            stop = min(total, start + room)
            chunks[-1].append((name, start, stop))
            room -= stop - start
            start = stop
    return chunks


def delivery_events(dispatch_id: str, deliveries: Sequence[Delivery]) -> list[AuditEvent]:
    """The ``delivery_planned`` events of ``deliveries``."""
    return [
        AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key)
        for d in deliveries
    ]


def render_facts(ctx: RenderContext) -> JsonObject:
    """What a resume needs to render the message again as it was (``plan_render``)."""
    return {
        "reply_to": dict(ctx.reply_to),
        "phi_override": ctx.phi_override,
        "now": ctx.now.isoformat(timespec="microseconds"),
    }


class DurablePlan:
    """How much of a plan is durable: per channel, how many of its first deliveries."""

    def __init__(self, channels: Sequence[str]) -> None:
        self._durable: dict[str, int] = dict.fromkeys(channels, 0)
        self._advanced = asyncio.Event()
        self.complete = False
        self.failure: str | None = None  # why the rest of the plan could not be written
        self.sending = asyncio.Event()  # set once the run's first attempt_started is committed

    def count(self, channel: str) -> int:
        """How many of ``channel``'s deliveries (the first ones, in plan order) are durable."""
        return self._durable.get(channel, 0)

    def advance(self, chunk: Sequence[ChunkSlice]) -> None:
        for name, _, stop in chunk:
            self._durable[name] = stop
        self._wake()

    def finish(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, reason: str) -> None:
        self.failure = reason
        self._wake()

    async def wait(self, channel: str, index: int) -> bool:
        """Wait until ``channel``'s delivery number ``index`` is durable (True), or the plan
        cannot be written that far (False)."""
        while index >= self._durable.get(channel, 0):
            if self.complete or self.failure is not None:
                return False
            await self._advanced.wait()
        return True

    async def wait_written(self) -> None:
        """Wait until the writer stopped: the plan is complete, or could not be written."""
        while not self.complete and self.failure is None:
            await self._advanced.wait()

    def _wake(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()


class PlanWriter:
    """Writes one plan chunk by chunk; see the module docstring.

    ``render`` is the context the plan was rendered with (recorded for a resume of a partial
    plan). ``write_first`` writes the dispatch and the first chunk; ``write_rest`` the other
    chunks and ``dispatch_plan_completed``, and never raises (a failure is ``durable.failure``).
    """

    def __init__(
        self,
        store: AuditStore,
        plan: Plan,
        chunk_size: int,
        *,
        first_chunk_size: int | None = None,
        render: RenderContext | None = None,
    ) -> None:
        self.store = store
        self.plan = plan
        self.slices = chunk_slices(plan.counts, chunk_size, first_chunk_size)
        self.durable = DurablePlan(list(plan.deliveries))
        self._render = render or RenderContext(dispatch_id=plan.dispatch_id)
        self._next = 0
        self.task: asyncio.Task[None] | None = None

    @property
    def chunks(self) -> int:
        return len(self.slices)

    async def write_first(self) -> None:
        header = self._header()
        await self.store.append([*header, *self._chunk_events(0)])
        self._done_chunk(0)
        if self.chunks == 1:
            self.durable.finish()

    async def write_rest(self, *, first_send_wait_s: float = 0.0) -> None:
        """The chunks after the first, then ``dispatch_plan_completed``; with
        ``first_send_wait_s``, after the run's first ``attempt_started`` (or that long)."""
        if first_send_wait_s > 0 and self._next < self.chunks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.durable.sending.wait(), first_send_wait_s)
        try:
            for i in range(self._next, self.chunks):
                failpoint("between_plan_chunks")
                await self.store.append(self._chunk_events(i))
                self._done_chunk(i)
            if self.chunks > 1:
                data: JsonObject = {"deliveries": sum(self.plan.counts.values()), "chunks": self.chunks}
                done = AuditEvent(EventKind.DISPATCH_PLAN_COMPLETED, self.plan.dispatch_id, data)
                await self.store.append([done])
        except Exception as exc:
            log.error("plan_chunk_failed", dispatch_id=self.plan.dispatch_id, chunk=self._next, exc_info=True)
            self.durable.fail(str(exc) or type(exc).__name__)
            return
        self.durable.finish()

    def start_rest(self) -> None:
        """Write the rest in the background (``task``), while the first chunk is being sent."""
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(
                self.write_rest(first_send_wait_s=REST_WAITS_FOR_FIRST_SEND_S),
                name=f"crisiscast-plan-{self.plan.dispatch_id}",
            )

    def _header(self) -> list[AuditEvent]:
        """``plan_events`` of the plan without its deliveries, with the plan's real counts."""
        empty = replace(self.plan, deliveries={name: [] for name in self.plan.deliveries})
        events = plan_events(empty)
        first = events[0]
        data: JsonObject = {
            **dict(first.data),
            "channels": sorted(self.plan.deliveries),
            "counts": self.plan.counts,
        }
        if self.chunks > 1:
            data["plan_complete"] = False
            data["plan_render"] = render_facts(self._render)
        return [replace(first, data=data), *events[1:]]

    def _chunk_events(self, i: int) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        for name, start, stop in self.slices[i]:
            events.extend(delivery_events(self.plan.dispatch_id, self.plan.deliveries[name][start:stop]))
        return events

    def _done_chunk(self, i: int) -> None:
        self.durable.advance(self.slices[i])
        self._next = i + 1


async def write_plan(
    store: AuditStore, plan: Plan, *, chunk_size: int, render: RenderContext | None = None
) -> PlanWriter:
    """Write the whole plan, chunk by chunk, before returning; a failed chunk raises."""
    writer = PlanWriter(store, plan, chunk_size, render=render)
    await writer.write_first()
    await writer.write_rest()
    if writer.durable.failure is not None:
        raise StoreError(f"The plan could not be recorded in full: {writer.durable.failure}")
    return writer
