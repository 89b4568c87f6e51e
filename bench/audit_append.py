"""Audit write throughput: the event pattern of a large SMS fan-out through the group-commit writer.

For each store (SQLite file with synchronous=FULL, and PostgreSQL when reachable) it records
what the dispatcher records for N deliveries: the plan in ONE append (draft, approval,
dispatch_planned, N × delivery_planned), then, with ``concurrency`` deliveries in flight, an
``attempt_started`` append and an ``attempt_succeeded`` append per delivery (two commits
waited on per delivery, as on the real send path). It prints wall-clock events/s, the
process CPU per event and per delivery (µs), and how many commits the writer made.

Usage::

    .venv/bin/python bench/audit_append.py [deliveries=50000] [concurrency=100] [postgres_url]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.open import open_store
from crisiscast.delivery import Delivery


async def run(store: AuditStore, deliveries: int, concurrency: int) -> None:
    dispatch_id = f"bench-{uuid.uuid4().hex[:8]}"
    message = {"identifier": dispatch_id, "headline": "Fire in wing B", "status": "Actual"}
    plan = [
        Delivery(
            dispatch_id, "sms", f"+1555{i:07d}", 0, "EXERCISE Fire in wing B. Evacuate.", payload={"to": i}
        )
        for i in range(deliveries)
    ]
    events = [
        AuditEvent(EventKind.DRAFT_CREATED, dispatch_id, {"message": message}),
        AuditEvent(EventKind.APPROVAL_RECORDED, dispatch_id, {"approver": "bench"}),
        AuditEvent(
            EventKind.DISPATCH_PLANNED, dispatch_id, {"message": message, "counts": {"sms": deliveries}}
        ),
        *(AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key) for d in plan),
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    await store.append(events)
    plan_wall, plan_cpu = time.perf_counter() - wall, time.process_time() - cpu
    commits_before = store.commits  # type: ignore[attr-defined]
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for d in plan:
        queue.put_nowait(d)

    async def worker() -> None:
        while not queue.empty():
            d = queue.get_nowait()
            await store.append([AuditEvent(EventKind.ATTEMPT_STARTED, dispatch_id, {"attempt": 1}, d.key)])
            await store.append(
                [
                    AuditEvent(
                        EventKind.ATTEMPT_SUCCEEDED,
                        dispatch_id,
                        {"attempt": 1, "provider_id": f"SM{d.target}", "latency_ms": 1.0},
                        d.key,
                    )
                ]
            )

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    send_wall, send_cpu = time.perf_counter() - wall, time.process_time() - cpu
    commits = store.commits - commits_before  # type: ignore[attr-defined]
    total_events = len(events) + 2 * deliveries
    total_cpu = plan_cpu + send_cpu
    print(
        f"  plan: {len(events):,} events in one append: {plan_wall:.2f} s wall, "
        f"{len(events) / plan_wall:,.0f} events/s"
    )
    print(
        f"  sends: {2 * deliveries:,} events in {2 * deliveries:,} appends, {commits:,} commits "
        f"(≈{2 * deliveries / max(commits, 1):.0f} events/commit): {send_wall:.2f} s wall, "
        f"{2 * deliveries / send_wall:,.0f} events/s"
    )
    print(
        f"  CPU: {total_cpu * 1e6 / total_events:.1f} µs/event, "
        f"{total_cpu * 1e3 / deliveries:.3f} ms/delivery (all 3 events incl. plan)"
    )


async def main() -> None:
    deliveries = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    pg_url = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("CRISISCAST_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("full", "normal"):
            print(f"SQLite (WAL, synchronous={sync}), {deliveries:,} deliveries, {concurrency} in flight")
            store = open_store(f"sqlite:///{tmp}/audit-{sync}.db?synchronous={sync}")
            await store.open()
            try:
                await run(store, deliveries, concurrency)
            finally:
                await store.close()
    url = pg_url or "postgresql://postgres@127.0.0.1:5432/test"
    try:
        import asyncpg

        admin = await asyncpg.connect(url)
    except OSError:
        print(f"PostgreSQL not reachable at {url}: skipped")
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        print(f"PostgreSQL, {deliveries:,} deliveries, {concurrency} in flight")
        sep = "&" if "?" in url else "?"
        store = open_store(f"{url}{sep}search_path={schema}")
        await store.open()
        try:
            await run(store, deliveries, concurrency)
        finally:
            await store.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
