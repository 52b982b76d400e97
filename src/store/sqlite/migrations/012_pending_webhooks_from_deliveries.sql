-- pending_webhooks is counted from the deliveries instead of kept on the event, as on PostgreSQL:
-- keeping it rewrote the whole event row, its data included, each time a delivery succeeded.
ALTER TABLE events DROP COLUMN pending_webhooks;
-- Every delivery written updates each of its indexes: keep none that another covers
-- (deliveries_endpoint_seq serves lookups by endpoint, deliveries_pair those by event and endpoint).
DROP INDEX deliveries_endpoint;
