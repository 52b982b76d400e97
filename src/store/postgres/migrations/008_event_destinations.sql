-- Event destinations (v2 API): a webhook endpoint is a destination of type 'webhook_endpoint';
-- Amazon EventBridge destinations live in the same table (their url is the bus ARN).
ALTER TABLE endpoints ADD COLUMN type TEXT NOT NULL DEFAULT 'webhook_endpoint';
ALTER TABLE endpoints ADD COLUMN name TEXT;
ALTER TABLE endpoints ADD COLUMN event_payload TEXT NOT NULL DEFAULT 'snapshot';  -- snapshot | thin
ALTER TABLE endpoints ADD COLUMN events_from TEXT NOT NULL DEFAULT 'self';        -- comma-separated scopes
ALTER TABLE endpoints ADD COLUMN aws_account_id TEXT;
ALTER TABLE endpoints ADD COLUMN aws_region TEXT;
ALTER TABLE endpoints ADD COLUMN aws_event_bus TEXT;                              -- name or ARN
ALTER TABLE endpoints ADD COLUMN aws_credentials TEXT;                            -- JSON; never shown by the API
ALTER TABLE endpoints ADD COLUMN updated BIGINT;
UPDATE endpoints SET events_from = CASE WHEN connect THEN 'other_accounts' ELSE 'self' END, updated = created;
