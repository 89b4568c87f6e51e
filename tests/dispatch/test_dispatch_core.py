"""Dispatcher core: plan before send, isolation, the retry stage, chains, report."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import Delivery, DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Permanent, PolicyError, RateLimited, StoreError, Transient
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message
from tests.dispatch.recording import RecordingStore


async def test_plan_and_approval_are_stored_before_the_first_send(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """When the first provider request happens, the whole plan and the approval are already stored,
    and so is that delivery's attempt_started."""
    seen: list[list[str]] = []

    def on_send(d: Delivery) -> None:
        if not seen:
            seen.append(store.kinds())
            assert store.kinds(d.key)[-1] == "attempt_started"

    sms = ScriptChannel(channel_name="sms", targets=("a", "b", "c"), on_send=on_send)
    report = await dispatcher.dispatch(message(), [sms], approval=APPROVAL)
    assert report.ok
    first = seen[0]
    assert first[:2] == ["dispatch_planned", "approval_recorded"]
    assert first.count("delivery_planned") == 3
    plan_append = store.log[0]
    assert plan_append.kind is EventKind.DISPATCH_PLANNED
    assert plan_append.data["counts"] == {"sms": 3}
    assert plan_append.data["approval"] == APPROVAL


async def test_plan_is_one_append(store: RecordingStore, dispatcher: Dispatcher) -> None:
    """plan() writes the plan, the approval, skips and every delivery in exactly one store.append."""
    chans = [ScriptChannel(channel_name="sms", targets=("a", "b")), ScriptChannel(channel_name="banner")]
    await dispatcher.plan(message(), chans, approval=APPROVAL, skipped=[("mqtt", "disabled in config")])
    assert store.appends == 1
    assert store.kinds() == [
        "dispatch_planned",
        "approval_recorded",
        "channel_skipped",
        "delivery_planned",
        "delivery_planned",
        "delivery_planned",
    ]


async def test_a_crashing_channel_leaves_the_others_delivered(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """A channel whose send raises RuntimeError (a bug) fails only its own deliveries."""
    broken = ScriptChannel(
        channel_name="broken",
        targets=("x", "y"),
        script={"x": [RuntimeError("boom")], "y": [RuntimeError("boom")]},
    )
    good = ScriptChannel(channel_name="good", targets=("a", "b", "c"))
    report = await dispatcher.dispatch(message(), [broken, good], approval=APPROVAL)
    assert report.channels["good"].delivered == 3
    assert report.channels["good"].ok
    assert [f.code for f in report.channels["broken"].failed] == ["internal_error", "internal_error"]
    assert broken.sends() == 2  # one attempt each: a bug is not retried
    assert not report.ok


async def test_a_channel_that_cannot_render_is_a_failure_not_a_stop(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """render raising PolicyError records the channel as failed with the reason; others still go."""
    refused = ScriptChannel(
        channel_name="twitter", render_error=PolicyError("The message is too long for X.")
    )
    good = ScriptChannel(channel_name="banner")
    report = await dispatcher.dispatch(message(), [refused, good], approval=APPROVAL)
    assert report.channels["banner"].delivered == 1
    tw = report.channels["twitter"]
    assert tw.failed[0].code == "policy" and "too long" in tw.failed[0].reason
    assert not report.ok
    skipped = store.events_of(EventKind.CHANNEL_SKIPPED)
    assert skipped[0].data["channel"] == "twitter" and skipped[0].data["render_failed"] is True


async def test_transient_then_success(store: RecordingStore, dispatcher: Dispatcher) -> None:
    """Two 503s then success: three attempts, delivered, both failures recorded with their code."""
    ch = ScriptChannel(
        script={"a": [Transient("busy", code="http_503"), Transient("busy", code="http_503"), "ok"]}
    )
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    r = report.channels["test"]
    assert r.delivered == 1 and r.attempts == 3
    key = ch.calls[0].key
    assert store.kinds(key) == [
        "delivery_planned",
        "attempt_started",
        "attempt_failed",
        "attempt_started",
        "attempt_failed",
        "attempt_started",
        "attempt_succeeded",
    ]
    assert await store.state(key) is DeliveryState.DELIVERED
    succeeded = store.events_of(EventKind.ATTEMPT_SUCCEEDED)[0].data
    assert succeeded["provider_id"] == r.provider_ids[0] and succeeded["attempt"] == 3
    assert "latency_ms" in succeeded


async def test_permanent_error_is_attempted_exactly_once(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """A permanent error (e.g. Twilio 21610, opted out) → exactly one attempt, failed with the code."""
    ch = ScriptChannel(script={"a": [Permanent("recipient opted out", code="21610")]})
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1
    failure = report.channels["test"].failed[0]
    assert (failure.code, failure.reason) == ("21610", "recipient opted out")
    assert await store.state(ch.calls[0].key) is DeliveryState.FAILED
    assert store.kinds(ch.calls[0].key)[-2:] == ["attempt_failed", "delivery_failed"]


async def test_retries_stop_at_max_attempts(store: RecordingStore, dispatcher: Dispatcher) -> None:
    """A target that always fails transiently gets exactly max_attempts attempts, then delivery_failed."""
    ch = ScriptChannel(
        script={"a": [Transient("busy", code="http_503")]}, limits=ChannelLimits(max_attempts=3)
    )
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 3
    failure = report.channels["test"].failed[0]
    assert failure.code == "http_503" and "after 3 attempts" in failure.reason


async def test_rate_limited_pauses_the_account_and_waits_retry_after(store: RecordingStore) -> None:
    """A 429 with Retry-After 0.2 s: the retry of that target starts no sooner than 0.2 s later,
    and neither does any other request to the same account."""
    dispatcher = Dispatcher(
        store,
        backoff_base_s=0.001,
        backoff_cap_s=0.001,
        limiters=LimiterRegistry(),
    )
    ch = ScriptChannel(
        targets=("a", "b"),
        limits=ChannelLimits(max_concurrency=1),
        script={"a": [RateLimited("slow down", code="http_429", retry_after_s=0.2), "ok"]},
    )
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert report.ok
    first, *later = ch.calls
    assert first.target == "a"
    assert all(c.at_s - first.at_s >= 0.2 - 1e-3 for c in later)
    failed = store.events_of(EventKind.ATTEMPT_FAILED)[0].data
    assert failed["error"] == "rate_limited" and failed["retry_after_s"] == 0.2


async def test_channel_deadline_stops_retries(store: RecordingStore) -> None:
    """With a 0.05 s channel deadline and a 0.2 s Retry-After, no second attempt is made."""
    dispatcher = Dispatcher(store, limiters=LimiterRegistry(), backoff_base_s=0.001, backoff_cap_s=0.001)
    ch = ScriptChannel(
        limits=ChannelLimits(deadline_s=0.05),
        script={"a": [Transient("busy", code="http_503", retry_after_s=0.2)]},
    )
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1
    failure = report.channels["test"].failed[0]
    assert failure.code == "http_503" and "deadline" in failure.reason


async def test_thread_parts_go_in_order_with_the_previous_receipt(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """Part n is sent only after part n-1 was delivered, and receives its provider id."""
    ch = ScriptChannel(channel_name="twitter", parts=3, script={"a": [Transient("busy"), "ok"]})
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert report.channels["twitter"].delivered == 3
    assert [c.part for c in ch.calls] == [0, 0, 1, 2]  # part 0 failed once, was retried, then 1, 2
    ok_calls = ch.calls[1:]
    assert ok_calls[1].previous == ch.delivered[ok_calls[0].key]
    assert ok_calls[2].previous == ch.delivered[ok_calls[1].key]


async def test_a_failed_thread_part_fails_the_parts_after_it(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """When part 0 fails permanently, parts 1 and 2 are never sent and fail 'previous part failed'."""
    ch = ScriptChannel(channel_name="twitter", parts=3, script={"a": [Permanent("duplicate", code="187")]})
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1
    codes = [(f.code, f.reason) for f in report.channels["twitter"].failed]
    assert codes[0] == ("187", "duplicate")
    assert codes[1:] == [("previous_failed", "previous part failed")] * 2


async def test_progress_reports_attempts_retries_and_final_states(
    store: RecordingStore, dispatcher: Dispatcher
) -> None:
    """The progress callback sees in_doubt at each attempt, pending before a retry, then the final state."""
    seen: dict[str, list[DeliveryState]] = {}
    ch = ScriptChannel(
        targets=("a", "b"),
        script={"a": [Transient("busy"), "ok"], "b": [Permanent("bad number", code="21211")]},
    )
    await dispatcher.dispatch(
        message(),
        [ch],
        approval=APPROVAL,
        progress=lambda channel, key, state: seen.setdefault(key.split(":")[2], []).append(state),
    )
    D = DeliveryState
    assert seen["a"] == [D.IN_DOUBT, D.PENDING, D.IN_DOUBT, D.DELIVERED]
    assert seen["b"] == [D.IN_DOUBT, D.FAILED]


async def test_report_and_finished_event(store: RecordingStore, dispatcher: Dispatcher) -> None:
    """The report counts per channel; dispatch_finished records the same counts; channels are started
    and closed once."""
    ch = ScriptChannel(targets=("a", "b"))
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL, skipped=[("mqtt", "disabled")])
    assert report.channels["mqtt"].note == "disabled"
    assert report.channels["test"].to_json()["delivered"] == 2
    finished = store.events_of(EventKind.DISPATCH_FINISHED)[0].data
    assert finished["channels"]["test"]["delivered"] == 2 and finished["ok"] is True
    assert (ch.started, ch.closed) == (1, 1)


class _FailingStore(RecordingStore):
    """The audit store accepts the plan, then every later write fails (disk full, database gone)."""

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if self.appends >= 1:
            raise StoreError("The audit store cannot be written.")
        await super().append(events)


async def test_nothing_is_sent_when_the_attempt_cannot_be_audited() -> None:
    """If attempt_started cannot be recorded, the request is never made; the run still ends with a report."""
    store = _FailingStore()
    await store.open()
    try:
        dispatcher = Dispatcher(store, limiters=LimiterRegistry())
        ch = ScriptChannel(targets=("a", "b"))
        plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
        with pytest.raises(StoreError):
            await dispatcher.run(plan)  # the final dispatch_finished cannot be written either
        assert ch.sends() == 0
    finally:
        await store.close()
