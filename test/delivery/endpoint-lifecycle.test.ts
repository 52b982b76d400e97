import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Stripe from 'stripe';
import { startTestHerald, waitFor } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

const verifier = new Stripe('sk_test_unused');
const signaturesOf = (header: string) => header.split(',').filter((p) => p.startsWith('v1=')).length;

describe('secret rolling', () => {
  it('signs with both secrets during the overlap, then with the new one only', async () => {
    const h = await startTestHerald();
    const receiver = await new TestReceiver().start();
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    const rolled = await h.request('POST', `/v1/webhook_endpoints/${we.id}/roll_secret`, { body: 'expires_in=2' });
    assert.equal(rolled.status, 200);
    const newSecret = rolled.body.secret as string;
    assert.match(newSecret, /^whsec_/);
    assert.notEqual(newSecret, we.secret);
    assert.equal(rolled.body.id, we.id);

    await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
    const [during] = await receiver.waitForRequests(1);
    const header = during!.headers['stripe-signature'] as string;
    assert.equal(signaturesOf(header), 2);
    verifier.webhooks.constructEvent(during!.body, header, we.secret!);
    verifier.webhooks.constructEvent(during!.body, header, newSecret);

    await new Promise((r) => setTimeout(r, 2100)); // the old secret's 2 s overlap ends
    await h.publish({ type: 'customer.created', data: { object: { id: 'cus_2', object: 'customer' } } });
    const requests = await receiver.waitForRequests(2);
    const after = requests[1]!.headers['stripe-signature'] as string;
    assert.equal(signaturesOf(after), 1);
    verifier.webhooks.constructEvent(requests[1]!.body, after, newSecret);
    assert.throws(() => verifier.webhooks.constructEvent(requests[1]!.body, after, we.secret!), /No signatures found matching/);

    const tooLong = await h.request('POST', `/v1/webhook_endpoints/${we.id}/roll_secret`, { body: 'expires_in=86401' });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.param, 'expires_in');
    await h.stop();
    await receiver.stop();
  });
});

describe('automatic disabling', () => {
  it('disables an endpoint that fails for HERALD_DISABLE_AFTER, records why, and stops delivering', async () => {
    const h = await startTestHerald({ retrySchedule: [400, 400, 400, 400, 400, 400, 400, 400], disableAfterMs: 1500, deliveryTimeoutMs: 1000 });
    const receiver = await new TestReceiver(() => ({ status: 500 })).start();
    const stripe = h.stripe();
    const we = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    const started = Date.now();
    await h.publish({ type: 'invoice.payment_failed', data: { object: { id: 'in_1', object: 'invoice' } } });
    const disabled = await waitFor(async () => {
      const e = await stripe.webhookEndpoints.retrieve(we.id);
      return e.status === 'disabled' ? e : null;
    });
    assert.ok(Date.now() - started >= 1500, 'not before the threshold');
    const count = receiver.requests.length;
    assert.ok(count >= 4 && count <= 6, `${count} attempts before disabling`);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(receiver.requests.length, count, 'no more attempts once disabled');
    assert.equal(disabled.status, 'disabled');

    const health = (await h.request('GET', `/v1/webhook_endpoints/${we.id}/health`)).body;
    assert.equal(health.disabled_automatically, true);
    assert.match(health.disabled_reason, /no successful \(2xx\) delivery since/);
    assert.ok(health.disabled_at >= Math.floor(started / 1000));
    assert.equal(health.last_success_at, null);
    const attempts = (await h.request('GET', `/v1/webhook_endpoints/${we.id}/delivery_attempts?limit=100`)).body.data;
    assert.equal(attempts.length, count);
    assert.ok(attempts.every((a: any) => a.outcome === 'failed'));

    // a success in between resets the failure streak: re-enabled and healthy, it stays enabled
    receiver.respond = () => ({ status: 200 });
    await stripe.webhookEndpoints.update(we.id, { disabled: false });
    await h.publish({ type: 'invoice.payment_failed', data: { object: { id: 'in_2', object: 'invoice' } } });
    await receiver.waitForRequests(count + 1);
    assert.equal((await stripe.webhookEndpoints.retrieve(we.id)).status, 'enabled');
    const healthy = await waitFor(async () => {
      const body = (await h.request('GET', `/v1/webhook_endpoints/${we.id}/health`)).body;
      return body.last_success_at !== null ? body : null;
    });
    assert.equal(healthy.disabled_reason, null);
    assert.equal(healthy.failing_since, null);
    await h.stop();
    await receiver.stop();
  });
});

describe('recovering undelivered events', () => {
  it('queues the window\'s undelivered events, including those published while disabled', async () => {
    const h = await startTestHerald({ retrySchedule: [200], deliveryTimeoutMs: 1000 });
    let up = false;
    const receiver = await new TestReceiver(() => ({ status: up ? 200 : 503 })).start();
    const stripe = h.stripe();
    const we = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['charge.succeeded', 'charge.failed'] });
    const since = Math.floor(Date.now() / 1000) - 1;
    const failed = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_1', object: 'charge' } } });
    await receiver.waitForRequests(2); // first attempt and its one retry, both failed
    await waitFor(async () => (await h.request('GET', `/v1/events/${failed.id}/delivery_attempts`)).body.data.length === 2);
    await stripe.webhookEndpoints.update(we.id, { disabled: true });
    const whileDisabled = await h.publish({ type: 'charge.failed', data: { object: { id: 'ch_2', object: 'charge' } } });
    const unwanted = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
    assert.equal(whileDisabled.pending_webhooks, 0);

    const refused = await h.request('POST', `/v1/webhook_endpoints/${we.id}/recover`, { body: `since=${since}` });
    assert.equal(refused.status, 400, 'a disabled endpoint must be enabled first');
    await stripe.webhookEndpoints.update(we.id, { disabled: false });
    up = true;
    const dry = await h.request('POST', `/v1/webhook_endpoints/${we.id}/recover`, { body: `since=${since}&dry_run=true` });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.queued, 2);
    assert.equal(dry.body.dry_run, true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 2, 'a dry run queues nothing');

    const recovered = await h.request('POST', `/v1/webhook_endpoints/${we.id}/recover`, { body: `since=${since}` });
    assert.equal(recovered.body.queued, 2);
    await receiver.waitForRequests(4);
    const delivered = receiver.events().slice(2).map((e) => e.id).sort();
    assert.deepEqual(delivered, [failed.id, whileDisabled.id].sort());
    assert.ok(!delivered.includes(unwanted.id));
    await waitFor(async () => (await stripe.events.retrieve(failed.id)).pending_webhooks === 0);

    // nothing left to recover: delivered events are not queued again
    const again = await h.request('POST', `/v1/webhook_endpoints/${we.id}/recover`, { body: `since=${since}&dry_run=true` });
    assert.equal(again.body.queued, 0);
    const bad = await h.request('POST', `/v1/webhook_endpoints/${we.id}/recover`, { body: '' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, 'since');
    await h.stop();
    await receiver.stop();
  });
});
