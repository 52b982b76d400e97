import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

/**
 * Connect through stripe-node: a platform creates connected accounts (`stripe.accounts.create`),
 * publishes events for them (the `Stripe-Account` header stripe-node sends, or the `account`
 * parameter), and only its `connect` endpoints receive those, while its own events go to the others.
 */
describe('connected accounts (Connect)', () => {
  let h: TestHerald;
  let stripe: Stripe;
  const receiver = new TestReceiver();
  const verifier = new Stripe('sk_test_verifier');
  before(async () => {
    await receiver.start();
    h = await startTestHerald();
    stripe = h.stripe();
  });
  after(async () => {
    await h?.stop();
    await receiver.stop();
  });

  test('stripe.accounts.create / retrieve / list', async () => {
    const created = await stripe.accounts.create({ type: 'custom', email: 'driver@example.com', business_profile: { name: 'Rocket Driver' } });
    assert.match(created.id, /^acct_[A-Za-z0-9]{16}$/);
    assert.equal(created.object, 'account');
    assert.equal(created.email, 'driver@example.com');
    assert.equal(created.business_profile?.name, 'Rocket Driver');
    assert.deepEqual(await stripe.accounts.retrieve(created.id), created);
    const second = await stripe.accounts.create({});
    const listed = await stripe.accounts.list({ limit: 10 });
    assert.deepEqual(listed.data.map((a) => a.id), [second.id, created.id]);
    // The key's own account is GET /v1/account (retrieveCurrent), as in Stripe.
    const own = await stripe.accounts.retrieveCurrent();
    assert.notEqual(own.id, created.id);
    await assert.rejects(stripe.accounts.retrieve('acct_NoSuchAccount00001'), (err: any) => {
      assert.equal(err.statusCode, 404);
      assert.equal(err.code, 'resource_missing');
      assert.equal(err.message, "No such account: 'acct_NoSuchAccount00001'");
      return true;
    });
    await assert.rejects(stripe.accounts.create({ country: 'US' } as Stripe.AccountCreateParams), { statusCode: 400, code: 'parameter_unknown' });
  });

  test("events for a connected account reach only the platform's connect endpoints, signed", async () => {
    const connected = await stripe.accounts.create({ email: 'shop@example.com' });
    const platformHook = await stripe.webhookEndpoints.create({ url: `${receiver.url}/platform`, enabled_events: ['customer.created'] });
    const connectHook = await stripe.webhookEndpoints.create({ url: `${receiver.url}/connect`, enabled_events: ['customer.created'], connect: true });
    const data = { object: { id: 'cus_conn', object: 'customer' } };
    // stripe-node sends the Stripe-Account header with `stripeAccount`.
    const viaHeader = await stripe.rawRequest('POST', '/v1/events', { type: 'customer.created', data }, { stripeAccount: connected.id });
    const viaParam = await h.publish({ type: 'customer.created', account: connected.id, data });
    const own = await h.publish({ type: 'customer.created', data });
    assert.equal(viaHeader.account, connected.id);
    assert.equal(viaParam.account, connected.id);
    assert.equal(own.account, undefined);
    for (const e of [viaHeader, viaParam, own]) assert.equal(e.pending_webhooks, 1);

    await receiver.waitForRequests(3);
    const at = (path: string, secret: string) =>
      receiver.requests.filter((r) => r.path === path).map((r) => verifier.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, secret));
    const toConnect = at('/connect', connectHook.secret!);
    assert.deepEqual(toConnect.map((e) => e.id).sort(), [viaHeader.id, viaParam.id].sort());
    assert.ok(toConnect.every((e) => e.account === connected.id));
    assert.deepEqual(at('/platform', platformHook.secret!).map((e) => e.id), [own.id]);
    assert.match((await stripe.webhookEndpoints.retrieve(connectHook.id)).application!, /^ca_/);

    // Read as the connected account: only its events.
    const asConnected = await stripe.events.list({ limit: 100 }, { stripeAccount: connected.id });
    assert.deepEqual(asConnected.data.map((e) => e.id).sort(), [viaHeader.id, viaParam.id].sort());
    assert.equal((await stripe.events.retrieve(viaHeader.id, {}, { stripeAccount: connected.id })).id, viaHeader.id);
    await assert.rejects(stripe.events.retrieve(own.id, {}, { stripeAccount: connected.id }), { statusCode: 404, code: 'resource_missing' });
    await waitFor(async () => (await stripe.events.retrieve(viaHeader.id)).pending_webhooks === 0);
    await stripe.webhookEndpoints.del(platformHook.id);
    await stripe.webhookEndpoints.del(connectHook.id);
  });

  test('live mode publishes only for registered connected accounts; test mode takes any id as a label', async () => {
    const live = h.stripe('live');
    const registered = await live.accounts.create({});
    const published = await live.rawRequest('POST', '/v1/events', { type: 'customer.created', data: { object: { id: 'cus_l', object: 'customer' } } }, { stripeAccount: registered.id });
    assert.equal(published.account, registered.id);
    await assert.rejects(
      live.rawRequest('POST', '/v1/events', { type: 'customer.created', data: { object: { id: 'cus_l', object: 'customer' } } }, { stripeAccount: 'acct_NotRegistered0001' }),
      (err: any) => {
        assert.equal(err.type, 'StripePermissionError');
        assert.equal(err.statusCode, 403);
        assert.equal(err.code, 'account_invalid');
        assert.match(err.message, /does not have access to account 'acct_NotRegistered0001' \(or that account does not exist\)/);
        return true;
      },
    );
    const labelled = await h.publish({ type: 'customer.created', account: 'acct_1032D82eZvKYlo2C', data: { object: { id: 'cus_t', object: 'customer' } } });
    assert.equal(labelled.account, 'acct_1032D82eZvKYlo2C');
    await assert.rejects(stripe.accounts.retrieve('acct_1032D82eZvKYlo2C'), { statusCode: 404 }, 'a label registers nothing');
  });

  test('bad connected account ids and unsupported uses of Stripe-Account are clear 400s', async () => {
    const bad = await h.request('POST', '/v1/events', {
      body: JSON.stringify({ type: 'customer.created', data: { object: { id: 'cus_x' } } }),
      contentType: 'application/json',
      headers: { 'stripe-account': 'not-an-account' },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /not a connected account id/);
    const conflict = await h.request('POST', '/v1/events', {
      body: JSON.stringify({ type: 'customer.created', account: 'acct_One0000000000000', data: { object: { id: 'cus_x' } } }),
      contentType: 'application/json',
      headers: { 'stripe-account': 'acct_Two0000000000000' },
    });
    assert.equal(conflict.status, 400);
    assert.equal(conflict.body.error.param, 'account');
    const onEndpoints = await h.request('GET', '/v1/webhook_endpoints', { headers: { 'stripe-account': 'acct_One0000000000000' } });
    assert.equal(onEndpoints.status, 400);
    assert.match(onEndpoints.body.error.message, /Stripe-Account header is not supported on GET \/v1\/webhook_endpoints/);
  });
});
