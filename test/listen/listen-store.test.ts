import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { newId } from '../../src/domain/ids.js';
import type { DeliveryAttempt, Mode } from '../../src/domain/types.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const T0 = 1_800_000_000_000;

/** What `herald listen` needs of every store: one durable session per account and mode, a backlog by cursor, acknowledgements. */
function listenSessionContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`listen sessions: ${name}`, () => {
    const opened: Store[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    const open = async () => {
      const store = await makeStore();
      opened.push(store);
      return store;
    };
    let n = 0;
    const account = async (store: Store) => {
      const id = `acct_listen${++n}${Math.random().toString(36).slice(2, 8)}`;
      await store.createAccount({ id, name: 'Listen', applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: T0 });
      return id;
    };
    const publish = async (store: Store, accountId: string, type = 'charge.succeeded', mode: Mode = 'test') => {
      const [event] = await store.publishEvents([
        { id: newId.event(), accountId, mode, type, account: null, apiVersion: '2026-10-28.endive', created: T0, data: { object: { id: 'ch_1', object: 'charge' } }, request: { id: null, idempotency_key: null } },
      ]);
      return event!;
    };
    const session = (accountId: string, mode: Mode = 'test', enabledEvents = ['*']) => ({ id: `lsn_${newId.event().slice(4)}`, accountId, mode, secret: `whsec_${Math.random()}`, enabledEvents, created: T0 });
    const attempt = (sessionId: string, accountId: string, eventId: string): DeliveryAttempt => ({
      id: newId.attempt(), deliveryId: sessionId, eventId, endpointId: sessionId, accountId, mode: 'test', kind: 'automatic', attemptNumber: 1, url: 'http://localhost:4242/webhook',
      created: T0, durationMs: 3, outcome: 'succeeded', failureKind: null, failureMessage: null, httpStatus: 200, requestHeaders: {}, responseHeaders: {}, responseBody: 'ok', nextRetryAt: null,
    });

    test('one session per account and mode: reopening keeps id, secret and cursor and takes the new filter', async () => {
      const store = await open();
      const a = await account(store);
      await publish(store, a); // before the session: not in its backlog
      const first = await store.openListenSession(session(a));
      const again = await store.openListenSession(session(a, 'test', ['charge.succeeded']));
      assert.equal(again.id, first.id);
      assert.equal(again.secret, first.secret);
      assert.equal(again.cursor, first.cursor);
      assert.deepEqual(again.enabledEvents, ['charge.succeeded']);
      assert.deepEqual((await store.getListenSession(a, 'test', first.id))!.enabledEvents, ['charge.succeeded']);
      const live = await store.openListenSession(session(a, 'live'));
      assert.notEqual(live.id, first.id);
      assert.equal(await store.getListenSession(a, 'live', first.id), null, 'a session is found only in its mode');
      assert.deepEqual(await store.listenBacklog(first.id, first.cursor, 10), []);
    });

    test('the backlog: unacknowledged events of the account and mode after a position, oldest first', async () => {
      const store = await open();
      const a = await account(store);
      const other = await account(store);
      const s = await store.openListenSession(session(a));
      const e1 = await publish(store, a);
      await publish(store, other);
      await publish(store, a, 'charge.succeeded', 'live');
      const e2 = await publish(store, a, 'customer.created');
      const e3 = await publish(store, a);
      const backlog = await store.listenBacklog(s.id, s.cursor, 10);
      assert.deepEqual(backlog.map((e) => e.id), [e1.id, e2.id, e3.id]);
      assert.ok(backlog[0]!.seq < backlog[1]!.seq && backlog[1]!.seq < backlog[2]!.seq);
      assert.deepEqual(JSON.parse(backlog[0]!.dataJson), { object: { id: 'ch_1', object: 'charge' } });
      assert.deepEqual((await store.listenBacklog(s.id, backlog[0]!.seq, 1)).map((e) => e.id), [e2.id]);

      await store.recordListenAttempts(s.id, e2.id, [attempt(s.id, a, e2.id)]);
      await store.recordListenAttempts(s.id, e3.id, []); // printed only: acknowledged, nothing logged
      assert.deepEqual((await store.listenBacklog(s.id, s.cursor, 10)).map((e) => e.id), [e1.id]);
      assert.deepEqual(await store.listenUnacknowledged(s.id, [e1.id, e2.id, e3.id]), [e1.id]);
      const logged = await store.listAttempts({ accountId: a, mode: 'test', eventId: e2.id }, { limit: 10 });
      assert.equal(logged.data.length, 1);
      assert.equal(logged.data[0]!.endpointId, s.id);
      assert.equal((await store.listAttempts({ accountId: a, mode: 'test', eventId: e3.id }, { limit: 10 })).data.length, 0);
    });

    test('reports show as deliveries of the event to the session, like an endpoint’s', async () => {
      const store = await open();
      const a = await account(store);
      const s = await store.openListenSession(session(a));
      const e = await publish(store, a);
      const deliveries = async () => (await store.listDeliveries({ accountId: a, mode: 'test', eventId: e.id }, {}, { limit: 10 })).data;
      const first = attempt(s.id, a, e.id);
      await store.recordListenAttempts(s.id, e.id, [first]);
      let [delivery] = await deliveries();
      assert.equal(delivery!.endpointId, s.id);
      assert.equal(delivery!.kind, 'automatic');
      assert.equal(delivery!.status, 'succeeded');
      assert.equal(delivery!.attemptCount, 1);
      assert.equal(delivery!.lastAttempt!.id, first.id);
      assert.equal((await store.getAttempt(a, 'test', first.id))!.deliveryId, delivery!.id);

      // Forwarded again (the report of a restarted listener): the same delivery, failed this time.
      const again = { ...attempt(s.id, a, e.id), created: T0 + 1000, outcome: 'failed' as const, failureKind: 'http_error' as const, httpStatus: 500 };
      await store.recordListenAttempts(s.id, e.id, [again]);
      const afterAgain = await deliveries();
      assert.equal(afterAgain.length, 1);
      [delivery] = afterAgain;
      assert.equal(delivery!.attemptCount, 2);
      assert.equal(delivery!.status, 'failed');
      assert.equal(delivery!.lastAttempt!.id, again.id);
      // A session is not an endpoint: its failed reports never count as undelivered.
      const failedFirst = await publish(store, a);
      await store.recordListenAttempts(s.id, failedFirst.id, [{ ...again, id: newId.attempt(), eventId: failedFirst.id }]);
      assert.equal((await store.getEvent(a, 'test', failedFirst.id))!.pendingWebhooks, 0);
      const undelivered = await store.listEvents(a, 'test', { notBefore: 0, deliverySuccess: false }, { limit: 10 });
      assert.deepEqual(undelivered.data, []);

      // A resend is a manual delivery of its own; the delivery workers never claim these rows.
      await store.recordListenAttempts(s.id, e.id, [{ ...attempt(s.id, a, e.id), kind: 'manual' }]);
      const all = await deliveries();
      assert.deepEqual(all.map((d) => d.kind).sort(), ['automatic', 'manual']);
      assert.deepEqual(await store.claimDueDeliveries(T0 + 86_400_000, 100, 30_000), []);
    });

    test('the cursor moves forward only, and survives reopening', async () => {
      const store = await open();
      const a = await account(store);
      const s = await store.openListenSession(session(a));
      const events = [await publish(store, a), await publish(store, a), await publish(store, a)];
      const [b1, b2] = await store.listenBacklog(s.id, s.cursor, 10);
      await store.recordListenAttempts(s.id, events[0]!.id, []);
      await store.advanceListenCursor(s.id, b1!.seq);
      await store.advanceListenCursor(s.id, s.cursor); // backwards: ignored
      const reopened = await store.openListenSession(session(a));
      assert.equal(reopened.cursor, b1!.seq);
      assert.deepEqual((await store.listenBacklog(s.id, reopened.cursor, 10)).map((e) => e.id), [events[1]!.id, events[2]!.id]);
      await store.advanceListenCursor(s.id, b2!.seq);
      assert.deepEqual((await store.listenBacklog(s.id, (await store.getListenSession(a, 'test', s.id))!.cursor, 10)).map((e) => e.id), [events[2]!.id]);
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'herald-listen-store-'));
let files = 0;
after(() => rmSync(dir, { recursive: true, force: true }));
listenSessionContract('SQLite', async () => new SqliteStore(join(dir, `store-${++files}.db`)));

let postgres: TestPostgres;
before(async () => {
  postgres = await startTestPostgres();
});
after(async () => {
  await postgres?.stop();
});
listenSessionContract('PostgreSQL', async () => PostgresStore.open(await postgres.createDatabase()));
