import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Stripe from 'stripe';
import { waitFor } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { spawnServe } from './process.js';
import { testTempDir } from '../helpers/temp-dir.js';

const KEYS = { HERALD_TEST_SECRET_KEY: 'sk_test_crashcrashcrashcrash01', HERALD_LIVE_SECRET_KEY: 'sk_live_crashcrashcrashcrash01' };

async function publishBurst(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  const batches = Array.from({ length: count / 20 }, (_, b) => b);
  for (const b of batches) {
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const response = await fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEYS.HERALD_TEST_SECRET_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'payment_intent.succeeded', data: { object: { id: `pi_${b}_${i}`, object: 'payment_intent' } } }),
        });
        assert.equal(response.status, 200);
        return ((await response.json()) as { id: string }).id;
      }),
    );
    ids.push(...results);
  }
  return ids;
}

describe('crash safety', () => {
  it('loses nothing when the process is SIGKILLed in the middle of a burst of deliveries', async () => {
    const dir = testTempDir('herald-crash-');
    // At most 64 attempts in flight, each answered after 1 s: the 800 deliveries take over 12 s, far
    // longer than publishing the burst, so the kill below always lands mid-burst with attempts in flight.
    const env = {
      ...KEYS,
      HERALD_DATABASE_URL: `sqlite:${join(dir, 'herald.db')}`,
      HERALD_DELIVERY_TIMEOUT: '5s',
      HERALD_RETRY_SCHEDULE: '1s',
      HERALD_DELIVERY_CONCURRENCY: '64',
    };
    const receiver = await new TestReceiver(() => ({ status: 200, delayMs: 1000 })).start();
    const first = await spawnServe(env);
    const stripe = new Stripe(KEYS.HERALD_TEST_SECRET_KEY, { host: '127.0.0.1', port: Number(new URL(first.url).port), protocol: 'http' });
    await stripe.webhookEndpoints.create({ url: `${receiver.url}/a`, enabled_events: ['*'] });
    await stripe.webhookEndpoints.create({ url: `${receiver.url}/b`, enabled_events: ['payment_intent.succeeded'] });
    const ids = await publishBurst(first.url, 400);
    await receiver.waitForRequests(100, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const beforeRestart = receiver.requests.length;
    assert.ok(beforeRestart < 800, `the kill happened mid-burst (${beforeRestart} of 800 delivered)`);

    const second = await spawnServe(env);
    const expected = new Set(ids.flatMap((id) => [`/a ${id}`, `/b ${id}`]));
    const seen = () => new Set(receiver.requests.map((r) => `${r.path} ${JSON.parse(r.body).id}`));
    await waitFor(
      () => {
        const got = seen();
        return [...expected].every((key) => got.has(key));
      },
      { timeoutMs: 60_000, intervalMs: 200, message: 'every event at both endpoints' },
    );
    // Every published event is still there, and every delivery was made at least once.
    const restarted = new Stripe(KEYS.HERALD_TEST_SECRET_KEY, { host: '127.0.0.1', port: Number(new URL(second.url).port), protocol: 'http' });
    const listed = await restarted.events.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    assert.equal(listed.length, 400);
    await waitFor(async () => (await restarted.events.list({ delivery_success: false, limit: 1 })).data.length === 0, { timeoutMs: 20_000, message: 'no event pending' });
    const duplicates = receiver.requests.length - expected.size;
    // Duplicates can only be the attempts that were in flight (leased) when the process died.
    assert.ok(duplicates <= 2 * 256, `${duplicates} duplicates`);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    await receiver.stop();
  });

  it('on SIGTERM stops taking requests, finishes in-flight deliveries and exits 0', async () => {
    const dir = testTempDir('herald-term-');
    const env = { ...KEYS, HERALD_DATABASE_URL: `sqlite:${join(dir, 'herald.db')}` };
    const receiver = await new TestReceiver(() => ({ status: 200, delayMs: 1500 })).start();
    const first = await spawnServe(env);
    const stripe = new Stripe(KEYS.HERALD_TEST_SECRET_KEY, { host: '127.0.0.1', port: Number(new URL(first.url).port), protocol: 'http' });
    await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    const [id] = await publishBurst(first.url, 20);
    await receiver.waitForRequests(1);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    assert.match(first.output(), /SIGTERM received/);

    const second = await spawnServe(env);
    const restarted = new Stripe(KEYS.HERALD_TEST_SECRET_KEY, { host: '127.0.0.1', port: Number(new URL(second.url).port), protocol: 'http' });
    const event = await restarted.events.retrieve(id!);
    // the in-flight attempts finished before exit and were recorded: nothing is redelivered
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(event.pending_webhooks, 0);
    assert.equal(receiver.requests.length, 20);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    await receiver.stop();
  });
});
