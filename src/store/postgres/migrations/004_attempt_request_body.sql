-- The body of each attempt exactly as sent: its pending_webhooks and api_version can differ by attempt.
ALTER TABLE attempts ADD COLUMN request_body TEXT;
