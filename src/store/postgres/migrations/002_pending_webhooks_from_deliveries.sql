-- pending_webhooks is counted from the deliveries instead of kept on the event: with many workers,
-- a counter row that every worker delivering the event must lock serializes their transactions.
ALTER TABLE events DROP COLUMN pending_webhooks;
CREATE INDEX deliveries_undelivered ON deliveries (event_id) WHERE kind = 'automatic' AND delivered_at IS NULL;
-- Every claim and result rewrites a delivery's index entries: keep no index another one covers
-- (deliveries_endpoint_seq serves lookups by endpoint, deliveries_pair those by event and endpoint).
DROP INDEX deliveries_endpoint;
