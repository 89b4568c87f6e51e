-- crisiscast audit store, SQLite schema 2: the store's own random id.
-- Signed checkpoints (crisiscast.audit.checkpoint) name it, so a store that was wiped or
-- replaced by another one is told apart from the store the checkpoints vouch for.

CREATE TABLE IF NOT EXISTS store_meta (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    store_id TEXT NOT NULL
);
INSERT OR IGNORE INTO store_meta (id, store_id) VALUES (1, lower(hex(randomblob(16))));
