-- Herald's first schema (PostgreSQL). Times are milliseconds since the epoch (BIGINT), as in the
-- SQLite schema, so both stores hand the same values to the layers above.
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  application_id TEXT NOT NULL,
  default_api_version TEXT NOT NULL,
  is_default BOOLEAN NOT NULL DEFAULT FALSE,
  created BIGINT NOT NULL
);
-- Several processes may start on an empty database at once: only one default account may win.
CREATE UNIQUE INDEX accounts_one_default ON accounts (is_default) WHERE is_default;

CREATE TABLE api_keys (
  key_hash TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  created BIGINT NOT NULL
);
CREATE INDEX api_keys_owner ON api_keys (account_id, mode);

CREATE TABLE endpoints (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  url TEXT NOT NULL,
  enabled_events TEXT[] NOT NULL,
  api_version TEXT,
  connect BOOLEAN NOT NULL,
  description TEXT,
  -- json (not jsonb) keeps the keys in the order the user gave them.
  metadata JSON NOT NULL,
  status TEXT NOT NULL,            -- enabled | disabled | deleted
  disabled_reason TEXT,
  disabled_at BIGINT,
  failing_since BIGINT,
  last_success_at BIGINT,
  created BIGINT NOT NULL
);
CREATE INDEX endpoints_owner ON endpoints (account_id, mode, status);

CREATE TABLE endpoint_secrets (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id TEXT NOT NULL,
  secret TEXT NOT NULL,
  created BIGINT NOT NULL,
  expires_at BIGINT
);
CREATE INDEX endpoint_secrets_endpoint ON endpoint_secrets (endpoint_id);

CREATE TABLE events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  type TEXT NOT NULL,
  connected_account TEXT,
  api_version TEXT NOT NULL,
  created BIGINT NOT NULL,
  -- The JSON text exactly as published: payloads splice it in unparsed.
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
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  kind TEXT NOT NULL,              -- automatic | manual
  state TEXT NOT NULL,             -- pending | in_flight | succeeded | failed | cancelled
  attempt_count INTEGER NOT NULL DEFAULT 0,
  schedule_step INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  lease_token TEXT,
  delivered_at BIGINT,
  created BIGINT NOT NULL
);
CREATE UNIQUE INDEX deliveries_pair ON deliveries (event_id, endpoint_id) WHERE kind = 'automatic';
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('pending', 'in_flight');
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, event_id);

CREATE TABLE attempts (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  delivery_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  kind TEXT NOT NULL,
  attempt_number INTEGER NOT NULL,
  url TEXT NOT NULL,
  created BIGINT NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  failure_kind TEXT,
  failure_message TEXT,
  http_status INTEGER,
  request_headers JSON NOT NULL,
  response_headers JSON,
  response_body TEXT,
  next_retry_at BIGINT
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
  locked_until BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, mode, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The delivery log behind the dashboard: deliveries per endpoint and per event in insertion order,
-- each delivery's latest attempt, and an endpoint's attempts over a time window.
CREATE INDEX deliveries_endpoint_seq ON deliveries (endpoint_id, seq);
CREATE INDEX deliveries_event_seq ON deliveries (event_id, seq);
CREATE INDEX attempts_delivery ON attempts (delivery_id, seq);
CREATE INDEX attempts_endpoint_created ON attempts (endpoint_id, created);

-- `herald listen` sessions: one per account and mode, so the signing secret stays the same across
-- restarts and the CLI catches up on what was published while it was away.
CREATE TABLE listen_sessions (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  secret TEXT NOT NULL,
  enabled_events TEXT[] NOT NULL,
  -- Every event of the account and mode with seq <= cursor_seq is acknowledged or not wanted.
  cursor_seq BIGINT NOT NULL,
  created BIGINT NOT NULL,
  UNIQUE (account_id, mode)
);

-- Events the CLI acknowledged (it forwarded them and reported the result) beyond the cursor.
CREATE TABLE listen_acks (
  session_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_seq BIGINT NOT NULL,
  PRIMARY KEY (session_id, event_id)
);
CREATE INDEX listen_acks_seq ON listen_acks (session_id, event_seq);
