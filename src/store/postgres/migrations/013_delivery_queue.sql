-- The queue apart from the delivery log. Every claim and result used to change `next_attempt_at`,
-- `state` or `delivered_at`, which the due indexes and the undelivered index name, so no update of
-- a delivery was HOT and each one added an entry to every index of the log (by endpoint, by event,
-- by id...) although their keys never change. Now the due time and the lease live in
-- `delivery_queue`, whose rows are few and short-lived; the log's rows are updated in place (HOT,
-- hence the room left on each page) and their indexes are written once, at insert.
--
-- A queue row exists while an attempt is planned (`next_attempt_at`: the due time while waiting,
-- the lease deadline while in flight) and, with `next_attempt_at` NULL, for an automatic delivery
-- that was given up or cancelled before it was delivered: `pending_webhooks` counts those rows
-- (`undelivered`), so the log needs no index over `delivered_at`.
CREATE TABLE delivery_queue (
  delivery_id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  next_attempt_at BIGINT,
  lease_token TEXT,
  undelivered BOOLEAN NOT NULL
);
CREATE INDEX delivery_queue_due ON delivery_queue (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX delivery_queue_endpoint_due ON delivery_queue (endpoint_id, next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX delivery_queue_event ON delivery_queue (event_id);

INSERT INTO delivery_queue (delivery_id, event_id, endpoint_id, next_attempt_at, lease_token, undelivered)
SELECT id, event_id, endpoint_id,
  CASE WHEN state IN ('pending', 'in_flight') THEN next_attempt_at END,
  CASE WHEN state = 'in_flight' THEN lease_token END,
  kind = 'automatic' AND delivered_at IS NULL
FROM deliveries
-- A `herald listen` session's deliveries (`lsn_…`) are never due and never count as undelivered.
WHERE state IN ('pending', 'in_flight') OR (kind = 'automatic' AND delivered_at IS NULL AND endpoint_id NOT LIKE 'lsn\_%');

DROP INDEX deliveries_due;
DROP INDEX deliveries_endpoint_due;
DROP INDEX deliveries_undelivered;
ALTER TABLE deliveries DROP COLUMN lease_token;
-- A delivery is rewritten twice soon after its insert (claim, result): HOT needs room on its page.
ALTER TABLE deliveries SET (fillfactor = 50);
