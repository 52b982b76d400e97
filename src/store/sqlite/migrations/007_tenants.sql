-- Tenants: restricted (read-only) API keys beside the one secret key per account and mode, and
-- the connected accounts (Stripe Connect) of each platform account.
ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'secret'; -- secret | restricted

-- A connected account id means something only within its platform: the key is the pair, so one
-- platform can neither use nor detect another platform's connected accounts.
CREATE TABLE connected_accounts (
  platform_account_id TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  name TEXT,
  email TEXT,
  created INTEGER NOT NULL,
  PRIMARY KEY (platform_account_id, id)
);
CREATE INDEX connected_accounts_seq ON connected_accounts (platform_account_id, seq);
CREATE INDEX events_connected ON events (account_id, mode, connected_account, seq) WHERE connected_account IS NOT NULL;
