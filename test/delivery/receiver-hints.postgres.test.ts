// The same suite on PostgreSQL (410 Gone disables through the store's health replay there).
process.env.TEST_STORE = 'postgres';
await import('./receiver-hints.test.js');
