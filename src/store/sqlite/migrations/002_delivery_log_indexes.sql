-- Indexes for the delivery log queries behind the dashboard: deliveries per endpoint and per event
-- in insertion order, each delivery's latest attempt, and an endpoint's attempts over a time window.
CREATE INDEX deliveries_endpoint_seq ON deliveries (endpoint_id, seq);
CREATE INDEX deliveries_event_seq ON deliveries (event_id, seq);
CREATE INDEX attempts_delivery ON attempts (delivery_id, seq);
CREATE INDEX attempts_endpoint_created ON attempts (endpoint_id, created);
