"""A worker that stalled past its lease sends nothing once another worker has taken over.

Two SQLite stores on one file stand for two worker processes; w1's lease is made to lapse
(renewed to the past, no waiting) and w2 claims the deliveries. w1's dispatcher then runs the
batch it still thinks it holds, as ``LeaseWorker`` would: no request reaches the channel and
no attempt of w1 is recorded.
"""

from __future__ import annotations

from pathlib import Path

from crisiscast.audit.events import EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.dispatch import Dispatcher
from crisiscast.dispatch.plan import Plan
from crisiscast.message import CrisisMessage, Severity, Status
from tests.server.helpers import MemoryChannel


async def test_a_stale_workers_dispatch_sends_nothing_after_a_takeover(tmp_path: Path) -> None:
    """w1's run of its lapsed batch makes no provider request and records no attempt."""
    path = str(tmp_path / "audit.db")
    w1, w2 = SqliteStore(path), SqliteStore(path)
    await w1.open()
    await w2.open()
    try:
        channel = MemoryChannel(channel_name="sms", targets=("+15550100001", "+15550100002"))
        message = CrisisMessage(status=Status.ACTUAL, severity=Severity.SEVERE, headline="Fencing drill")
        planned = await Dispatcher(w1).plan(message, [channel], approval={"approver": "test"})
        held = await w1.claim_deliveries("w1", lease_s=60)
        keys = [r.delivery.key for r in held]
        await w1.renew_leases("w1", keys, -1)  # w1 stalls past its lease
        assert len(await w2.claim_deliveries("w2", lease_s=60)) == len(keys) == 2
        stale = Plan(
            dispatch_id=planned.dispatch_id,
            message=message,
            channels={"sms": channel},
            deliveries={"sms": [r.delivery for r in held]},
            prior={r.delivery.key: r for r in held},
        )
        await Dispatcher(w1, manage_channels=False).run(stale, record_finish=False)
        attempts = [
            e async for e in w2.events(planned.dispatch_id) if e.event.kind is EventKind.ATTEMPT_STARTED
        ]
    finally:
        await w1.close()
        await w2.close()
    assert channel.sent == []
    assert attempts == []
