"""Kill -9 at each failpoint, then resume: nothing lost, nothing sent twice, the audit verifies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from crisiscast.audit.open import open_store
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher, unfinished_dispatches
from crisiscast.dispatch.limiter import LimiterRegistry
from tests.dispatch.crash_child import FileChannel, run_until_killed, targets

ROOT = Path(__file__).resolve().parents[2]
N = 30


@pytest.mark.parametrize(
    "failpoints",
    [
        "after_plan_stored:1",
        "after_attempt_started:7",
        "after_provider_answered:7",
        "inside_batch_commit:5",
    ],
)
async def test_kill_at_a_failpoint_then_resume_delivers_each_target_exactly_once(
    tmp_path: Path, failpoints: str
) -> None:
    """A child dispatching to 30 targets is SIGKILLed at the failpoint; a resume in this process
    finishes the job: every target accepted by the provider exactly once, all delivered in the
    audit, and the hash chain verifies."""
    db, log = tmp_path / "audit.db", tmp_path / "provider.log"
    await run_until_killed(str(db), log, N, failpoints)

    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        unfinished = await unfinished_dispatches(store)
        assert len(unfinished) == 1
        dispatch_id = unfinished[0].dispatch_id
        channel = FileChannel(log_path=str(log), targets=targets(N))
        report = await Dispatcher(store, limiters=LimiterRegistry()).resume(dispatch_id, [channel])
        assert report.ok and report.channels["sms"].delivered == N

        sent = Counter(line.split(" ")[0] for line in log.read_text().splitlines())
        assert len(sent) == N and set(sent.values()) == {1}
        records = await store.deliveries(dispatch_id)
        assert {r.state for r in records} == {DeliveryState.DELIVERED}
        assert {r.delivery.key: r.provider_id for r in records} == {
            k: r.provider_id for k, r in channel.accepted().items()
        }
        assert (await store.verify()).ok
    finally:
        await store.close()
