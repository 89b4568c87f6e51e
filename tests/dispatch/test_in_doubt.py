"""Ambiguous outcomes: never a blind resend; reconcile first; when that is impossible, the policy."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import Delivery, DeliveryState, Receipt
from crisiscast.dispatch import Dispatcher, may_resend_unreconciled
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Ambiguous, Duplicate, RateLimited, StoreError, Transient
from crisiscast.message import Severity, Status
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message
from tests.dispatch.recording import RecordingStore


def _dispatcher(store: RecordingStore, policy: str = "severe_resend") -> Dispatcher:
    return Dispatcher(
        store, limiters=LimiterRegistry(), in_doubt_policy=policy, backoff_base_s=0.001, backoff_cap_s=0.001
    )


async def test_ambiguous_then_found_by_reconcile_is_not_sent_again(store: RecordingStore) -> None:
    """The provider got it but the answer was lost: reconcile finds it → delivered, one request only."""
    ch = ScriptChannel(script={"a": ["accepted-then-ambiguous"]})
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1
    assert report.channels["test"].delivered == 1
    key = ch.calls[0].key
    assert store.kinds(key)[1:] == ["attempt_started", "attempt_failed", "delivery_reconciled"]
    reconciled = store.events_of(EventKind.DELIVERY_RECONCILED)[0].data
    assert reconciled["found"] is True and reconciled["provider_id"] == ch.delivered[key]
    assert await store.state(key) is DeliveryState.DELIVERED


async def test_ambiguous_and_not_found_is_sent_again_unflagged(store: RecordingStore) -> None:
    """The provider does not have it: sent again (a normal resend, not an ambiguous one)."""
    ch = ScriptChannel(script={"a": [Ambiguous("timed out", code="timeout"), "ok"]})
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 2 and report.channels["test"].delivered == 1
    assert store.events_of(EventKind.DELIVERY_RECONCILED)[0].data["found"] is False
    assert all("ambiguous_resend" not in e.data for e in store.events_of(EventKind.ATTEMPT_STARTED))


async def test_cannot_reconcile_severe_actual_is_resent_and_flagged(store: RecordingStore) -> None:
    """Provider cannot be asked, Actual + Severe, policy severe_resend → resent, flagged ambiguous_resend."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("timed out", code="timeout"), "ok"]}, reconcile_script={"a": ["cannot"]}
    )
    report = await _dispatcher(store).dispatch(message(severity=Severity.SEVERE), [ch], approval=APPROVAL)
    assert ch.sends() == 2 and report.channels["test"].delivered == 1
    started = store.events_of(EventKind.ATTEMPT_STARTED)
    assert "ambiguous_resend" not in started[0].data
    assert started[1].data["ambiguous_resend"] is True
    assert "cannot be asked" in started[1].data["reconcile_error"]


@pytest.mark.parametrize(
    ("policy", "status", "severity"),
    [
        ("severe_resend", Status.ACTUAL, Severity.MODERATE),
        ("severe_resend", Status.EXERCISE, Severity.EXTREME),
        ("hold", Status.ACTUAL, Severity.EXTREME),
    ],
)
async def test_cannot_reconcile_is_held_in_doubt(
    store: RecordingStore, policy: str, status: Status, severity: Severity
) -> None:
    """Provider cannot be asked and the policy says hold: one request only; the delivery stays in doubt."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("timed out", code="timeout")]}, reconcile_script={"a": ["cannot"]}
    )
    report = await _dispatcher(store, policy).dispatch(
        message(status=status, severity=severity), [ch], approval=APPROVAL
    )
    assert ch.sends() == 1
    assert report.channels["test"].in_doubt == 1 and not report.ok
    assert await store.state(ch.calls[0].key) is DeliveryState.IN_DOUBT


async def test_an_unreconcilable_delivery_is_resent_blindly_at_most_once(store: RecordingStore) -> None:
    """Ambiguous again after a flagged resend, still not reconcilable → held, not resent a third time."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("timed out", code="timeout")]}, reconcile_script={"a": ["cannot"]}
    )
    report = await _dispatcher(store, "resend").dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 2
    assert report.channels["test"].in_doubt == 1


def test_policy_table() -> None:
    """severe_resend resends only Actual Extreme/Severe; resend always; hold never."""
    assert may_resend_unreconciled("severe_resend", message(severity=Severity.EXTREME))
    assert not may_resend_unreconciled("severe_resend", message(severity=Severity.MINOR))
    assert not may_resend_unreconciled(
        "severe_resend", message(status=Status.TEST, severity=Severity.EXTREME)
    )
    assert may_resend_unreconciled("resend", message(severity=Severity.MINOR))
    assert not may_resend_unreconciled("hold", message(severity=Severity.EXTREME))


async def test_a_failing_reconcile_is_asked_again_not_resent(store: RecordingStore) -> None:
    """The provider's lookup answers 503 once: the dispatcher asks again after a back-off (no blind
    resend), finds the message, and never sends a second time."""
    ch = ScriptChannel(
        script={"a": ["accepted-then-ambiguous"]},
        reconcile_script={"a": [Transient("lookup busy", code="http_503"), "ask"]},
    )
    report = await _dispatcher(store, "resend").dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1 and len(ch.reconciled) == 2
    assert report.channels["test"].delivered == 1
    assert all("ambiguous_resend" not in e.data for e in store.events_of(EventKind.ATTEMPT_STARTED))


async def test_resumed_in_doubt_deliveries_are_reconciled_under_the_limiter(store: RecordingStore) -> None:
    """Reconcile questions are provider requests: with concurrency 1, never two at once."""
    active = 0
    peak = 0

    class Counting(ScriptChannel):
        async def reconcile(self, delivery: Delivery) -> Receipt | None:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0)
            active -= 1
            return await super().reconcile(delivery)

    dispatcher = _dispatcher(store)
    targets = ("a", "b", "c", "d")
    ch = Counting(targets=targets, limits=ChannelLimits(max_concurrency=1))
    plan = await dispatcher.plan(message(), [ch], approval=APPROVAL)
    await store.append(
        [
            AuditEvent(EventKind.ATTEMPT_STARTED, plan.dispatch_id, {"attempt": 1}, delivery_key=d.key)
            for d in plan.deliveries["test"]
        ]
    )
    report = await dispatcher.resume(plan.dispatch_id, [ch])
    assert report.channels["test"].delivered == 4
    assert len(ch.reconciled) == 4 and peak == 1


async def test_duplicate_after_an_in_doubt_attempt_is_delivered_id_unknown(store: RecordingStore) -> None:
    """Resent after an in-doubt attempt and the provider says duplicate: the earlier attempt arrived,
    so the delivery is delivered (provider id unknown, flagged), not failed."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("timed out", code="timeout"), Duplicate("duplicate text", code="duplicate")]},
        reconcile_script={"a": ["cannot"]},
    )
    report = await _dispatcher(store).dispatch(message(severity=Severity.SEVERE), [ch], approval=APPROVAL)
    assert ch.sends() == 2
    assert report.channels["test"].delivered == 1 and report.ok
    succeeded = store.events_of(EventKind.ATTEMPT_SUCCEEDED)[0].data
    assert succeeded["duplicate_of_earlier_attempt"] is True and succeeded["provider_id"] is None
    assert await store.state(ch.calls[0].key) is DeliveryState.DELIVERED


async def test_duplicate_on_a_first_attempt_is_a_permanent_failure(store: RecordingStore) -> None:
    """A duplicate with no earlier attempt means other content with the same words: failed, once."""
    ch = ScriptChannel(script={"a": [Duplicate("duplicate text", code="duplicate")]})
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1
    assert report.channels["test"].failed[0].code == "duplicate"
    assert await store.state(ch.calls[0].key) is DeliveryState.FAILED


async def test_duplicate_after_a_server_error_is_delivered_id_unknown(store: RecordingStore) -> None:
    """A 5xx may come after the provider stored the post; the retry's duplicate answer means it
    arrived: delivered (id unknown, flagged), two requests, not failed."""
    ch = ScriptChannel(
        script={"a": [Transient("X had a server error", code="http_503", status=503), Duplicate("dup")]}
    )
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 2 and report.channels["test"].delivered == 1
    assert store.events_of(EventKind.ATTEMPT_SUCCEEDED)[0].data["duplicate_of_earlier_attempt"] is True


async def test_duplicate_after_a_throttle_is_still_a_failure(store: RecordingStore) -> None:
    """A 429 was never processed, so a duplicate after it means other content: failed, code kept."""
    ch = ScriptChannel(
        script={
            "a": [
                RateLimited("throttled", code="rate_limited", status=429),
                Duplicate("dup", code="duplicate"),
            ]
        }
    )
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 2 and report.channels["test"].failed[0].code == "duplicate"


class _OutcomeLostStore(RecordingStore):
    """Fails the first ``attempt_succeeded`` write, as a lost database connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next_success = True

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if self.fail_next_success and events[0].kind is EventKind.ATTEMPT_SUCCEEDED:
            self.fail_next_success = False
            raise StoreError("Could not record audit events: the connection was lost.")
        await super().append(events)


async def test_an_outcome_the_store_could_not_record_leaves_the_delivery_in_doubt() -> None:
    """The provider accepted the request but recording the success failed: the delivery is not
    recorded failed (it did arrive); it stays in doubt, and a resume finds it without resending."""
    store = _OutcomeLostStore()
    await store.open()
    try:
        ch = ScriptChannel()
        report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
        key = ch.calls[0].key
        assert ch.sends() == 1
        assert report.channels["test"].failed == [] and report.channels["test"].in_doubt == 1
        assert "delivery_failed" not in store.kinds(key)
        assert await store.state(key) is DeliveryState.IN_DOUBT
        resumed = await _dispatcher(store).resume(report.dispatch_id, [ch])
        assert resumed.channels["test"].delivered == 1 and ch.sends() == 1
        assert await store.state(key) is DeliveryState.DELIVERED
    finally:
        await store.close()
