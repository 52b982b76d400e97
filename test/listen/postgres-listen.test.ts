import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Stripe from 'stripe';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { TestReceiver } from '../helpers/receiver.js';
import { startListen } from '../cli/cli-process.js';

let postgres: TestPostgres;
before(async () => {
  postgres = await startTestPostgres();
});
after(async () => {
  await postgres?.stop();
});

test('on PostgreSQL with two Herald servers (own pools, one database): a listener on one gets what the other publishes, once', async () => {
  const url = await postgres.createDatabase();
  const first = await startTestHerald({ database: { kind: 'postgres', url } });
  let second: TestHerald | null = null;
  const local = await new TestReceiver().start();
  try {
    const other = await startTestHerald({ database: { kind: 'postgres', url }, testSecretKey: first.keys.test, liveSecretKey: first.keys.live });
    second = other;
    const { cli, secret } = await startListen(['--forward-to', local.url], { HERALD_API_KEY: first.keys.test, HERALD_API_BASE: first.url });
    const published: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await other.request('POST', '/v1/events', {
        key: first.keys.test,
        body: JSON.stringify({ type: 'checkout.session.completed', data: { object: { id: `cs_test_${i}`, object: 'checkout.session' } } }),
        contentType: 'application/json',
      });
      assert.equal(response.status, 200);
      published.push(response.body.id);
    }
    await local.waitForRequests(20, 30_000);
    const verifier = new Stripe('sk_test_unused');
    const ids = local.requests.map((r) => verifier.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, secret).id);
    assert.deepEqual([...ids].sort(), [...published].sort());
    // Recorded in the shared delivery log, visible from either process.
    await waitFor(async () => (await other.request('GET', `/v1/events/${published[0]}/delivery_attempts`, { key: first.keys.test })).body.data.length === 1);
    await cli.kill();
  } finally {
    await local.stop();
    await second?.stop();
    await first.stop();
  }
});
