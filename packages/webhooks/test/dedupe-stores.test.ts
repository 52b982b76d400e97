import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
// @ts-expect-error: the example is plain JavaScript, as a reader would copy it.
import { SqliteDedupeStore } from '../../../examples/sqlite-dedupe-store.js';
import { createWebhookHandler, stripeSignatureHeader, type DedupeStore } from '../src/index.js';
import { PRIMARY_SECRET } from './vectors.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
/** A fresh file for a store, in a directory removed when the tests end. */
function freshPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-dedupe-'));
  dirs.push(dir);
  return join(dir, 'seen.db');
}

function delivery(id: string) {
  const body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: {} } });
  return { rawBody: body, headers: { 'stripe-signature': stripeSignatureHeader(body, [PRIMARY_SECRET], Math.floor(Date.now() / 1000)) }, method: 'POST' };
}

describe('the README\'s SQLite dedupe store (examples/sqlite-dedupe-store.js)', () => {
  it('skips a redelivery across two receivers sharing the file, and after a restart', async () => {
    const path = freshPath();
    const processed: string[] = [];
    const receiver = (store: DedupeStore) => createWebhookHandler({ secret: PRIMARY_SECRET, dedupe: store, logger: false, handlers: { 'invoice.paid': (e) => void processed.push(e.id) } });
    const storeA = new SqliteDedupeStore(path);
    const storeB = new SqliteDedupeStore(path);
    const first = await receiver(storeA).handle(delivery('evt_shared_1'));
    await first.process();
    const second = await receiver(storeB).handle(delivery('evt_shared_1'));
    assert.equal(second.response.body, '{"received":true,"duplicate":true}');
    storeA.close();
    storeB.close();
    const restarted = new SqliteDedupeStore(path);
    assert.match((await receiver(restarted).handle(delivery('evt_shared_1'))).response.body, /duplicate/);
    const fresh = await receiver(restarted).handle(delivery('evt_shared_2'));
    await fresh.process();
    assert.deepEqual(processed, ['evt_shared_1', 'evt_shared_2']);
    restarted.close();
  });

  it('releases the id when the handler fails, so the redelivery runs', async () => {
    const store = new SqliteDedupeStore(freshPath());
    let attempts = 0;
    const handler = createWebhookHandler({ secret: PRIMARY_SECRET, dedupe: store, logger: false, handlers: { 'invoice.paid': () => { if (++attempts === 1) throw new Error('first try fails'); } } });
    await (await handler.handle(delivery('evt_flaky'))).process();
    await (await handler.handle(delivery('evt_flaky'))).process();
    assert.equal(attempts, 2);
    store.close();
  });
});
