-- crisiscast audit store, PostgreSQL schema 1 (see the SQLite schema for what each table is).
-- Applied by crisiscast db migrate inside one transaction under an advisory lock.

CREATE TABLE events (
    seq                BIGINT PRIMARY KEY,
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
CREATE INDEX events_by_dispatch ON events (dispatch_id, seq);

CREATE FUNCTION crisiscast_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION crisiscast_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION crisiscast_events_append_only();

CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE dispatch_chain (
    dispatch_id TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL
);

CREATE TABLE deliveries (
    key         TEXT PRIMARY KEY,
    dispatch_id TEXT NOT NULL,
    plan_order  BIGINT NOT NULL,
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
    lease_until TIMESTAMPTZ
);
CREATE INDEX deliveries_by_dispatch ON deliveries (dispatch_id, plan_order);
CREATE INDEX deliveries_open ON deliveries (plan_order) WHERE state IN ('pending', 'in_doubt');
CREATE INDEX deliveries_open_by_dispatch ON deliveries (dispatch_id, plan_order)
    WHERE state IN ('pending', 'in_doubt');

CREATE TABLE dispatches (
    dispatch_id TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    created_seq BIGINT NOT NULL,
    state       TEXT NOT NULL,
    message     TEXT NOT NULL,
    summary     TEXT NOT NULL
);
CREATE INDEX dispatches_newest ON dispatches (created_seq);

CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    dispatch_id TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
