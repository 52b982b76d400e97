import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventPublisher } from '../../src/api/publisher.js';
import { relatedObjectOf } from '../../src/domain/destinations.js';
import { newId } from '../../src/domain/ids.js';
import type { StoredEvent } from '../../src/domain/types.js';
import { openStore } from '../../src/store/index.js';
import type { PublishedEvent, Store } from '../../src/store/store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * The publisher's group commit over a real PostgreSQL store. The store is wrapped only to watch
 * its publishEvents calls and to hold them at a gate, so the test decides when a batch's statement
 * may run, instead of racing the server.
 */
describe('EventPublisher on PostgreSQL: batches written at once are bounded', () => {
  let server: TestPostgres;
  let store: Store;
  let accountId: string;
  before(async () => {
    server = await startTestPostgres();
    store = await openStore({ kind: 'postgres', url: await server.createDatabase('publisher') });
    accountId = `acct_pub${Math.random().toString(36).slice(2, 10)}`;
    await store.createAccount({ id: accountId, name: 'Publisher', applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: Date.now() });
  });
  after(async () => {
    await store.close();
    await server.stop();
  });

  function event(overrides: Partial<PublishedEvent> = {}): PublishedEvent {
    const base = {
      id: newId.event(),
      accountId,
      mode: 'test' as const,
      type: 'payment_intent.succeeded',
      account: null,
      apiVersion: '2026-10-28.endive',
      created: Date.now(),
      data: { object: { id: `pi_${Math.random().toString(36).slice(2)}`, object: 'payment_intent' } },
      request: { id: null, idempotency_key: null },
      ...overrides,
    };
    return { ...base, relatedObject: relatedObjectOf(base) };
  }

  /** The real store, with each publishEvents call recorded and held until `release()`. */
  function gatedStore() {
    const batches: number[] = [];
    let writing = 0;
    let mostWriting = 0;
    const held: (() => void)[] = [];
    const gated = new Proxy(store, {
      get: (target, property, receiver) => {
        if (property !== 'publishEvents') return Reflect.get(target, property, receiver);
        return async (events: PublishedEvent[]) => {
          batches.push(events.length);
          mostWriting = Math.max(mostWriting, ++writing);
          try {
            await new Promise<void>((resolve) => held.push(resolve));
            return await target.publishEvents(events);
          } finally {
            writing--;
          }
        };
      },
    });
    return {
      store: gated,
      batches,
      mostWriting: () => mostWriting,
      heldCount: () => held.length,
      release: () => held.splice(0).forEach((go) => go()),
    };
  }

  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !condition(); i++) await new Promise<void>((resolve) => setTimeout(resolve, 2));
    assert.ok(condition(), 'the condition never held');
  }

  test('events published while two batches are written wait and go together in one statement; each is stored and answered as itself', async () => {
    const gate = gatedStore();
    const published: StoredEvent[][] = [];
    const publisher = new EventPublisher(gate.store, (batch) => published.push(batch), { maxConcurrentBatches: 2 });

    const first = publisher.publish(event());
    await nextTurn();
    const second = publisher.publish(event());
    await until(() => gate.heldCount() === 2);
    // Ten more turns of publishing while both slots are taken: none of them starts a statement.
    const later: { sent: PublishedEvent; answer: Promise<StoredEvent> }[] = [];
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 10; i++) {
        const sent = event();
        later.push({ sent, answer: publisher.publish(sent) });
      }
      await nextTurn();
    }
    assert.deepEqual(gate.batches, [1, 1]);

    gate.release();
    await Promise.all([first, second]);
    await until(() => gate.heldCount() === 1);
    gate.release();
    const answers = await Promise.all(later.map((l) => l.answer));

    assert.deepEqual(gate.batches, [1, 1, 100], 'the hundred waiting events go as one batch');
    assert.equal(gate.mostWriting(), 2);
    for (const [i, answer] of answers.entries()) assert.equal(answer.id, later[i]!.sent.id, 'each request gets its own event');
    assert.equal(published.flat().length, 102, 'every batch is announced once it is durable');
    for (const { sent } of later) assert.equal((await store.getEvent(accountId, 'test', sent.id))?.id, sent.id);
  });

  test("a batch that fails rejects only its own events and frees its slot for the next ones", async () => {
    const publisher = new EventPublisher(store, () => {}, { maxConcurrentBatches: 1 });
    const existing = await publisher.publish(event());
    // Same tick, so the same batch: the repeated id fails the whole statement.
    const clash = [publisher.publish(event({ id: existing.id })), publisher.publish(event())];
    const results = await Promise.allSettled(clash);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    const after = event();
    assert.equal((await publisher.publish(after)).id, after.id);
    assert.equal((await store.getEvent(accountId, 'test', after.id))?.id, after.id);
  });
});
