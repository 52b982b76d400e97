-- Requests per API key and mode in fixed one-second windows (HERALD_RATE_LIMIT).
CREATE TABLE rate_limits (
  key TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
);
