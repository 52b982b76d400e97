// The same suite on PostgreSQL: every Herald it starts gets a database of its own on an embedded
// server (TEST_STORE in test/helpers/herald.ts). Set before the suite's modules load.
process.env.TEST_STORE = 'postgres';
await import('./endpoint-concurrency.test.js');
