"""One group-commit batch written to SQLite in ONE call on a plain ``sqlite3`` connection.

The SQLite store's writer runs ``commit_batch`` on its own commit thread, so a batch costs
one hand-off between the event loop and that thread instead of one per statement (begin,
chain-head reads, inserts, view updates, commit: about ten). The statements, their order
and the transaction are exactly those of the store's asynchronous path: ``BEGIN IMMEDIATE``,
the chain heads read inside the transaction (so two processes on one file keep one chain),
the events and both chains, the delivery and dispatch views, the ``inside_batch_commit``
failpoint, ``COMMIT``. Any failure rolls the whole batch back and raises.
"""

# SQL here is assembled only from constant fragments and "?" placeholders; values are always bound.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from crisiscast.audit.events import canonical_json
from crisiscast.audit.prepare import DispatchRow, PreparedEvent, ViewChanges, chain, fold_dispatches
from crisiscast.audit.records import EVENT_COLUMNS
from crisiscast.failpoints import failpoint

__all__ = [
    "INSERT_DELIVERY",
    "INSERT_EVENT",
    "MAX_PARAMS",
    "UPDATE_DELIVERY",
    "UPSERT_DISPATCH",
    "UPSERT_DISPATCH_HEAD",
    "commit_batch",
    "connect",
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


def _write(conn: sqlite3.Connection, prepared: Sequence[PreparedEvent]) -> None:
    head_seq, head_hash = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
    dispatch_ids = list({p.event.dispatch_id for p in prepared})
    heads: dict[str, str] = {}
    for i in range(0, len(dispatch_ids), MAX_PARAMS):
        part = dispatch_ids[i : i + MAX_PARAMS]
        marks = ",".join("?" * len(part))
        sql = f"SELECT dispatch_id, hash FROM dispatch_chain WHERE dispatch_id IN ({marks})"
        heads.update({r[0]: r[1] for r in conn.execute(sql, part)})
    batch = chain(prepared, head_seq, head_hash, heads)
    conn.executemany(INSERT_EVENT, batch.rows)
    conn.executemany(UPSERT_DISPATCH_HEAD, [(d, s, h) for d, (s, h) in batch.dispatch_heads.items()])
    conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (batch.head_seq, batch.head_hash))
    views = ViewChanges(prepared, batch.rows)
    if views.inserts:
        conn.executemany(INSERT_DELIVERY, views.inserts)
    if views.updates:
        conn.executemany(
            UPDATE_DELIVERY,
            [
                (
                    u.from_pending,
                    u.from_in_doubt,
                    u.attempts_inc,
                    u.provider_id,
                    u.set_code,
                    u.code,
                    u.set_reason,
                    u.reason,
                    u.updated_at,
                    key,
                )
                for key, u in views.updates.items()
            ],
        )
    if views.dispatch_events:
        ids = list(views.touched_dispatches())
        marks = ",".join("?" * len(ids))
        sql = (
            "SELECT dispatch_id, created_at, created_seq, state, message, summary FROM dispatches "
            f"WHERE dispatch_id IN ({marks})"
        )
        current = {
            r[0]: DispatchRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]))
            for r in conn.execute(sql, ids)
        }
        changed = fold_dispatches(current, views.dispatch_events)
        conn.executemany(
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
