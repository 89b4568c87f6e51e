"""What signed checkpoints cost: one signature, one verification, and a fan-out with and without.

1. Ed25519 (``cryptography``) on a checkpoint body: µs per signature and per verification,
   and one whole checkpoint (sign + append + fsync to the checkpoint file).
2. The audit event pattern of an SMS fan-out (``audit_append.py``'s: the plan in one append,
   then ``attempt_started`` + ``attempt_succeeded`` per delivery, ``concurrency`` in flight,
   then ``dispatch_finished``) on a SQLite file (synchronous=FULL), through the plain store and
   through ``CheckpointingStore`` (checkpoints every ``checkpoint_every_s``): wall time, CPU per
   delivery, and how many checkpoints were signed (2 + one per interval: never one per event).
3. ``audit verify`` against the checkpoints (``verify_evidence``, views included) vs ``store.verify()``.

Usage::

    .venv/bin/python bench/audit_sign.py [--deliveries 20000] [--concurrency 100] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from crisiscast.audit.base import AuditStore, StoreHead
from crisiscast.audit.checkpoint import append_checkpoint, read_checkpoints, sign_head
from crisiscast.audit.checkpointer import CheckpointingStore
from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.evidence import verify_evidence
from crisiscast.audit.open import open_store
from crisiscast.audit.signing import generate_key
from crisiscast.audit.witness import FileWitness
from crisiscast.delivery import Delivery


def crypto_costs(tmp: Path, n: int = 5000) -> dict[str, float]:
    key = generate_key(tmp / "bench.key")
    head = StoreHead(uuid.uuid4().hex, 123456, "ab" * 32, "d-1", 123000, "cd" * 32)
    start = time.perf_counter()
    cps = [sign_head(key, head) for _ in range(n)]
    sign_us = (time.perf_counter() - start) / n * 1e6
    public = key.public_key()
    start = time.perf_counter()
    assert all(cp.signed_by(public) for cp in cps)
    verify_us = (time.perf_counter() - start) / n * 1e6
    path = tmp / "cp.jsonl"
    start = time.perf_counter()
    for _ in range(200):
        append_checkpoint(path, [sign_head(key, head)])
    whole_ms = (time.perf_counter() - start) / 200 * 1e3
    return {"sign_us": sign_us, "verify_us": verify_us, "checkpoint_fsync_ms": whole_ms}


async def fanout(store: AuditStore, deliveries: int, concurrency: int) -> tuple[float, float]:
    dispatch_id = f"bench-{uuid.uuid4().hex[:8]}"
    message = {"identifier": dispatch_id, "headline": "Fire in wing B", "status": "Actual"}
    plan = [
        Delivery(dispatch_id, "sms", f"+1555{i:07d}", 0, "Fire in wing B. Evacuate.", payload={"to": i})
        for i in range(deliveries)
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    await store.append(
        [
            AuditEvent(EventKind.DRAFT_CREATED, dispatch_id, {"message": message}),
            AuditEvent(EventKind.DISPATCH_PLANNED, dispatch_id, {"message": message, "counts": {}}),
            *(
                AuditEvent(EventKind.DELIVERY_PLANNED, dispatch_id, d.to_json(), delivery_key=d.key)
                for d in plan
            ),
        ]
    )
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
                        EventKind.ATTEMPT_SUCCEEDED, dispatch_id, {"attempt": 1, "provider_id": "SM"}, d.key
                    )
                ]
            )

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await store.append([AuditEvent(EventKind.DISPATCH_FINISHED, dispatch_id, {"channels": {}})])
    return time.perf_counter() - wall, time.process_time() - cpu


async def compare(tmp: Path, deliveries: int, concurrency: int, runs: int) -> dict[str, Any]:
    key = generate_key(tmp / "fan.key")
    plain: list[tuple[float, float]] = []
    signed: list[tuple[float, float]] = []
    checkpoints: list[int] = []
    for run in range(runs):
        for signing in (False, True):
            db = tmp / f"run{run}-{signing}.db"
            inner = open_store(f"sqlite:///{db}")
            store: AuditStore = (
                CheckpointingStore(inner, key, [FileWitness(tmp / f"run{run}.cp")], checkpoint_every_s=1.0)
                if signing
                else inner
            )
            await store.open()
            try:
                result = await fanout(store, deliveries, concurrency)
            finally:
                await store.close()
            (signed if signing else plain).append(result)
            if isinstance(store, CheckpointingStore):
                checkpoints.append(store.signed)
    last_db = open_store(f"sqlite:///{tmp / f'run{runs - 1}-True.db'}")
    await last_db.open()
    try:
        start = time.perf_counter()
        await last_db.verify()
        chain_s = time.perf_counter() - start
        start = time.perf_counter()
        report = await verify_evidence(last_db, read_checkpoints(tmp / f"run{runs - 1}.cp"), key.public_key())
        evidence_s = time.perf_counter() - start
        assert report.ok, report.problems
    finally:
        await last_db.close()
    med = statistics.median
    return {
        "deliveries": deliveries,
        "plain_wall_s": med(w for w, _ in plain),
        "signed_wall_s": med(w for w, _ in signed),
        "plain_cpu_us_per_delivery": med(c for _, c in plain) / deliveries * 1e6,
        "signed_cpu_us_per_delivery": med(c for _, c in signed) / deliveries * 1e6,
        "checkpoints_per_run": checkpoints,
        "store_verify_s": chain_s,
        "verify_with_checkpoints_and_views_s": evidence_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        out: dict[str, Any] = crypto_costs(tmp)
        out.update(asyncio.run(compare(tmp, args.deliveries, args.concurrency, args.runs)))
    print(f"Ed25519 sign {out['sign_us']:.1f} µs, verify {out['verify_us']:.1f} µs per checkpoint")
    print(f"one checkpoint signed, appended and fsynced: {out['checkpoint_fsync_ms']:.2f} ms")
    print(
        f"fan-out of {args.deliveries:,} deliveries (3 events each, concurrency {args.concurrency}), "
        f"median of {args.runs}:"
    )
    for name in ("plain", "signed"):
        wall, cpu = out[f"{name}_wall_s"], out[f"{name}_cpu_us_per_delivery"]
        print(f"  {name}: {wall:.2f} s wall, {cpu:.1f} µs CPU/delivery")
    print(f"  checkpoints signed per run: {out['checkpoints_per_run']}")
    print(
        f"verify: store.verify() {out['store_verify_s']:.2f} s; with checkpoints and views "
        f"{out['verify_with_checkpoints_and_views_s']:.2f} s"
    )
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
