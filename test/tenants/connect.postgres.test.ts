// The same suite on PostgreSQL (TEST_STORE in test/helpers/herald.ts). Set before the suite's modules load.
process.env.TEST_STORE = 'postgres';
await import('./connect.test.js');
