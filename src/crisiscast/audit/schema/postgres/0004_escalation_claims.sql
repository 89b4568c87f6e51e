-- Escalation steps: the claim a worker holds on one step of one dispatch while it plans it
-- (crisiscast.escalation.loop). Not audit data: the step itself is an audit event.
CREATE TABLE IF NOT EXISTS escalation_claims (
    step_key      TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    claimed_until TIMESTAMPTZ NOT NULL
);
