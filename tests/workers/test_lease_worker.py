"""LeaseWorker in one process, on the real SQLite store with in-memory test channels.

Pins: workers split a dispatch without overlap and record ``dispatch_finished`` once; a
batch whose leases were lost stops at once and leaves its in-flight deliveries in doubt; a
held in-doubt delivery is not retried before ``park_s``; in-doubt deliveries go first; and
``serve`` without a worker id resumes unfinished dispatches at start-up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import EventKind
from crisiscast.audit.open import open_store
from crisiscast.channels.base import Channel
from crisiscast.config import Secrets, Settings
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.dispatch.workers import LeaseWorker, ServeWork, finished_summary
from crisiscast.message import CrisisMessage
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message

WAIT_S = 10.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AuditStore]:
    s = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def _builder(channel: ScriptChannel) -> Any:
    def build(_s: Settings, _k: Secrets, _m: CrisisMessage) -> tuple[list[Channel], list[tuple[str, str]]]:
        return [channel], []

    return build


def _worker(dispatcher: Dispatcher, channel: ScriptChannel, name: str, **kw: Any) -> LeaseWorker:
    return LeaseWorker(Settings(), Secrets(), dispatcher, worker_id=name, build=_builder(channel), **kw)


async def _finished_events(store: AuditStore, dispatch_id: str) -> int:
    return len([1 async for e in store.events(dispatch_id) if e.event.kind is EventKind.DISPATCH_FINISHED])


async def test_two_workers_split_a_dispatch_and_finish_it_once(store: AuditStore) -> None:
    """Concurrent claims never overlap: each target is sent once; one dispatch_finished, ok."""
    channel = ScriptChannel(channel_name="sms", targets=[f"+1617555{i:04d}" for i in range(30)])
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    plan = await dispatcher.plan(message(), [channel], approval=APPROVAL)
    one, two = _worker(dispatcher, channel, "w1", batch=7), _worker(dispatcher, channel, "w2", batch=7)
    claimed = Counter[str]()
    while True:
        counts = await asyncio.gather(one.run_once(), two.run_once())
        claimed.update({"w1": counts[0], "w2": counts[1]})
        if not any(counts):
            break
    assert claimed["w1"] > 0 and claimed["w2"] > 0
    assert Counter(c.target for c in channel.calls) == Counter(channel.targets)
    records = await store.deliveries(plan.dispatch_id)
    assert {r.state for r in records} == {DeliveryState.DELIVERED}
    assert await _finished_events(store, plan.dispatch_id) == 1
    record = await store.dispatch(plan.dispatch_id)
    assert record is not None and record.state == "finished"


async def test_a_batch_whose_leases_are_lost_stops_and_leaves_its_deliveries_in_doubt(
    store: AuditStore,
) -> None:
    """Another worker took the deliveries (the lease lapsed): the batch stops at once, nothing is
    recorded as failed, and the in-flight deliveries stay in doubt for the new owner to reconcile."""
    in_flight = asyncio.Event()
    never = asyncio.Event()

    async def hang(_d: Any) -> None:
        if len(channel.calls) == 2:
            in_flight.set()
        await never.wait()

    channel = ScriptChannel(channel_name="sms", targets=["+16175550001", "+16175550002"], on_send=hang)
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    plan = await dispatcher.plan(message(), [channel], approval=APPROVAL)
    worker = _worker(dispatcher, channel, "w1", lease_s=0.3)
    batch = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(in_flight.wait(), WAIT_S)
    keys = [r.delivery.key for r in await store.deliveries(plan.dispatch_id)]
    await store.renew_leases("w1", keys, -1)  # as if w1 had stalled past its lease
    assert len(await store.claim_deliveries("thief", lease_s=60)) == 2
    assert await asyncio.wait_for(batch, WAIT_S) == 2
    records = await store.deliveries(plan.dispatch_id)
    assert {r.state for r in records} == {DeliveryState.IN_DOUBT}
    assert {r.lease_owner for r in records} == {"thief"}  # w1 released nothing of the thief's


async def test_a_held_in_doubt_delivery_is_parked_not_retried_at_once(store: AuditStore) -> None:
    """Provider cannot be asked and the policy holds: one reconcile, then the delivery is left
    alone (released, not re-run) until park_s has passed."""
    channel = ScriptChannel(
        channel_name="sms",
        targets=["+16175550001"],
        script={"+16175550001": ["accepted-then-ambiguous"]},
        reconcile_script={"+16175550001": ["cannot"]},
    )
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), in_doubt_policy="hold")
    plan = await dispatcher.plan(message(), [channel], approval=APPROVAL)
    worker = _worker(dispatcher, channel, "w1", park_s=60)
    assert await worker.run_once() == 1
    asked = len(channel.reconciled)
    assert await worker.run_once() == 0  # parked
    assert len(channel.reconciled) == asked and channel.sends() == 1
    [record] = await store.deliveries(plan.dispatch_id)
    assert record.state is DeliveryState.IN_DOUBT and record.lease_owner is None
    assert await _finished_events(store, plan.dispatch_id) == 0


async def test_in_doubt_deliveries_are_reconciled_before_pending_ones_are_sent(store: AuditStore) -> None:
    """After a takeover, the in-doubt delivery is asked about before any pending one is sent."""
    channel = ScriptChannel(
        channel_name="sms",
        targets=[f"+1617555{i:04d}" for i in range(5)],
        limits=ScriptChannel().limits.__class__(max_concurrency=1),
    )
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    plan = await dispatcher.plan(message(), [channel], approval=APPROVAL)
    last = plan.deliveries["sms"][-1]
    await store.append([dispatcher_event(plan.dispatch_id, last.key)])  # a dead worker's started attempt
    order: list[str] = []
    original = channel.reconcile

    async def reconcile(d: Any) -> Any:
        order.append(f"reconcile {d.target}")
        return await original(d)

    channel.reconcile = reconcile  # type: ignore[method-assign,assignment]
    channel.on_send = lambda d: order.append(f"send {d.target}")
    await _worker(dispatcher, channel, "w2").run_once()
    assert order[0] == f"reconcile {last.target}"
    assert len([o for o in order if o.startswith("send")]) == 5


def dispatcher_event(dispatch_id: str, key: str) -> Any:
    from crisiscast.audit.events import AuditEvent

    return AuditEvent(EventKind.ATTEMPT_STARTED, dispatch_id, {"attempt": 1}, delivery_key=key)


async def test_serve_without_a_worker_id_resumes_unfinished_dispatches_at_start(store: AuditStore) -> None:
    """A dispatch planned before a crash is sent when the server starts (no worker id)."""
    channel = ScriptChannel(channel_name="sms", targets=["+16175550001", "+16175550002"])
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    plan = await dispatcher.plan(message(), [channel], approval=APPROVAL)
    work = ServeWork(Settings(), Secrets(), dispatcher, build=_builder(channel))
    assert work.on_planned is None
    work.start()
    task = work._task
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), WAIT_S)
    await work.stop()
    assert channel.sends() == 2
    assert await _finished_events(store, plan.dispatch_id) == 1


async def test_serve_start_up_resume_leaves_dispatches_planned_after_it_looked(store: AuditStore) -> None:
    """A dispatch the intake plans once the site is open (after ``prepare``) belongs to the
    intake: the start-up resume sends only what was unfinished before, never that one too."""
    old = ScriptChannel(channel_name="sms", targets=["+16175550001"])
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    before = await dispatcher.plan(message(), [old], approval=APPROVAL)
    work = ServeWork(Settings(), Secrets(), dispatcher, build=_builder(old))
    await work.prepare()
    new = ScriptChannel(channel_name="sms", targets=["+16175550002"])
    after = await dispatcher.plan(message(), [new], approval=APPROVAL)  # the intake's, not resumed
    work.start()
    task = work._task
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), WAIT_S)
    await work.stop()
    assert [c.target for c in old.calls] == ["+16175550001"]
    assert new.sends() == 0
    assert {r.state for r in await store.deliveries(after.dispatch_id)} == {DeliveryState.PENDING}
    assert await _finished_events(store, before.dispatch_id) == 1


def test_finished_summary_counts_states_per_channel() -> None:
    """The summary has the dispatcher's shape and is ok only when everything was delivered."""
    assert finished_summary([]) == {"ok": True, "channels": {}, "finished_by": "workers"}


async def test_a_thread_part_whose_predecessor_was_in_an_earlier_batch_is_sent(store: AuditStore) -> None:
    """One part per batch: each part's predecessor was delivered by an earlier batch, so the part
    replies to its stored provider id instead of waiting for a gate no one will ever open."""
    channel = ScriptChannel(channel_name="twitter", targets=["@hospital"], parts=3)
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    plan = await dispatcher.plan(message(), [channel], approval=APPROVAL)
    worker = _worker(dispatcher, channel, "w1", batch=1)
    for _ in range(3):
        assert await asyncio.wait_for(worker.run_once(), WAIT_S) == 1
    assert [c.part for c in channel.calls] == [0, 1, 2]
    assert [c.previous for c in channel.calls] == [None, "p-1", "p-2"]
    records = await store.deliveries(plan.dispatch_id)
    assert {r.state for r in records} == {DeliveryState.DELIVERED}
    assert await _finished_events(store, plan.dispatch_id) == 1
