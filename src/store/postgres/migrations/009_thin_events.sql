-- Versioned and thin events. account_api_version: the account's default version when the event
-- was created (the version of endpoints that name none). object_id/object_type: the subject of the
-- event (thin payloads' related_object, and the latest snapshot of an object);
-- related_object_url: the publisher's own URL for it (NULL: Herald serves the snapshot).
ALTER TABLE events ADD COLUMN account_api_version TEXT;
ALTER TABLE events ADD COLUMN object_id TEXT;
ALTER TABLE events ADD COLUMN object_type TEXT;
ALTER TABLE events ADD COLUMN related_object_url TEXT;
CREATE INDEX events_object ON events (account_id, mode, object_id, seq) WHERE object_id IS NOT NULL;
