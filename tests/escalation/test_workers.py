"""Several escalation loops on one store (SQLite file, PostgreSQL): each step runs exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from crisiscast.audit.events import EventKind
from tests.audit.conftest import Backend
from tests.escalation.conftest import Channels, Clock, World, polled_message
from tests.server.helpers import make_secrets, make_settings

LOOPS = 4


async def test_a_step_claim_is_held_by_one_owner_until_it_lapses(backend: Backend) -> None:
    a, b = backend.make_store(), backend.make_store()
    await a.open()
    await b.open()
    try:
        assert await a.claim_step("escalation:d:1", "w1", lease_s=60)
        assert not await b.claim_step("escalation:d:1", "w2", lease_s=60)
        assert await a.claim_step("escalation:d:1", "w1", lease_s=60)  # its own claim, renewed
        assert await b.claim_step("escalation:d:2", "w2", lease_s=-1)  # another step; already lapsed
        assert await a.claim_step("escalation:d:2", "w1", lease_s=60)  # a dead owner's claim moves on
    finally:
        await a.close()
        await b.close()


async def test_competing_loops_plan_each_step_once(backend: Backend, tmp_path: Path) -> None:
    stores = [backend.make_store() for _ in range(LOOPS)]
    for store in stores:
        await store.open()
    try:
        w = World(stores[0], make_settings(tmp_path), make_secrets(), Clock(), Channels())
        await w.send(polled_message(), "d-race")
        loops = [w.loop(f"w{n}", store=store, send=False) for n, store in enumerate(stores)]
        for minutes in (10, 10, 10, 10):  # every loop ticks at 10, 20, 30 and 40 min, all at once
            w.clock.advance(minutes=minutes)
            await asyncio.gather(*(loop.tick() for loop in loops))
        steps = await w.kinds("d-race", EventKind.ESCALATION_STEP)
        assert sorted(int(str(s["step"])) for s in steps) == [1, 2, 3]
        planned = Counter(
            [
                e.event.delivery_key
                async for e in stores[0].events("d-race")
                if e.event.kind is EventKind.DELIVERY_PLANNED
            ]
        )
        assert planned and max(planned.values()) == 1  # no delivery planned twice
        assert len(planned) == 3 + 3 + 3 + 1  # the original, the resend, the call, one supervisor's notice
    finally:
        for store in stores:
            await store.close()


async def test_with_lease_workers_the_timer_plans_and_a_worker_sends(
    backend: Backend, tmp_path: Path
) -> None:
    from crisiscast.dispatch import Dispatcher
    from crisiscast.dispatch.workers import LeaseWorker

    store = backend.make_store()
    await store.open()
    try:
        w = World(store, make_settings(tmp_path), make_secrets(), Clock(), Channels())
        await w.send(polled_message(), "d-leased")
        woken: list[str] = []
        w.clock.advance(minutes=20)
        outcomes = await w.loop(send=False, on_planned=woken.append).tick()
        assert [o.step for o in outcomes] == [1, 2] and woken == ["d-leased", "d-leased"]
        assert w.channels.sent("voice") == []  # planned only
        worker = LeaseWorker(w.settings, w.secrets, Dispatcher(store), worker_id="w1", build=w.channels.build)
        assert await worker.run_once() == 6  # the resends and the calls, claimed with leases
        assert await worker.run_once() == 0
        escalated = [d for d in w.channels.sent("sms") + w.channels.sent("voice") if d.part > 100]
        assert sorted((d.channel, d.part) for d in escalated) == [("sms", 101)] * 3 + [("voice", 102)] * 3
    finally:
        await store.close()
