"""Reply handling cost: recording one inbound reply (``record_reply``) against a polled dispatch
to N staff.

A store (SQLite file by default) holds an earlier, finished dispatch to the same staff and then
an Actual SMS dispatch to N staff with a poll, every text delivered (``attempt_started``,
``attempt_succeeded`` and a ``delivered`` receipt per text, about 3 events per person, as a
real send leaves them). Then replies from ``replies`` distinct staff numbers are recorded one
at a time, each timed on its own (``record_reply`` from the call to its audit event committed:
matching the number to its newest open poll, reading the answer, the idempotency key, the
append). A reply from a number never polled is timed too (the ``no_poll`` path).

Usage::

    .venv/bin/python bench/replies.py [staff=500] [replies=50] [runs=3] [store-url]

``store-url``: e.g. ``postgresql://127.0.0.1:5432/test?search_path=bench_replies`` (the schema is
created, and dropped afterwards).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import Stats, bench_settings, header, machine, quiet_logs

POLL = {
    "answers": [{"code": "1", "label": {"en": "I am safe"}}, {"code": "2", "label": {"en": "I need help"}}],
    "deadline_min": 60,
}
STRANGER = "+16179990000"  # in no contacts file


async def _delivered(store: Any, plan: Any) -> None:
    from crisiscast.audit.events import AuditEvent, EventKind

    events = []
    for i, d in enumerate(plan.all_deliveries()):
        sid = f"SM{plan.dispatch_id}{i}"
        events += [
            AuditEvent(EventKind.ATTEMPT_STARTED, plan.dispatch_id, {"attempt": 1}, delivery_key=d.key),
            AuditEvent(
                EventKind.ATTEMPT_SUCCEEDED, plan.dispatch_id, {"attempt": 1, "provider_id": sid},
                delivery_key=d.key,
            ),
            AuditEvent(
                EventKind.RECEIPT_STATUS, plan.dispatch_id, {"provider_id": sid, "status": "delivered"},
                delivery_key=d.key,
            ),
        ]  # fmt: skip
    await store.append(events)


async def _schema(store_url: str | None, *, drop: bool) -> None:
    if store_url is None or not store_url.startswith("postgres"):
        return
    import asyncpg

    base, _, query = store_url.partition("?")
    schema = query.removeprefix("search_path=")
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if not drop:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()


async def one_run(
    directory: Path, staff: int, replies: int, store_url: str | None
) -> tuple[list[float], float]:
    from crisiscast.audit.open import open_store
    from crisiscast.channels.registry import build_channels
    from crisiscast.config import Secrets
    from crisiscast.dispatch import Dispatcher
    from crisiscast.message import CrisisMessage
    from crisiscast.rollcall.replies import record_reply

    settings = bench_settings(
        {"twilio": "http://127.0.0.1:1"}, directory, recipients=staff, mqtt=False, store_url=store_url
    )
    secrets = Secrets.model_validate({"twilio_auth_token": "bench-token-0000"})
    earlier = CrisisMessage.model_validate(
        {"status": "Actual", "headline": "Water off in Building A until noon", "channels": ["sms"],
         "audiences": ["all-staff"]}
    )  # fmt: skip
    polled = CrisisMessage.model_validate(
        {"status": "Actual", "headline": "Fire in Building B: reply 1 if you are safe", "channels": ["sms"],
         "audiences": ["all-staff"], "poll": POLL}
    )  # fmt: skip
    await _schema(store_url, drop=False)
    store = open_store(str(settings.store.url))
    await store.open()
    try:
        for message in (earlier, polled):
            channels, _ = build_channels(settings, secrets, message)
            plan = await Dispatcher(store).plan(message, channels, approval={"approver": "bench"})
            await _delivered(store, plan)
        targets = [d.target for d in plan.all_deliveries()]
        step = max(1, len(targets) // replies)
        each_s: list[float] = []
        for i, number in enumerate(targets[::step][:replies]):
            started = time.perf_counter()
            outcome = await record_reply(store, number=number, text="1", provider_id=f"SMin{i}")
            each_s.append(time.perf_counter() - started)
            assert outcome.kind == "answer" and outcome.dispatch_id == plan.dispatch_id, outcome
        started = time.perf_counter()
        outcome = await record_reply(store, number=STRANGER, text="1", provider_id=f"SMx{uuid.uuid4().hex}")
        stranger_s = time.perf_counter() - started
        assert outcome.kind == "no_poll", outcome
        return each_s, stranger_s
    finally:
        await store.close()
        await _schema(store_url, drop=True)


def main() -> None:
    staff = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    replies = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    store_url = sys.argv[4] if len(sys.argv) > 4 else None
    quiet_logs()
    kind = "PostgreSQL" if store_url else "SQLite file"
    header(f"Recording one reply, {staff} staff polled, {replies} replies one at a time ({kind})")
    print(machine())
    medians: list[float] = []
    strangers: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            each_s, stranger_s = asyncio.run(one_run(Path(tmp), staff, replies, store_url))
        medians.append(statistics.median(each_s))
        strangers.append(stranger_s)
    print(f"one reply (median per run):  {Stats.of(m * 1000 for m in medians).fmt('ms', 2)}")
    print(f"a number with no poll:       {Stats.of(s * 1000 for s in strangers).fmt('ms', 2)}")


if __name__ == "__main__":
    main()
