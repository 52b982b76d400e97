-- Herald extension: the signature schemes of an endpoint, comma-separated (stripe, standard).
ALTER TABLE endpoints ADD COLUMN signature_schemes TEXT NOT NULL DEFAULT 'stripe';
