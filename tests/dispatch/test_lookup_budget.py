"""The attempt budget counts sends: a provider look-up (reconcile) that fails costs no attempt.

An in-doubt delivery is reconciled before it is sent again. When the look-up itself fails
(the provider's list endpoint answers 503), it is asked again after a back-off; those rounds
must not use up ``max_attempts``, or a provider with a flaky read endpoint would fail (or
hold in doubt) deliveries that were never sent more than once. The deadline still bounds
the look-ups.
"""

from __future__ import annotations

from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import Delivery, DeliveryState, Receipt
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Ambiguous, RateLimited, Transient
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


class _CircuitWatch(ScriptChannel):
    """Notes the account's circuit each time the provider is asked about a delivery."""

    limiter_registry: LimiterRegistry | None = None
    seen: list[tuple[str, float]] | None = None

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        assert self.limiter_registry is not None and self.seen is not None
        circuit = self.limiter_registry.get(self.account, self.limits).circuit
        self.seen.append((circuit.state.value, circuit._interval_s))  # the current probe interval
        return await super().reconcile(delivery)


async def test_lookups_report_the_providers_health_to_the_circuit(store: RecordingStore) -> None:
    """While the provider is down, a failed look-up counts as a failure for the account's circuit
    (the next probe waits a longer probe interval, as after a failed send) instead of letting the
    next probe go at once; a successful look-up closes the circuit again."""
    registry = LimiterRegistry(failure_threshold=1, probe_interval_s=0.001, max_probe_interval_s=1.0)
    ch = _CircuitWatch(
        script={"a": [Ambiguous("HTTP 503", code="20500", status=503), "ok"]},
        reconcile_script={"a": [_lookup_failed() for _ in range(3)] + ["ask"]},
        limits=ChannelLimits(max_concurrency=1, max_attempts=3),
    )
    ch.limiter_registry, ch.seen = registry, []
    dispatcher = Dispatcher(store, limiters=registry, backoff_base_s=0.001, backoff_cap_s=0.001)
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert report.channels["test"].delivered == 1
    assert [state for state, _ in ch.seen] == ["half_open"] * 4  # every look-up went as the probe
    assert [interval for _, interval in ch.seen] == [0.001, 0.002, 0.004, 0.008]  # failed probes back off
    assert registry.get(ch.account, ch.limits).circuit.closed


async def test_no_last_lookup_while_the_account_is_paused_by_a_429(store: RecordingStore) -> None:
    """The look-up answered 429 Retry-After 60 s and the deadline comes before the pause ends:
    the delivery is left in doubt without asking the provider again during the pause (the last
    look-up before giving up goes through the account's limiter like every other request)."""
    ch = ScriptChannel(
        script={"a": [Ambiguous("HTTP 503", code="20500", status=503)]},
        reconcile_script={"a": [RateLimited("too many requests", code="http_429", retry_after_s=60.0)]},
        limits=ChannelLimits(max_concurrency=1, max_attempts=3, deadline_s=5.0),
    )
    report = await _dispatcher(store).dispatch(message(), [ch], approval=APPROVAL)
    assert ch.sends() == 1
    assert len(ch.reconciled) == 1
    assert report.channels["test"].in_doubt == 1
    assert await store.state(ch.calls[0].key) is DeliveryState.IN_DOUBT
