import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

/** Herald's delivery-log extensions: deliveries, stats, one attempt, the secret, account, event types. */
describe('delivery log API extensions', () => {
  let h: TestHerald;
  const ok = new TestReceiver();
  // Fails the first attempt of every event, then accepts.
  const seen = new Set<string>();
  const flaky = new TestReceiver((req) => {
    const id = JSON.parse(req.body).id as string;
    if (seen.has(id)) return { status: 200, body: 'ok' };
    seen.add(id);
    return { status: 503, body: 'busy' };
  });
  let okEndpoint: string;
  let flakyEndpoint: string;
  let liveEndpoint: string;

  before(async () => {
    await ok.start();
    await flaky.start();
    h = await startTestHerald({ retrySchedule: [200] });
    const create = async (url: string, mode: 'test' | 'live' = 'test') =>
      (await h.request('POST', '/v1/webhook_endpoints', { key: h.keys[mode], body: `url=${encodeURIComponent(url)}&enabled_events[]=*` })).body.id as string;
    okEndpoint = await create(ok.url);
    flakyEndpoint = await create(flaky.url);
    liveEndpoint = await create('https://example.invalid/hook', 'live');
  });
  after(async () => {
    await h.stop();
    await ok.stop();
    await flaky.stop();
  });

  it('lists an endpoint\'s deliveries with their last attempt, newest first, with status and type filters and paging', async () => {
    const first = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_1') } });
    const second = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
    await ok.waitForRequests(2);
    const list = await waitFor(async () => {
      const r = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries`);
      return r.body.data.every((d: any) => d.status === 'succeeded') && r.body.data.length === 2 ? r : null;
    });
    assert.equal(list.status, 200);
    assert.equal(list.body.object, 'list');
    assert.equal(list.body.url, `/v1/webhook_endpoints/${okEndpoint}/deliveries`);
    const [newest, oldest] = list.body.data;
    assert.equal(newest.event, second.id);
    assert.equal(newest.event_type, 'customer.created');
    assert.equal(oldest.event, first.id);
    assert.equal(newest.object, 'webhook_delivery');
    assert.equal(newest.attempt_count, 1);
    assert.equal(newest.kind, 'automatic');
    assert.equal(newest.next_attempt_at, null);
    assert.equal(newest.last_attempt.http_status, 200);
    assert.equal(newest.last_attempt.outcome, 'succeeded');
    assert.match(newest.last_attempt.id, /^whatt_/);

    const byType = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?type=payment_intent.succeeded`);
    assert.deepEqual(byType.body.data.map((d: any) => d.event), [first.id]);
    const failed = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?status=failed`);
    assert.deepEqual(failed.body.data, []);
    const page1 = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?limit=1`);
    assert.equal(page1.body.has_more, true);
    const page2 = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?limit=1&starting_after=${page1.body.data[0].id}`);
    assert.deepEqual(page2.body.data.map((d: any) => d.event), [first.id]);
    assert.equal(page2.body.has_more, false);
    const future = Math.floor(Date.now() / 1000) + 3600;
    const none = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?created[gte]=${future}`);
    assert.deepEqual(none.body.data, []);
  });

  it('shows a failed delivery with its next retry, then its success; per event across endpoints', async () => {
    const event = await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_1', object: 'invoice' } } });
    const retrying = await waitFor(async () => {
      const r = await h.request('GET', `/v1/webhook_endpoints/${flakyEndpoint}/deliveries?status=failed`);
      return r.body.data.find((d: any) => d.event === event.id && d.next_attempt_at !== null);
    }, { message: 'a failed delivery waiting for its retry' }).catch(() => null);
    // The retry comes 200 ms later, so the failed state may already be over: the attempts tell.
    if (retrying) {
      assert.equal(retrying.last_attempt.http_status, 503);
      assert.equal(retrying.last_attempt.failure_kind, 'http_error');
    }
    const delivered = await waitFor(async () => {
      const r = await h.request('GET', `/v1/webhook_endpoints/${flakyEndpoint}/deliveries?status=succeeded`);
      return r.body.data.find((d: any) => d.event === event.id);
    });
    assert.equal(delivered.attempt_count, 2);
    assert.equal(delivered.last_attempt.http_status, 200);

    const perEvent = await waitFor(async () => {
      const r = await h.request('GET', `/v1/events/${event.id}/deliveries`);
      return r.body.data.length === 2 && r.body.data.every((d: any) => d.status === 'succeeded') ? r.body : null;
    });
    assert.deepEqual(perEvent.data.map((d: any) => d.webhook_endpoint).sort(), [okEndpoint, flakyEndpoint].sort());
  });

  it('retrieves one attempt by id, only with its own mode\'s key', async () => {
    const attempts = await h.request('GET', `/v1/webhook_endpoints/${flakyEndpoint}/delivery_attempts?limit=100`);
    const failedAttempt = attempts.body.data.find((a: any) => a.outcome === 'failed');
    assert.ok(failedAttempt);
    const got = await h.request('GET', `/v1/webhook_delivery_attempts/${failedAttempt.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, failedAttempt);
    assert.equal(got.body.response_body, 'busy');
    assert.match(got.body.request_headers['stripe-signature'], /^t=\d+,v1=[0-9a-f]{64}$/);
    const live = await h.request('GET', `/v1/webhook_delivery_attempts/${failedAttempt.id}`, { key: h.keys.live });
    assert.equal(live.status, 404);
    assert.equal(live.body.error.code, 'resource_missing');
  });

  it('counts attempts per bucket with the success rate', async () => {
    const stats = await h.request('GET', `/v1/webhook_endpoints/${flakyEndpoint}/delivery_stats`);
    assert.equal(stats.status, 200);
    assert.equal(stats.body.object, 'webhook_endpoint_delivery_stats');
    assert.equal(stats.body.bucket_seconds, 3600);
    assert.equal(stats.body.buckets.length, 24);
    const attempts = await h.request('GET', `/v1/webhook_endpoints/${flakyEndpoint}/delivery_attempts?limit=100`);
    const succeeded = attempts.body.data.filter((a: any) => a.outcome === 'succeeded').length;
    const failed = attempts.body.data.length - succeeded;
    assert.equal(stats.body.succeeded, succeeded);
    assert.equal(stats.body.failed, failed);
    assert.equal(stats.body.success_rate, succeeded / (succeeded + failed));
    assert.equal(stats.body.buckets.reduce((n: number, b: any) => n + b.succeeded + b.failed, 0), succeeded + failed);
    assert.equal(stats.body.buckets.at(-1).succeeded + stats.body.buckets.at(-1).failed, succeeded + failed);

    const minute = await h.request('GET', `/v1/webhook_endpoints/${flakyEndpoint}/delivery_stats?bucket_seconds=60&since=${Math.floor(Date.now() / 1000) - 600}`);
    assert.equal(minute.body.buckets.length, 11);
    const tooMany = await h.request('GET', `/v1/webhook_endpoints/${flakyEndpoint}/delivery_stats?bucket_seconds=60&since=0`);
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.param, 'bucket_seconds');
    const empty = await h.request('GET', `/v1/webhook_endpoints/${liveEndpoint}/delivery_stats`, { key: h.keys.live });
    assert.equal(empty.body.success_rate, null);
  });

  it('rejects bad filters in Stripe\'s error shape', async () => {
    const badStatus = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?status=lost`);
    assert.equal(badStatus.status, 400);
    assert.equal(badStatus.body.error.param, 'status');
    const badType = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?type=nope.nope`);
    assert.equal(badType.body.error.param, 'type');
    const unknown = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?colour=red`);
    assert.equal(unknown.body.error.code, 'parameter_unknown');
    const otherMode = await h.request('GET', `/v1/webhook_endpoints/${liveEndpoint}/deliveries`);
    assert.equal(otherMode.status, 404);
    assert.match(otherMode.body.error.message, /exists in live mode/);
    const badCursor = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/deliveries?starting_after=whdel_nope`);
    assert.equal(badCursor.status, 404);
    assert.equal(badCursor.body.error.param, 'starting_after');
  });

  it('reveals the current secret, and the rolled one until it expires', async () => {
    const before = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/secret`);
    assert.equal(before.status, 200);
    assert.match(before.body.secret, /^whsec_/);
    assert.deepEqual(before.body.expiring, []);
    const rolled = await h.request('POST', `/v1/webhook_endpoints/${okEndpoint}/roll_secret`, { body: 'expires_in=3600' });
    const after = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/secret`);
    assert.equal(after.body.secret, rolled.body.secret);
    assert.equal(after.body.expiring.length, 1);
    assert.equal(after.body.expiring[0].secret, before.body.secret);
    assert.ok(Math.abs(after.body.expiring[0].expires_at - (Date.now() / 1000 + 3600)) < 5);
    const live = await h.request('GET', `/v1/webhook_endpoints/${okEndpoint}/secret`, { key: h.keys.live });
    assert.equal(live.status, 404);
  });

  it('tells who the key belongs to, and lists the event type catalog', async () => {
    const test = await h.request('GET', '/v1/account');
    const live = await h.request('GET', '/v1/account', { key: h.keys.live });
    assert.equal(test.body.object, 'account');
    assert.equal(test.body.id, h.herald.accountId);
    assert.equal(live.body.id, h.herald.accountId);
    assert.equal(test.body.livemode, false);
    assert.equal(live.body.livemode, true);
    const types = await h.request('GET', '/v1/event_types');
    assert.equal(types.body.object, 'list');
    const ids = types.body.data.map((t: any) => t.id);
    assert.ok(ids.includes('payment_intent.succeeded'));
    assert.deepEqual(ids, [...ids].sort());
    const anonymous = await h.request('GET', '/v1/event_types', { key: null });
    assert.equal(anonymous.status, 401);
  });
});

describe('delivery stats of an endpoint Herald disabled', () => {
  it('counts its failures; the health extension gives the reason the dashboard shows', async () => {
    const down = await new TestReceiver(() => ({ status: 500, body: 'down' })).start();
    // Disabled at the first failure that comes after the threshold: here the second attempt.
    const h = await startTestHerald({ retrySchedule: [20, 20, 20], disableAfterMs: 1 });
    try {
      const created = await h.request('POST', '/v1/webhook_endpoints', { body: `url=${encodeURIComponent(down.url)}&enabled_events[]=*` });
      await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_1', object: 'invoice' } } });
      const health = await waitFor(async () => {
        const r = await h.request('GET', `/v1/webhook_endpoints/${created.body.id}/health`);
        return r.body.status === 'disabled' ? r.body : null;
      }, { message: 'the endpoint to be disabled' });
      assert.match(health.disabled_reason, /^Disabled automatically: no successful \(2xx\) delivery since /);
      const stats = await h.request('GET', `/v1/webhook_endpoints/${created.body.id}/delivery_stats`);
      assert.equal(stats.body.success_rate, 0);
      assert.ok(stats.body.failed >= 2);
      assert.equal(stats.body.succeeded, 0);
    } finally {
      await h.stop();
      await down.stop();
    }
  });
});
