-- Replies in (crisiscast.rollcall.replies): the deliveries that reached one number, found
-- without reading a whole dispatch. Partial: only delivered rows are indexed, so planning
-- a send writes no extra index entry; a row joins the index when it is delivered.
CREATE INDEX IF NOT EXISTS deliveries_delivered_by_target ON deliveries (target, dispatch_id)
    WHERE state = 'delivered';
