import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

/**
 * Regression: the sender kept 64 connections per receiver while the worker sends up to its
 * concurrency (256) attempts at once. A burst to one slow receiver queued the rest inside the HTTP
 * client, where their timeout ran out before (or soon after) they were sent: timeouts recorded for
 * a receiver that answers every request well within the timeout, some for requests it never got.
 * Every attempt must get its own connection and its whole timeout. (200 attempts of 1.5 s on 64
 * connections end after 1.5, 3, 4.5 and 6 s: the last ones past the 5 s timeout.)
 */
const EVENTS = 200;
const RECEIVER_DELAY_MS = 1500;
const TIMEOUT_MS = 5000;

let herald: TestHerald | null = null;
let receiver: TestReceiver | null = null;
after(async () => {
  await herald?.stop();
  await receiver?.stop();
});

describe('a burst of attempts to one slow receiver', () => {
  test(`${EVENTS} attempts due at once, each answered in ${RECEIVER_DELAY_MS} ms (timeout ${TIMEOUT_MS} ms): all sent, none times out`, { timeout: 120_000 }, async () => {
    const clock = new ManualClock();
    const failedOnce = new Set<string>();
    // Every event's first attempt fails fast, so that all the retries fall due at one moment.
    receiver = await new TestReceiver((req) => {
      const id = (JSON.parse(req.body) as { id: string }).id;
      if (failedOnce.has(id)) return { status: 200, delayMs: RECEIVER_DELAY_MS };
      failedOnce.add(id);
      return { status: 500 };
    }).start();
    herald = await startTestHerald({ deliveryTimeoutMs: TIMEOUT_MS, retrySchedule: [3_600_000] }, { clock });
    await herald.stripe().webhookEndpoints.create({ url: `${receiver.url}/slow`, enabled_events: ['*'] });
    for (let i = 0; i < EVENTS; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => herald!.publish({ type: 'charge.succeeded', data: { object: { id: `ch_${i + j}`, object: 'charge' } } })));
    }
    const endpointId = (await herald.stripe().webhookEndpoints.list()).data[0]!.id;
    const listAttempts = async () => {
      const { store, accountId } = herald!.herald;
      return (await store.listAttempts({ accountId, mode: 'test', endpointId }, { limit: 1000 })).data;
    };
    // Every first attempt recorded (its retry due in an hour) before the hour passes at once.
    await waitFor(async () => (await listAttempts()).length >= EVENTS, { timeoutMs: 60_000, intervalMs: 100, message: 'every first attempt to be recorded' });
    const retriesFrom = receiver.requests.length;
    clock.advance(3_600_000);
    const attempts = await waitFor(async () => {
      const all = await listAttempts();
      return all.length >= 2 * EVENTS ? all : null;
    }, { timeoutMs: 60_000, intervalMs: 200, message: 'every retry to be recorded' });
    const retries = attempts.filter((a) => a.attemptNumber === 2);
    const timeouts = retries.filter((a) => a.failureKind === 'timeout');
    assert.equal(timeouts.length, 0, `no attempt timed out (${timeouts.length} did)`);
    assert.equal(retries.filter((a) => a.outcome === 'succeeded').length, EVENTS, 'every retry succeeded');
    assert.equal(receiver.requests.length - retriesFrom, EVENTS, 'the receiver got every retry, once');
  });
});
