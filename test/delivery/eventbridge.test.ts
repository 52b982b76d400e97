// Amazon EventBridge destinations end to end: created through stripe-node's v2 API, fed by the
// delivery worker, sent by the official AWS SDK (real serialisation and SigV4 signing) to a local
// PutEvents server reached through HERALD_EVENTBRIDGE_ENDPOINT; attempts read back from the API.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import Stripe from 'stripe';
import { startHerald, type RunningHerald } from '../../src/server/herald.js';
import { silentLogger } from '../../src/domain/logger.js';
import { MAX_REQUEST_BYTES } from '../../src/delivery/eventbridge.js';
import { TestEventBridge, type PutEventsEntry } from '../helpers/eventbridge-server.js';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { runInProcess } from '../cli/cli-process.js';

const KEY = { access_key_id: 'AKIAHERALDE2E0000001', secret_access_key: 'herald-e2e-secret-0000000000000000000001' };
const ACCOUNT = '123456789012';
const REGION = 'eu-west-3';
const busArn = (bus: string) => `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${bus}`;

describe('Amazon EventBridge destinations', () => {
  let server: TestEventBridge;
  let h: TestHerald;
  let stripe: Stripe;

  before(async () => {
    server = await new TestEventBridge({ [KEY.access_key_id]: KEY.secret_access_key }).start();
    // Events may be larger than EventBridge takes (HERALD_MAX_EVENT_BYTES above 256 KB), to see them refused.
    h = await startTestHerald({ eventBridgeEndpoint: server.url, retrySchedule: [300, 300, 300], deliveryTimeoutMs: 5000, maxEventBytes: 1024 * 1024 });
    stripe = h.stripe();
  });
  after(async () => {
    await h.stop();
    await server.stop();
  });
  beforeEach(() => {
    server.callFaults.length = 0;
    server.entryFault = null;
  });

  /** A destination on its own bus (the tests tell their entries apart by bus). */
  async function createDestination(bus: string, enabledEvents: string[], options: { payload?: 'snapshot' | 'thin'; credentials?: boolean } = {}) {
    return stripe.v2.core.eventDestinations.create({
      name: `EventBridge ${bus}`,
      type: 'amazon_eventbridge',
      event_payload: options.payload ?? 'snapshot',
      enabled_events: enabledEvents,
      amazon_eventbridge: {
        aws_account_id: ACCOUNT,
        aws_region: REGION,
        event_bus_name: bus,
        ...(options.credentials === false ? {} : { credentials: KEY }),
      },
    } as any);
  }
  const entriesOn = (bus: string): PutEventsEntry[] => server.accepted.filter((e) => e.EventBusName === busArn(bus));
  const callsOn = (bus: string) => server.calls.filter((c) => c.entries[0]?.EventBusName === busArn(bus));
  const attemptsOf = async (eventId: string) =>
    (await h.request('GET', `/v1/events/${eventId}/delivery_attempts?limit=100`)).body.data.sort((a: any, b: any) => a.attempt_number - b.attempt_number) as any[];
  /** The event's attempts (delivery log, oldest first) once there are `count`. */
  const waitForAttempts = (eventId: string, count: number) =>
    waitFor(async () => {
      const list = await attemptsOf(eventId);
      return list.length === count ? list : null;
    }, { message: `${count} attempts of ${eventId}` });

  it('puts each event on the bus: Source names Herald and the account, DetailType the type, Detail the event as the API shows it', async () => {
    const destination = await createDestination('snapshots', ['payment_intent.succeeded']);
    const published = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_eb1', 1234) } });
    const [entry] = await waitFor(() => (entriesOn('snapshots').length >= 1 ? entriesOn('snapshots') : null), { message: 'the entry on the bus' });
    assert.deepEqual(server.rejected, [], 'every request carried a valid SigV4 signature');
    assert.equal(entry!.Source, `herald.${h.herald.accountId}`);
    assert.equal(entry!.DetailType, 'payment_intent.succeeded');
    assert.equal(entry!.EventBusName, busArn('snapshots'));
    assert.equal(Math.floor(entry!.Time!), published.created);
    assert.equal(entry!.Resources, undefined);
    const detail = JSON.parse(entry!.Detail);
    // The event as GET /v1/events/:id shows it (pending_webhooks aside: it counts down as deliveries succeed).
    const { pending_webhooks: _sent, ...sent } = detail;
    const { pending_webhooks: _now, ...shown } = (await h.request('GET', `/v1/events/${published.id}`)).body;
    assert.deepEqual(sent, shown);
    assert.equal(detail.data.object.amount, 1234);
    assert.equal(server.calls.at(-1)!.region, REGION);
    assert.equal(server.calls.at(-1)!.accessKeyId, KEY.access_key_id);

    // The attempt is in the delivery log like a webhook's, without any credential.
    const attempts = await waitForAttempts(published.id, 1);
    const attempt = attempts[0];
    assert.equal(attempt.outcome, 'succeeded');
    assert.equal(attempt.http_status, 200);
    assert.equal(attempt.webhook_endpoint, destination.id);
    assert.equal(attempt.url, busArn('snapshots'));
    assert.equal(attempt.request_body, entry!.Detail);
    assert.match(JSON.parse(attempt.response_body).EventId, /^[0-9a-f-]{36}$/);
    assert.equal(attempt.request_headers['detail-type'], 'payment_intent.succeeded');
    assert.equal(attempt.request_headers.source, `herald.${h.herald.accountId}`);
    assert.doesNotMatch(JSON.stringify(attempt), new RegExp(`${KEY.secret_access_key}|${KEY.access_key_id}`));
    await waitFor(async () => (await stripe.events.retrieve(published.id)).pending_webhooks === 0, { message: 'pending_webhooks 0' });
    const deliveries = (await h.request('GET', `/v1/events/${published.id}/deliveries`)).body.data;
    assert.deepEqual(deliveries.map((d: any) => [d.webhook_endpoint, d.status]), [[destination.id, 'succeeded']]);
  });

  it('serves a destination\'s delivery log on the delivery-log routes and resends to the bus, while v1 CRUD still knows only webhook endpoints', async () => {
    const destination = await createDestination('log', ['payout.paid']);
    const published = await h.publish({ type: 'payout.paid', data: { object: { id: 'po_log', object: 'payout' } } });
    await waitForAttempts(published.id, 1);
    const byDestination = (await h.request('GET', `/v1/webhook_endpoints/${destination.id}/delivery_attempts`)).body;
    assert.deepEqual(byDestination.data.map((a: any) => [a.event, a.outcome, a.url]), [[published.id, 'succeeded', busArn('log')]]);
    const deliveries = (await h.request('GET', `/v1/webhook_endpoints/${destination.id}/deliveries`)).body;
    assert.deepEqual(deliveries.data.map((d: any) => [d.event, d.status]), [[published.id, 'succeeded']]);
    const health = (await h.request('GET', `/v1/webhook_endpoints/${destination.id}/health`)).body;
    assert.equal(health.status, 'enabled');
    assert.ok(health.last_success_at > 0);
    const stats = await h.request('GET', `/v1/webhook_endpoints/${destination.id}/delivery_stats`);
    assert.equal(stats.status, 200);
    assert.equal(stats.body.succeeded, 1);
    assert.equal((await h.request('GET', `/v1/webhook_endpoints/${destination.id}`)).status, 404);
    assert.ok(!(await stripe.webhookEndpoints.list()).data.some((e) => e.id === destination.id));

    // A manual resend puts the event on the bus once more.
    const resend = await h.request('POST', `/v1/events/${published.id}/retry`, { body: `webhook_endpoint=${destination.id}` });
    assert.equal(resend.status, 200, JSON.stringify(resend.body));
    const attempts = await waitForAttempts(published.id, 2);
    assert.deepEqual(attempts.map((a) => [a.kind, a.outcome]).sort(), [['automatic', 'succeeded'], ['manual', 'succeeded']]);
    assert.deepEqual(entriesOn('log').map((e) => JSON.parse(e.Detail).id), [published.id, published.id]);
  });

  it('answers a ping with one entry on the bus (DetailType v2.core.event_destination.ping)', async () => {
    const destination = await createDestination('ping', ['invoice.voided']);
    const ping = await stripe.v2.core.eventDestinations.ping(destination.id);
    const [entry] = await waitFor(() => (entriesOn('ping').length >= 1 ? entriesOn('ping') : null), { message: 'the ping on the bus' });
    assert.equal(entry!.DetailType, 'v2.core.event_destination.ping');
    assert.equal(entry!.Source, `herald.${h.herald.accountId}`);
    assert.equal(JSON.parse(entry!.Detail).id, ping.id);
  });

  it('sends a thin payload that stripe-node parses from the EventBridge envelope, and whose fetchEvent() reads the event from Herald', async () => {
    await createDestination('thin', ['customer.updated'], { payload: 'thin' });
    const published = await h.publish({ type: 'customer.updated', data: { object: { id: 'cus_eb', object: 'customer', email: 'a@example.com' } } });
    const [entry] = await waitFor(() => (entriesOn('thin').length >= 1 ? entriesOn('thin') : null), { message: 'the thin entry' });
    const detail = JSON.parse(entry!.Detail);
    assert.equal(detail.type, 'v1.customer.updated');
    assert.equal(entry!.DetailType, detail.type, 'DetailType is the type the thin payload carries');
    // What an EventBridge rule's target (Lambda, SQS…) receives: AWS's envelope around the Detail.
    const envelope = {
      version: '0',
      id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
      'detail-type': entry!.DetailType,
      source: entry!.Source,
      account: ACCOUNT,
      time: new Date(entry!.Time! * 1000).toISOString().replace('.000', ''),
      region: REGION,
      resources: [],
      detail: JSON.parse(entry!.Detail),
    };
    const notification = stripe.parseEventNotificationWithoutVerification(JSON.stringify(envelope)) as any;
    assert.equal(notification.id, published.id);
    assert.equal(notification.object, 'v2.core.event');
    assert.match(notification.type, /customer\.updated$/);
    assert.equal(notification.related_object.id, 'cus_eb');
    // The Detail alone is accepted too.
    assert.equal((stripe.parseEventNotificationWithoutVerification(entry!.Detail) as any).id, published.id);
    const fetched = (await notification.fetchEvent()) as any;
    assert.equal(fetched.id, published.id);
  });

  it('retries only the failed entries of a partially failed call, and logs each entry\'s ErrorCode and message', async () => {
    await createDestination('partial', ['invoice.paid']);
    let failOnce = true;
    server.entryFault = (entry) => {
      const detail = JSON.parse(entry.Detail);
      if (entry.EventBusName === busArn('partial') && detail.data.object.id === 'in_2' && failOnce) {
        failOnce = false;
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service error' };
      }
      return null;
    };
    const events = [];
    for (const id of ['in_1', 'in_2', 'in_3']) events.push(await h.publish({ type: 'invoice.paid', data: { object: { id, object: 'invoice' } } }));
    await waitFor(() => entriesOn('partial').length >= 3, { message: 'all three accepted' });
    const failed = events[1]!;
    const attempts = await waitForAttempts(failed.id, 2);
    assert.deepEqual(
      attempts.map((a) => [a.attempt_number, a.outcome, a.failure_kind, a.failure_message, a.http_status]),
      [[1, 'failed', 'aws_error', 'InternalFailure: Internal service error', null], [2, 'succeeded', null, null, 200]],
    );
    assert.deepEqual(JSON.parse(attempts[0].response_body), { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service error' });
    assert.ok(attempts[0].next_retry_at !== null);
    // Each entry was accepted exactly once, and the retry carried the failed entry alone.
    assert.deepEqual(entriesOn('partial').map((e) => JSON.parse(e.Detail).data.object.id).sort(), ['in_1', 'in_2', 'in_3']);
    const lastCall = callsOn('partial').at(-1)!;
    assert.deepEqual(lastCall.entries.map((e) => JSON.parse(e.Detail).data.object.id), ['in_2']);
    for (const other of [events[0]!, events[2]!]) assert.equal((await attemptsOf(other.id)).length, 1);
    const cli = await runInProcess(['delivery_attempts', 'list', '--event', failed.id], { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url });
    assert.match(cli.stdout, /\baws_error\b/, 'the refused entry shows its failure kind, not its call\'s 200');
  });

  it('retries a throttled call on the retry schedule, recording the throttled attempt with its status and error text', async () => {
    const destination = await createDestination('throttled', ['charge.refunded']);
    server.callFaults.push({ kind: 'throttle' });
    const published = await h.publish({ type: 'charge.refunded', data: { object: { id: 'ch_eb', object: 'charge' } } });
    const attempts = await waitForAttempts(published.id, 2);
    assert.deepEqual(
      attempts.map((a) => [a.attempt_number, a.outcome, a.failure_kind, a.http_status, a.failure_message]),
      [[1, 'failed', 'throttled', 400, 'ThrottlingException: Rate exceeded'], [2, 'succeeded', null, 200, null]],
    );
    // The second attempt waited for the schedule's 300 ms, not for an SDK-internal retry.
    assert.ok(attempts[1].created_ms - attempts[0].created_ms >= 300, `retry after ${attempts[1].created_ms - attempts[0].created_ms} ms`);
    assert.equal(entriesOn('throttled').length, 1);
    // `herald delivery_attempts list` shows them like a webhook's: destination, result, bus ARN.
    const cli = await runInProcess(['delivery_attempts', 'list', '--event', published.id], { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url });
    assert.equal(cli.code, 0, cli.stderr);
    const rows = cli.stdout.split('\n').filter((line) => line.includes(destination.id));
    assert.equal(rows.length, 2, cli.stdout);
    assert.ok(rows.some((r) => /\b400\b/.test(r) && r.includes(busArn('throttled'))), cli.stdout);
    assert.ok(rows.some((r) => /\b200\b/.test(r)), cli.stdout);
  });

  it('retries a 5xx the same way', async () => {
    await createDestination('five-hundred', ['customer.deleted']);
    server.callFaults.push({ kind: 'server_error' });
    const published = await h.publish({ type: 'customer.deleted', data: { object: { id: 'cus_5xx', object: 'customer' } } });
    const attempts = await waitForAttempts(published.id, 2);
    assert.deepEqual(attempts.map((a) => [a.outcome, a.failure_kind, a.http_status]), [['failed', 'aws_error', 500], ['succeeded', null, 200]]);
    assert.match(attempts[0].failure_message, /^InternalException: /);
  });

  it('fails an event too large for EventBridge at once, says why, and never retries it', async () => {
    const destination = await createDestination('too-large', ['product.updated']);
    const published = await h.publish({ type: 'product.updated', data: { object: { id: 'prod_big', object: 'product', description: 'x'.repeat(MAX_REQUEST_BYTES) } } });
    const attempts = await waitForAttempts(published.id, 1);
    assert.equal(attempts[0].failure_kind, 'entry_too_large');
    assert.match(attempts[0].failure_message, /too large for EventBridge: its PutEvents entry is \d+ bytes/);
    assert.equal(attempts[0].next_retry_at, null);
    const deliveries = (await h.request('GET', `/v1/events/${published.id}/deliveries`)).body.data;
    assert.deepEqual(deliveries.map((d: any) => [d.webhook_endpoint, d.status, d.next_attempt_at]), [[destination.id, 'failed', null]]);
    assert.equal(callsOn('too-large').length, 0, 'nothing was sent');
  });

  it('batches the deliveries due for one destination: 25 events in 3 PutEvents calls of at most 10', async () => {
    // A Herald without a worker publishes; then a worker-only Herald on the same database finds all
    // 25 due at once, as after a pause or an outage.
    const api = await startTestHerald({ eventBridgeEndpoint: server.url, role: 'api' });
    let worker: RunningHerald | null = null;
    try {
      await api
        .stripe()
        .v2.core.eventDestinations.create({
          name: 'batch',
          type: 'amazon_eventbridge',
          event_payload: 'snapshot',
          enabled_events: ['payment_intent.created'],
          amazon_eventbridge: { aws_account_id: ACCOUNT, aws_region: REGION, event_bus_name: 'batched', credentials: KEY },
        } as any);
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) ids.push((await api.publish({ type: 'payment_intent.created', data: { object: samplePaymentIntent(`pi_batch_${i}`) } })).id);
      worker = await startHerald({ ...api.config, role: 'worker' }, { logger: silentLogger });
      await waitFor(() => entriesOn('batched').length >= 25, { message: '25 entries accepted' });
      assert.deepEqual(callsOn('batched').map((c) => c.entries.length).sort((a, b) => b - a), [10, 10, 5]);
      assert.deepEqual(entriesOn('batched').map((e) => JSON.parse(e.Detail).id).sort(), [...ids].sort());
      for (const id of ids) await waitFor(async () => (await api.stripe().events.retrieve(id)).pending_webhooks === 0, { message: `${id} delivered` });
    } finally {
      await worker?.stop();
      await api.stop();
    }
  });
});
