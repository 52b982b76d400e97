-- Herald's first schema (SQLite). Times are milliseconds since the epoch.
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  application_id TEXT NOT NULL,
  default_api_version TEXT NOT NULL,
  is_default INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);

CREATE TABLE api_keys (
  key_hash TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE INDEX api_keys_owner ON api_keys (account_id, mode);

CREATE TABLE endpoints (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  url TEXT NOT NULL,
  enabled_events TEXT NOT NULL,
  api_version TEXT,
  connect INTEGER NOT NULL,
  description TEXT,
  metadata TEXT NOT NULL,
  status TEXT NOT NULL,            -- enabled | disabled | deleted
  disabled_reason TEXT,
  disabled_at INTEGER,
  failing_since INTEGER,
  last_success_at INTEGER,
  created INTEGER NOT NULL
);
CREATE INDEX endpoints_owner ON endpoints (account_id, mode, status);

CREATE TABLE endpoint_secrets (
  endpoint_id TEXT NOT NULL,
  secret TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX endpoint_secrets_endpoint ON endpoint_secrets (endpoint_id);

CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  type TEXT NOT NULL,
  connected_account TEXT,
  api_version TEXT NOT NULL,
  created INTEGER NOT NULL,
  data TEXT NOT NULL,
  request_id TEXT,
  request_idempotency_key TEXT,
  pending_webhooks INTEGER NOT NULL
);
CREATE INDEX events_owner ON events (account_id, mode, seq);
CREATE INDEX events_created ON events (created);

-- A delivery is one event bound for one endpoint: the queue's unit of work. `next_attempt_at` is
-- the due time while pending and the lease deadline while in flight, so one index finds both new
-- work and work whose worker died.
CREATE TABLE deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  kind TEXT NOT NULL,              -- automatic | manual
  state TEXT NOT NULL,             -- pending | in_flight | succeeded | failed | cancelled
  attempt_count INTEGER NOT NULL DEFAULT 0,
  schedule_step INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  lease_token TEXT,
  delivered_at INTEGER,
  created INTEGER NOT NULL
);
CREATE UNIQUE INDEX deliveries_pair ON deliveries (event_id, endpoint_id) WHERE kind = 'automatic';
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('pending', 'in_flight');
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, event_id);

CREATE TABLE attempts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  delivery_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  kind TEXT NOT NULL,
  attempt_number INTEGER NOT NULL,
  url TEXT NOT NULL,
  created INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  failure_kind TEXT,
  failure_message TEXT,
  http_status INTEGER,
  request_headers TEXT NOT NULL,
  response_headers TEXT,
  response_body TEXT,
  next_retry_at INTEGER
);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, seq);
CREATE INDEX attempts_event ON attempts (event_id, seq);
CREATE INDEX attempts_created ON attempts (created);

CREATE TABLE idempotency_keys (
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER,                  -- null while the first request runs
  body TEXT,
  locked_until INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, mode, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
