-- crisiscast audit store, SQLite schema 1.
-- events: the append-only, hash-chained log (the only source of truth).
-- chain_head / dispatch_chain: the last seq and hash of the log and of each dispatch,
--   updated in the same transaction as the events, so a cut-off tail is detected.
-- deliveries / dispatches: current-state views derived from the events (a cache).
-- idempotency_keys: external keys (webhook ids) bound once to a dispatch.
-- Idempotent (IF NOT EXISTS) so two processes opening a new file at once cannot clash.

CREATE TABLE IF NOT EXISTS events (
    seq                INTEGER PRIMARY KEY,
    at                 TEXT NOT NULL,
    kind               TEXT NOT NULL,
    dispatch_id        TEXT NOT NULL,
    delivery_key       TEXT,
    data               TEXT NOT NULL,
    prev_hash          TEXT NOT NULL,
    hash               TEXT NOT NULL,
    dispatch_prev_hash TEXT NOT NULL,
    dispatch_hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_dispatch ON events (dispatch_id, seq);

CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE IF NOT EXISTS chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT OR IGNORE INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE IF NOT EXISTS dispatch_chain (
    dispatch_id TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS deliveries (
    key         TEXT PRIMARY KEY,
    dispatch_id TEXT NOT NULL,
    plan_order  INTEGER NOT NULL,
    channel     TEXT NOT NULL,
    target      TEXT NOT NULL,
    part        INTEGER NOT NULL,
    body        TEXT NOT NULL,
    language    TEXT NOT NULL,
    payload     TEXT NOT NULL,
    after_key   TEXT,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    provider_id TEXT,
    last_code   TEXT,
    last_reason TEXT,
    updated_at  TEXT NOT NULL,
    lease_owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS deliveries_by_dispatch ON deliveries (dispatch_id, plan_order);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (plan_order)
    WHERE state IN ('pending', 'in_doubt');
CREATE INDEX IF NOT EXISTS deliveries_open_by_dispatch ON deliveries (dispatch_id, plan_order)
    WHERE state IN ('pending', 'in_doubt');

CREATE TABLE IF NOT EXISTS dispatches (
    dispatch_id TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    created_seq INTEGER NOT NULL,
    state       TEXT NOT NULL,
    message     TEXT NOT NULL,
    summary     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dispatches_newest ON dispatches (created_seq);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         TEXT PRIMARY KEY,
    dispatch_id TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
