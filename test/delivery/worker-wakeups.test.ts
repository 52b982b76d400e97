import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { SendResult } from '../../src/delivery/outcome.js';
import type { HttpSender } from '../../src/delivery/sender.js';
import { DeliveryWorker, type WorkerOptions } from '../../src/delivery/worker.js';
import type { Store } from '../../src/store/store.js';
import { waitFor } from '../helpers/herald.js';
import { countingCalls, storeWithEndpoint } from '../helpers/worker-store.js';

/** A worker over `store` that sends through `send`; a 10 s poll, so that only wake-ups bring work on time. */
function workerOver(store: Store, send: () => Promise<SendResult>, retryOverride: number[] | null = null, more: Partial<WorkerOptions> = {}): DeliveryWorker {
  return new DeliveryWorker({
    store, clock: systemClock, sender: { send } as unknown as HttpSender, logger: silentLogger, concurrency: 16, endpointConcurrency: 8,
    timeoutMs: 30_000, retryOverride, disableAfterMs: 86_400_000, pollIntervalMs: 10_000, ...more,
  });
}

const ok = async (): Promise<SendResult> => ({ kind: 'response', status: 200, headers: {}, body: '', durationMs: 1 });

// The worker's loop over a SQLite store: store-independent, so not repeated on PostgreSQL.
describe('when the delivery loop looks at the queue', () => {
  it('events published one at a time are claimed once each: finished attempts and recorded successes do not send a drained loop back', async () => {
    const { store, publish } = await storeWithEndpoint();
    const calls = { claimDueDeliveries: 0, nextDueTime: 0 };
    const counted = countingCalls(store, ['claimDueDeliveries', 'nextDueTime'], (method) => calls[method]++);
    let sent = 0;
    const worker = workerOver(counted, async () => (sent++, ok()));
    worker.start();
    try {
      await waitFor(() => calls.nextDueTime === 1, { message: 'the first look at the empty queue' });
      for (let i = 1; i <= 20; i++) {
        await publish(1);
        worker.wake();
        await waitFor(() => sent === i, { message: `event ${i} delivered` });
        // Let the attempt's result be recorded before the next event, as at a low rate.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // One claim per announced event (and the first look); each after a finished attempt or a
      // recorded success would make three.
      assert.ok(calls.claimDueDeliveries <= 21, `claims for 20 events published one at a time: ${calls.claimDueDeliveries}`);
      assert.ok(calls.nextDueTime <= 21, `looks at the next due time: ${calls.nextDueTime}`);
    } finally {
      await worker.stop();
      await store.close();
    }
  });

  it('a failed attempt whose retry falls due before the next poll is retried on time', async () => {
    const { store, publish } = await storeWithEndpoint();
    const attempts: number[] = [];
    const worker = workerOver(store, async () => {
      attempts.push(Date.now());
      return attempts.length === 1 ? { kind: 'response', status: 500, headers: {}, body: '', durationMs: 1 } : ok();
    }, [300]);
    worker.start();
    try {
      await publish(1);
      worker.wake();
      await waitFor(() => attempts.length === 2, { timeoutMs: 5_000, message: 'the retry (the poll would come only after 10 s)' });
      const gap = attempts[1]! - attempts[0]!;
      assert.ok(gap >= 250 && gap < 3_000, `retried ${gap} ms after the failure, for a retry due after 300 ms`);
    } finally {
      await worker.stop();
      await store.close();
    }
  });
});

describe('when a store wakes one idle worker of many (PostgreSQL)', () => {
  it('the worker says that more is due while a backlog exceeds what it can hold, and that it took all once drained', async () => {
    const { store, publish } = await storeWithEndpoint();
    const reports: boolean[] = [];
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let sent = 0;
    // Attempts hang until the gate opens: the worker fills its slots and its ready room.
    const duty = { claimed: (full: boolean) => void reports.push(full) };
    const worker = workerOver(store, async () => (await gate, sent++, ok()), null, { endpointConcurrency: 16, wakeUpDuty: duty });
    await publish(100);
    worker.start();
    try {
      // 16 in flight and 48 held at most: 100 due deliveries are more than it can take.
      await waitFor(() => reports.length >= 2, { message: 'the first looks at the queue' });
      assert.ok(reports.every((full) => full), `every look while the backlog exceeds the worker's room says so: ${reports.join(', ')}`);
      openGate();
      await waitFor(() => sent === 100, { message: 'every event delivered' });
      await waitFor(() => reports.at(-1) === false, { message: 'a claim that takes all the due work' });
    } finally {
      openGate();
      await worker.stop();
      await store.close();
    }
  });

  it('a worker whose one busy destination is at its bound keeps the duty: it has room for other destinations\' new work', async () => {
    const { store, publish } = await storeWithEndpoint();
    const reports: boolean[] = [];
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const duty = { claimed: (full: boolean) => void reports.push(full) };
    // 8 in flight to the destination and 24 held for it at most, of the worker's 48.
    const worker = workerOver(store, async () => (await gate, ok()), null, { wakeUpDuty: duty });
    await publish(100);
    worker.start();
    try {
      await waitFor(() => reports.includes(false), { message: 'a claim held back by the bound' });
      assert.equal(reports[0], true, 'the first claim, as large as the destination allows, was full');
    } finally {
      openGate();
      await worker.stop();
      await store.close();
    }
  });
});

describe('when results are written more slowly than attempts end', () => {
  it('the loop stops claiming once the oldest unwritten result has waited 2.5 s, and goes on once results are written', async () => {
    const { store, publish } = await storeWithEndpoint();
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    // The store takes results only once the gate opens, like a database that has fallen behind.
    const slow = new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (property !== 'recordAttempts') return value.bind(target);
        return async (...args: unknown[]) => (await gate, value.apply(target, args));
      },
    }) as Store;
    const EVENTS = 6000;
    let sent = 0;
    // 16 attempts of 10 ms at a time: at most 1,600 a second, so 2.5 s cannot deliver them all.
    const worker = workerOver(slow, async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      sent++;
      return ok();
    });
    await publish(EVENTS);
    worker.start();
    try {
      await waitFor(() => sent > 0, { message: 'the first attempt' });
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const held = sent;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(sent, held, 'no attempt made while the oldest result waits beyond 2.5 s');
      assert.ok(held < EVENTS, `attempts made before the loop held back: ${held}`);
      openGate();
      await waitFor(() => sent === EVENTS, { timeoutMs: 20_000, message: 'every event delivered once results are written' });
    } finally {
      openGate();
      await worker.stop();
      await store.close();
    }
  });
});
