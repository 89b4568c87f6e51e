-- Replies in (crisiscast.rollcall.replies): the deliveries that reached one number, found
-- without reading a whole dispatch. Partial: only delivered rows are indexed, so planning
-- a send writes no extra index entry; a row joins the index when it is delivered.
-- Built inside the migration's transaction (writes to deliveries wait while it builds: on a
-- store with millions of deliveries, run crisiscast db migrate outside an incident).
CREATE INDEX IF NOT EXISTS deliveries_delivered_by_target ON deliveries (target, dispatch_id)
    WHERE state = 'delivered';
