"""End to end: a provider outage and its recovery (R4), and no attempt after the deadline (R5).

The outage is scripted on the fake's fault plan: every request answers 503 until the N-th
request has arrived, then the provider is healthy again. Nothing waits on a clock: the
recovery is triggered by a request arriving, and the test waits for the dispatch to end.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisiscast.audit.events import EventKind
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch.circuit import CircuitState
from crisiscast.dispatch.limiter import LimiterRegistry
from crisiscast.message import CrisisMessage
from crisiscast.sandbox.common import RecordedRequest

from .ledger import check_ledger, read_audit
from .stage import hook, open_stage

TARGETS = 100
OUTAGE_REQUESTS = 60  # the provider is down until this many requests have arrived


def sms_alert(**extra: object) -> CrisisMessage:
    data: dict[str, object] = {
        "status": "Actual",
        "msg_type": "Alert",
        "severity": "Moderate",
        "event": "Water outage",
        "headline": "Water outage in Building D",
        "instruction": "Use bottled water until further notice.",
        "audiences": ["all-staff"],
        "channels": ["sms"],
        **extra,
    }
    return CrisisMessage.model_validate(data)


async def test_provider_down_then_back_loses_nothing_and_spends_few_attempts(
    tmp_path: Path, mqtt_url: str
) -> None:
    """Twilio answers 503 to every request (sends and look-ups) until the 60th request, then
    recovers. Every one of 100 recipients ends delivered exactly once (A1 and no duplicate at
    the provider), and the attempts stay within targets × 1.25 + probes: while the provider is
    down the circuit lets only probes through instead of spending every delivery's attempts."""
    overrides = {"sms": {"max_concurrency": 10, "deadline_s": 60.0}}
    async with open_stage(tmp_path, mqtt_url, staff=TARGETS, drill=2, overrides=overrides) as stage:
        stage.limiters = LimiterRegistry(
            failure_threshold=10, probe_interval_s=0.01, max_probe_interval_s=0.04
        )
        dispatcher, plan = await stage.plan(sms_alert())
        (sms,) = stage.channels
        circuit = stage.limiters.get(sms.account, sms.limits).circuit
        twilio = hook(stage.twilio, error_rate=1.0)
        seen: Counter[str] = Counter()

        def observe(rec: RecordedRequest) -> None:  # runs before the plan decides this request's fault
            down = len(stage.twilio.requests) <= OUTAGE_REQUESTS
            twilio.error_rate = 1.0 if down else 0.0
            phase = "down" if down else "up"
            seen[f"{phase}:{rec.method}"] += 1
            if circuit.state is CircuitState.HALF_OPEN:
                seen[f"{phase}:probe:{rec.method}"] += 1

        twilio.on_request(observe)
        report = await dispatcher.run(plan)

        view = await read_audit(stage.store, plan.dispatch_id)
        states = Counter(r.state for r in view.records.values())
        assert states == {DeliveryState.DELIVERED: TARGETS}, (states, json.dumps(report.to_json())[:2000])
        figures = check_ledger(stage, view, exercise=False, channels=("sms",))
        attempts = figures.attempts["sms"]
        probes = seen["down:probe:POST"] + seen["down:probe:GET"]
        bound = TARGETS * 1.25 + probes
        print(
            f"\nR4 attempts={attempts} targets={TARGETS} probes={probes} bound={bound:.0f} "
            f"(attempts/targets={attempts / TARGETS:.3f}); requests while down {dict(seen)}"
        )
        assert seen["down:POST"] + seen["down:GET"] == OUTAGE_REQUESTS
        assert seen["down:probe:POST"] + seen["down:probe:GET"] > 0, "the circuit never probed"
        assert attempts <= bound


async def test_no_attempt_starts_after_the_deadline_or_the_expiry(tmp_path: Path, mqtt_url: str) -> None:
    """X and Facebook answer 503 to everything. Facebook's channel deadline is 0.6 s, and the
    message expires 1.2 s after it is sent: every Facebook attempt starts within 0.6 s of the
    delivery's first attempt, every X attempt before the expiry (audit times and the fakes'
    attempts match the fakes' requests), both retried more than once, and both end failed."""
    sent = datetime.now(UTC)
    expires = sent + timedelta(seconds=1.2)
    message = sms_alert(channels=["twitter", "facebook"], sent=sent.isoformat(), expires=expires.isoformat())
    overrides: dict[str, dict[str, float]] = {
        "facebook": {"deadline_s": 0.6, "max_attempts": 1000},
        "twitter": {"max_attempts": 1000},
    }
    async with open_stage(tmp_path, mqtt_url, staff=1, drill=1, overrides=overrides) as stage:
        # a circuit that never opens: the retry stage alone must respect the bounds
        stage.limiters = LimiterRegistry(failure_threshold=1_000_000)
        dispatcher, plan = await stage.plan(message)
        hook(stage.x, error_rate=1.0)
        hook(stage.graph, error_rate=1.0)
        await dispatcher.run(plan)

        view = await read_audit(stage.store, plan.dispatch_id)
        tolerance = timedelta(milliseconds=20)  # bookkeeping between the check and the record
        (fb,) = view.deliveries("facebook")
        fb_starts = [e.at for e in view.for_key(fb.delivery.key, EventKind.ATTEMPT_STARTED)]
        assert len(fb_starts) > 1
        assert max(fb_starts) - min(fb_starts) <= timedelta(seconds=0.6) + tolerance
        assert fb.state is DeliveryState.FAILED and "deadline" in (fb.last_reason or "")
        x_starts = [e.at for e in view.of(EventKind.ATTEMPT_STARTED, "twitter")]
        assert len(x_starts) > 2
        assert max(x_starts) <= expires + tolerance
        check_ledger(stage, view, exercise=False, channels=("twitter", "facebook"))  # no unaudited request
        x_first_parts = [r for r in view.deliveries("twitter") if r.delivery.after is None]
        assert {r.state for r in x_first_parts} == {DeliveryState.FAILED}
        assert all(r.last_code == "expired" for r in x_first_parts), [r.last_reason for r in x_first_parts]
        fb_span = max(fb_starts) - min(fb_starts)
        print(
            f"\nR5 facebook attempts={len(fb_starts)} within {fb_span.total_seconds():.3f} s "
            f"(deadline 0.6 s); X attempts={len(x_starts)}, last "
            f"{(expires - max(x_starts)).total_seconds():.3f} s before the expiry"
        )
