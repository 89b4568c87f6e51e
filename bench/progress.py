"""Following a dispatch: the status document, the progress answer and the console's board, 1k–100k.

``send --server`` (and anything else following a dispatch) asks where it stands while the same
``serve`` process is sending. The status document (``GET /v1/dispatches/{id}``) is rebuilt from
the dispatch's events and lists every SMS recipient; the progress answer
(``GET /v1/dispatches/{id}/progress``) and the console's live board (read again every 0.5 s per
open board) count the delivery view in the database. This builds an
SQLite audit store with one delivered SMS dispatch of N recipients (the events the dispatcher
writes: the plan, then ``attempt_started`` and ``attempt_succeeded`` per delivery), then times
each answer's construction in-process (``dispatch_status`` / ``progress_document`` /
``board_of``, what the handlers call), CPU and wall, median of ``--runs``. Usage::

    .venv/bin/python bench/progress.py [--sizes 1000,10000,100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Stats, header

sys.path.insert(0, str(REPO / "src"))

CHUNK = 5_000


async def build_store(path: Path, n: int) -> str:
    from crisiscast.audit.events import AuditEvent, EventKind
    from crisiscast.audit.sqlite import SqliteStore
    from crisiscast.delivery import Delivery

    dispatch_id = f"bench-progress-{n}"
    message = {"identifier": dispatch_id, "headline": "Fire in Building B", "status": "Actual"}
    body = "Fire in Building B, level 3: evacuate the east wing now. Staff on level 3 east: move patients."
    deliveries = [
        Delivery(dispatch_id=dispatch_id, channel="sms", target=f"+1617555{i:04d}", part=0, body=body)
        for i in range(n)
    ]
    store = SqliteStore(str(path))
    await store.open()
    try:
        await store.append(
            [
                AuditEvent(EventKind.DRAFT_CREATED, dispatch_id, {"message": message, "author": "bench"}),
                AuditEvent(EventKind.APPROVAL_RECORDED, dispatch_id, {"approver": "bench", "method": "cli"}),
                AuditEvent(
                    EventKind.DISPATCH_PLANNED,
                    dispatch_id,
                    {
                        "message": message,
                        "channels": ["sms"],
                        "counts": {"sms": n},
                        "approval": {"by": "bench"},
                    },
                ),
            ]
        )
        for i in range(0, n, CHUNK):
            part = deliveries[i : i + CHUNK]
            await store.append(
                [
                    AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key)
                    for d in part
                ]
            )
            await store.append(
                [
                    AuditEvent(EventKind.ATTEMPT_STARTED, dispatch_id, {"attempt": 1}, delivery_key=d.key)
                    for d in part
                ]
            )
            await store.append(
                [
                    AuditEvent(
                        EventKind.ATTEMPT_SUCCEEDED,
                        dispatch_id,
                        {"attempt": 1, "provider_id": f"SM{i + k:032x}", "latency_ms": 50},
                        delivery_key=d.key,
                    )
                    for k, d in enumerate(part)
                ]
            )
        await store.append([AuditEvent(EventKind.DISPATCH_FINISHED, dispatch_id, {"ok": True})])
    finally:
        await store.close()
    return dispatch_id


async def time_answers(path: Path, dispatch_id: str, runs: int) -> dict[str, dict[str, Stats | int]]:
    from crisiscast.audit.sqlite import SqliteStore
    from crisiscast.console.views import board_of
    from crisiscast.server.status_view import dispatch_status, progress_document

    store = SqliteStore(str(path))
    await store.open()
    out: dict[str, dict[str, Stats | int]] = {}
    try:
        for name, build in (
            ("status document", lambda: dispatch_status(store, dispatch_id)),
            ("progress answer", lambda: progress_document(store, dispatch_id)),
            ("console board", lambda: board_of(store, dispatch_id)),
        ):
            walls, cpus, size = [], [], 0
            for _ in range(runs):
                t, c = time.perf_counter(), time.process_time()
                document = await build()
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
                size = len(json.dumps(document, default=repr))
            out[name] = {"wall": Stats.of(walls), "cpu": Stats.of(cpus), "bytes": size}
    finally:
        await store.close()
    return out


async def main_async(sizes: list[int], runs: int) -> None:
    header(f"Following a dispatch: status document vs progress answer, median of {runs}")
    print(
        f"  {'recipients':>10}  {'answer':<16} {'wall':>10} {'CPU':>14} {'JSON':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"audit-{n}.db"
            dispatch_id = await build_store(path, n)
            for name, figures in (await time_answers(path, dispatch_id, runs)).items():
                wall, cpu, size = figures["wall"], figures["cpu"], figures["bytes"]
                assert isinstance(wall, Stats) and isinstance(cpu, Stats) and isinstance(size, int)
                print(
                    f"  {n:>10,}  {name:<16} {wall.median * 1000:>8.1f} ms "
                    f"{cpu.median * 1000:>12.1f} ms ({cpu.min * 1000:.1f}–{cpu.max * 1000:.1f}) "
                    f"{size / 1024:>9,.1f} KB",
                    flush=True,
                )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    asyncio.run(main_async([int(s) for s in args.sizes.split(",")], args.runs))


if __name__ == "__main__":
    main()
