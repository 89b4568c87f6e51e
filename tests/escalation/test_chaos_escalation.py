"""Escalation across kill -9 of ``crisiscast serve``: no step lost, none run twice, nobody texted twice.

A drill with a poll goes to 30 staff by SMS (the sandbox's Twilio fake); 8 answer at once.
Steps: the SMS again at 6 s, the supervisors told at 12 s and again at 18 s.

1. ``serve`` A is SIGKILLed by the fake at the 7th resent SMS (mid step 1);
2. 5 more staff answer; ``serve`` B resumes step 1 at start-up (reconciling in-doubt texts),
   then is killed by a failpoint right after step 2 is planned, before it is sent;
3. ``serve`` C sends step 2 at start-up and runs step 3.

A second run puts two ``serve --worker-id`` on PostgreSQL (2-second leases): both timers
compete for every step and worker 1 is SIGKILLed by the fake at the 5th resent SMS; worker 2
runs the rest and takes worker 1's step deliveries after the lease.

Checked from the audit and the fake: each step recorded once, for exactly who had not
answered; every escalation delivery delivered; the fake holds exactly one message per
delivered delivery (none lost, none twice); the chain verifies.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
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
from crisiscast.rollcall.replies import record_reply
from tests.chaos.world import World, drop_schema, exercise_message_yaml, pg_schema_url

pytestmark = pytest.mark.slow

STAFF = 30
PHONES = [f"+1617555{1000 + i:04d}" for i in range(STAFF)]
SUPERVISORS = PHONES[:2]  # staff 0 and 1 supervise the others (even → 0, odd → 1)
ANSWER_FIRST = PHONES[2:10]
ANSWER_LATER = PHONES[10:15]
WAIT_S = 25.0
POLICY = """\
channels: [sms]
poll:
  deadline_min: 30
  answers:
    - {code: "1", label: {en: "I am safe"}, words: [safe]}
    - {code: "2", label: {en: "I need help"}}
escalation:
  - {after_min: 0.1, action: resend_sms}
  - {after_min: 0.2, action: notify_supervisor}
  - {after_min: 0.3, action: notify_supervisor}
"""


def _contacts() -> str:
    lines = ["name,phone,groups,language,supervisor"]
    for i, phone in enumerate(PHONES):
        supervisor = "" if i < 2 else SUPERVISORS[i % 2]
        lines.append(f"Staff {i},{phone},drill-team,en,{supervisor}")
    return "\n".join(lines) + "\n"


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Re-check ``check`` every 50 ms until it holds; fail after ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_S} s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path, mqtt_url: str) -> AsyncIterator[World]:
    schema = postgres_url = None
    if request.param == "postgres":
        postgres_url = request.getfixturevalue("postgres_url")
        url, schema = await pg_schema_url(postgres_url)
    else:
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    w = World(tmp=tmp_path, store_url=url, mqtt_url=mqtt_url, sms_count=STAFF, backend=request.param)
    await w.start()
    w.contacts.write_text(_contacts(), encoding="utf-8")
    w.message.write_text(exercise_message_yaml() + POLICY, encoding="utf-8")
    w.write_config(sms={"max_concurrency": 3, "max_requests_per_s": 200.0, "burst": 3})
    try:
        yield w
    finally:
        await w.stop()
        if postgres_url is not None and schema is not None:
            await drop_schema(postgres_url, schema)


async def _send(world: World, store: AuditStore) -> str:
    settings = load_settings(world.config)
    values = {
        k.removeprefix("CRISISCAST_").lower(): v for k, v in world.env.items() if k.startswith("CRISISCAST_")
    }
    message = load_message(world.message)
    channels, skipped = build_channels(settings, Secrets.model_validate(values), message)
    report = await Dispatcher(store).dispatch(
        message, channels, approval={"approver": "test"}, skipped=skipped
    )
    assert report.ok
    return report.dispatch_id


async def _serve(
    world: World, name: str, failpoints: str | None = None, *, worker: bool = False
) -> asyncio.subprocess.Process:
    env = dict(world.env)
    if failpoints:
        env["CRISISCAST_FAILPOINTS"] = failpoints
    args = ["--config", str(world.config), "serve", "--port", "0", "--escalation-tick-s", "0.2"]
    if worker:
        args += ["--worker-id", name, "--lease-s", "2", "--claim-batch", "10"]
    with (world.tmp / f"serve-{name}.log").open("wb") as log:  # the child keeps its own copy
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "crisiscast", *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=log, env=env, cwd=world.tmp,
        )  # fmt: skip


async def _answer(store: AuditStore, phones: list[str]) -> None:
    for phone in phones:
        outcome = await record_reply(store, number=phone, text="1", provider_id=f"SM-{phone}")
        assert outcome.kind == "answer"


async def _steps(store: AuditStore, dispatch_id: str) -> list[dict[str, object]]:
    return [
        dict(e.event.data)
        async for e in store.events(dispatch_id)
        if e.event.kind is EventKind.ESCALATION_STEP
    ]


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
async def test_chaos_escalation_survives_kill_9_of_serve(world: World) -> None:
    store = open_store(world.store_url)
    await store.open()
    procs: list[asyncio.subprocess.Process] = []
    try:
        dispatch_id = await _send(world, store)
        await _answer(store, ANSWER_FIRST)

        a = await _serve(world, "a")  # 1. killed by the fake at the 7th resent SMS
        procs.append(a)
        world.tracker.kill_after(a.pid, 7)
        assert await asyncio.wait_for(a.wait(), WAIT_S) == -signal.SIGKILL
        await asyncio.wait_for(world.tracker.idle.wait(), 10)
        await _answer(store, ANSWER_LATER)

        b = await _serve(
            world, "b", failpoints="after_escalation_step_planned:1"
        )  # 2. killed once step 2 is planned
        procs.append(b)
        assert await asyncio.wait_for(b.wait(), WAIT_S) == -signal.SIGKILL
        assert len(await _steps(store, dispatch_id)) == 2

        c = await _serve(world, "c")  # 3. sends step 2 at start-up, then runs step 3
        procs.append(c)

        await _finish(world, store, dispatch_id, c, "serve C")
        await _check(world, store, dispatch_id, kills=2)
    finally:
        await _reap(procs)
        await store.close()


@pytest.mark.parametrize("world", ["postgres"], indirect=True)
async def test_chaos_escalation_two_workers_one_killed(world: World) -> None:
    """Two ``serve --worker-id`` on PostgreSQL: both timers compete for every step; worker 1 is
    SIGKILLed mid step 1 and worker 2 takes its step deliveries after the lease."""
    store = open_store(world.store_url)
    await store.open()
    procs: list[asyncio.subprocess.Process] = []
    try:
        dispatch_id = await _send(world, store)
        await _answer(store, ANSWER_FIRST)
        w1 = await _serve(world, "worker-1", worker=True)
        w2 = await _serve(world, "worker-2", worker=True)
        procs += [w1, w2]
        world.tracker.kill_after(w1.pid, 5)  # the 5th resent SMS, whichever worker sends it
        assert await asyncio.wait_for(world.tracker.killed.wait(), WAIT_S)
        assert await asyncio.wait_for(w1.wait(), WAIT_S) == -signal.SIGKILL
        await _answer(store, ANSWER_LATER)  # before step 2 (12 s)

        await _finish(world, store, dispatch_id, w2, "worker 2")
        await _check(world, store, dispatch_id, kills=1)
    finally:
        await _reap(procs)
        await store.close()


async def _finish(
    world: World, store: AuditStore, dispatch_id: str, proc: asyncio.subprocess.Process, who: str
) -> None:
    """Wait for every step to be recorded and nothing left to send, then stop ``proc`` cleanly."""

    async def done() -> bool:
        open_ = await store.deliveries(dispatch_id, states=[DeliveryState.PENDING, DeliveryState.IN_DOUBT])
        return len(await _steps(store, dispatch_id)) == 3 and not open_

    await wait_until(done, f"{who} to finish every step")
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), WAIT_S) == 0
    await asyncio.wait_for(world.tracker.idle.wait(), 10)


async def _reap(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _check(world: World, store: AuditStore, dispatch_id: str, *, kills: int) -> None:
    """Each step once, for exactly who had not answered; nothing lost or sent twice; the chain verifies."""
    steps = await _steps(store, dispatch_id)
    silent = [p for p in PHONES if p not in ANSWER_FIRST]
    still_silent = [p for p in silent if p not in ANSWER_LATER]
    assert [s["step"] for s in steps] == [1, 2, 3]  # each once, in order
    assert sorted(steps[0]["people"]) == sorted(silent)  # type: ignore[call-overload]
    assert sorted(steps[1]["people"]) == sorted(still_silent)  # type: ignore[call-overload]
    assert sorted(steps[2]["people"]) == sorted(still_silent)  # type: ignore[call-overload]

    records = await store.deliveries(dispatch_id)
    assert all(r.state is DeliveryState.DELIVERED for r in records), [
        (r.delivery.key, r.state) for r in records if r.state is not DeliveryState.DELIVERED
    ]
    escalated = [r for r in records if r.delivery.part >= 100]
    assert len(escalated) == len(silent) + 2 + 2  # the resends, then two supervisors told twice
    assert all("Reminder: " in r.delivery.body for r in escalated if r.delivery.part == 101)
    held = world.twilio.messages()
    assert Counter(m["to"] for m in held) == Counter(r.delivery.target for r in records)  # none twice
    assert {m["sid"] for m in held} == {r.provider_id for r in records}  # none lost
    verify = await store.verify()
    assert verify.ok, verify.problem
    reconciles = [e async for e in store.events(dispatch_id) if e.event.kind is EventKind.DELIVERY_RECONCILED]
    print(
        f"escalation chaos: {len(records)} deliveries ({len(escalated)} escalation), "
        f"{len(held)} messages at the fake, {len(reconciles)} in-doubt reconciled, {kills} kills"
    )
