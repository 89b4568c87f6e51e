"""Resume after a crash: pending sent, in-doubt reconciled first, terminal untouched, chains continue."""

from __future__ import annotations

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher, unfinished_dispatches
from crisiscast.errors import UserError
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message
from tests.dispatch.recording import RecordingStore


def _ev(kind: EventKind, dispatch_id: str, key: str, **data: object) -> AuditEvent:
    return AuditEvent(kind, dispatch_id, data, delivery_key=key)


async def test_resume_sends_pending_reconciles_in_doubt_and_skips_terminal(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """State after a crash: a delivered, b in doubt (provider has it), c in doubt (provider lacks it),
    d pending. Resume sends only c and d; every delivery ends delivered."""
    ch = ScriptChannel(targets=("a", "b", "c", "d"))
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    a, b, c, d = (x.key for x in plan.deliveries["test"])
    did = plan.dispatch_id
    await store.append(
        [
            _ev(EventKind.ATTEMPT_STARTED, did, a, attempt=1),
            _ev(EventKind.ATTEMPT_SUCCEEDED, did, a, attempt=1, provider_id="p-a", latency_ms=3.0),
            _ev(EventKind.ATTEMPT_STARTED, did, b, attempt=1),
            _ev(EventKind.ATTEMPT_STARTED, did, c, attempt=1),
        ]
    )
    ch.delivered[b] = "p-b"  # the provider accepted b before the crash
    assert [r.dispatch_id for r in await unfinished_dispatches(store)] == [did]

    fresh = ScriptChannel(targets=("a", "b", "c", "d"), delivered=dict(ch.delivered))
    report = await dispatcher.resume(did, [fresh])

    assert sorted(call.target for call in fresh.calls) == ["c", "d"]
    assert sorted(fresh.reconciled) == [b, c]
    r = report.channels["test"]
    assert (r.planned, r.delivered) == (4, 4) and report.ok
    assert "p-a" in r.provider_ids and "p-b" in r.provider_ids
    for key in (a, b, c, d):
        assert await store.state(key) is DeliveryState.DELIVERED
    assert await unfinished_dispatches(store) == []


async def test_resume_continues_a_thread_from_the_last_delivered_part(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """Part 0 of a thread was delivered before the crash: resume sends parts 1 and 2 only, part 1
    replying to part 0's stored provider id."""
    ch = ScriptChannel(channel_name="twitter", parts=3)
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    p0, p1, p2 = (x.key for x in plan.deliveries["twitter"])
    await store.append(
        [
            _ev(EventKind.ATTEMPT_STARTED, plan.dispatch_id, p0, attempt=1),
            _ev(
                EventKind.ATTEMPT_SUCCEEDED,
                plan.dispatch_id,
                p0,
                attempt=1,
                provider_id="tw-0",
                latency_ms=1.0,
            ),
        ]
    )
    fresh = ScriptChannel(channel_name="twitter", parts=3)
    report = await dispatcher.resume(plan.dispatch_id, [fresh])
    assert [(c.key, c.previous) for c in fresh.calls] == [(p1, "tw-0"), (p2, fresh.delivered[p1])]
    assert report.channels["twitter"].delivered == 3


async def test_resume_of_a_cancelled_dispatch_sends_nothing(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """A dispatch cancelled while its process was down: resume marks pending deliveries cancelled."""
    ch = ScriptChannel(targets=("a", "b"))
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    await dispatcher.cancel(plan.dispatch_id, who="ic", reason="false alarm")
    fresh = ScriptChannel(targets=("a", "b"))
    report = await dispatcher.resume(plan.dispatch_id, [fresh])
    assert fresh.sends() == 0
    assert report.channels["test"].cancelled == 2
    assert [e.data["reason"] for e in store.events_of(EventKind.DELIVERY_CANCELLED)] == ["false alarm"] * 2


async def test_resume_leaves_channels_it_was_not_given(store: RecordingStore, dispatcher: Dispatcher) -> None:
    """Resuming with only some channels sends those; the others stay pending and are reported."""
    sms, banner = ScriptChannel(channel_name="sms", targets=("a",)), ScriptChannel(channel_name="banner")
    plan = await dispatcher.plan(message(), [sms, banner], approval=APPROVAL)
    fresh_banner = ScriptChannel(channel_name="banner")
    report = await dispatcher.resume(plan.dispatch_id, [fresh_banner])
    assert fresh_banner.sends() == 1
    assert report.channels["sms"].delivered == 0 and "not available" in report.channels["sms"].note
    assert await store.state(plan.deliveries["sms"][0].key) is DeliveryState.PENDING


async def test_resume_of_an_unknown_dispatch_is_a_plain_error(dispatcher: Dispatcher) -> None:
    """An id that is not in the store → UserError naming it."""
    with pytest.raises(UserError, match="no dispatch nope"):
        await dispatcher.resume("nope", [])


class _CannotStart(ScriptChannel):
    async def start(self) -> None:
        raise ConnectionError("the broker refused the connection")


async def test_a_channel_that_cannot_start_on_resume_leaves_in_doubt_deliveries_in_doubt(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """The channel cannot start when the dispatch is resumed: its pending delivery fails with the
    reason, but the in-doubt one (the provider may have it) is not recorded failed; it stays in
    doubt for a later resume to reconcile."""
    ch = ScriptChannel(targets=("a", "b"))
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    a, b = (x.key for x in plan.deliveries["test"])
    await store.append([_ev(EventKind.ATTEMPT_STARTED, plan.dispatch_id, a, attempt=1)])
    report = await dispatcher.resume(plan.dispatch_id, [_CannotStart(targets=("a", "b"))])
    assert [f.key for f in report.channels["test"].failed] == [b]
    assert report.channels["test"].in_doubt == 1
    assert await store.state(a) is DeliveryState.IN_DOUBT
    assert "delivery_failed" not in store.kinds(a)
    assert await store.state(b) is DeliveryState.FAILED
