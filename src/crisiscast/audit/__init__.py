"""The audit trail: append-only, hash-chained events and a current-state view of deliveries."""
