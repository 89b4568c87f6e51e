"""The attempt budget counts sends: a provider look-up (reconcile) that fails costs no attempt.

An in-doubt delivery is reconciled before it is sent again. When the look-up itself fails
(the provider's list endpoint answers 503), it is asked again after a back-off; those rounds
must not use up ``max_attempts``, or a provider with a flaky read endpoint would fail (or
hold in doubt) deliveries that were never sent more than once. The deadline still bounds
the look-ups.
"""

from __future__ import annotations

from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.errors import Ambiguous, Transient
from crisiscast.limiter import LimiterRegistry
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message
from tests.dispatch.recording import RecordingStore


def _dispatcher(store: RecordingStore) -> Dispatcher:
    return Dispatcher(store, limiters=LimiterRegistry(), backoff_base_s=0.001, backoff_cap_s=0.001)


def _lookup_failed() -> Transient:
    return Transient("the message list could not be read", code="http_503", status=503)


async def test_failed_lookups_do_not_use_up_the_attempts(store: RecordingStore) -> None:
    """max_attempts 3: one ambiguous send, then four failed look-ups, then a look-up that finds
    nothing: the message is sent again and delivered (2 sends, 6 look-ups)."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("HTTP 503", code="20500", status=503), "ok"]},
        reconcile_script={"a": [_lookup_failed() for _ in range(4)] + ["ask"]},
        limits=ChannelLimits(max_concurrency=1, max_attempts=3),
    )
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert report.channels["test"].delivered == 1, report.to_json()
    assert ch.sends() == 2
    assert len(ch.reconciled) == 5
    key = ch.calls[0].key
    assert await store.state(key) is DeliveryState.DELIVERED


async def test_sends_are_still_bounded_by_max_attempts(store: RecordingStore) -> None:
    """Every send ambiguous, every look-up finds nothing: exactly max_attempts sends, then failed."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("HTTP 503", code="20500", status=503)]},
        limits=ChannelLimits(max_concurrency=1, max_attempts=3),
    )
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 3
    assert report.channels["test"].delivered == 0 and len(report.channels["test"].failed) == 1


async def test_lookups_that_never_succeed_end_at_the_deadline(store: RecordingStore) -> None:
    """The look-up always fails: asked again until the channel's deadline, never sent twice, and
    left in doubt (the provider may have it) rather than failed or resent blindly."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("HTTP 503", code="20500", status=503)]},
        reconcile_script={"a": [_lookup_failed()]},
        limits=ChannelLimits(max_concurrency=1, max_attempts=3, deadline_s=0.2),
    )
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1
    assert len(ch.reconciled) > 3
    assert report.channels["test"].in_doubt == 1
    assert await store.state(ch.calls[0].key) is DeliveryState.IN_DOUBT
