-- Provider status callbacks (e.g. Twilio's MessageSid, crisiscast.channels.sms.routes): the
-- delivery a provider id belongs to, found through this index instead of reading recent
-- dispatches whole. Partial: rows without a provider id (planned, not yet accepted) are not indexed.
CREATE INDEX IF NOT EXISTS deliveries_by_provider_id ON deliveries (provider_id, channel)
    WHERE provider_id IS NOT NULL;
