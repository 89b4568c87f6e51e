"""The scale-out audit store: PostgreSQL through asyncpg, shared by several worker processes.

Same contract as the SQLite store (the same contract suite runs against both). Differences:

- **One chain across processes.** Each process has one group-commit writer with its own
  connection; every batch starts with ``SELECT … FROM chain_head FOR UPDATE``, so batches
  from different processes are serialised by that row lock and the chain never forks.
  Events are written with ``COPY``; the views with one ``unnest`` statement each.
- **Migrations** are versioned SQL files (``schema/postgres/NNNN_*.sql``) applied by
  ``migrate()`` (``crisiscast db migrate``; ``open()`` runs it too) in one transaction under
  an advisory lock, recorded in ``schema_migrations``.
- **Leases** for several workers: ``claim_deliveries`` takes unfinished deliveries with
  ``FOR UPDATE SKIP LOCKED`` and stamps ``lease_owner``/``lease_until`` (database clock), so
  two workers never claim the same delivery and a dead worker's claims lapse.
- **bind_key** is one ``INSERT … ON CONFLICT DO NOTHING RETURNING``: atomic across processes;
  taking over an orphaned binding (``reclaim_after_s``) is one conditional ``UPDATE`` on the
  database clock.

Failure modes: an unreachable server raises ``StoreError`` naming host and database (never
the password); a deadlock or serialisation failure in a batch is retried a few times before
the callers see it. Other schemas: ``postgresql://…/db?search_path=name`` (asyncpg passes
unknown URL parameters to the server as settings).
"""

# SQL here is assembled only from constant fragments; values are always bound as $n parameters.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from crisiscast.audit.base import DeliveryRecord, DispatchRecord, RowsCallback, StoreHead, VerifyResult
from crisiscast.audit.counts import DeliveryTally
from crisiscast.audit.events import AuditEvent, StoredEvent, canonical_json
from crisiscast.audit.fencing import Fences, fenced, lost
from crisiscast.audit.migrations import migrations
from crisiscast.audit.prepare import (
    DispatchRow,
    EventRow,
    PreparedEvent,
    ViewChanges,
    chain,
    fold_dispatches,
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
from crisiscast.audit.verify import ChainVerifier
from crisiscast.audit.writer import CommitOutcomeUnknown, GroupCommitWriter
from crisiscast.delivery import DeliveryState
from crisiscast.dispatch.failpoints import failpoint
from crisiscast.errors import StoreError

__all__ = ["PostgresStore"]

T = TypeVar("T")

_CHUNK_ROWS = 5_000  # event rows read at a time (verify, export): about 5 MB held at once
_RETRIES = 3
_MIGRATION_LOCK = 0x6372697369736361  # "crisisca"
_EVENT_COLUMN_LIST = [c.strip() for c in EVENT_COLUMNS.split(",")]
_RETURNING_DELIVERY = ", ".join(f"d.{c.strip()}" for c in DELIVERY_COLUMNS.split(","))
_OPEN = "state IN ('pending', 'in_doubt')"
_DELIVERED_TO = delivered_to_sql(target="$2", newest="$1")

_UPSERT_DISPATCH_HEADS = (
    "INSERT INTO dispatch_chain (dispatch_id, seq, hash) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) "
    "ON CONFLICT (dispatch_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
)
_INSERT_DELIVERIES = (
    "INSERT INTO deliveries (key, dispatch_id, plan_order, channel, target, part, body, language, payload, "
    "after_key, state, updated_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], "
    "$5::text[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) "
    "ON CONFLICT (key) DO NOTHING"
)
_UPDATE_DELIVERIES = (
    "UPDATE deliveries d SET "
    "state = CASE d.state WHEN 'pending' THEN u.fp WHEN 'in_doubt' THEN u.fd ELSE d.state END, "
    "attempts = d.attempts + u.inc, provider_id = COALESCE(u.pid, d.provider_id), "
    "last_code = CASE WHEN u.sc THEN u.code ELSE d.last_code END, "
    "last_reason = CASE WHEN u.sr THEN u.reason ELSE d.last_reason END, updated_at = u.at "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bool[], $7::text[], "
    "$8::bool[], $9::text[], $10::text[]) AS u(key, fp, fd, inc, pid, sc, code, sr, reason, at) "
    "WHERE d.key = u.key"
)
_UPSERT_DISPATCHES = (
    "INSERT INTO dispatches (dispatch_id, created_at, created_seq, state, message, summary) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) "
    "ON CONFLICT (dispatch_id) DO UPDATE SET "
    "state = excluded.state, message = excluded.message, summary = excluded.summary"
)
_CLAIM = (
    "WITH c AS (SELECT key FROM deliveries "
    f"WHERE {_OPEN} AND (lease_owner IS NULL OR lease_until < now() OR lease_owner = $1) "
    "AND ($2::text IS NULL OR dispatch_id = $2) ORDER BY plan_order LIMIT $3 FOR UPDATE SKIP LOCKED) "
    "UPDATE deliveries d SET lease_owner = $1, lease_until = now() + make_interval(secs => $4), "
    # a new holder gets the next epoch (the fencing token, crisiscast.audit.fencing)
    "lease_epoch = CASE WHEN d.lease_owner = $1 AND d.lease_until >= now() "
    "THEN d.lease_epoch ELSE d.lease_epoch + 1 END "
    f"FROM c WHERE d.key = c.key RETURNING {_RETURNING_DELIVERY}, d.lease_epoch"
)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class PostgresStore:
    """``AuditStore`` on PostgreSQL; see the module docstring."""

    def __init__(
        self, url: str, *, batch_max_events: int = 2000, pool_max_size: int = 4, password: str | None = None
    ) -> None:
        self.url = url
        # used only when the URL has none (CRISISCAST_DB_PASSWORD); never logged or echoed
        self._connect_kw: dict[str, str] = {"password": password} if password else {}
        self._pool_max_size = pool_max_size
        self._pool: asyncpg.Pool | None = None
        self._wconn: asyncpg.Connection | None = None
        self._writer = GroupCommitWriter(self._commit, batch_max_events=batch_max_events)
        self._fences = Fences()  # leases this store's claims hold (crisiscast.audit.fencing)

    @property
    def commits(self) -> int:
        """Transactions committed by this process's group-commit writer (for tests and benchmarks)."""
        return self._writer.batches

    def _where(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self._pool_max_size, **self._connect_kw
            )
            self._wconn = await asyncpg.connect(self.url, **self._connect_kw)
            await self.migrate()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise StoreError(
                f"Cannot open the audit database at {self._where()} ({type(exc).__name__}); "
                "check that PostgreSQL is running and the store URL is right."
            ) from exc
        self._writer.start()

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with self._p().acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            # checked first: the application role (pg_roles) may not create tables, even IF NOT EXISTS
            if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for m in migrations("postgres"):
                if m.version not in done:
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name
                    )
                    applied.append(m.name)
        return applied

    async def close(self) -> None:
        await self._writer.close()
        if self._wconn is not None:
            await self._wconn.close()
            self._wconn = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("The audit store is not open; open it before using it.")
        return self._pool

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        for n in range(_RETRIES):
            try:
                return await attempt()
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if n == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    # -- writing -----------------------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        await self._writer.submit([prepare(e) for e in self._fences.stamp(events)])

    async def _commit(self, prepared: Sequence[PreparedEvent]) -> None:
        if self._pool is None:
            raise StoreError("The audit store is not open; open it before using it.")
        committing = False
        try:
            if self._wconn is None or self._wconn.is_closed():
                # the last one was lost: reconnect
                self._wconn = await asyncpg.connect(self.url, **self._connect_kw)
            conn = self._wconn

            async def attempt() -> None:
                nonlocal committing
                committing = False
                async with conn.transaction():
                    await _write_batch(conn, prepared)
                    failpoint("inside_batch_commit")
                    committing = True  # leaving the block sends COMMIT

            await self._retrying(attempt)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
            # A failure before COMMIT rolled the batch back; one during COMMIT leaves the outcome
            # unknown and is never retried (a retry could record the events twice). The next
            # batch starts on a new connection.
            if self._wconn is not None:
                self._wconn.terminate()
                self._wconn = None
            error = CommitOutcomeUnknown if committing else StoreError
            raise error(
                f"Could not record audit events in the database at {self._where()} ({type(exc).__name__}); "
                "they may not have been saved."
            ) from exc

    async def bind_key(
        self, idempotency_key: str, dispatch_id: str, *, reclaim_after_s: float | None = None
    ) -> tuple[str, bool]:
        async with self._p().acquire() as conn:
            bound = await conn.fetchval(
                "INSERT INTO idempotency_keys (key, dispatch_id) VALUES ($1, $2) "
                "ON CONFLICT (key) DO NOTHING RETURNING dispatch_id",
                idempotency_key,
                dispatch_id,
            )
            if bound is not None:
                return str(bound), True
            if reclaim_after_s is not None:
                # One conditional UPDATE on the database clock: concurrent reclaimers queue on the
                # row lock and re-check the condition against the winner's refreshed created_at.
                reclaimed = await conn.fetchval(
                    "UPDATE idempotency_keys SET created_at = now() "
                    "WHERE key = $1 AND created_at < now() - make_interval(secs => $2) "
                    "AND NOT EXISTS (SELECT 1 FROM dispatches d "
                    "WHERE d.dispatch_id = idempotency_keys.dispatch_id) "
                    "RETURNING dispatch_id",
                    idempotency_key,
                    reclaim_after_s,
                )
                if reclaimed is not None:
                    return str(reclaimed), True
            existing = await conn.fetchval(
                "SELECT dispatch_id FROM idempotency_keys WHERE key = $1", idempotency_key
            )
        return str(existing), False

    # -- reading -----------------------------------------------------------------------------

    async def dispatch(self, dispatch_id: str) -> DispatchRecord | None:
        row = await self._p().fetchrow(
            f"SELECT {DISPATCH_COLUMNS} FROM dispatches WHERE dispatch_id = $1", dispatch_id
        )
        return None if row is None else dispatch_record(row)

    async def dispatches(self, *, limit: int = 50, unfinished: bool = False) -> list[DispatchRecord]:
        where = (
            f"WHERE EXISTS (SELECT 1 FROM deliveries x WHERE x.dispatch_id = d.dispatch_id AND x.{_OPEN})"
            if unfinished
            else ""
        )
        sql = f"SELECT {DISPATCH_COLUMNS} FROM dispatches d {where} ORDER BY created_seq DESC LIMIT $1"
        return [dispatch_record(r) for r in await self._p().fetch(sql, limit)]

    async def deliveries(
        self,
        dispatch_id: str,
        *,
        states: Sequence[DeliveryState] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[DeliveryRecord]:
        page = (max(0, offset), None if limit is None else max(0, limit))  # LIMIT NULL: no limit
        if states is None:
            sql = (
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE dispatch_id = $1 "
                "ORDER BY plan_order OFFSET $2 LIMIT $3"
            )
            rows = await self._p().fetch(sql, dispatch_id, *page)
        else:
            sql = (
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries "
                "WHERE dispatch_id = $1 AND state = ANY($2::text[]) ORDER BY plan_order OFFSET $3 LIMIT $4"
            )
            rows = await self._p().fetch(sql, dispatch_id, [str(s) for s in states], *page)
        return [delivery_record(r) for r in rows]

    async def delivery_tally(self, dispatch_id: str, *, reasons: bool = False) -> DeliveryTally:
        states = await self._p().fetch(tally_sql("$1"), dispatch_id)
        why = await self._p().fetch(reasons_sql("$1"), dispatch_id) if reasons else []
        return DeliveryTally.of((tuple(r) for r in states), (tuple(r) for r in why))

    async def delivered_to(self, target: str, *, newest_dispatches: int = 50) -> list[DeliveryRecord]:
        return matching_records(await self._p().fetch(_DELIVERED_TO, max(0, newest_dispatches), target))

    async def delivery_by_provider_id(self, channel: str, provider_id: str) -> DeliveryRecord | None:
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE provider_id = $1 AND channel = $2"
        found = matching_records(await self._p().fetch(sql, provider_id, channel))
        return found[0] if found else None

    async def event_rows(self, dispatch_id: str | None = None) -> AsyncIterator[list[EventRow]]:
        after = 0
        while True:
            if dispatch_id is None:
                sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT {_CHUNK_ROWS}"
                rows = await self._p().fetch(sql, after)
            else:
                sql = (
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE dispatch_id = $1 AND seq > $2 "
                    f"ORDER BY seq LIMIT {_CHUNK_ROWS}"
                )
                rows = await self._p().fetch(sql, dispatch_id, after)
            if not rows:
                return
            yield [tuple(r) for r in rows]
            after = rows[-1][0]

    async def events(self, dispatch_id: str | None = None) -> AsyncIterator[StoredEvent]:
        async for rows in self.event_rows(dispatch_id):
            for row in rows:
                yield stored_event(row)

    async def head(self, dispatch_id: str | None = None) -> StoreHead:
        row = await self._p().fetchrow(
            "SELECT m.store_id, h.seq, h.hash, d.seq, d.hash FROM store_meta m CROSS JOIN chain_head h "
            "LEFT JOIN dispatch_chain d ON d.dispatch_id = $1 WHERE m.id = 1 AND h.id = 1",
            dispatch_id,
        )
        if row is None:
            raise StoreError("The audit store has no chain head or store id; run crisiscast audit verify.")
        store_id, seq, digest, dseq, dhash = tuple(row)
        return StoreHead(store_id, seq, digest, dispatch_id if dseq is not None else None, dseq, dhash)

    async def create_app_role(self, role: str, password: str | None) -> None:
        """A least-privilege login role for crisiscast (``crisiscast.audit.pg_roles``)."""
        from crisiscast.audit.pg_roles import create_app_role

        async with self._p().acquire() as conn:
            await create_app_role(conn, role, password)

    async def privilege_warning(self) -> str | None:
        """A sentence when this store's role could disable the triggers (``pg_roles``)."""
        from crisiscast.audit.pg_roles import privilege_warning

        async with self._p().acquire() as conn:
            return await privilege_warning(conn)

    async def verify(self, on_rows: RowsCallback | None = None) -> VerifyResult:
        """Walk the whole log in one repeatable-read snapshot; see ``crisiscast.audit.verify``."""
        verifier = ChainVerifier()
        async with self._p().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            head = await conn.fetchrow("SELECT seq, hash FROM chain_head WHERE id = 1")
            dispatch_heads = {
                r[0]: (r[1], r[2])
                for r in await conn.fetch("SELECT dispatch_id, seq, hash FROM dispatch_chain")
            }
            cursor = await conn.cursor(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY seq")
            while rows := await cursor.fetch(_CHUNK_ROWS):
                if not verifier.feed(rows):
                    break
                if on_rows is not None:
                    on_rows(rows)
        if head is None:
            verifier.feed([])
            return VerifyResult(
                ok=False, events_checked=verifier.checked, problem="the chain head record is missing."
            )
        return verifier.finish((head[0], head[1]), dispatch_heads)

    # -- leases ------------------------------------------------------------------------------

    async def claim_deliveries(
        self, worker_id: str, dispatch_id: str | None = None, *, limit: int = 100, lease_s: float = 30.0
    ) -> list[DeliveryRecord]:
        async def attempt() -> list[Any]:
            return list(await self._p().fetch(_CLAIM, worker_id, dispatch_id, limit, float(lease_s)))

        rows = await self._retrying(attempt)
        self._fences.claimed(worker_id, ((r[0], r[-1]) for r in rows))
        return [delivery_record(r) for r in sorted(rows, key=lambda r: r[2])]

    async def renew_leases(self, worker_id: str, keys: Sequence[str], lease_s: float) -> list[str]:
        sql = (
            "UPDATE deliveries SET lease_until = now() + make_interval(secs => $3) "
            "WHERE lease_owner = $1 AND key = ANY($2::text[]) RETURNING key"
        )

        async def attempt() -> list[Any]:
            return list(await self._p().fetch(sql, worker_id, sorted(keys), float(lease_s)))

        return [r[0] for r in await self._retrying(attempt)]

    async def release_leases(self, worker_id: str, keys: Sequence[str]) -> None:
        self._fences.released(worker_id, keys)
        sql = (
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner = $1 AND key = ANY($2::text[])"
        )

        async def attempt() -> None:
            await self._p().execute(sql, worker_id, sorted(keys))

        await self._retrying(attempt)

    async def claim_step(self, step_key: str, owner: str, *, lease_s: float) -> bool:
        sql = (  # concurrent claimers queue on the row lock and re-check the WHERE against the winner
            "INSERT INTO escalation_claims (step_key, owner, claimed_until) "
            "VALUES ($1, $2, now() + make_interval(secs => $3)) "
            "ON CONFLICT (step_key) DO UPDATE "
            "SET owner = EXCLUDED.owner, claimed_until = EXCLUDED.claimed_until "
            "WHERE escalation_claims.claimed_until < now() OR escalation_claims.owner = EXCLUDED.owner "
            "RETURNING owner"
        )

        async def attempt() -> Any:
            return await self._p().fetchval(sql, step_key, owner, float(lease_s))

        return await self._retrying(attempt) is not None


async def _write_batch(conn: asyncpg.Connection, prepared: Sequence[PreparedEvent]) -> None:
    head = await conn.fetchrow("SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE")
    if head is None:
        raise StoreError("The audit chain head record is missing; run 'crisiscast audit verify'.")
    # Fenced attempts (crisiscast.audit.fencing): after the head, so locks are taken in one
    # order; the delivery row stays locked until COMMIT, so no claim slips in meanwhile.
    for key, owner, epoch in fenced(prepared):
        held = await conn.fetchval(
            "SELECT 1 FROM deliveries WHERE key = $1 AND lease_owner = $2 AND lease_epoch = $3 "
            "AND lease_until > now() FOR UPDATE",
            key,
            owner,
            epoch,
        )
        if held is None:
            raise lost(key, owner)
    ids = list({p.event.dispatch_id for p in prepared})
    heads = {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT dispatch_id, hash FROM dispatch_chain WHERE dispatch_id = ANY($1::text[])", ids
        )
    }
    batch = chain(prepared, head[0], head[1], heads)
    await conn.copy_records_to_table("events", records=batch.rows, columns=_EVENT_COLUMN_LIST)
    dispatch_heads = [(d, s, h) for d, (s, h) in batch.dispatch_heads.items()]
    await conn.execute(_UPSERT_DISPATCH_HEADS, *_columns(dispatch_heads, 3))
    await conn.execute(
        "UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1", batch.head_seq, batch.head_hash
    )
    views = ViewChanges(prepared, batch.rows)
    if views.inserts:
        await conn.execute(_INSERT_DELIVERIES, *_columns(views.inserts, 12))
    if views.updates:
        updates = [(key, *u.values()) for key, u in sorted(views.updates.items())]
        await conn.execute(_UPDATE_DELIVERIES, *_columns(updates, 10))
    if views.dispatch_events:
        rows = await conn.fetch(
            "SELECT dispatch_id, created_at, created_seq, state, message, summary FROM dispatches "
            "WHERE dispatch_id = ANY($1::text[])",
            list(views.touched_dispatches()),
        )
        current = {
            r[0]: DispatchRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5])) for r in rows
        }
        changed = [
            (
                r.dispatch_id,
                r.created_at,
                r.created_seq,
                r.state,
                canonical_json(r.message),
                canonical_json(r.summary),
            )
            for r in fold_dispatches(current, views.dispatch_events)
        ]
        await conn.execute(_UPSERT_DISPATCHES, *_columns(changed, 6))
