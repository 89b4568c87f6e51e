-- Fencing token for worker leases: bumped each time a delivery passes to a new lease holder.
ALTER TABLE deliveries ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
