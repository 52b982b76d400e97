// The same test on PostgreSQL. Set before the suite's modules load.
process.env.TEST_STORE = 'postgres';
await import('./secrets-at-rest.test.js');
