"""Escalation timer cost: one tick with nothing due, and one that plans a step, for N staff.

A SQLite file store holds an Actual SMS dispatch to N staff with a poll and escalation steps,
every text delivered and half the staff answered (``reply_received`` events). Then, with a
controllable clock, it times ``EscalationLoop.tick`` (plan only, as with ``--worker-id``):

- ``idle``: before the first step is due (what ``serve`` does every ``--escalation-tick-s``);
- ``step``: at 10 min: roll-call, who has not answered, the SMS rendered for them, and the
  step with its N/2 deliveries written in one audit write.

Usage::

    .venv/bin/python bench/escalation_tick.py [staff=500] [runs=5]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import Stats, bench_settings, header, machine, quiet_logs

STEPS = [{"after_min": 10, "action": "resend_sms"}, {"after_min": 30, "action": "notify_supervisor"}]


async def one_run(directory: Path, staff: int) -> tuple[float, float, int]:
    from crisiscast.audit.events import AuditEvent, EventKind
    from crisiscast.audit.open import open_store
    from crisiscast.channels.registry import build_channels
    from crisiscast.config import Secrets
    from crisiscast.dispatch import Dispatcher
    from crisiscast.escalation.loop import EscalationLoop
    from crisiscast.message import CrisisMessage

    settings = bench_settings({"twilio": "http://127.0.0.1:1"}, directory, recipients=staff, mqtt=False)
    secrets = Secrets.model_validate({"twilio_auth_token": "bench-token-0000"})
    message = CrisisMessage.model_validate(
        {
            "status": "Actual", "headline": "Fire in Building B: reply 1 if you are safe",
            "channels": ["sms"], "audiences": ["all-staff"], "escalation": STEPS,
            "poll": {"answers": [{"code": "1", "label": {"en": "I am safe"}}], "deadline_min": 60},
        }
    )  # fmt: skip
    store = open_store(str(settings.store.url))
    await store.open()
    try:
        channels, _ = build_channels(settings, secrets, message)
        plan = await Dispatcher(store).plan(message, channels, approval={"approver": "bench"})
        records = plan.all_deliveries()
        events = [
            AuditEvent(EventKind.ATTEMPT_SUCCEEDED, plan.dispatch_id, {"attempt": 1, "provider_id": f"SM{i}"},
                       delivery_key=d.key)
            for i, d in enumerate(records)
        ]  # fmt: skip
        events += [
            AuditEvent(
                EventKind.REPLY_RECEIVED, plan.dispatch_id, {"from": d.target, "kind": "answer", "code": "1"}
            )
            for d in records[::2]
        ]
        await store.append(events)
        clock = [datetime.now(UTC)]
        loop = EscalationLoop(
            settings, secrets, Dispatcher(store), owner="bench", send=False, now=lambda: clock[0],
            build=build_channels,
        )  # fmt: skip
        started = time.perf_counter()
        assert await loop.tick() == []
        idle_s = time.perf_counter() - started
        clock[0] += timedelta(minutes=10)
        started = time.perf_counter()
        [outcome] = await loop.tick()
        step_s = time.perf_counter() - started
        return idle_s, step_s, outcome.deliveries
    finally:
        await store.close()


def main() -> None:
    staff = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    quiet_logs()
    header(f"Escalation tick, {staff} staff, half answered (SQLite file)")
    print(machine())
    idle: list[float] = []
    step: list[float] = []
    planned = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            idle_s, step_s, planned = asyncio.run(one_run(Path(tmp), staff))
        idle.append(idle_s)
        step.append(step_s)
    print(f"idle tick (nothing due):     {Stats.of(idle).fmt('s', 4)}")
    print(f"step tick ({planned} resends planned): {Stats.of(step).fmt('s', 4)}")


if __name__ == "__main__":
    main()
