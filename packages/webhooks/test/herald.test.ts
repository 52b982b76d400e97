// The library against a real Herald: real deliveries into the examples, replays, secret rolls.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../src/domain/clock.js';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../../../test/helpers/herald.js';
import { TestReceiver, type ReceivedRequest } from '../../../test/helpers/receiver.js';
import { runReceiver, type RunningReceiver } from './run-receiver.js';
import { constructEvent, constructEventAsync, createWebhookHandler, nodeWebhook, WebhookVerificationError } from '../src/index.js';

for (const example of ['examples/express-webhook.js', 'examples/fastify-webhook.js']) {
  describe(`${example} fed by a real Herald`, () => {
    let h: TestHerald;
    let running: RunningReceiver;
    let endpointId: string;
    before(async () => {
      h = await startTestHerald({ deliveryTimeoutMs: 5000 });
      // The secret exists once the endpoint does; the URL is set when the example has a port.
      const endpoint = await h.stripe().webhookEndpoints.create({ url: 'http://127.0.0.1:9/placeholder', enabled_events: ['*'] });
      endpointId = endpoint.id;
      running = await runReceiver([example], { PORT: '0', HERALD_WEBHOOK_SECRET: endpoint.secret! });
      await h.stripe().webhookEndpoints.update(endpoint.id, { url: `http://127.0.0.1:${running.port}/my/webhook/url` });
    });
    after(async () => {
      await running?.stop();
      await h.stop();
    });

    it('verifies and handles payment_intent.succeeded, reports unhandled types, and Herald records success', async () => {
      const paid = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_example1', 4200) } });
      const other = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
      await waitFor(() => running.output.includes('PaymentIntent pi_example1 was successful!'), { message: 'the example to handle the event' });
      await waitFor(() => running.output.includes('Unhandled event type: customer.created'), { message: 'the unhandled type' });
      for (const event of [paid, other]) {
        await waitFor(async () => (await h.stripe().events.retrieve(event.id)).pending_webhooks === 0, { message: 'Herald to record the 2xx' });
      }
    });

    it('skips a manual resend of an event it already handled', async () => {
      const attached = await h.publish({ type: 'payment_method.attached', data: { object: { id: 'pm_1', object: 'payment_method' } } });
      await waitFor(() => running.output.includes('PaymentMethod pm_1 was attached to a Customer!'), { message: 'the first delivery' });
      const resend = await h.request('POST', `/v1/events/${attached.id}/retry`, { body: `webhook_endpoint=${endpointId}` });
      assert.equal(resend.status, 200);
      const marker = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_after_resend') } });
      await waitFor(() => running.output.includes('PaymentIntent pi_after_resend was successful!'), { message: 'a later event' });
      await waitFor(async () => (await h.stripe().events.retrieve(marker.id)).pending_webhooks === 0, { message: 'the marker' });
      await waitFor(async () => (await h.stripe().events.retrieve(attached.id)).pending_webhooks === 0, { message: 'the resend to be answered' });
      assert.equal(running.output.filter((l) => l === 'PaymentMethod pm_1 was attached to a Customer!').length, 1);
      // Herald's delivery log shows the resend was answered, as a duplicate.
      const attempts = await waitFor(async () => {
        const list = (await h.request('GET', `/v1/events/${attached.id}/delivery_attempts`)).body.data as { response_body: string | null }[];
        return list.length === 2 ? list : null;
      }, { message: 'two attempts in the delivery log' });
      assert.equal(attempts.filter((a) => a.response_body === '{"received":true,"duplicate":true}').length, 1);
    });
  });
}

describe('acknowledge: after-processing with a real Herald', () => {
  it('a handler that fails once gets a 500 to Herald, whose retry is then processed, once', async () => {
    const h = await startTestHerald({ retrySchedule: [100, 100, 100] });
    let calls = 0;
    const processed: string[] = [];
    const endpoint = await h.stripe().webhookEndpoints.create({ url: 'http://127.0.0.1:9/placeholder', enabled_events: ['invoice.paid'] });
    const handler = createWebhookHandler({
      secret: endpoint.secret!,
      acknowledge: 'after-processing',
      logger: false,
      handlers: {
        'invoice.paid': (event) => {
          if (++calls === 1) throw new Error('ledger unavailable');
          processed.push(event.id);
        },
      },
    });
    const server = createServer(nodeWebhook(handler));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await h.stripe().webhookEndpoints.update(endpoint.id, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook` });
      const event = await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_1', object: 'invoice' } } });
      await waitFor(async () => (await h.stripe().events.retrieve(event.id)).pending_webhooks === 0, { message: 'the retry to succeed' });
      assert.deepEqual(processed, [event.id]);
      const attempts = (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data as { http_status: number | null }[];
      assert.deepEqual(attempts.map((a) => a.http_status).sort(), [200, 500]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await h.stop();
    }
  });
});

describe('replay protection on a real delivery', () => {
  let h: TestHerald;
  let receiver: TestReceiver;
  let secret: string;
  let delivery: ReceivedRequest;
  before(async () => {
    h = await startTestHerald();
    receiver = await new TestReceiver().start();
    secret = (await h.stripe().webhookEndpoints.create({ url: `${receiver.url}/capture`, enabled_events: ['payment_intent.succeeded'] })).secret!;
    await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_replay') } });
    [delivery] = (await receiver.waitForRequests(1)) as [ReceivedRequest];
  });
  after(async () => {
    await receiver.stop();
    await h.stop();
  });

  it('a captured delivery re-sent 301 s later is refused; within the tolerance it passes', async () => {
    const t = Number(/^t=(\d+),/.exec(delivery.headers['stripe-signature'] as string)![1]);
    let clockOffsetMs = 0;
    const processed: string[] = [];
    // A receiver built with the library, whose clock the test moves; dedupe off so each re-send is judged alone.
    const server = createServer(
      nodeWebhook(createWebhookHandler({ secret, dedupe: false, logger: false, now: () => t * 1000 + clockOffsetMs, handlers: { '*': (event) => void processed.push(event.id) } })),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
    const resend = async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': delivery.headers['stripe-signature'] as string }, body: delivery.body });
      return { status: response.status, body: (await response.json()) as any };
    };
    try {
      clockOffsetMs = 301_000;
      const late = await resend();
      assert.equal(late.status, 400);
      assert.equal(late.body.error.code, 'timestamp_outside_tolerance');
      clockOffsetMs = 300_000;
      assert.equal((await resend()).status, 200);
      clockOffsetMs = -301_000; // a receiver clock running 301 s behind sees a future timestamp
      assert.equal((await resend()).body.error.code, 'timestamp_outside_tolerance');
      await waitFor(() => processed.length === 1, { message: 'the one accepted re-send to be processed' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // The same judgement straight from constructEvent on the captured bytes.
    assert.throws(() => constructEvent(delivery.body, delivery.headers['stripe-signature'], secret, { now: (t + 301) * 1000 }), (e: unknown) => e instanceof WebhookVerificationError && e.code === 'timestamp_outside_tolerance');
    assert.equal(constructEvent(delivery.body, delivery.headers['stripe-signature'], secret, { now: (t + 299) * 1000 }).type, 'payment_intent.succeeded');
    assert.equal(constructEvent(delivery.body, delivery.headers['stripe-signature'], secret, { now: (t + 3000) * 1000, tolerance: 3600 }).type, 'payment_intent.succeeded');
  });
});

describe('secret roll on a real Herald (injected clock)', () => {
  let h: TestHerald;
  let receiver: TestReceiver;
  const clock = new ManualClock(Date.UTC(2026, 10, 27, 12, 0, 0));
  before(async () => {
    h = await startTestHerald({}, { clock });
    receiver = await new TestReceiver().start();
  });
  after(async () => {
    await receiver.stop();
    await h.stop();
  });

  it('the old secret verifies until expires_in has passed, and not after; the new one throughout', async () => {
    const endpoint = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['charge.succeeded'] });
    const oldSecret = endpoint.secret!;
    const rolled = await h.request('POST', `/v1/webhook_endpoints/${endpoint.id}/roll_secret`, { body: 'expires_in=3600' });
    assert.equal(rolled.status, 200);
    const newSecret = rolled.body.secret as string;
    assert.notEqual(newSecret, oldSecret);

    const deliverAt = async (offsetSeconds: number) => {
      clock.set(Date.UTC(2026, 10, 27, 12, 0, 0) + offsetSeconds * 1000);
      const count = receiver.requests.length;
      await h.publish({ type: 'charge.succeeded', data: { object: { id: `ch_${offsetSeconds}`, object: 'charge' } } });
      const request = (await receiver.waitForRequests(count + 1))[count]!;
      return { body: request.body, header: request.headers['stripe-signature'] as string, now: clock.now() };
    };
    const verifies = async (d: { body: string; header: string; now: number }, secret: string) => {
      try {
        constructEvent(d.body, d.header, secret, { now: d.now });
        await constructEventAsync(d.body, d.header, secret, { now: d.now });
        return true;
      } catch (error) {
        assert.ok(error instanceof WebhookVerificationError && error.code === 'signature_mismatch', String(error));
        return false;
      }
    };

    const during = await deliverAt(10);
    assert.equal(during.header.match(/v1=/g)!.length, 2, 'both secrets sign during the roll');
    assert.equal(await verifies(during, oldSecret), true);
    assert.equal(await verifies(during, newSecret), true);

    const lastMoment = await deliverAt(3599);
    assert.equal(await verifies(lastMoment, oldSecret), true);

    const afterExpiry = await deliverAt(3601);
    assert.equal(afterExpiry.header.match(/v1=/g)!.length, 1, 'only the new secret signs after the expiry');
    assert.equal(await verifies(afterExpiry, oldSecret), false);
    assert.equal(await verifies(afterExpiry, newSecret), true);
  });
});
