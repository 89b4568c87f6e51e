"""Fan-out: every channel at once, and within a channel a bounded pool of delivery workers.

A channel runs a pool of workers pulling deliveries in plan order (so a thread part is
always taken after the part it follows). The pool is a few times the account's concurrency
cap: enough to keep the cap busy while some deliveries sleep in a retry back-off, small
enough that a 50,000-recipient fan-out holds only a few hundred live coroutines.

Isolation: ``run_channel`` never raises (except ``CancelledError``). A channel whose
``start`` fails, or that raises something unexpected, fails its own deliveries with the
reason (an in-doubt one, which may have arrived, stays in doubt for a later resume); the
other channels are neither delayed nor cancelled.

When the dispatch is cancelled, workers stop taking deliveries and the ones never started
are marked ``delivery_cancelled`` in bulk (one audit write per thousand).

A plan still being written in chunks (``run.durable``, see ``crisiscast.dispatch.chunks``):
a worker waits until the chunk holding the delivery it took is durable before sending it;
the bulk paths (cancel, expiry, a channel that cannot start) wait for the writer to stop and
record only durable deliveries. Deliveries the writer could not record are never sent, and
the channel's report says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import structlog

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.delivery import Delivery, DeliveryState, Receipt
from crisiscast.dispatch.deliver import deliver
from crisiscast.dispatch.state import ChannelRun, RunState

__all__ = ["run_channel", "worker_count"]

log = structlog.get_logger(__name__)


def worker_count(max_concurrency: int, deliveries: int) -> int:
    """Live delivery coroutines for one channel: 4× the cap plus a margin, at most one each."""
    return max(1, min(deliveries, 4 * max_concurrency + 16))


async def run_channel(run: RunState, cr: ChannelRun, deliveries: Sequence[Delivery]) -> None:
    """Deliver every delivery of one channel (already-settled ones on resume are only counted)."""
    cr.started_at = run.clock()
    todo = _count_settled(run, cr, deliveries)
    if not todo:
        return
    try:
        await cr.channel.start()
    except Exception as exc:
        todo = await _durable_only(run, cr, todo)
        log.warning(
            "channel_start_failed", dispatch_id=run.dispatch_id, channel=cr.report.channel, exc_info=True
        )
        reason = f"the {cr.report.channel} channel could not start: {exc}"
        # an in-doubt delivery may have arrived: never recorded failed, left for a later resume
        fresh, in_doubt = _split_in_doubt(run, todo)
        await _fail_all(run, cr, fresh, "channel_unavailable", reason)
        for d in in_doubt:
            run.settle(cr, d, DeliveryState.IN_DOUBT)
        return
    if run.expired():
        todo = await _durable_only(run, cr, todo)
        fresh, todo = _split_in_doubt(run, todo)
        await _fail_all(run, cr, fresh, "expired", "the message expired before it could be sent")
    queue = enumerate(todo)  # a fresh plan's todo is the channel's deliveries in plan order
    workers = worker_count(cr.limiter.max_concurrency, len(todo))
    outcomes = await asyncio.gather(
        *(_worker(run, cr, queue) for _ in range(workers)), return_exceptions=True
    )
    for outcome in outcomes:  # deliver() never raises; this is a last line of defence
        if isinstance(outcome, Exception):
            log.error("delivery_worker_crashed", dispatch_id=run.dispatch_id, exc_info=outcome)
    rest = [d for _, d in queue]  # left when the dispatch was cancelled (or the plan cut short)
    if rest:
        rest = await _durable_only(run, cr, rest, offset=len(todo) - len(rest))
    if rest:
        await _cancel_all(run, cr, rest)


async def _worker(run: RunState, cr: ChannelRun, queue: Iterator[tuple[int, Delivery]]) -> None:
    durable = run.durable
    while not run.token.cancelled:
        index, d = next(queue, (-1, None))
        if d is None:
            return
        if durable is not None and not await durable.wait(cr.report.channel, index):
            _note_cut_short(run, cr)
            return
        await deliver(run, cr, d)


async def _durable_only(
    run: RunState, cr: ChannelRun, deliveries: list[Delivery], *, offset: int = 0
) -> list[Delivery]:
    """Of a fresh plan's ``deliveries`` (from plan position ``offset``), those durably planned.

    Waits for the plan writer to stop first; a plan not being written keeps them all.
    """
    durable = run.durable
    if durable is None:
        return deliveries
    await durable.wait_written()
    keep = max(0, durable.count(cr.report.channel) - offset)
    if keep < len(deliveries):
        _note_cut_short(run, cr)
    return deliveries[:keep]


def _note_cut_short(run: RunState, cr: ChannelRun) -> None:
    failure = run.durable.failure if run.durable is not None else None
    cr.report.note = (
        f"not all sent: the plan could not be recorded in full ({failure}); "
        "resume the dispatch once the audit store works again"
    )


def _split_in_doubt(run: RunState, deliveries: Sequence[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
    """(never attempted or pending, in doubt from an earlier run), each in plan order."""
    fresh: list[Delivery] = []
    in_doubt: list[Delivery] = []
    for d in deliveries:
        record = run.prior.get(d.key)
        (in_doubt if record is not None and record.state is DeliveryState.IN_DOUBT else fresh).append(d)
    return fresh, in_doubt


def _count_settled(run: RunState, cr: ChannelRun, deliveries: Sequence[Delivery]) -> list[Delivery]:
    """Count deliveries already terminal in the store (resume); return the rest, in order."""
    if not run.prior:
        return list(deliveries)
    todo: list[Delivery] = []
    for d in deliveries:
        record = run.prior.get(d.key)
        if record is None or not record.state.terminal:
            todo.append(d)
            continue
        cr.report.attempts += record.attempts
        run.settle(
            cr,
            d,
            record.state,
            receipt=Receipt(provider_id=record.provider_id),
            code=record.last_code,
            reason=record.last_reason or "",
        )
    return todo


async def _fail_all(
    run: RunState, cr: ChannelRun, deliveries: Sequence[Delivery], code: str, reason: str
) -> None:
    events = [
        run.event(EventKind.DELIVERY_FAILED, d.key, {"code": code, "reason": reason}) for d in deliveries
    ]
    await run.record_many(events)
    for d in deliveries:
        run.settle(cr, d, DeliveryState.FAILED, code=code, reason=reason)


async def _cancel_all(run: RunState, cr: ChannelRun, deliveries: Sequence[Delivery]) -> None:
    reason = run.token.reason or "cancelled"
    events: list[AuditEvent] = [
        run.event(EventKind.DELIVERY_CANCELLED, d.key, {"reason": reason}) for d in deliveries
    ]
    await run.record_many(events)
    for d in deliveries:
        run.settle(cr, d, DeliveryState.CANCELLED, reason=reason)
