"""Graceful shutdown: running dispatches finish within the grace period; what cannot finish is
left resumable in the audit store; alerts arriving during shutdown are held, never lost."""

from __future__ import annotations

import asyncio

from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher
from tests.server.helpers import FIRE, Harness, MemoryChannel


async def test_running_dispatch_finishes_during_the_grace_period(harness: Harness) -> None:
    """A dispatch still sending when shutdown starts completes if it can within the grace period,
    and an alert that arrives meanwhile is held as a draft instead of being dispatched."""
    harness.gate.clear()
    _, body = await harness.post_alert(FIRE, "before-shutdown")
    drain = asyncio.create_task(harness.ctx.runner.drain(10.0))
    status, late = await harness.post_alert(FIRE, "during-shutdown")
    assert status == 202 and late["state"] == "awaiting_approval" and "shutting down" in late["reason"]
    harness.gate.set()
    assert await asyncio.wait_for(drain, 15) == []
    records = await harness.store.deliveries(body["dispatch_id"])
    assert records and {r.state for r in records} == {DeliveryState.DELIVERED}
    assert await harness.store.deliveries(late["dispatch_id"]) == []


async def test_unfinished_dispatch_is_left_resumable(harness: Harness) -> None:
    """Deliveries that cannot finish within the grace period stay pending or in doubt, and a later
    resume delivers them."""
    harness.gate.clear()
    _, body = await harness.post_alert(FIRE, "stuck")
    dispatch_id = body["dispatch_id"]
    assert await harness.ctx.runner.drain(0.05) == [dispatch_id]
    records = await harness.store.deliveries(dispatch_id)
    assert records and all(not r.state.terminal for r in records)
    unfinished = {r.dispatch_id for r in await harness.store.dispatches(unfinished=True)}
    assert dispatch_id in unfinished
    channels = [
        MemoryChannel(channel_name="sms", targets=("+15550100001", "+15550100002")),
        MemoryChannel(channel_name="banner", targets=("main",)),
    ]
    report = await Dispatcher(harness.store, backoff_base_s=0.01).resume(dispatch_id, channels)
    assert report.ok
    assert {r.state for r in await harness.store.deliveries(dispatch_id)} == {DeliveryState.DELIVERED}
