"""Two ``crisiscast serve --worker-id`` processes on one PostgreSQL share a dispatch; one is killed.

The dispatch (X, Facebook, banner, MQTT and 300 SMS recipients) is planned in the store, as
the intake does. Both workers claim batches of its deliveries with 2-second leases. Worker 1
is SIGKILLed mid fan-out (the fake kills it when its n-th request arrives); its leases lapse
and worker 2 takes its deliveries, reconciling the in-doubt ones with the providers first.
Checked at the fakes and in the audit: nothing lost, nothing sent twice, attempts match the
requests the providers saw, one ``dispatch_finished``, and the chain verifies.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import EventKind
from crisiscast.audit.open import open_store
from crisiscast.channels.registry import build_channels
from crisiscast.config import Secrets, load_settings
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch import Dispatcher
from crisiscast.loader import load_message
from tests.chaos.checks import check_outcome
from tests.chaos.world import World, drop_schema, pg_schema_url
from tests.mqtt_cleanup import clear_prefix

pytestmark = pytest.mark.slow

SMS = 300
LEASE_S = 2.0
DONE_TIMEOUT_S = 40.0
_OPEN = (DeliveryState.PENDING, DeliveryState.IN_DOUBT)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Re-check ``check`` every 50 ms until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def world(tmp_path: Path, postgres_url: str, mqtt_url: str) -> AsyncIterator[World]:
    url, schema = await pg_schema_url(postgres_url)
    w = World(tmp=tmp_path, store_url=url, mqtt_url=mqtt_url, sms_count=SMS, backend="postgres")
    await w.start()
    # a share of the account per worker: slow enough that the kill lands mid fan-out
    w.write_config(sms={"max_concurrency": 8, "max_requests_per_s": 150.0, "burst": 8})
    try:
        yield w
    finally:
        await w.stop()
        await clear_prefix(mqtt_url, w.exercise_topic_prefix)
        await drop_schema(postgres_url, schema)


async def _plan(world: World, store: AuditStore) -> str:
    """Plan the dispatch the way the intake does (plan + approval stored, nothing sent)."""
    settings = load_settings(world.config)
    values = {
        k.removeprefix("CRISISCAST_").lower(): v for k, v in world.env.items() if k.startswith("CRISISCAST_")
    }
    secrets = Secrets.model_validate(values)
    message = load_message(world.message)
    channels, skipped = build_channels(settings, secrets, message)
    plan = await Dispatcher(store).plan(
        message, channels, approval={"approver": "test", "method": "test"}, skipped=skipped
    )
    for channel in channels:
        await channel.aclose()
    return plan.dispatch_id


async def _start_worker(world: World, name: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crisiscast",
        "--config",
        str(world.config),
        "serve",
        "--worker-id",
        name,
        "--lease-s",
        str(LEASE_S),
        "--claim-batch",
        "40",
        "--port",
        "0",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=world.env,
        cwd=world.tmp,
    )


async def test_a_killed_workers_deliveries_are_taken_over_after_its_lease(world: World) -> None:
    """Worker 1 dies by SIGKILL mid fan-out; worker 2 finishes everything after the lease:
    every target reached exactly once, in-doubt deliveries reconciled, the audit verifies."""
    store = open_store(world.store_url)
    await store.open()
    w1 = w2 = None
    try:
        dispatch_id = await _plan(world, store)
        w1 = await _start_worker(world, "worker-1")
        w2 = await _start_worker(world, "worker-2")
        world.tracker.kill_after(w1.pid, 60)
        await asyncio.wait_for(world.tracker.killed.wait(), DONE_TIMEOUT_S)
        killed_at = time.monotonic()
        assert await w1.wait() == -signal.SIGKILL

        async def done() -> bool:
            return not await store.deliveries(dispatch_id, states=_OPEN)

        await wait_until(done, DONE_TIMEOUT_S, "worker 2 to finish the dispatch")
        finished_after_s = time.monotonic() - killed_at
        w2.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(w2.communicate(), 30)
        assert w2.returncode == 0, err.decode()[-2000:]
        await asyncio.wait_for(world.tracker.idle.wait(), 10)

        outcome = await check_outcome(store, dispatch_id, twilio=world.twilio, x=world.x, graph=world.graph)
        finished = [e async for e in store.events(dispatch_id) if e.event.kind is EventKind.DISPATCH_FINISHED]
        verify = await store.verify()
    finally:
        for proc in (w1, w2):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
        await store.close()
    assert outcome.failed == 0 and outcome.delivered == outcome.deliveries
    assert outcome.reconciled_found + outcome.reconciled_missing >= 1  # worker 1 died with attempts in flight
    assert outcome.ambiguous_resends == 0
    assert len(finished) == 1 and finished[0].event.data["ok"] is True
    assert verify.ok, verify.problem
    print(
        f"\ntwo workers: worker-1 killed after 60 requests; worker-2 finished {finished_after_s:.2f} s later "
        f"(lease {LEASE_S} s)\n  {outcome.line()}"
    )
