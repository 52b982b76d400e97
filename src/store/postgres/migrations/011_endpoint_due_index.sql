-- Each endpoint's waiting deliveries by due time: a claim bounded per endpoint (the worker's
-- HERALD_ENDPOINT_CONCURRENCY) finds the endpoints with work by hopping from one endpoint to the
-- next and takes a few due rows of each, without reading a saturated endpoint's whole backlog.
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE state IN ('pending', 'in_flight');
