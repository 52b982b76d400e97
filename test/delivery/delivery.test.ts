import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

const verifier = new Stripe('sk_test_unused');

describe('delivery', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald({ retrySchedule: [300, 300, 300], deliveryTimeoutMs: 1000 });
  });
  after(() => h.stop());

  it('delivers the published event, signed so that stripe-node accepts it (the README flow)', async () => {
    const receiver = await new TestReceiver().start();
    const we = await h.stripe().webhookEndpoints.create({ url: `${receiver.url}/webhook`, enabled_events: ['payment_intent.succeeded'] });
    const published = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_123', 2000) } });
    assert.equal(published.object, 'event');
    assert.equal(published.pending_webhooks, 1);
    const [request] = await receiver.waitForRequests(1);
    assert.equal(request!.method, 'POST');
    assert.equal(request!.path, '/webhook');
    assert.equal(request!.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(request!.headers['user-agent'], 'Stripe/1.0 (+https://stripe.com/docs/webhooks)');
    const event = verifier.webhooks.constructEvent(request!.body, request!.headers['stripe-signature'] as string, we.secret!);
    assert.equal(event.id, published.id);
    assert.equal(event.type, 'payment_intent.succeeded');
    assert.deepEqual((event.data.object as any), samplePaymentIntent('pi_123', 2000));
    assert.equal((event.data.object as any).amount, 2000); // JSON keeps the number a number
    assert.equal(event.livemode, false);
    await waitFor(async () => (await h.stripe().events.retrieve(published.id)).pending_webhooks === 0, { message: 'pending_webhooks to reach 0' });
    await receiver.stop();
  });

  it('signs exactly as stripe-node\'s generateTestHeaderString, with a fresh timestamp', async () => {
    const receiver = await new TestReceiver().start();
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['customer.created'] });
    await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
    const [request] = await receiver.waitForRequests(1);
    const header = request!.headers['stripe-signature'] as string;
    const t = Number(/^t=(\d+),/.exec(header)![1]);
    assert.ok(Math.abs(t - request!.receivedAt / 1000) < 3, 'timestamp is the attempt time');
    assert.equal(header, verifier.webhooks.generateTestHeaderString({ payload: request!.body, secret: we.secret!, timestamp: t }));
    await receiver.stop();
  });

  it('signs with Standard Webhooks too when the endpoint asks for it (one secret serves both schemes)', async () => {
    const { Webhook } = await import('standardwebhooks');
    const receiver = await new TestReceiver().start();
    const stripe = h.stripe();
    const we = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['invoice.created'], signature_schemes: ['stripe', 'standard'] } as any);
    assert.deepEqual((we as any).signature_schemes, ['stripe', 'standard']);
    const event = await h.publish({ type: 'invoice.created', data: { object: { id: 'in_sw', object: 'invoice' } } });
    const [request] = await receiver.waitForRequests(1);
    assert.equal(request!.headers['webhook-id'], event.id);
    const verified = new Webhook(we.secret!.slice('whsec_'.length)).verify(request!.body, {
      'webhook-id': request!.headers['webhook-id'] as string,
      'webhook-timestamp': request!.headers['webhook-timestamp'] as string,
      'webhook-signature': request!.headers['webhook-signature'] as string,
    }) as any;
    assert.equal(verified.id, event.id);
    verifier.webhooks.constructEvent(request!.body, request!.headers['stripe-signature'] as string, we.secret!);
    // standard only: no Stripe-Signature any more
    const updated = await stripe.webhookEndpoints.update(we.id, { signature_schemes: ['standard'] } as any);
    assert.deepEqual((updated as any).signature_schemes, ['standard']);
    await h.publish({ type: 'invoice.created', data: { object: { id: 'in_sw2', object: 'invoice' } } });
    const requests = await receiver.waitForRequests(2);
    assert.equal(requests[1]!.headers['stripe-signature'], undefined);
    assert.ok(requests[1]!.headers['webhook-signature']);
    await assert.rejects(stripe.webhookEndpoints.update(we.id, { signature_schemes: ['hmac'] } as any), (err: any) => err.param === 'signature_schemes[0]');
    await stripe.webhookEndpoints.del(we.id);
    await receiver.stop();
  });

  it('fans out by event type, * and connect', async () => {
    const receiver = await new TestReceiver().start();
    const stripe = h.stripe();
    const exact = await stripe.webhookEndpoints.create({ url: `${receiver.url}/exact`, enabled_events: ['invoice.paid'] });
    const all = await stripe.webhookEndpoints.create({ url: `${receiver.url}/all`, enabled_events: ['*'] });
    const connect = await stripe.webhookEndpoints.create({ url: `${receiver.url}/connect`, enabled_events: ['*'], connect: true });
    const other = await stripe.webhookEndpoints.create({ url: `${receiver.url}/other`, enabled_events: ['charge.refunded'] });
    const a = await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_1', object: 'invoice' } } });
    const b = await h.publish({ type: 'invoice.created', data: { object: { id: 'in_2', object: 'invoice' } } });
    const c = await h.publish({ type: 'invoice.paid', account: 'acct_connected1', data: { object: { id: 'in_3', object: 'invoice' } } });
    assert.equal(a.pending_webhooks, 2);
    assert.equal(b.pending_webhooks, 1);
    assert.equal(c.pending_webhooks, 1);
    assert.equal(c.account, 'acct_connected1');
    await receiver.waitForRequests(4);
    await waitFor(async () => (await h.stripe().events.retrieve(c.id)).pending_webhooks === 0);
    const byPath = (path: string) => receiver.requests.filter((r) => r.path === path).map((r) => JSON.parse(r.body).id).sort();
    assert.deepEqual(byPath('/exact'), [a.id]);
    assert.deepEqual(byPath('/all'), [a.id, b.id].sort());
    assert.deepEqual(byPath('/connect'), [c.id]);
    assert.deepEqual(byPath('/other'), []);
    assert.equal(receiver.requests.length, 4);
    for (const we of [exact, all, connect, other]) await stripe.webhookEndpoints.del(we.id);
    await receiver.stop();
  });

  it('retries a failing receiver with new timestamps and signatures until it succeeds', async () => {
    const receiver = await new TestReceiver((_req, i) => (i < 2 ? { status: 500, body: 'boom' } : { status: 200 })).start();
    // retries a second apart, so each attempt has its own timestamp (t has a resolution of 1 s)
    const h = await startTestHerald({ retrySchedule: [1000, 1000], deliveryTimeoutMs: 1000 });
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['charge.succeeded'] });
    const event = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_1', object: 'charge' } } });
    const requests = await receiver.waitForRequests(3);
    const headers = requests.map((r) => r.headers['stripe-signature']);
    assert.equal(new Set(headers).size, 3, 'every attempt has its own signature');
    for (const r of requests) verifier.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, we.secret!);
    const attempts = await waitFor(async () => {
      const list = (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body;
      return list.data.length === 3 ? list.data : null;
    });
    assert.deepEqual(attempts.map((a: any) => [a.attempt_number, a.outcome, a.http_status]), [
      [3, 'succeeded', 200],
      [2, 'failed', 500],
      [1, 'failed', 500],
    ]);
    assert.equal(attempts[2].failure_kind, 'http_error');
    // the log keeps each attempt's body exactly as signed and sent
    assert.deepEqual(attempts.map((a: any) => a.request_body).reverse(), requests.map((r) => r.body));
    assert.equal(attempts[0].request_headers['stripe-signature'], requests[2]!.headers['stripe-signature']);
    assert.equal(attempts[2].response_body, 'boom');
    assert.ok(attempts[2].next_retry_at !== null);
    assert.equal(attempts[0].next_retry_at, null);
    await waitFor(async () => (await h.stripe().events.retrieve(event.id)).pending_webhooks === 0);
    const timestamps = headers.map((header) => Number(/t=(\d+)/.exec(header as string)![1]));
    assert.ok(timestamps[0]! < timestamps[1]! && timestamps[1]! < timestamps[2]!, `timestamps increase: ${timestamps}`);
    await h.stop();
    await receiver.stop();
  });

  it('counts redirects, timeouts and refused connections as failures, and says which', async () => {
    const redirecting = await new TestReceiver(() => ({ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } })).start();
    const slow = await new TestReceiver(() => ({ status: 200, delayMs: 3000 })).start();
    const closed = await new TestReceiver().start();
    const closedUrl = closed.url;
    await closed.stop();
    const stripe = h.stripe();
    const endpoints = await Promise.all([
      stripe.webhookEndpoints.create({ url: redirecting.url, enabled_events: ['payout.paid'] }),
      stripe.webhookEndpoints.create({ url: slow.url, enabled_events: ['payout.paid'] }),
      stripe.webhookEndpoints.create({ url: closedUrl, enabled_events: ['payout.paid'] }),
    ]);
    const event = await h.publish({ type: 'payout.paid', data: { object: { id: 'po_1', object: 'payout' } } });
    const attempts = await waitFor(async () => {
      const list = (await h.request('GET', `/v1/events/${event.id}/delivery_attempts?limit=100`)).body;
      const first = (id: string) => list.data.find((a: any) => a.webhook_endpoint === id && a.attempt_number === 1);
      const found = endpoints.map((e) => first(e.id));
      return found.every(Boolean) ? found : null;
    });
    assert.deepEqual(attempts.map((a: any) => a.failure_kind), ['redirect', 'timeout', 'connection_refused']);
    assert.equal(attempts[0].http_status, 302);
    assert.match(attempts[0].failure_message, /not followed/);
    assert.equal(attempts[1].http_status, null);
    assert.ok(attempts[1].duration_ms >= 900);
    assert.equal(redirecting.requests.length >= 1, true);
    for (const we of endpoints) await stripe.webhookEndpoints.del(we.id);
    await redirecting.stop();
    await slow.stop();
    const events = await stripe.events.list({ delivery_success: false, limit: 100 });
    assert.ok(events.data.some((e) => e.id === event.id));
  });

  it('drops a retry that falls due while the endpoint is disabled; re-enabled in time, it goes ahead', async () => {
    let failing = true;
    const receiver = await new TestReceiver(() => ({ status: failing ? 503 : 200 })).start();
    const stripe = h.stripe();
    const we = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['refund.created'] });
    const dropped = await h.publish({ type: 'refund.created', data: { object: { id: 're_1', object: 'refund' } } });
    await receiver.waitForRequests(1);
    await stripe.webhookEndpoints.update(we.id, { disabled: true });
    // the retry falls due (300 ms) while disabled: it is dropped, nothing more arrives
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(receiver.requests.length, 1);
    failing = false;
    await stripe.webhookEndpoints.update(we.id, { disabled: false });
    const kept = await h.publish({ type: 'refund.created', data: { object: { id: 're_2', object: 'refund' } } });
    await receiver.waitForRequests(2);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(receiver.events().map((e) => e.id), [dropped.id, kept.id]);
    assert.equal((await stripe.events.retrieve(dropped.id)).pending_webhooks, 1);

    // disabled then re-enabled before the retry is due: the retry happens
    failing = true;
    const second = await h.publish({ type: 'refund.created', data: { object: { id: 're_3', object: 'refund' } } });
    await receiver.waitForRequests(3);
    await stripe.webhookEndpoints.update(we.id, { disabled: true });
    await stripe.webhookEndpoints.update(we.id, { disabled: false });
    failing = false;
    await receiver.waitForRequests(4);
    assert.equal(receiver.events()[3].id, second.id);
    await stripe.webhookEndpoints.del(we.id);
    await receiver.stop();
  });

  it('resends on demand without cancelling automatic retries', async () => {
    let answer = 500;
    const receiver = await new TestReceiver(() => ({ status: answer })).start();
    const stripe = h.stripe();
    const we = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['invoice.voided'] });
    const event = await h.publish({ type: 'invoice.voided', data: { object: { id: 'in_v', object: 'invoice' } } });
    // let the automatic schedule run out: 1 attempt + 3 retries
    await receiver.waitForRequests(4);
    await waitFor(async () => (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data.length === 4);
    answer = 200;
    const resent = await h.request('POST', `/v1/events/${event.id}/retry`, { body: `webhook_endpoint=${we.id}` });
    assert.equal(resent.status, 200);
    assert.equal(resent.body.id, event.id);
    assert.equal(resent.body.object, 'event');
    await receiver.waitForRequests(5);
    const attempts = await waitFor(async () => {
      const list = (await h.request('GET', `/v1/webhook_endpoints/${we.id}/delivery_attempts`)).body.data;
      return list.length === 5 ? list : null;
    });
    assert.equal(attempts[0].kind, 'manual');
    assert.equal(attempts[0].outcome, 'succeeded');
    await waitFor(async () => (await stripe.events.retrieve(event.id)).pending_webhooks === 0);
    const missing = await h.request('POST', `/v1/events/${event.id}/retry`, { body: 'webhook_endpoint=we_nope' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.param, 'webhook_endpoint');
    await stripe.webhookEndpoints.del(we.id);
    await receiver.stop();
  });

  it('manual resend does not cancel scheduled automatic retries', async () => {
    let calls = 0;
    const receiver = await new TestReceiver(() => ({ status: ++calls <= 1 ? 500 : 200 })).start();
    const h2 = await startTestHerald({ retrySchedule: [1500], deliveryTimeoutMs: 1000 });
    const we = await h2.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['invoice.voided'] });
    const event = await h2.publish({ type: 'invoice.voided', data: { object: { id: 'in_w', object: 'invoice' } } });
    await receiver.waitForRequests(1);
    await h2.request('POST', `/v1/events/${event.id}/retry`, { body: `webhook_endpoint=${we.id}` });
    await receiver.waitForRequests(2);
    // the automatic retry still comes 1.5 s after the first failure
    await receiver.waitForRequests(3, 5000);
    // The attempt is recorded once its response is in, a moment after the receiver saw the request.
    const kinds = await waitFor(async () => {
      const listed = (await h2.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data.map((a: any) => a.kind);
      return listed.length === 3 && listed;
    }, { message: '3 attempts recorded' });
    assert.deepEqual(kinds.sort(), ['automatic', 'automatic', 'manual']);
    await h2.stop();
    await receiver.stop();
  });
});
