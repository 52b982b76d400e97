import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';

describe('webhook endpoints through stripe-node', () => {
  let h: TestHerald;
  let stripe: Stripe;
  before(async () => {
    h = await startTestHerald({ maxEndpoints: 5 });
    stripe = h.stripe();
  });
  after(() => h.stop());

  it('creates an endpoint with exactly Stripe\'s fields, and the secret only on create', async () => {
    const we = await stripe.webhookEndpoints.create({
      url: 'http://localhost:4242/webhook',
      enabled_events: ['payment_intent.succeeded', 'charge.failed'],
      description: 'orders',
      metadata: { team: 'payments', n: '1' },
    });
    assert.match(we.id, /^we_[A-Za-z0-9]{24}$/);
    assert.deepEqual(Object.keys(we).sort(), ['api_version', 'application', 'created', 'description', 'enabled_events', 'id', 'livemode', 'metadata', 'object', 'secret', 'status', 'url']);
    assert.equal(we.object, 'webhook_endpoint');
    assert.equal(we.status, 'enabled');
    assert.equal(we.livemode, false);
    assert.equal(we.application, null);
    assert.equal(we.api_version, null);
    assert.deepEqual(we.enabled_events, ['payment_intent.succeeded', 'charge.failed']);
    assert.deepEqual(we.metadata, { team: 'payments', n: '1' });
    assert.match(we.secret!, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.ok(Math.abs(we.created - Date.now() / 1000) < 5);

    const got = await stripe.webhookEndpoints.retrieve(we.id);
    assert.equal('secret' in got, false);
    const { secret: _secret, ...withoutSecret } = we;
    assert.deepEqual(got, withoutSecret);
  });

  it('updates url, events, description, metadata (merge, delete a key) and status', async () => {
    const we = await stripe.webhookEndpoints.create({ url: 'http://localhost:1/a', enabled_events: ['*'], metadata: { a: '1', b: '2' } });
    const updated = await stripe.webhookEndpoints.update(we.id, {
      url: 'https://example.com/b',
      enabled_events: ['customer.created'],
      description: 'new',
      metadata: { a: '', c: '3' },
      disabled: true,
    });
    assert.equal(updated.url, 'https://example.com/b');
    assert.deepEqual(updated.enabled_events, ['customer.created']);
    assert.equal(updated.description, 'new');
    assert.deepEqual(updated.metadata, { b: '2', c: '3' });
    assert.equal(updated.status, 'disabled');
    const cleared = await stripe.webhookEndpoints.update(we.id, { description: '', disabled: false, metadata: '' as any });
    assert.equal(cleared.description, null);
    assert.equal(cleared.status, 'enabled');
    assert.deepEqual(cleared.metadata, {});
  });

  it('deletes, then answers 404 resource_missing', async () => {
    const we = await stripe.webhookEndpoints.create({ url: 'http://localhost:1/x', enabled_events: ['*'] });
    const deleted = await stripe.webhookEndpoints.del(we.id);
    assert.deepEqual(deleted, { id: we.id, object: 'webhook_endpoint', deleted: true });
    await assert.rejects(stripe.webhookEndpoints.retrieve(we.id), (err: any) => {
      assert.equal(err.type, 'StripeInvalidRequestError');
      assert.equal(err.statusCode, 404);
      assert.equal(err.code, 'resource_missing');
      assert.equal(err.param, 'id');
      assert.match(err.message, /No such webhook endpoint/);
      return true;
    });
  });

  it('connect endpoints carry the platform application', async () => {
    const we = await stripe.webhookEndpoints.create({ url: 'http://localhost:1/c', enabled_events: ['account.updated'], connect: true });
    assert.match(we.application!, /^ca_/);
    await stripe.webhookEndpoints.del(we.id);
  });

  it('rejects bad input with Stripe errors naming the parameter', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ enabled_events: ['*'] }, 'parameter_missing', 'url'],
      [{ url: 'http://localhost:1/x' }, 'parameter_missing', 'enabled_events'],
      [{ url: 'not a url', enabled_events: ['*'] }, 'url_invalid', 'url'],
      [{ url: 'ftp://x.example/a', enabled_events: ['*'] }, 'url_invalid', 'url'],
      [{ url: 'http://localhost:1/x', enabled_events: ['payment_intent.exploded'] }, 'parameter_invalid', 'enabled_events[0]'],
      [{ url: 'http://localhost:1/x', enabled_events: ['*'], api_version: 'yesterday' }, 'parameter_invalid', 'api_version'],
      [{ url: 'http://localhost:1/x', enabled_events: ['*'], bogus: 'x' }, 'parameter_unknown', 'bogus'],
      [{ url: 'http://localhost:1/x', enabled_events: ['*'], connect: 'maybe' }, 'parameter_invalid', 'connect'],
    ];
    for (const [params, code, param] of cases) {
      await assert.rejects(stripe.webhookEndpoints.create(params as any), (err: any) => {
        assert.equal(err.type, 'StripeInvalidRequestError', JSON.stringify(params));
        assert.equal(err.statusCode, 400);
        assert.equal(err.code, code, JSON.stringify(params));
        assert.equal(err.param, param, JSON.stringify(params));
        assert.ok(err.message.length > 10);
        return true;
      });
    }
  });

  it('live mode requires https, with Stripe\'s message', async () => {
    const live = h.stripe('live');
    await assert.rejects(live.webhookEndpoints.create({ url: 'http://example.com/hook', enabled_events: ['*'] }), (err: any) => {
      assert.equal(err.message, 'Invalid URL: http://example.com/hook. URLs in livemode must begin with "https://"');
      return true;
    });
    const we = await live.webhookEndpoints.create({ url: 'https://example.com/hook', enabled_events: ['*'] });
    assert.equal(we.livemode, true);
    await live.webhookEndpoints.del(we.id);
  });

  it('keeps test and live objects apart', async () => {
    const live = h.stripe('live');
    const liveEndpoint = await live.webhookEndpoints.create({ url: 'https://example.com/live', enabled_events: ['*'] });
    const testList = await stripe.webhookEndpoints.list({ limit: 100 });
    assert.ok(!testList.data.some((e) => e.id === liveEndpoint.id));
    await assert.rejects(stripe.webhookEndpoints.retrieve(liveEndpoint.id), (err: any) => {
      assert.equal(err.statusCode, 404);
      assert.match(err.message, /exists in live mode, but a test mode key was used/);
      return true;
    });
    await assert.rejects(stripe.webhookEndpoints.update(liveEndpoint.id, { description: 'x' }), { statusCode: 404 });
    await assert.rejects(stripe.webhookEndpoints.del(liveEndpoint.id), { statusCode: 404 });
    await live.webhookEndpoints.del(liveEndpoint.id);
  });

  it('limits endpoints per account and mode', async () => {
    const existing = await stripe.webhookEndpoints.list({ limit: 100 });
    const created: string[] = [];
    for (let i = existing.data.length; i < 5; i++) {
      created.push((await stripe.webhookEndpoints.create({ url: `http://localhost:1/${i}`, enabled_events: ['*'] })).id);
    }
    await assert.rejects(stripe.webhookEndpoints.create({ url: 'http://localhost:1/over', enabled_events: ['*'] }), (err: any) => {
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, 'webhook_endpoint_limit_reached');
      return true;
    });
    // the limit is per mode: live still has room
    const live = await h.stripe('live').webhookEndpoints.create({ url: 'https://example.com/ok', enabled_events: ['*'] });
    await h.stripe('live').webhookEndpoints.del(live.id);
    for (const id of created) await stripe.webhookEndpoints.del(id);
  });
});
