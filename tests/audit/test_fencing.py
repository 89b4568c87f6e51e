"""Worker fencing: a stale worker's attempt is refused in the transaction that would record it.

Two stores on one database stand for two worker processes. The first worker's lease is made to
lapse (renewed to the past, no waiting), the second claims the delivery (a new epoch), and the
first then tries to record ``attempt_started``: refused with ``LeaseLost`` before any request
could leave, and nothing of it is recorded. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from crisiscast.audit.events import EventKind
from crisiscast.audit.fencing import LeaseLost
from crisiscast.delivery import DeliveryState

from .conftest import Backend
from .helpers import ev, plan


async def test_a_stale_worker_cannot_start_an_attempt_after_a_takeover(backend: Backend) -> None:
    """After w2 takes over a lapsed lease, w1's attempt_started is refused and unrecorded; w2's
    is recorded with its lease owner and a higher epoch."""
    w1, w2 = backend.make_store(), backend.make_store()
    await w1.open()
    await w2.open()
    try:
        events, deliveries = plan("f-1", 2)
        await w1.append(events)
        first = await w1.claim_deliveries("w1", lease_s=60)
        assert [r.delivery for r in first] == deliveries
        await w1.append([ev(EventKind.ATTEMPT_STARTED, deliveries[1], attempt=1)])  # w1 holds it: fine
        keys = [d.key for d in deliveries]
        await w1.renew_leases("w1", keys, -1)  # w1 stalls past its lease
        taken = await w2.claim_deliveries("w2", lease_s=60)
        assert [r.delivery for r in taken] == deliveries
        with pytest.raises(LeaseLost, match="no longer holds the lease"):
            await w1.append([ev(EventKind.ATTEMPT_STARTED, deliveries[0], attempt=1)])
        await w2.append([ev(EventKind.ATTEMPT_STARTED, deliveries[0], attempt=1)])
        started = [
            e.event async for e in w2.events("f-1") if e.event.kind is EventKind.ATTEMPT_STARTED
        ]
        state = {r.delivery.key: r.state for r in await w2.deliveries("f-1")}
    finally:
        await w1.close()
        await w2.close()
    assert [(e.delivery_key, e.data["lease"]["owner"]) for e in started] == [
        (deliveries[1].key, "w1"),
        (deliveries[0].key, "w2"),
    ]
    assert started[1].data["lease"]["epoch"] > started[0].data["lease"]["epoch"]
    assert state[deliveries[0].key] is DeliveryState.IN_DOUBT


async def test_a_refused_attempt_does_not_fail_others_in_the_same_group_commit(backend: Backend) -> None:
    """A fenced-out append fails alone: concurrent appends batched with it are recorded."""
    import asyncio

    w1, w2 = backend.make_store(), backend.make_store()
    await w1.open()
    await w2.open()
    try:
        events, deliveries = plan("f-2", 3)
        await w1.append(events)
        await w1.claim_deliveries("w1", lease_s=60)
        await w1.renew_leases("w1", [deliveries[0].key], -1)
        await w2.claim_deliveries("w2", limit=1, lease_s=60)  # takes deliveries[0] only
        results = await asyncio.gather(
            w1.append([ev(EventKind.ATTEMPT_STARTED, deliveries[0], attempt=1)]),
            w1.append([ev(EventKind.ATTEMPT_STARTED, deliveries[1], attempt=1)]),
            w1.append([ev(EventKind.ATTEMPT_STARTED, deliveries[2], attempt=1)]),
            return_exceptions=True,
        )
        started = {
            e.event.delivery_key async for e in w1.events("f-2") if e.event.kind is EventKind.ATTEMPT_STARTED
        }
    finally:
        await w1.close()
        await w2.close()
    assert isinstance(results[0], LeaseLost)
    assert list(results[1:]) == [None, None]
    assert started == {deliveries[1].key, deliveries[2].key}
