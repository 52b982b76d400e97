import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type Clock, ManualClock, systemClock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { SendResult } from '../../src/delivery/outcome.js';
import type { HttpSender } from '../../src/delivery/sender.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { startTestHerald, waitFor } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { countingCalls, storeWithEndpoint } from '../helpers/worker-store.js';

/**
 * A receiver that holds every request until the test opens its gate (then answers 200), and
 * counts the requests it holds at once.
 */
class GatedReceiver {
  received = 0;
  active = 0;
  mostActive = 0;
  url = '';
  private open = false;
  private readonly waiting: (() => void)[] = [];
  private readonly server: Server = createServer(async (req, res) => {
    for await (const _ of req);
    this.received++;
    this.mostActive = Math.max(this.mostActive, ++this.active);
    if (!this.open) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active--;
    if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  release(): void {
    this.open = true;
    this.waiting.splice(0).forEach((resolve) => resolve());
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('concurrency per endpoint', () => {
  it('a slow endpoint with a backlog holds at most its bound; other endpoints are delivered meanwhile', async () => {
    const h = await startTestHerald({ endpointConcurrency: 4, deliveryConcurrency: 16, deliveryTimeoutMs: 30_000 });
    const slow = await new GatedReceiver().start();
    const fast = await new TestReceiver().start();
    try {
      await h.stripe().webhookEndpoints.create({ url: slow.url, enabled_events: ['charge.succeeded'] });
      await h.stripe().webhookEndpoints.create({ url: fast.url, enabled_events: ['customer.created'] });
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => h.publish({ type: 'charge.succeeded', data: { object: { id: `ch_${batch}_${i}`, object: 'charge' } } })));
      }
      await waitFor(() => slow.active >= 4, { message: 'the slow endpoint to hold its bound of requests' });

      // Every attempt at the slow endpoint hangs until released: without the bound, its backlog
      // would fill all 16 slots and these events would wait for it.
      for (let i = 0; i < 5; i++) await h.publish({ type: 'customer.created', data: { object: { id: `cus_${i}`, object: 'customer' } } });
      await fast.waitForRequests(5, 5_000);
      assert.equal(slow.received, 4, 'the slow endpoint got nothing beyond its bound meanwhile');

      // As its attempts finish, the slow endpoint's backlog moves on, never beyond the bound.
      slow.release();
      await waitFor(() => slow.received >= 40, { timeoutMs: 20_000, message: 'the slow endpoint\'s backlog to move on' });
      assert.ok(slow.mostActive <= 4, `at most 4 requests at once at the slow endpoint (saw ${slow.mostActive})`);
    } finally {
      await slow.stop();
      await fast.stop();
      await h.stop();
    }
  });

  // Store-independent (the worker's loop over a SQLite store): not repeated in the PostgreSQL twin.
  if (process.env.TEST_STORE !== 'postgres')
  it('while only work at an endpoint at its bound is due, the worker does not claim again and again', async () => {
    const store = await backlogStore(100);
    let claims = 0;
    const counted = countingClaims(store, () => claims++);
    const sender = new HeldSender();
    const worker = workerOver(counted, sender, 4);
    worker.start();
    try {
      await waitFor(() => sender.sending === 4, { message: '4 attempts in flight' });
      const before = claims;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // Polling (once a second) is fine; claiming after every wake would be hundreds.
      assert.ok(claims - before <= 5, `claims while only held-back work was due: ${claims - before}`);
      assert.equal(sender.sent, 4);

      // Freed slots are refilled from the backlog.
      sender.release(2);
      await waitFor(() => sender.sent === 6, { timeoutMs: 5_000, message: 'the 2 freed slots to be refilled' });
      sender.open();
      await waitFor(() => sender.sent === 100, { timeoutMs: 20_000, message: 'the whole backlog' });
      assert.equal(sender.mostSending, 4);
    } finally {
      sender.open();
      await worker.stop();
      await store.close();
    }
  });

  // Store-independent, as above.
  if (process.env.TEST_STORE !== 'postgres')
  it('claims that cannot take an endpoint past its bound are made without it; near the bound, with it', async () => {
    const store = await backlogStore(30);
    const claims: { limit: number; bounded: boolean }[] = [];
    const counted = countingClaims(store, (limit, fairness) => claims.push({ limit, bounded: fairness !== undefined }));
    const sender = new HeldSender();
    const worker = workerOver(counted, sender, 10);
    worker.start();
    try {
      await waitFor(() => sender.sending === 10, { message: '10 attempts in flight' });
      // Nothing held: a claim of the 30 the worker may hold for the endpoint (three times its
      // bound: 10 in flight, 20 ready for the next free slots) cannot pass that, and goes without it.
      assert.deepEqual(claims[0], { limit: 30, bounded: false });
      // With the endpoint at its bound, the next claims carry the bound, and take nothing more.
      await waitFor(() => claims.length >= 2, { message: 'a claim at the bound' });
      assert.equal(claims[1]!.bounded, true);
      assert.equal(sender.sent, 10);
      sender.open();
      await waitFor(() => sender.sent === 30, { timeoutMs: 20_000, message: 'the whole backlog' });
      assert.equal(sender.mostSending, 10);
    } finally {
      sender.open();
      await worker.stop();
      await store.close();
    }
  });
});

// The worker's ready claims, over a SQLite store: store-independent, so not repeated on PostgreSQL.
if (process.env.TEST_STORE !== 'postgres')
describe('claims held ready beyond the bound', () => {
  it('a freed slot starts the next claimed delivery at once, without waiting for a claim', async () => {
    const store = await backlogStore(100);
    const claimGate = new Gate();
    let claims = 0;
    const gated = countingCalls(store, ['claimDueDeliveries'], () => claims++);
    const slowClaims = new Proxy(gated, {
      get: (target, property, receiver) =>
        property === 'claimDueDeliveries'
          ? async (...args: Parameters<Store['claimDueDeliveries']>) => (claims > 2 && (await claimGate.passed), gated.claimDueDeliveries(...args))
          : Reflect.get(target, property, receiver),
    });
    const sender = new HeldSender();
    const worker = workerOver(slowClaims, sender, 4);
    worker.start();
    try {
      await waitFor(() => sender.sending === 4 && claims >= 3, { message: '4 attempts in flight, and 3 claims made (every later one waits at the gate)' });
      // Claims hang from now on: the freed slots can only be refilled from claims already made.
      sender.release(3);
      await waitFor(() => sender.sent === 7, { timeoutMs: 5_000, message: 'the 3 freed slots refilled from the ready claims' });
      assert.equal(sender.sending, 4);
    } finally {
      claimGate.open();
      sender.open();
      await worker.stop();
      await store.close();
    }
  });

  it('stopping gives the claims not yet sent back to the queue, due at once and with no attempt counted', async () => {
    const store = await backlogStore(100);
    const sender = new HeldSender();
    const worker = workerOver(store, sender, 4);
    worker.start();
    await waitFor(() => sender.sending === 4, { message: '4 attempts in flight' });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the claims of the ready room
    const stopping = worker.stop();
    sender.open();
    await stopping;
    try {
      assert.equal(sender.sent, 4, 'only the attempts in flight were made');
      const due = await store.claimDueDeliveries(Date.now(), 1000, 30_000);
      assert.equal(due.length, 96, 'every other delivery is due again');
      assert.deepEqual([...new Set(due.map((claim) => claim.attemptNumber))], [1]);
    } finally {
      await store.close();
    }
  });

  it('claims that waited 5 s for a slot go back to the queue unsent, and the slow endpoint is then claimed only up to its bound', async () => {
    const { store, clock, sender, worker } = await fullyHeldBacklog();
    try {
      clock.advance(5_001);
      sender.release(1);
      // The 8 ready claims are too old to be sent: given back, then one claimed again for the free slot.
      await waitFor(() => sender.sent === 5, { timeoutMs: 5_000, message: 'the freed slot filled by a fresh claim' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The other 7 stay due: the endpoint's ready room is not claimed again while it is slow.
      const due = await store.nextDueTime();
      assert.ok(due !== null && due <= clock.now(), `the given-back deliveries are due (next due ${due === null ? 'none' : `${due - clock.now()} ms from now`})`);
      sender.open();
      await waitFor(() => sender.sent === 12, { timeoutMs: 20_000, message: 'the whole backlog' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(sender.sent, 12, 'no delivery sent twice');
      assert.equal(sender.mostSending, 4);
    } finally {
      sender.open();
      await worker.stop();
      await store.close();
    }
  });

  it('claims that waited 5 s go back to the queue even while every slot of their endpoint stays busy', async () => {
    const { store, clock, sender, worker } = await fullyHeldBacklog();
    try {
      assert.equal(await store.nextDueTime(), clock.now() + 40_000, 'all 12 leased: 4 in flight, 8 ready');
      clock.advance(5_001);
      worker.wake(); // the loop's next look (at least once per poll interval)
      await waitFor(async () => ((await store.nextDueTime()) ?? Infinity) <= clock.now(), { timeoutMs: 5_000, message: 'the 8 ready claims given back' });
      assert.equal(sender.sent, 4, 'nothing more sent meanwhile');
      sender.open();
      await waitFor(() => sender.sent === 12, { timeoutMs: 20_000, message: 'the whole backlog' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(sender.sent, 12, 'no delivery sent twice');
    } finally {
      sender.open();
      await worker.stop();
      await store.close();
    }
  });
});

/**
 * A worker on a manual clock, bound to 4 attempts per endpoint, holding all of a backlog of 12 (as
 * many as it holds for one endpoint): 4 in flight at a sender that holds them, 8 ready.
 */
async function fullyHeldBacklog(): Promise<{ store: SqliteStore; clock: ManualClock; sender: HeldSender; worker: DeliveryWorker }> {
  const store = await backlogStore(12);
  const clock = new ManualClock();
  const sender = new HeldSender();
  const worker = workerOver(store, sender, 4, clock);
  worker.start();
  await waitFor(() => sender.sending === 4, { message: '4 attempts in flight' });
  await new Promise((resolve) => setTimeout(resolve, 100)); // the claims of the ready room
  return { store, clock, sender, worker };
}

/** A promise tests open when they choose. */
class Gate {
  open: () => void = () => {};
  readonly passed = new Promise<void>((resolve) => (this.open = resolve));
}

/** A SQLite store with one endpoint and `count` events due for it. */
async function backlogStore(count: number): Promise<SqliteStore> {
  const { store, publish } = await storeWithEndpoint();
  await publish(count);
  return store;
}

/** A worker of 16 slots over `store`, at most `endpointConcurrency` of them per endpoint, sending through `sender`. */
function workerOver(store: Store, sender: HeldSender, endpointConcurrency: number, clock: Clock = systemClock): DeliveryWorker {
  return new DeliveryWorker({
    store, clock, sender: sender.asHttpSender(), logger: silentLogger, concurrency: 16, endpointConcurrency, timeoutMs: 30_000, retryOverride: null, disableAfterMs: 86_400_000,
  });
}

/** `store`, telling `onClaim` the limit and bound of every claim. */
function countingClaims(store: Store, onClaim: (limit: number, fairness: Parameters<Store['claimDueDeliveries']>[3]) => void): Store {
  return countingCalls(store, ['claimDueDeliveries'], (_, args) => onClaim(args[1] as number, args[3] as Parameters<Store['claimDueDeliveries']>[3]));
}

/** A sender whose attempts hang until released, as at a receiver that holds requests until the timeout. */
class HeldSender {
  sending = 0;
  mostSending = 0;
  sent = 0;
  private readonly held: (() => void)[] = [];
  private opened = false;

  asHttpSender(): HttpSender {
    return {
      send: async (): Promise<SendResult> => {
        this.sent++;
        this.mostSending = Math.max(this.mostSending, ++this.sending);
        if (!this.opened) await new Promise<void>((resolve) => this.held.push(resolve));
        this.sending--;
        return { kind: 'response', status: 200, headers: {}, body: '', durationMs: 1 };
      },
    } as unknown as HttpSender;
  }

  release(count: number): void {
    this.held.splice(0, count).forEach((resolve) => resolve());
  }

  open(): void {
    this.opened = true;
    this.release(this.held.length);
  }
}
