import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openThreadedSqliteStore } from '../../src/store/sqlite/threaded-store.js';
import { storeContract } from './contract.js';

// The same contract as test/store/sqlite.test.ts, through the store the server uses: SQLite on its
// own thread, with the calls of one turn grouped into one transaction (store-thread.ts).
const dir = mkdtempSync(join(tmpdir(), 'herald-store-thread-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('SQLite on its own thread', async () =>
  openThreadedSqliteStore(join(dir, `store-${++n}.db`), (err) => {
    throw err;
  }),
);

test('calls made together share a transaction, yet a failing one undoes only its own writes', async () => {
  const store = await openThreadedSqliteStore(join(dir, `store-${++n}.db`), (err) => {
    throw err;
  });
  try {
    const account = (id: string) => ({ id, name: id, applicationId: `ca_${id}`, defaultApiVersion: '2026-10-28.endive', created: 1 });
    // Issued in one turn: they reach the thread together and run in one batch.
    const results = await Promise.allSettled([
      store.createAccount(account('acct_first')),
      store.createAccount(account('acct_first')), // the same id again: a constraint error
      store.createAccount(account('acct_third')),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[2].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    const error = (results[1] as PromiseRejectedResult).reason as Error & { code?: string };
    assert.equal(error.code, 'SQLITE_CONSTRAINT_PRIMARYKEY', 'the error keeps its name, message and code across the thread');
    assert.match(error.message, /UNIQUE constraint failed/);
    assert.deepEqual((await store.listAccounts()).map((a) => a.id).sort(), ['acct_first', 'acct_third']);
  } finally {
    await store.close();
  }
});
