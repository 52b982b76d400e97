import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import Stripe from 'stripe';
import { resolveConfig, ConfigError } from '../../src/config/config.js';
import { startTestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

const verifier = new Stripe('sk_test_unused');
const changes = pathToFileURL(fileURLToPath(new URL('../fixtures/version-changes.mjs', import.meta.url))).href;

describe('payloads in the endpoint\'s API version', () => {
  it('translates the payload for an endpoint pinned to another version, and signs what it sends', async () => {
    const h = await startTestHerald({ versionTransforms: changes });
    const receiver = await new TestReceiver().start();
    const stripe = h.stripe();
    const pinned = await stripe.webhookEndpoints.create({ url: `${receiver.url}/old`, enabled_events: ['charge.succeeded'], api_version: '2025-01-15.acacia' as Stripe.WebhookEndpointCreateParams['api_version'] });
    const current = await stripe.webhookEndpoints.create({ url: `${receiver.url}/new`, enabled_events: ['charge.succeeded'] });
    assert.equal(pinned.api_version, '2025-01-15.acacia');
    const event = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_1', object: 'charge', amount: 2000 } } });
    assert.equal(event.api_version, '2026-10-28.endive');
    await receiver.waitForRequests(2);
    const old = receiver.requests.find((r) => r.path === '/old')!;
    const fresh = receiver.requests.find((r) => r.path === '/new')!;
    const oldEvent = verifier.webhooks.constructEvent(old.body, old.headers['stripe-signature'] as string, pinned.secret!) as any;
    const newEvent = verifier.webhooks.constructEvent(fresh.body, fresh.headers['stripe-signature'] as string, current.secret!) as any;
    assert.equal(oldEvent.api_version, '2025-01-15.acacia');
    assert.deepEqual(oldEvent.data.object, { id: 'ch_1', object: 'charge', amount_cents: 2000 });
    assert.equal(newEvent.api_version, '2026-10-28.endive');
    assert.deepEqual(newEvent.data.object, { id: 'ch_1', object: 'charge', amount: 2000 });
    assert.equal(oldEvent.id, newEvent.id);
    // an event published in the old version is upgraded for the current endpoint
    await h.publish({ type: 'charge.succeeded', api_version: '2025-01-15.acacia', data: { object: { id: 'ch_2', object: 'charge', amount_cents: 500 } } });
    await receiver.waitForRequests(4);
    const upgraded = JSON.parse(receiver.requests.filter((r) => r.path === '/new')[1]!.body);
    assert.deepEqual(upgraded.data.object, { id: 'ch_2', object: 'charge', amount: 500 });
    await h.stop();
    await receiver.stop();
  });

  it('a default set with POST /v1/account applies to the very next publish without a version', async () => {
    const h = await startTestHerald();
    try {
      const event = { type: 'charge.succeeded', data: { object: { id: 'ch_1', object: 'charge', amount: 500 } } };
      const before = await h.publish(event);
      const changed = await h.request('POST', '/v1/account', { body: `default_api_version=${encodeURIComponent('2025-03-31.basil')}` });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.notEqual(before.api_version, '2025-03-31.basil');
      assert.equal((await h.publish(event)).api_version, '2025-03-31.basil');
      assert.equal((await h.request('GET', '/v1/account')).body.default_api_version, '2025-03-31.basil');
    } finally {
      await h.stop();
    }
  });

  it('rejects a missing transforms module at start, naming the setting', () => {
    assert.throws(() => resolveConfig({ HERALD_VERSION_TRANSFORMS: '/nonexistent/versions.mjs' }), (err: unknown) => err instanceof ConfigError && /HERALD_VERSION_TRANSFORMS: no such file/.test((err as Error).message));
  });
});
