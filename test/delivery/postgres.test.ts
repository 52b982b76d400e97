import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { TestReceiver } from '../helpers/receiver.js';

/**
 * The API and delivery paths of a whole Herald on PostgreSQL (the store contract covers the rest):
 * stripe-node drives the API, real receivers verify what arrives.
 */
const verifier = new Stripe('sk_test_unused');

describe('Herald on PostgreSQL: API and delivery', () => {
  let server: TestPostgres;
  let h: TestHerald;
  before(async () => {
    server = await startTestPostgres();
    h = await startTestHerald({ database: { kind: 'postgres', url: await server.createDatabase() }, retrySchedule: [300, 300, 300], deliveryTimeoutMs: 1000 });
  });
  after(async () => {
    await h?.stop();
    await server?.stop();
  });

  it('manages webhook endpoints through stripe-node', async () => {
    const stripe = h.stripe();
    const created = await stripe.webhookEndpoints.create({ url: 'https://example.com/a', enabled_events: ['charge.succeeded'], metadata: { team: 'billing', a: '1' } });
    assert.match(created.secret!, /^whsec_/);
    const updated = await stripe.webhookEndpoints.update(created.id, { enabled_events: ['*'], description: 'all' });
    assert.deepEqual(updated.enabled_events, ['*']);
    assert.deepEqual(Object.keys(updated.metadata), ['team', 'a']);
    const second = await stripe.webhookEndpoints.create({ url: 'https://example.com/b', enabled_events: ['*'] });
    const page = await stripe.webhookEndpoints.list({ limit: 1 });
    assert.equal(page.data[0]!.id, second.id);
    assert.equal(page.has_more, true);
    const next = await stripe.webhookEndpoints.list({ limit: 1, starting_after: second.id });
    assert.equal(next.data[0]!.id, created.id);
    assert.equal((await stripe.webhookEndpoints.del(created.id)).deleted, true);
    await assert.rejects(stripe.webhookEndpoints.retrieve(created.id), (err: any) => err.statusCode === 404);
    await stripe.webhookEndpoints.del(second.id);
    const live = await h.request('GET', `/v1/webhook_endpoints/${second.id}`, { key: h.keys.live });
    assert.equal(live.status, 404);
  });

  it('replays a request with the same Idempotency-Key and refuses other parameters', async () => {
    const body = 'url=https%3A%2F%2Fexample.com%2Fidem&enabled_events[]=*';
    const first = await h.request('POST', '/v1/webhook_endpoints', { body, headers: { 'idempotency-key': 'pg-idem-1' } });
    const again = await h.request('POST', '/v1/webhook_endpoints', { body, headers: { 'idempotency-key': 'pg-idem-1' } });
    assert.equal(first.status, 200);
    assert.equal(again.body.id, first.body.id);
    const other = await h.request('POST', '/v1/webhook_endpoints', { body: `${body}&description=x`, headers: { 'idempotency-key': 'pg-idem-1' } });
    assert.equal(other.status, 400);
    await h.stripe().webhookEndpoints.del(first.body.id);
  });

  it('delivers a signed event that stripe-node verifies, and counts pending_webhooks down', async () => {
    const receiver = await new TestReceiver().start();
    after(() => receiver.stop());
    const we = await h.stripe().webhookEndpoints.create({ url: `${receiver.url}/webhook`, enabled_events: ['payment_intent.succeeded'] });
    const published = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_pg', 4200) } });
    assert.equal(published.pending_webhooks, 1);
    const [request] = await receiver.waitForRequests(1);
    const event = verifier.webhooks.constructEvent(request!.body, request!.headers['stripe-signature'] as string, we.secret!);
    assert.equal(event.id, published.id);
    assert.deepEqual(event.data.object, samplePaymentIntent('pi_pg', 4200));
    await waitFor(async () => (await h.stripe().events.retrieve(published.id)).pending_webhooks === 0, { message: 'pending_webhooks to reach 0' });
    const listed = await h.stripe().events.list({ delivery_success: true, limit: 100 } as Stripe.EventListParams);
    assert.ok(listed.data.some((e) => e.id === published.id));
    await h.stripe().webhookEndpoints.del(we.id);
  });

  it('retries a failing receiver until it succeeds, logging every attempt', async () => {
    const receiver = await new TestReceiver((_req, index) => ({ status: index < 2 ? 500 : 200 })).start();
    after(() => receiver.stop());
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['invoice.paid'] });
    const event = await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_pg', object: 'invoice' } } });
    await receiver.waitForRequests(3);
    const attempts = await waitFor(async () => {
      const list = (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body;
      return list.data.length === 3 ? list.data : null;
    });
    assert.deepEqual(attempts.map((a: any) => [a.attempt_number, a.http_status, a.outcome]), [
      [3, 200, 'succeeded'],
      [2, 500, 'failed'],
      [1, 500, 'failed'],
    ]);
    await waitFor(async () => (await h.stripe().events.retrieve(event.id)).pending_webhooks === 0);

    // A manual resend is one more attempt, logged as such.
    const resent = await h.request('POST', `/v1/events/${event.id}/retry`, { body: `webhook_endpoint=${we.id}` });
    assert.equal(resent.status, 200);
    await receiver.waitForRequests(4);
    await h.stripe().webhookEndpoints.del(we.id);
  });
});
