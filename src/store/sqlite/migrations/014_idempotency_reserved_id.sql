-- The id of the object a request with an idempotency key creates, chosen before it runs and kept
-- with the key: if its process dies after the object is written but before the key records the
-- answer, the retry finds the object under that id instead of creating a second one.
ALTER TABLE idempotency_keys ADD COLUMN reserved_id TEXT;
