"""Cancel stops a running dispatch at once; an expired message is never sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch import Dispatcher, Plan
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Transient, UserError
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message
from tests.dispatch.recording import RecordingStore


async def test_cancel_wakes_deliveries_sleeping_in_back_off(store: RecordingStore) -> None:
    """Ten deliveries wait in a 60 s Retry-After back-off; cancel ends them at once, all cancelled,
    with no further request."""
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    targets = tuple(f"t{i}" for i in range(10))
    ch = ScriptChannel(targets=targets, script={t: [Transient("busy", retry_after_s=60)] for t in targets})
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    running = asyncio.create_task(dispatcher.run(plan))
    await store.wait_until(lambda: len(store.events_of(EventKind.ATTEMPT_FAILED)) == 10)
    await dispatcher.cancel(plan.dispatch_id, who="ic", reason="sent by mistake")
    report = await asyncio.wait_for(running, 5)
    assert ch.sends() == 10
    assert report.channels["test"].cancelled == 10
    for d in plan.deliveries["test"]:
        assert await store.state(d.key) is DeliveryState.CANCELLED
    assert store.events_of(EventKind.DELIVERY_CANCELLED)[0].data["reason"] == "sent by mistake"
    record = await store.dispatch(plan.dispatch_id)
    assert record is not None and record.state == "cancelled"


async def test_cancel_stops_queued_and_limiter_waiting_deliveries(store: RecordingStore) -> None:
    """With one request in flight (concurrency 1) and 49 queued or waiting on the limiter, cancel lets
    the in-flight one finish and record its outcome; no other request starts."""
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    release = asyncio.Event()
    in_flight = asyncio.Event()

    async def hold(_: Delivery) -> None:
        in_flight.set()
        await release.wait()

    targets = tuple(f"t{i}" for i in range(50))
    ch = ScriptChannel(targets=targets, limits=ChannelLimits(max_concurrency=1), on_send=hold)
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    running = asyncio.create_task(dispatcher.run(plan))
    await asyncio.wait_for(in_flight.wait(), 5)
    await dispatcher.cancel(plan.dispatch_id, who="ic", reason="wrong building")
    release.set()
    report = await asyncio.wait_for(running, 5)
    assert ch.sends() == 1
    r = report.channels["test"]
    assert (r.delivered, r.cancelled) == (1, 49)


async def test_cancel_recorded_by_another_process_is_noticed(store: RecordingStore) -> None:
    """A cancel appended to the store directly (as another process's CLI would) stops the run
    through the store poll."""
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    targets = tuple(f"t{i}" for i in range(5))
    ch = ScriptChannel(targets=targets, script={t: [Transient("busy", retry_after_s=60)] for t in targets})
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    running = asyncio.create_task(dispatcher.run(plan))
    await store.wait_until(lambda: len(store.events_of(EventKind.ATTEMPT_FAILED)) == 5)
    await store.append(
        [
            AuditEvent(
                EventKind.DISPATCH_CANCEL_REQUESTED, plan.dispatch_id, {"who": "bob", "reason": "drill over"}
            )
        ]
    )
    report = await asyncio.wait_for(running, 5)
    assert report.channels["test"].cancelled == 5 and ch.sends() == 5


async def test_an_expired_message_is_never_sent(store: RecordingStore, dispatcher: Dispatcher) -> None:
    """A message whose expiry has passed: no request at all, every delivery failed with code 'expired'."""
    sent = datetime.now(UTC) - timedelta(minutes=10)
    ch = ScriptChannel(targets=("a", "b", "c"))
    report = await dispatcher.dispatch(message(sent=sent, expires_in_s=60), [ch], approval=APPROVAL)
    assert ch.sends() == 0
    assert [f.code for f in report.channels["test"].failed] == ["expired"] * 3
    assert [e.data["code"] for e in store.events_of(EventKind.DELIVERY_FAILED)] == ["expired"] * 3


async def test_retries_stop_at_expiry(store: RecordingStore, dispatcher: Dispatcher) -> None:
    """An always-failing target with many attempts allowed stops retrying when the message expires."""
    ch = ScriptChannel(
        limits=ChannelLimits(max_attempts=10_000),
        script={"a": [Transient("busy", code="http_503", retry_after_s=0.05)]},
    )
    msg = message(expires_in_s=0.4)
    report = await dispatcher.dispatch(msg, [ch], approval=APPROVAL)
    failure = report.channels["test"].failed[0]
    assert failure.code == "expired"
    assert 1 <= ch.sends() < 10_000
    assert msg.expires is not None
    assert all(e.at < msg.expires for e in store.events_of(EventKind.ATTEMPT_STARTED))


async def test_cancelling_an_unknown_dispatch_is_a_plain_error(dispatcher: Dispatcher) -> None:
    """A mistyped id is refused with a sentence naming it; nothing is recorded."""
    with pytest.raises(UserError, match="no dispatch 2026-nope"):
        await dispatcher.cancel("2026-nope", who="ic", reason="typo")


async def test_cancel_stops_every_run_of_the_dispatch_in_this_process_at_once(
    store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one dispatch at once in one process (a worker's two leased batches): cancel
    stops both at once, not only the run that registered last (the store poll is switched off,
    so nothing but the in-process signal can stop them)."""
    import crisiscast.dispatch.dispatcher as dispatcher_module

    monkeypatch.setattr(dispatcher_module, "CANCEL_POLL_S", 3600.0)
    dispatcher = Dispatcher(store, limiters=LimiterRegistry())
    in_flight = asyncio.Event()
    release = asyncio.Event()

    async def hold(_d: Delivery) -> None:
        if len(ch.calls) == 2:
            in_flight.set()
        await release.wait()

    ch = ScriptChannel(
        targets=tuple(f"t{i}" for i in range(6)),
        limits=ChannelLimits(max_concurrency=2),
        on_send=hold,
    )
    planned = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    batches = [planned.deliveries["test"][:3], planned.deliveries["test"][3:]]
    runs = [
        asyncio.create_task(
            dispatcher.run(
                Plan(planned.dispatch_id, planned.message, {"test": ch}, {"test": batch}),
                record_finish=False,
            )
        )
        for batch in batches
    ]
    await asyncio.wait_for(in_flight.wait(), 5)  # the account's two slots are on the wire
    await dispatcher.cancel(planned.dispatch_id, who="ic", reason="sent by mistake")
    release.set()
    reports = await asyncio.wait_for(asyncio.gather(*runs), 5)
    assert ch.sends() == 2  # only the requests already on the wire
    assert sum(r.channels["test"].cancelled for r in reports) == 4
    assert sum(r.channels["test"].delivered for r in reports) == 2
