-- Failure alerts. Where each endpoint stands as far as alerts go ('ok', 'warned', 'disabled') and
-- the start of the run of failures that state is about: a transition is a compare-and-set on this
-- row, made in the same transaction that queues its alert, so each alert is queued once.
CREATE TABLE endpoint_alert_states (
  endpoint_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  failing_since INTEGER,
  changed_at INTEGER NOT NULL
);

-- The alerts: an outbox the sender works off (next_send_at set while it is to be sent, leased by
-- lease_token while a process sends it) and the history the API and dashboard list.
CREATE TABLE alerts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  created INTEGER NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  details TEXT NOT NULL,
  delivery TEXT NOT NULL DEFAULT 'pending',
  recipient TEXT,
  send_attempts INTEGER NOT NULL DEFAULT 0,
  next_send_at INTEGER,
  lease_token TEXT,
  last_error TEXT,
  sent_at INTEGER
);
CREATE INDEX alerts_due ON alerts (next_send_at) WHERE next_send_at IS NOT NULL;
CREATE INDEX alerts_owner ON alerts (account_id, mode, seq);

-- Where an account's alerts go (HERALD_ALERT_EMAIL when it has none).
CREATE TABLE account_alert_settings (
  account_id TEXT PRIMARY KEY,
  email TEXT,
  updated INTEGER NOT NULL
);
