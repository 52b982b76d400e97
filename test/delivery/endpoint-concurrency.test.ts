import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { systemClock } from '../../src/domain/clock.js';
import { newId } from '../../src/domain/ids.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { SendResult } from '../../src/delivery/outcome.js';
import type { HttpSender } from '../../src/delivery/sender.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { startTestHerald, waitFor } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

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
    const dir = mkdtempSync(join(tmpdir(), 'herald-fairness-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const store = new SqliteStore(join(dir, 'herald.db'));
    const accountId = newId.account();
    await store.createAccount({ id: accountId, name: 'Fairness', applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: 0 });
    const endpoint = {
      id: newId.endpoint(), accountId, mode: 'test' as const, url: 'https://slow.example/hook', enabledEvents: ['*'], apiVersion: null, connect: false,
      description: null, metadata: {}, signatureSchemes: ['stripe' as const], status: 'enabled' as const, disabledReason: null, disabledAt: null, failingSince: null, lastSuccessAt: null, created: 0,
    };
    await store.createEndpoint(endpoint, { secret: 'whsec_fairness', created: 0, expiresAt: null }, 10);
    const now = Date.now();
    await store.publishEvents(Array.from({ length: 100 }, (_, i) => ({
      id: newId.event(), accountId, mode: 'test' as const, type: 'charge.succeeded', account: null, apiVersion: '2026-10-28.endive', accountApiVersion: '2026-10-28.endive',
      created: now - 1000 + i, data: { object: { id: `ch_${i}`, object: 'charge' } }, request: { id: null, idempotency_key: null }, relatedObject: null,
    })));

    let claims = 0;
    const counted = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'claimDueDeliveries') return (...args: Parameters<Store['claimDueDeliveries']>) => (claims++, target.claimDueDeliveries(...args));
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    // Attempts hang until released, as at a receiver that holds requests until the timeout.
    let sending = 0;
    let mostSending = 0;
    let sent = 0;
    const held: (() => void)[] = [];
    let open = false;
    const sender = {
      async send(): Promise<SendResult> {
        sent++;
        mostSending = Math.max(mostSending, ++sending);
        if (!open) await new Promise<void>((resolve) => held.push(resolve));
        sending--;
        return { kind: 'response', status: 200, headers: {}, body: '', durationMs: 1 };
      },
    } as unknown as HttpSender;
    const worker = new DeliveryWorker({
      store: counted, clock: systemClock, sender, logger: silentLogger, concurrency: 16, endpointConcurrency: 4, timeoutMs: 30_000, retryOverride: null, disableAfterMs: 86_400_000,
    });
    worker.start();
    try {
      await waitFor(() => sending === 4, { message: '4 attempts in flight' });
      const before = claims;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // Polling (once a second) is fine; claiming after every wake would be hundreds.
      assert.ok(claims - before <= 5, `claims while only held-back work was due: ${claims - before}`);
      assert.equal(sent, 4);

      // Freed slots are refilled from the backlog.
      held.splice(0, 2).forEach((resolve) => resolve());
      await waitFor(() => sent === 6, { timeoutMs: 5_000, message: 'the 2 freed slots to be refilled' });
      open = true;
      held.splice(0).forEach((resolve) => resolve());
      await waitFor(() => sent === 100, { timeoutMs: 20_000, message: 'the whole backlog' });
      assert.equal(mostSending, 4);
    } finally {
      open = true;
      held.splice(0).forEach((resolve) => resolve());
      await worker.stop();
      await store.close();
    }
  });
});
