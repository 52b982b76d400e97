import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Stripe from 'stripe';
import { ManualClock } from '../../src/domain/clock.js';
import { newApiKey } from '../../src/domain/ids.js';
import { startTestHerald } from '../helpers/herald.js';
import { startTestPostgres } from '../helpers/postgres.js';

describe('rate limits (HERALD_RATE_LIMIT)', () => {
  it('answers 429 in Stripe\'s shape past the limit, per account and mode, per second', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0, 0));
    const h = await startTestHerald({ rateLimit: 3 }, { clock });
    for (let i = 0; i < 3; i++) assert.equal((await h.request('GET', '/v1/events')).status, 200);
    const limited = await h.request('GET', '/v1/events');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'rate_limit');
    assert.equal(limited.headers.get('retry-after'), '1');
    await assert.rejects(h.stripe().webhookEndpoints.list(), { type: 'StripeRateLimitError' });
    assert.equal((await h.request('GET', '/v1/events', { key: h.keys.live })).status, 200, 'live mode has its own count');
    clock.advance(1000);
    assert.equal((await h.request('GET', '/v1/events')).status, 200, 'the next second starts afresh');
    await h.stop();
  });

  it('holds across processes sharing one PostgreSQL database', async () => {
    const server = await startTestPostgres();
    try {
      const url = await server.createDatabase();
      const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0, 0));
      const keys = { testSecretKey: newApiKey('test'), liveSecretKey: newApiKey('live') };
      const a = await startTestHerald({ database: { kind: 'postgres', url }, rateLimit: 5, ...keys }, { clock });
      const b = await startTestHerald({ database: { kind: 'postgres', url }, rateLimit: 5, ...keys }, { clock });
      const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).request('GET', '/v1/webhook_endpoints', { key: keys.testSecretKey })).map(async (r) => (await r).status));
      assert.equal(statuses.filter((s) => s === 200).length, 5);
      assert.equal(statuses.filter((s) => s === 429).length, 7);
      await a.stop();
      await b.stop();
    } finally {
      await server.stop();
    }
  });
});
