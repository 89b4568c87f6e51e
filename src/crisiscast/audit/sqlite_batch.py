"""One group-commit batch written to SQLite in ONE call on a plain ``sqlite3`` connection.

The SQLite store's writer runs ``commit_batch`` on its own commit thread, so a batch costs
one hand-off between the event loop and that thread instead of one per statement (begin,
chain-head reads, inserts, view updates, commit: about ten). The statements are written once,
as the I/O-free ``batch_steps``, which the store's asynchronous path (``:memory:`` stores)
drives too. The transaction: ``BEGIN IMMEDIATE``,
the chain heads read inside the transaction (so two processes on one file keep one chain),
the events and both chains, the delivery and dispatch views, the ``inside_batch_commit``
failpoint, ``COMMIT``. Any failure rolls the whole batch back and raises.
"""

# SQL here is assembled only from constant fragments and "?" placeholders; values are always bound.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Generator, Sequence
from typing import Any

import aiosqlite

from crisiscast.audit.events import canonical_json
from crisiscast.audit.fencing import fenced, lost
from crisiscast.audit.prepare import DispatchRow, PreparedEvent, ViewChanges, chain, fold_dispatches
from crisiscast.audit.records import EVENT_COLUMNS
from crisiscast.dispatch.failpoints import failpoint

__all__ = [
    "INSERT_DELIVERY",
    "INSERT_EVENT",
    "MAX_PARAMS",
    "UPDATE_DELIVERY",
    "UPSERT_DISPATCH",
    "UPSERT_DISPATCH_HEAD",
    "batch_steps",
    "commit_batch",
    "connect",
    "run_steps",
    "run_steps_async",
]

MAX_PARAMS = 900  # below SQLite's host-parameter limit

INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
UPSERT_DISPATCH_HEAD = (
    "INSERT INTO dispatch_chain (dispatch_id, seq, hash) VALUES (?, ?, ?) "
    "ON CONFLICT (dispatch_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
)
INSERT_DELIVERY = (
    "INSERT INTO deliveries (key, dispatch_id, plan_order, channel, target, part, body, language, payload, "
    "after_key, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)
UPDATE_DELIVERY = (
    "UPDATE deliveries SET "
    "state = CASE state WHEN 'pending' THEN ? WHEN 'in_doubt' THEN ? ELSE state END, "
    "attempts = attempts + ?, provider_id = COALESCE(?, provider_id), "
    "last_code = CASE WHEN ? THEN ? ELSE last_code END, "
    "last_reason = CASE WHEN ? THEN ? ELSE last_reason END, updated_at = ? WHERE key = ?"
)
UPSERT_DISPATCH = (
    "INSERT INTO dispatches (dispatch_id, created_at, created_seq, state, message, summary) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dispatch_id) DO UPDATE SET "
    "state = excluded.state, message = excluded.message, summary = excluded.summary"
)


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    """A writer connection with the store's settings (WAL, ``synchronous``, 10 s busy timeout).

    Made and used on the commit thread only.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def commit_batch(conn: sqlite3.Connection, prepared: Sequence[PreparedEvent]) -> None:
    """Write ``prepared`` in one transaction (see the module docstring); raises ``sqlite3.Error``."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _write(conn, prepared)
        failpoint("inside_batch_commit")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


Step = tuple[str, str, Any]  # ("fetch" | "many" | "exec", sql, parameters)
Rows = list[tuple[Any, ...]]


def batch_steps(prepared: Sequence[PreparedEvent]) -> Generator[Step, Rows | None, None]:
    """The statements of one batch, in order, without I/O: each ``"fetch"`` step is sent back
    its rows. ``run_steps`` (a plain connection on the commit thread) and ``run_steps_async``
    (aiosqlite, for ``:memory:`` stores) drive it, so both paths write exactly the same."""
    for key, owner, epoch in fenced(prepared):  # inside the transaction: crisiscast.audit.fencing
        sql = (
            "SELECT count(*) FROM deliveries WHERE key = ? AND lease_owner = ? AND lease_epoch = ? "
            "AND lease_until > ?"
        )
        held = yield ("fetch", sql, (key, owner, epoch, time.time()))
        if not held or held[0][0] != 1:
            raise lost(key, owner)
    rows = yield ("fetch", "SELECT seq, hash FROM chain_head WHERE id = 1", ())
    assert rows
    head_seq, head_hash = rows[0]
    dispatch_ids = list({p.event.dispatch_id for p in prepared})
    heads: dict[str, str] = {}
    for i in range(0, len(dispatch_ids), MAX_PARAMS):
        part = dispatch_ids[i : i + MAX_PARAMS]
        marks = ",".join("?" * len(part))
        sql = f"SELECT dispatch_id, hash FROM dispatch_chain WHERE dispatch_id IN ({marks})"
        heads.update({r[0]: r[1] for r in (yield ("fetch", sql, part)) or ()})
    batch = chain(prepared, head_seq, head_hash, heads)
    yield ("many", INSERT_EVENT, batch.rows)
    yield ("many", UPSERT_DISPATCH_HEAD, [(d, s, h) for d, (s, h) in batch.dispatch_heads.items()])
    yield ("exec", "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (batch.head_seq, batch.head_hash))
    views = ViewChanges(prepared, batch.rows)
    if views.inserts:
        yield ("many", INSERT_DELIVERY, views.inserts)
    if views.updates:
        yield ("many", UPDATE_DELIVERY, [(*u.values(), key) for key, u in views.updates.items()])
    if views.dispatch_events:
        ids = list(views.touched_dispatches())
        marks = ",".join("?" * len(ids))
        sql = (
            "SELECT dispatch_id, created_at, created_seq, state, message, summary FROM dispatches "
            f"WHERE dispatch_id IN ({marks})"
        )
        current = {
            r[0]: DispatchRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]))
            for r in (yield ("fetch", sql, ids)) or ()
        }
        changed = fold_dispatches(current, views.dispatch_events)
        yield (
            "many",
            UPSERT_DISPATCH,
            [
                (
                    r.dispatch_id,
                    r.created_at,
                    r.created_seq,
                    r.state,
                    canonical_json(r.message),
                    canonical_json(r.summary),
                )
                for r in changed
            ],
        )


def run_steps(conn: sqlite3.Connection, steps: Generator[Step, Rows | None, None]) -> None:
    """Drive ``batch_steps`` on a plain ``sqlite3`` connection."""
    rows: Rows | None = None
    while True:
        try:
            kind, sql, params = steps.send(rows)
        except StopIteration:
            return
        rows = None
        if kind == "fetch":
            rows = conn.execute(sql, params).fetchall()
        elif kind == "many":
            conn.executemany(sql, params)
        else:
            conn.execute(sql, params)


async def run_steps_async(db: aiosqlite.Connection, steps: Generator[Step, Rows | None, None]) -> None:
    """Drive ``batch_steps`` on an aiosqlite connection."""
    rows: Rows | None = None
    while True:
        try:
            kind, sql, params = steps.send(rows)
        except StopIteration:
            return
        rows = None
        if kind == "fetch":
            rows = [tuple(r) for r in await db.execute_fetchall(sql, params)]
        elif kind == "many":
            await db.executemany(sql, params)
        else:
            await db.execute(sql, params)


def _write(conn: sqlite3.Connection, prepared: Sequence[PreparedEvent]) -> None:
    run_steps(conn, batch_steps(prepared))
