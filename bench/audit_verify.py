"""``verify()`` over a large audit log (target: 1,000,000 events in ≤ 10 s).

Builds a log of N events (200 interleaved dispatches, realistic attempt data) with the same
chaining code the stores use, writes it straight into a fresh store's tables (building
through ``append`` would only make the set-up slower), then times ``store.verify()`` —
the same call ``crisiscast audit verify`` makes. Prints wall time and events/s, for SQLite
and, with ``--postgres``, for PostgreSQL.

Usage::

    .venv/bin/python bench/audit_verify.py [events=1000000] [--postgres]
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import Stats, verdict

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import GENESIS_HASH, AuditEvent, EventKind
from crisiscast.audit.open import open_store
from crisiscast.audit.prepare import ChainedBatch, chain, prepare

_CHUNK = 50_000


def build(n: int) -> list[ChainedBatch]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    batches: list[ChainedBatch] = []
    head_seq, head_hash = 0, GENESIS_HASH
    heads: dict[str, str] = {}
    for first in range(0, n, _CHUNK):
        events = []
        for i in range(first, min(n, first + _CHUNK)):
            dispatch_id = f"dispatch-{i % 200:03d}"
            events.append(
                AuditEvent(
                    EventKind.ATTEMPT_SUCCEEDED,
                    dispatch_id,
                    {"attempt": 1, "provider_id": f"SM{i:032x}", "latency_ms": 48.5},
                    delivery_key=f"{dispatch_id}:sms:+1555{i:07d}:0",
                    at=start + timedelta(milliseconds=i),
                )
            )
        batch = chain([prepare(e) for e in events], head_seq, head_hash, heads)
        head_seq, head_hash = batch.head_seq, batch.head_hash
        heads.update({d: h for d, (_, h) in batch.dispatch_heads.items()})
        batches.append(batch)
    return batches


def _heads(batches: list[ChainedBatch]) -> dict[str, tuple[int, str]]:
    heads: dict[str, tuple[int, str]] = {}
    for b in batches:
        heads.update(b.dispatch_heads)
    return heads


def load_sqlite(path: str, batches: list[ChainedBatch]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for b in batches:
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", b.rows)
        conn.executemany(
            "INSERT INTO dispatch_chain VALUES (?, ?, ?)",
            [(d, s, h) for d, (s, h) in _heads(batches).items()],
        )
        conn.execute("UPDATE chain_head SET seq = ?, hash = ?", (batches[-1].head_seq, batches[-1].head_hash))
    conn.close()


async def load_postgres(url: str, batches: list[ChainedBatch]) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    async with conn.transaction():
        for b in batches:
            await conn.copy_records_to_table("events", records=b.rows)
        await conn.copy_records_to_table(
            "dispatch_chain", records=[(d, s, h) for d, (s, h) in _heads(batches).items()]
        )
        await conn.execute(
            "UPDATE chain_head SET seq = $1, hash = $2", batches[-1].head_seq, batches[-1].head_hash
        )
    await conn.close()


async def timed_verify(store: AuditStore, n: int, label: str) -> float:
    started = time.perf_counter()
    result = await store.verify()
    elapsed = time.perf_counter() - started
    assert result.ok and result.events_checked == n, result
    print(f"  {label}: verified {n:,} events in {elapsed:.2f} s ({n / elapsed:,.0f} events/s)", flush=True)
    return elapsed


def timed_cli_verify(path: str, n: int) -> float:
    """``crisiscast --config … audit verify --no-views`` (process start included): the chain walk
    and the checkpoints. The log is written straight into the events table without its views,
    so rebuilding them would only report every dispatch as missing from the caches; what the
    view rebuild costs is measured by ``bench/audit_sign.py``."""
    config = Path(path).with_name("crisiscast.toml")
    config.write_text(f'[store]\nurl = "sqlite:///{path}"\n', encoding="utf-8")
    cli = Path(sys.executable).with_name("crisiscast")
    started = time.perf_counter()
    out = subprocess.run(
        [str(cli), "--config", str(config), "audit", "verify", "--no-views"],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"crisiscast audit verify failed ({out.returncode}): {out.stdout} {out.stderr}")
    print(f"  crisiscast audit verify (CLI, {n:,} events): {elapsed:.2f} s", flush=True)
    return elapsed


async def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    print(f"\n== P7 audit verify over {n:,} events (SQLite) ==")
    t = time.perf_counter()
    batches = build(n)
    print(f"  built {n:,} chained events in {time.perf_counter() - t:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/audit.db"
        store = open_store(f"sqlite:///{path}")
        await store.open()
        await store.close()
        load_sqlite(path, batches)
        store = open_store(f"sqlite:///{path}")
        await store.open()
        try:
            runs = [await timed_verify(store, n, f"store.verify() run {run + 1}") for run in range(3)]
        finally:
            await store.close()
        cli = [timed_cli_verify(path, n) for _ in range(2)]
        api, whole = Stats.of(runs), Stats.of(cli)
        print(f"  store.verify()             {api.fmt()}")
        print(f"  crisiscast audit verify    {whole.fmt()}   target <= 10 s: {verdict(whole.median <= 10)}")
    if "--postgres" in sys.argv:
        import asyncpg

        base = "postgresql://postgres@127.0.0.1:5432/test"
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(base)
        await admin.execute(f"CREATE SCHEMA {schema}")
        try:
            url = f"{base}?search_path={schema}"
            store = open_store(url)
            await store.open()
            try:
                await load_postgres(url, batches)
                for run in range(2):
                    await timed_verify(store, n, f"PostgreSQL run {run + 1}")
            finally:
                await store.close()
        finally:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
