"""The per-account circuit breaker: a provider outage costs probes, not every delivery's attempts."""

from __future__ import annotations

from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import Delivery
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.circuit import Circuit, CircuitState
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.errors import Permanent, Transient
from tests.dispatch.helpers import APPROVAL, ScriptChannel, message
from tests.dispatch.recording import RecordingStore


def test_opens_after_threshold_consecutive_failures() -> None:
    """Threshold-1 failures keep it closed; a success resets the count; the threshold-th opens it."""
    c = Circuit(failure_threshold=3, probe_interval_s=1.0)
    c.failure(0.0)
    c.failure(0.0)
    c.success()
    c.failure(0.0)
    c.failure(0.0)
    assert c.closed
    assert c.failure(0.0) is True
    assert c.state is CircuitState.OPEN and c.next_probe_at == 1.0


def test_one_probe_at_a_time_and_back_off_while_probes_fail() -> None:
    """Open: no probe before next_probe_at; then exactly one; a failed probe doubles the interval
    (capped); a successful one closes the circuit."""
    c = Circuit(failure_threshold=1, probe_interval_s=1.0, max_probe_interval_s=3.0)
    c.failure(0.0)
    assert not c.try_probe(0.5)
    assert c.try_probe(1.0)
    assert not c.try_probe(1.0)  # half-open: the probe is in flight
    c.failure(1.1)
    assert c.next_probe_at == 3.1
    assert c.try_probe(3.1)
    c.failure(3.2)
    assert c.next_probe_at == 6.2  # capped at 3 s
    assert c.try_probe(6.2)
    assert c.success() is True and c.closed


def test_an_abandoned_probe_lets_another_go_at_once() -> None:
    """A probe that ended without an answer (cancelled, deadline) re-opens with an immediate probe."""
    c = Circuit(failure_threshold=1)
    c.failure(0.0)
    assert c.try_probe(5.0)
    assert c.probe_abandoned(6.0)
    assert c.try_probe(6.0)


def test_a_permanent_answer_counts_as_a_healthy_provider() -> None:
    """Permanent errors are answers: via the limiter they reset the consecutive-failure count."""
    c = Circuit(failure_threshold=2)
    c.failure(0.0)
    c.success()
    c.failure(0.0)
    assert c.closed


async def test_provider_outage_costs_probes_not_attempts(store: RecordingStore) -> None:
    """The provider refuses connections until three probes have failed, then recovers. Every one of
    200 targets is delivered (none runs out of its 5 attempts), with at most 1.25 requests per target."""
    registry = LimiterRegistry(failure_threshold=10, probe_interval_s=0.005, max_probe_interval_s=0.01)
    dispatcher = Dispatcher(store, limiters=registry, backoff_base_s=0.001, backoff_cap_s=0.002)
    targets = tuple(f"+1555{i:07d}" for i in range(200))
    limits = ChannelLimits(max_concurrency=10, max_attempts=5)
    state = {"up": False, "probes": 0}

    def provider(d: Delivery) -> object:
        if state["up"]:
            return "ok"
        circuit = registry.get("sms:acct", limits).circuit
        if circuit.state is CircuitState.HALF_OPEN:
            state["probes"] += 1
            if state["probes"] >= 3:
                state["up"] = True  # recovers after the third failed probe
        return Transient("connection refused", code="connect")

    ch = ScriptChannel(channel_name="sms", targets=targets, limits=limits, account="sms:acct")
    ch.script = {t: [provider] for t in targets}
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert report.channels["sms"].delivered == 200 and report.ok
    assert state["probes"] == 3
    print(f"outage: {ch.sends()} requests for 200 targets, {state['probes']} probes")
    assert ch.sends() <= 200 * 1.25


async def test_permanent_errors_never_open_the_circuit(store: RecordingStore) -> None:
    """A run of permanent refusals (bad numbers) is not an outage: the next targets go normally."""
    registry = LimiterRegistry(failure_threshold=3)
    dispatcher = Dispatcher(store, limiters=registry, backoff_base_s=0.001, backoff_cap_s=0.002)
    targets = tuple(f"t{i}" for i in range(10))
    script = {t: [Permanent("invalid number", code="21211")] for t in targets[:6]}
    ch = ScriptChannel(targets=targets, script=script, limits=ChannelLimits(max_concurrency=1))
    report = await dispatcher.dispatch(message(), [ch], approval=APPROVAL)
    assert report.channels["test"].delivered == 4 and ch.sends() == 10
    assert registry.get(ch.account, ch.limits).circuit.closed
