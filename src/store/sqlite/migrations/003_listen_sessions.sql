-- `herald listen` sessions: one per account and mode, so the signing secret stays the same across
-- restarts and the CLI catches up on what was published while it was away.
CREATE TABLE listen_sessions (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  mode TEXT NOT NULL,
  secret TEXT NOT NULL,
  enabled_events TEXT NOT NULL,
  -- Every event of the account and mode with seq <= cursor_seq is acknowledged or not wanted.
  cursor_seq INTEGER NOT NULL,
  created INTEGER NOT NULL,
  UNIQUE (account_id, mode)
);

-- Events the CLI acknowledged (it forwarded them and reported the result) beyond the cursor.
CREATE TABLE listen_acks (
  session_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  PRIMARY KEY (session_id, event_id)
);
CREATE INDEX listen_acks_seq ON listen_acks (session_id, event_seq);
