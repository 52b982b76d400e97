-- An attempt that sent the event as published keeps the pending_webhooks it showed instead of a
-- copy of the payload (request_body stays NULL); the body is rendered again from the event when
-- read (src/store/attempt-bodies.ts).
ALTER TABLE attempts ADD COLUMN request_body_pending_webhooks INTEGER;
