// What a receiver can tell Herald, and what it cannot do to it: Retry-After on 429/503 (honoured
// within bounds), 410 Gone (disables the endpoint at once), and bodies that never end.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

const publish = (h: TestHerald, id: string) => h.publish({ type: 'invoice.paid', data: { object: { id, object: 'invoice' } } });
const attemptsOf = async (h: TestHerald, endpointId: string) => (await h.request('GET', `/v1/webhook_endpoints/${endpointId}/delivery_attempts?limit=100`)).body.data.reverse();
/** The attempts once `count` are recorded (a receiver has the request a moment before Herald records its answer). */
const recordedAttempts = (h: TestHerald, endpointId: string, count: number) =>
  waitFor(async () => {
    const attempts = await attemptsOf(h, endpointId);
    return attempts.length >= count ? attempts : null;
  }, { message: `${count} recorded attempts` });

describe('Retry-After', () => {
  it('lengthens the wait after a 429 up to HERALD_RETRY_AFTER_MAX, and is ignored on other statuses', async () => {
    const h = await startTestHerald({ retrySchedule: [200, 10_000], retryAfterMaxMs: 1500 });
    const receiver = await new TestReceiver((_req, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200 })).start();
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    await publish(h, 'in_1');
    const [first, second] = await receiver.waitForRequests(2, 15_000);
    const gap = second!.receivedAt - first!.receivedAt;
    assert.ok(gap >= 1400, `waited ${gap} ms: Retry-After (capped at 1.5 s) beat the policy's 200 ms`);
    const attempts = await recordedAttempts(h, we.id, 2);
    assert.equal(attempts[0].http_status, 429);
    assert.equal(attempts[0].failure_message, 'HTTP 429; Retry-After honoured: next attempt in 2 s');
    assert.equal(attempts[1].outcome, 'succeeded');

    // 500 with Retry-After: not a status whose hint counts; the policy decides.
    receiver.respond = (_req, i) => (i === 2 ? { status: 500, headers: { 'retry-after': '3600' } } : { status: 200 });
    await publish(h, 'in_2');
    await receiver.waitForRequests(4, 15_000);
    const later = await recordedAttempts(h, we.id, 4);
    assert.equal(later[2].failure_message, 'HTTP 500');
    await h.stop();
    await receiver.stop();
  });

  it('cannot make Herald retry sooner than its policy, and never beyond the rest of the schedule', async () => {
    const h = await startTestHerald({ retrySchedule: [1200, 800] });
    let count = 0;
    const receiver = await new TestReceiver(() => (++count <= 2 ? { status: 503, headers: { 'retry-after': count === 1 ? '0' : 'Fri, 01 Jan 2100 00:00:00 GMT' } } : { status: 200 })).start();
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    await publish(h, 'in_3');
    const requests = await receiver.waitForRequests(3, 15_000);
    assert.ok(requests[1]!.receivedAt - requests[0]!.receivedAt >= 1100, 'Retry-After: 0 did not cut the 1.2 s policy delay');
    const attempts = await recordedAttempts(h, we.id, 3);
    assert.equal(attempts[0].failure_message, 'HTTP 503', 'Retry-After: 0 changes nothing');
    // A date in 2100 is bounded by the 0.8 s left in the schedule (and by the 1 d default cap).
    assert.equal(attempts[1].failure_message, 'HTTP 503');
    assert.equal(attempts[2].outcome, 'succeeded');
    await h.stop();
    await receiver.stop();
  });
});

describe('410 Gone', () => {
  it('disables the endpoint at once, records why, and stops every delivery to it', async () => {
    const h = await startTestHerald({ retrySchedule: [200, 200, 200] });
    const receiver = await new TestReceiver(() => ({ status: 410, body: 'gone' })).start();
    const stripe = h.stripe();
    const we = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    const started = Date.now();
    await publish(h, 'in_gone');
    await waitFor(async () => (await stripe.webhookEndpoints.retrieve(we.id)).status === 'disabled', { message: 'the endpoint disabled' });
    const health = (await h.request('GET', `/v1/webhook_endpoints/${we.id}/health`)).body;
    assert.equal(health.disabled_automatically, true);
    assert.match(health.disabled_reason, /^Disabled automatically: the receiver answered 410 Gone at \d{4}-\d\d-\d\dT/);
    assert.ok(health.disabled_at >= Math.floor(started / 1000) - 1);
    const [attempt] = await attemptsOf(h, we.id);
    assert.equal(attempt.http_status, 410);
    assert.equal(attempt.next_retry_at, null, 'no retry after 410');

    await publish(h, 'in_after');
    // The 410 delivery is finished (no retry due) and the new event queued nothing for the endpoint.
    const deliveries = (await h.request('GET', `/v1/webhook_endpoints/${we.id}/deliveries`)).body.data;
    assert.equal(deliveries.length, 1, JSON.stringify(deliveries));
    assert.equal(deliveries[0].status, 'failed');
    assert.equal(deliveries[0].next_attempt_at, null);
    assert.equal(receiver.requests.length, 1, 'nothing is delivered to a gone endpoint');

    // Enabling it again is the user's call, and works.
    receiver.respond = () => ({ status: 200 });
    await stripe.webhookEndpoints.update(we.id, { disabled: false });
    await publish(h, 'in_back');
    await receiver.waitForRequests(2);
    assert.equal((await h.request('GET', `/v1/webhook_endpoints/${we.id}/health`)).body.disabled_reason, null);
    await h.stop();
    await receiver.stop();
  });
});

describe('bodies that never end', () => {
  const servers: ReturnType<typeof createServer>[] = [];
  after(() => servers.forEach((s) => s.close()));
  /** A receiver that answers 200 and then writes `chunk` forever, every `everyMs` (0: as fast as the socket drains). */
  async function endlessReceiver(chunk: Buffer, everyMs: number) {
    const stats = { bytes: 0, closed: 0 };
    const server = createServer((req, res: ServerResponse) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      let open = true;
      res.on('close', () => {
        open = false;
        stats.closed++;
      });
      const write = () => {
        if (!open) return;
        stats.bytes += chunk.length;
        const drained = res.write(chunk);
        if (everyMs > 0) setTimeout(write, everyMs);
        else if (drained) setImmediate(write);
        else res.once('drain', write);
      };
      write();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats };
  }

  it('a huge body: the status counts, 4 KB are kept, the rest is never read (the connection is dropped)', async () => {
    const h = await startTestHerald({ deliveryTimeoutMs: 5000 });
    const receiver = await endlessReceiver(Buffer.alloc(64 * 1024, 'x'), 0);
    const heapBefore = process.memoryUsage().heapUsed;
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    await publish(h, 'in_big');
    const [attempt] = await waitFor(async () => attemptsOf(h, we.id).then((a) => (a.length ? a : null)));
    await waitFor(() => receiver.stats.closed === 1, { message: 'the receiver saw the connection closed' });
    assert.equal(attempt.outcome, 'succeeded');
    assert.equal(attempt.response_body.length, 4096);
    assert.ok(receiver.stats.bytes < 16 * 1024 * 1024, `the receiver wrote ${receiver.stats.bytes} bytes before being cut off`);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024, 'no runaway memory');
    await h.stop();
  });

  it('a body that trickles forever: cut off at the timeout, recorded as timeout, retried', async () => {
    const h = await startTestHerald({ deliveryTimeoutMs: 1000, retrySchedule: [60_000] });
    const receiver = await endlessReceiver(Buffer.from('.'), 20);
    const we = await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    await publish(h, 'in_slow');
    const [attempt] = await waitFor(async () => attemptsOf(h, we.id).then((a) => (a.length ? a : null)), { timeoutMs: 15_000 });
    assert.equal(attempt.outcome, 'failed');
    assert.equal(attempt.failure_kind, 'timeout');
    assert.equal(attempt.failure_message, 'Timed out after 1000 ms');
    assert.ok(attempt.duration_ms >= 1000 && attempt.duration_ms < 5000, `${attempt.duration_ms} ms`);
    assert.ok(attempt.next_retry_at);
    await waitFor(() => receiver.stats.closed === 1, { message: 'the connection closed by Herald' });
    await h.stop();
  });
});
