"""The embedded audit store: one SQLite file (WAL), written by one group-commit writer.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``, so every commit is fsynced before
``append`` returns — an ``attempt_started`` survives a power cut, not only a ``kill -9``,
before the provider request leaves. (``synchronous=NORMAL`` in WAL mode survives a process
crash but may lose the last commits on power loss; it can be chosen with
``sqlite:///path?synchronous=normal`` for throwaway runs.) Group commit keeps the fsync cost
per batch, not per event.

Connections: the writer owns one connection (``BEGIN IMMEDIATE`` per batch, reading the chain
head inside the transaction, so two processes on one file still keep one chain); reads use a
second connection and never wait for a commit. A file store writes its group-commit batches
on a third, plain ``sqlite3`` connection on its own commit thread, one hand-off per batch
(``crisiscast.audit.sqlite_batch``); the same lock serialises it with the writer connection
(migrations, key binding, leases), so the two never contend for the file. ``:memory:`` uses
one connection for everything, guarded by the lock, so readers never see a half-written batch.

Failure modes: an unreadable or locked file raises ``StoreError`` with one sentence; a failed
batch is rolled back whole (see ``writer.GroupCommitWriter`` for how callers are told).
"""

# SQL here is assembled only from constant fragments and "?" placeholders; values are always bound.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from crisiscast.audit.base import DeliveryRecord, DispatchRecord, RowsCallback, StoreHead, VerifyResult
from crisiscast.audit.counts import DeliveryTally
from crisiscast.audit.events import AuditEvent, StoredEvent
from crisiscast.audit.fencing import Fences
from crisiscast.audit.migrations import migrations
from crisiscast.audit.prepare import (
    EventRow,
    PreparedEvent,
    prepare,
)
from crisiscast.audit.records import (
    DELIVERY_COLUMNS,
    DISPATCH_COLUMNS,
    EVENT_COLUMNS,
    delivered_to_sql,
    delivery_record,
    dispatch_record,
    matching_records,
    reasons_sql,
    stored_event,
    tally_sql,
)
from crisiscast.audit.sqlite_batch import MAX_PARAMS as _MAX_PARAMS
from crisiscast.audit.sqlite_batch import batch_steps, commit_batch, connect, run_steps_async
from crisiscast.audit.verify import ChainVerifier
from crisiscast.audit.writer import GroupCommitWriter
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch.failpoints import failpoint
from crisiscast.errors import StoreError
from crisiscast.private_files import create_private

__all__ = ["SqliteStore"]

_CHUNK_ROWS = 5_000  # event rows read at a time (verify, export): about 5 MB held at once
_OPEN = "state IN ('pending', 'in_doubt')"
_DELIVERED_TO = delivered_to_sql(target="?2", newest="?1")


class SqliteStore:
    """``AuditStore`` on one SQLite file (or ``:memory:``); see the module docstring."""

    def __init__(
        self,
        path: str,
        *,
        batch_max_events: int = 2000,
        synchronous: str = "FULL",
        file_group: str | None = None,
    ) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("synchronous must be FULL, NORMAL or EXTRA")
        self.path = path
        self._file_group = file_group  # the database is created 0600, or 0640 for this group
        self._synchronous = synchronous.upper()
        self._memory = path == ":memory:"
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()  # guards the writer connection
        self._verify_lock = asyncio.Lock()  # one read snapshot at a time on the reader
        self._writer = GroupCommitWriter(self._commit, batch_max_events=batch_max_events)
        self._batch_thread: ThreadPoolExecutor | None = None  # file stores: the commit thread
        self._batch_conn: sqlite3.Connection | None = None
        self._fences = Fences()  # leases this store's claims hold (crisiscast.audit.fencing)

    @property
    def commits(self) -> int:
        """Transactions committed by the group-commit writer so far (for tests and benchmarks)."""
        return self._writer.batches

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._db is not None:
            return
        if not self._memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the folder for the audit database {self.path}: {exc.strerror}."
                ) from exc
            try:  # created 0600 (0640 for file_group); SQLite gives -wal/-shm the same mode
                create_private(self.path, self._file_group)
            except OSError as exc:
                raise StoreError(f"Cannot create the audit database {self.path}: {exc.strerror}.") from exc
        try:
            if not self._memory:  # fail here, not inside aiosqlite's thread (it outlives a failed connect)
                await asyncio.to_thread(_probe, self.path)
            self._db = await self._connect()
            await self.migrate()
            self._reader = self._db if self._memory else await self._connect()
            if not self._memory:
                self._batch_thread = ThreadPoolExecutor(1, thread_name_prefix="crisiscast-audit-commit")
                self._batch_conn = await asyncio.get_running_loop().run_in_executor(
                    self._batch_thread, connect, self.path, self._synchronous
                )
        except sqlite3.Error as exc:
            await self.close()
            raise StoreError(f"Cannot open the audit database {self.path}: {exc}.") from exc
        self._writer.start()

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await db.execute("PRAGMA busy_timeout = 10000")
            if not self._memory:
                await db.execute("PRAGMA journal_mode = WAL")
            await db.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException:
            # A file that is not a database fails here, after the connection's worker thread
            # started: close it, or that (non-daemon) thread keeps the process alive for ever.
            await db.close()
            raise
        return db

    async def migrate(self) -> list[str]:
        db = self._conn()
        async with self._lock:
            rows = await db.execute_fetchall("PRAGMA user_version")
            current = next(iter(rows))[0]
            applied = []
            for m in migrations("sqlite"):
                if m.version > current:
                    await db.executescript(
                        f"BEGIN IMMEDIATE;\n{m.sql}\nPRAGMA user_version = {m.version};\nCOMMIT;"
                    )
                    applied.append(m.name)
            return applied

    async def close(self) -> None:
        await self._writer.close()
        for conn in {id(c): c for c in (self._reader, self._db) if c is not None}.values():
            await conn.close()
        self._db = self._reader = None
        thread, batch_conn = self._batch_thread, self._batch_conn
        self._batch_thread = self._batch_conn = None
        if thread is not None:
            if batch_conn is not None:
                await asyncio.get_running_loop().run_in_executor(thread, batch_conn.close)
            thread.shutdown(wait=False)

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("The audit store is not open; open it before using it.")
        return self._db

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._reader is None:
            raise StoreError("The audit store is not open; open it before using it.")
        if self._memory:
            async with self._lock:
                return list(await self._reader.execute_fetchall(sql, params))
        return list(await self._reader.execute_fetchall(sql, params))

    # -- writing -----------------------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        await self._writer.submit([prepare(e) for e in self._fences.stamp(events)])

    async def _commit(self, prepared: Sequence[PreparedEvent]) -> None:
        db = self._conn()
        if self._batch_conn is not None and self._batch_thread is not None:
            loop = asyncio.get_running_loop()
            async with self._lock:
                try:
                    await loop.run_in_executor(self._batch_thread, commit_batch, self._batch_conn, prepared)
                except sqlite3.Error as exc:
                    raise StoreError(f"Could not record audit events in {self.path}: {exc}.") from exc
            return
        async with self._lock:
            try:
                await db.execute("BEGIN IMMEDIATE")
                try:
                    await self._write_batch(db, prepared)
                    failpoint("inside_batch_commit")
                    await db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        await db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"Could not record audit events in {self.path}: {exc}.") from exc

    async def _write_batch(self, db: aiosqlite.Connection, prepared: Sequence[PreparedEvent]) -> None:
        await run_steps_async(db, batch_steps(prepared))

    async def bind_key(
        self, idempotency_key: str, dispatch_id: str, *, reclaim_after_s: float | None = None
    ) -> tuple[str, bool]:
        db = self._conn()
        async with self._lock:
            try:
                cursor = await db.execute(
                    "INSERT INTO idempotency_keys (key, dispatch_id, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (idempotency_key, dispatch_id, _now_iso()),
                )
                created = cursor.rowcount == 1
                await cursor.close()
                if not created and reclaim_after_s is not None:
                    created = await _reclaim(db, idempotency_key, reclaim_after_s)
                rows = await db.execute_fetchall(
                    "SELECT dispatch_id FROM idempotency_keys WHERE key = ?", (idempotency_key,)
                )
            except sqlite3.Error as exc:
                raise StoreError(f"Could not bind a key in the audit database {self.path}: {exc}.") from exc
        return next(iter(rows))[0], created

    # -- reading -----------------------------------------------------------------------------

    async def dispatch(self, dispatch_id: str) -> DispatchRecord | None:
        rows = await self._read(
            f"SELECT {DISPATCH_COLUMNS} FROM dispatches WHERE dispatch_id = ?", (dispatch_id,)
        )
        return dispatch_record(rows[0]) if rows else None

    async def dispatches(self, *, limit: int = 50, unfinished: bool = False) -> list[DispatchRecord]:
        where = (
            f"WHERE EXISTS (SELECT 1 FROM deliveries x WHERE x.dispatch_id = d.dispatch_id AND x.{_OPEN})"
            if unfinished
            else ""
        )
        sql = f"SELECT {DISPATCH_COLUMNS} FROM dispatches d {where} ORDER BY created_seq DESC LIMIT ?"
        return [dispatch_record(r) for r in await self._read(sql, (limit,))]

    async def deliveries(
        self,
        dispatch_id: str,
        *,
        states: Sequence[DeliveryState] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[DeliveryRecord]:
        params: list[Any] = [dispatch_id]
        where = "dispatch_id = ?"
        if states is not None:
            if not states:
                return []
            where += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(str(s) for s in states)
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {where} ORDER BY plan_order"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params.extend((-1 if limit is None else max(0, limit), max(0, offset)))
        return [delivery_record(r) for r in await self._read(sql, params)]

    async def delivery_tally(self, dispatch_id: str, *, reasons: bool = False) -> DeliveryTally:
        states = await self._read(tally_sql("?"), (dispatch_id,))
        why = await self._read(reasons_sql("?"), (dispatch_id,)) if reasons else []
        return DeliveryTally.of(states, why)

    async def delivered_to(self, target: str, *, newest_dispatches: int = 50) -> list[DeliveryRecord]:
        return matching_records(await self._read(_DELIVERED_TO, (max(0, newest_dispatches), target)))

    async def delivery_by_provider_id(self, channel: str, provider_id: str) -> DeliveryRecord | None:
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE provider_id = ? AND channel = ?"
        found = matching_records(await self._read(sql, (provider_id, channel)))
        return found[0] if found else None

    async def event_rows(self, dispatch_id: str | None = None) -> AsyncIterator[list[EventRow]]:
        after = 0
        where = "seq > ?" if dispatch_id is None else "dispatch_id = ? AND seq > ?"
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY seq LIMIT {_CHUNK_ROWS}"
        while True:
            params: tuple[Any, ...] = (after,) if dispatch_id is None else (dispatch_id, after)
            rows = await self._read(sql, params)
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    async def events(self, dispatch_id: str | None = None) -> AsyncIterator[StoredEvent]:
        async for rows in self.event_rows(dispatch_id):
            for row in rows:
                yield stored_event(row)

    async def head(self, dispatch_id: str | None = None) -> StoreHead:
        rows = await self._read(
            "SELECT m.store_id, h.seq, h.hash, d.seq, d.hash FROM store_meta m JOIN chain_head h "
            "LEFT JOIN dispatch_chain d ON d.dispatch_id = ? WHERE m.id = 1 AND h.id = 1",
            (dispatch_id,),
        )
        if not rows:
            raise StoreError("The audit store has no chain head or store id; run crisiscast audit verify.")
        store_id, seq, digest, dseq, dhash = rows[0]
        return StoreHead(store_id, seq, digest, dispatch_id if dseq is not None else None, dseq, dhash)

    async def verify(self, on_rows: RowsCallback | None = None) -> VerifyResult:
        """Walk the whole log in one read snapshot; see ``crisiscast.audit.verify``."""
        if self._reader is None:
            raise StoreError("The audit store is not open; open it before using it.")
        async with self._lock if self._memory else self._verify_lock:
            return await _verify(self._reader, on_rows)

    # -- leases ------------------------------------------------------------------------------

    async def claim_deliveries(
        self, worker_id: str, dispatch_id: str | None = None, *, limit: int = 100, lease_s: float = 30.0
    ) -> list[DeliveryRecord]:
        now = time.time()
        sql = (  # a new holder gets the next epoch (the fencing token); SET reads the old row
            "UPDATE deliveries SET lease_owner = ?, lease_until = ?, lease_epoch = CASE "
            "WHEN lease_owner = ? AND lease_until >= ? THEN lease_epoch ELSE lease_epoch + 1 END "
            f"WHERE key IN (SELECT key FROM deliveries WHERE {_OPEN} "
            "AND (lease_owner IS NULL OR lease_until < ? OR lease_owner = ?) "
            "AND (? IS NULL OR dispatch_id = ?) ORDER BY plan_order LIMIT ?) "
            f"RETURNING {DELIVERY_COLUMNS}, lease_epoch"
        )
        params = (worker_id, now + lease_s, worker_id, now, now, worker_id, dispatch_id, dispatch_id, limit)
        db = self._conn()
        async with self._lock:
            rows = list(await db.execute_fetchall(sql, params))
        self._fences.claimed(worker_id, ((r[0], r[-1]) for r in rows))
        return [delivery_record(r) for r in sorted(rows, key=lambda r: r[2])]

    async def renew_leases(self, worker_id: str, keys: Sequence[str], lease_s: float) -> list[str]:
        held: list[str] = []
        db = self._conn()
        async with self._lock:
            for i in range(0, len(keys), _MAX_PARAMS):
                part = list(keys[i : i + _MAX_PARAMS])
                sql = (
                    f"UPDATE deliveries SET lease_until = ? WHERE lease_owner = ? AND key IN "
                    f"({','.join('?' * len(part))}) RETURNING key"
                )
                rows = await db.execute_fetchall(sql, (time.time() + lease_s, worker_id, *part))
                held.extend(r[0] for r in rows)
        return held

    async def release_leases(self, worker_id: str, keys: Sequence[str]) -> None:
        self._fences.released(worker_id, keys)
        db = self._conn()
        async with self._lock:
            for i in range(0, len(keys), _MAX_PARAMS):
                part = list(keys[i : i + _MAX_PARAMS])
                sql = (
                    "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? "
                    f"AND key IN ({','.join('?' * len(part))})"
                )
                await db.execute(sql, (worker_id, *part))

    async def claim_step(self, step_key: str, owner: str, *, lease_s: float) -> bool:
        now = time.time()
        sql = (  # one statement: SQLite's write lock makes it atomic across processes
            "INSERT INTO escalation_claims (step_key, owner, claimed_until) VALUES (?, ?, ?) "
            "ON CONFLICT (step_key) DO UPDATE "
            "SET owner = excluded.owner, claimed_until = excluded.claimed_until "
            "WHERE escalation_claims.claimed_until < ? OR escalation_claims.owner = excluded.owner "
            "RETURNING owner"
        )
        db = self._conn()
        async with self._lock:
            try:
                rows = list(await db.execute_fetchall(sql, (step_key, owner, now + lease_s, now)))
            except sqlite3.Error as exc:
                raise StoreError(f"Could not claim an escalation step in {self.path}: {exc}.") from exc
        return bool(rows)


async def _verify(db: aiosqlite.Connection, on_rows: RowsCallback | None = None) -> VerifyResult:
    verifier = ChainVerifier()
    await db.execute("BEGIN")  # one snapshot: the heads and the rows agree
    try:
        head_rows = list(await db.execute_fetchall("SELECT seq, hash FROM chain_head WHERE id = 1"))
        dispatch_heads = {
            r[0]: (r[1], r[2])
            for r in await db.execute_fetchall("SELECT dispatch_id, seq, hash FROM dispatch_chain")
        }
        cursor = await db.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY seq")
        while rows := await cursor.fetchmany(_CHUNK_ROWS):
            if not verifier.feed(rows):  # type: ignore[arg-type]
                break
            if on_rows is not None:
                on_rows(rows)  # type: ignore[arg-type]
        await cursor.close()
    finally:
        await db.execute("COMMIT")
    if not head_rows:
        verifier.feed([])
        return VerifyResult(
            ok=False,
            events_checked=verifier.checked,
            first_bad_seq=None,
            problem="the chain head record is missing.",
        )
    return verifier.finish((head_rows[0][0], head_rows[0][1]), dispatch_heads)


def _probe(path: str) -> None:
    sqlite3.connect(path).close()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def _reclaim(db: aiosqlite.Connection, idempotency_key: str, reclaim_after_s: float) -> bool:
    """Take over an orphaned binding (no dispatch row, older than ``reclaim_after_s``) in ONE
    statement, so SQLite's write lock lets one caller win across processes.

    ``created_at`` is ISO-8601 text written by ``_now_iso`` (UTC, microseconds, fixed width),
    so text order is time order and the cutoff is written the same way.
    """
    now = datetime.now(UTC)
    try:
        cutoff = (now - timedelta(seconds=reclaim_after_s)).isoformat(timespec="microseconds")
    except OverflowError:  # a window reaching before year 1: nothing is that old
        return False
    cursor = await db.execute(
        "UPDATE idempotency_keys SET created_at = ? WHERE key = ? AND created_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM dispatches d WHERE d.dispatch_id = idempotency_keys.dispatch_id)",
        (now.isoformat(timespec="microseconds"), idempotency_key, cutoff),
    )
    reclaimed = cursor.rowcount == 1
    await cursor.close()
    return reclaimed
