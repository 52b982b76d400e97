import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { newId } from '../../src/domain/ids.js';
import type { WebhookEndpoint } from '../../src/domain/types.js';
import { openStore } from '../../src/store/index.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';

import { waitFor } from '../helpers/herald.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { retryAt, storeContract, succeed } from './contract.js';

let server: TestPostgres;
before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

// Each contract test gets a database of its own.
storeContract('PostgreSQL', async () => PostgresStore.open(await server.createDatabase()));

const T0 = 1_800_000_000_000;

function endpointOf(accountId: string): WebhookEndpoint {
  return {
    id: newId.endpoint(), accountId, mode: 'test', url: 'https://example.com/hook', enabledEvents: ['*'], apiVersion: null, connect: false,
    description: null, metadata: {}, signatureSchemes: ['stripe'], status: 'enabled', disabledReason: null, disabledAt: null, failingSince: null, lastSuccessAt: null, created: T0,
  };
}

function eventOf(accountId: string, created = T0) {
  return {
    id: newId.event(), accountId, mode: 'test' as const, type: 'charge.succeeded', account: null, apiVersion: '2026-10-28.endive', created,
    data: { object: { id: 'ch_1' } }, request: { id: null, idempotency_key: null },
  };
}

/** Several stores on one database stand for several Herald processes (each has its own pool). */
async function openProcesses(count: number, url: string): Promise<PostgresStore[]> {
  return Promise.all(Array.from({ length: count }, () => PostgresStore.open(url)));
}

describe('PostgreSQL store across processes', () => {
  test('openStore opens a postgres:// location', async () => {
    const url = await server.createDatabase();
    const store = await openStore({ kind: 'postgres', url });
    assert.ok(store instanceof PostgresStore);
    await store.close();
  });

  test('migrations: from an empty database, re-run on a migrated one, and by processes starting together', async () => {
    const url = await server.createDatabase();
    const dbName = new URL(url).pathname.slice(1);
    const together = await openProcesses(4, url);
    const versions = await server.query('SELECT version, name FROM schema_migrations ORDER BY version', [], dbName);
    assert.ok(versions.rows.length >= 1);
    assert.equal(versions.rows[0].name, '001_initial.sql');
    assert.equal(new Set(versions.rows.map((r) => r.version)).size, versions.rows.length, 'each migration applied once');
    await Promise.all(together.map((s) => s.close()));
    const again = await PostgresStore.open(url);
    const after = await server.query('SELECT count(*)::int AS n FROM schema_migrations', [], dbName);
    assert.equal(after.rows[0].n, versions.rows.length, 're-running applies nothing');
    await again.close();
  });

  test('migration 013 moves waiting work and undelivered deliveries into the queue, leases included', async () => {
    const url = await server.createDatabase();
    const dbName = new URL(url).pathname.slice(1);
    const sql = (text: string, params: unknown[] = []) => server.query(text, params, dbName);
    // The schema as Herald left it before 013, applied as its migrate() does.
    const dir = new URL('../../src/store/postgres/migrations/', import.meta.url);
    await sql('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    for (const file of readdirSync(dir).filter((f) => /^\d+_.*\.sql$/.test(f) && Number.parseInt(f, 10) < 13).sort()) {
      await sql(readFileSync(new URL(file, dir), 'utf8'));
      await sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [Number.parseInt(file, 10), file, T0]);
    }
    const accountId = `acct_migrate${Date.now()}`;
    const endpoint = endpointOf(accountId);
    const events = ['waiting', 'expired', 'delivered', 'given_up', 'leased'].map((name) => ({ name, id: newId.event() }));
    for (const e of events) {
      await sql("INSERT INTO events (id, account_id, mode, type, api_version, created, data) VALUES ($1, $2, 'test', 'charge.succeeded', '2026-10-28.endive', $3, '{}')", [e.id, accountId, T0]);
    }
    const eventId = (name: string) => events.find((e) => e.name === name)!.id;
    const deliveries = [
      { id: 'dlv_waiting', event: 'waiting', kind: 'automatic', state: 'pending', count: 0, next: T0, lease: null, deliveredAt: null },
      { id: 'dlv_expired', event: 'expired', kind: 'automatic', state: 'in_flight', count: 1, next: T0 - 1, lease: 'dead', deliveredAt: null },
      { id: 'dlv_delivered', event: 'delivered', kind: 'automatic', state: 'succeeded', count: 1, next: null, lease: null, deliveredAt: T0 },
      { id: 'dlv_given_up', event: 'given_up', kind: 'automatic', state: 'failed', count: 3, next: null, lease: null, deliveredAt: null },
      { id: 'dlv_resend', event: 'given_up', kind: 'manual', state: 'pending', count: 0, next: T0 + 10, lease: null, deliveredAt: null },
      { id: 'dlv_leased', event: 'leased', kind: 'automatic', state: 'in_flight', count: 2, next: T0 + 60_000, lease: 'live', deliveredAt: null },
      // A `herald listen` report that failed: logged, never due, never pending.
      { id: 'dlv_listen', event: 'delivered', kind: 'automatic', state: 'failed', count: 1, next: null, lease: null, deliveredAt: null, endpoint: 'lsn_migrate' },
    ];
    for (const d of deliveries) {
      await sql(
        `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, attempt_count, next_attempt_at, lease_token, delivered_at, created)
         VALUES ($1, $2, $3, $4, 'test', $5, $6, $7, $8, $9, $10, $11)`,
        [d.id, eventId(d.event), d.endpoint ?? endpoint.id, accountId, d.kind, d.state, d.count, d.next, d.lease, d.deliveredAt, T0],
      );
    }

    const store = await PostgresStore.open(url);
    try {
      await store.createEndpoint(endpoint, { secret: 'whsec_migrate', created: T0, expiresAt: null }, 100);
      const pending = async (name: string) => (await store.getEvent(accountId, 'test', eventId(name)))!.pendingWebhooks;
      assert.deepEqual(
        await Promise.all(events.map((e) => pending(e.name))),
        [1, 1, 0, 1, 1],
        'pending_webhooks counts the undelivered automatic deliveries, given up or not',
      );
      const { rows } = await sql("SELECT next_attempt_at, lease_token FROM delivery_queue WHERE delivery_id = 'dlv_leased'");
      assert.deepEqual(rows, [{ next_attempt_at: String(T0 + 60_000), lease_token: 'live' }], 'a live lease is kept');
      const queued = await sql('SELECT delivery_id FROM delivery_queue ORDER BY delivery_id');
      assert.deepEqual(queued.rows.map((r) => r.delivery_id), ['dlv_expired', 'dlv_given_up', 'dlv_leased', 'dlv_resend', 'dlv_waiting']);

      const claimed = await store.claimDueDeliveries(T0, 100, 30_000);
      assert.deepEqual(claimed.map((c) => c.deliveryId).sort(), ['dlv_expired', 'dlv_waiting'], 'due work and an expired lease, nothing else');
      assert.equal(claimed.find((c) => c.deliveryId === 'dlv_expired')!.attemptNumber, 2);
      assert.equal(await store.nextDueTime(), T0 + 10, 'the resend is the next due');
      const [resend] = await store.claimDueDeliveries(T0 + 10, 100, 30_000);
      assert.equal(resend?.deliveryId, 'dlv_resend');
      assert.deepEqual(await store.claimDueDeliveries(T0 + 20, 100, 30_000), [], 'the given-up delivery is not due');
      // At T0 + 60 s the live lease has run out, as have the ones taken above.
      const later = await store.claimDueDeliveries(T0 + 60_000, 100, 30_000);
      assert.deepEqual(later.map((c) => c.deliveryId).sort(), ['dlv_expired', 'dlv_leased', 'dlv_resend', 'dlv_waiting']);
      assert.equal(later.find((c) => c.deliveryId === 'dlv_leased')!.attemptNumber, 3);
    } finally {
      await store.close();
    }
  });

  test('processes starting together agree on one default account', async () => {
    const url = await server.createDatabase();
    const stores = await openProcesses(4, url);
    const results = await Promise.all(
      stores.map((s) => s.ensureDefaultAccount({ id: newId.account(), name: 'Default', applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: T0 })),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.account.id)).size, 1);
    await Promise.all(stores.map((s) => s.close()));
  });

  test('concurrent claims by several processes take disjoint batches', async () => {
    const url = await server.createDatabase();
    const stores = await openProcesses(4, url);
    const [first] = stores;
    const accountId = newId.account();
    await first!.createAccount({ id: accountId, name: 'a', applicationId: newId.application(), defaultApiVersion: 'x', created: T0 });
    await first!.createEndpoint(endpointOf(accountId), { secret: 'whsec_x', created: T0, expiresAt: null }, 10);
    await first!.publishEvents(Array.from({ length: 400 }, () => eventOf(accountId)));
    const seen: string[] = [];
    await Promise.all(
      stores.map(async (s) => {
        for (;;) {
          const claims = await s.claimDueDeliveries(T0, 25, 60_000);
          if (claims.length === 0) return;
          seen.push(...claims.map((c) => c.deliveryId));
        }
      }),
    );
    assert.equal(seen.length, 400);
    assert.equal(new Set(seen).size, 400, 'no delivery claimed twice');
    await Promise.all(stores.map((s) => s.close()));
  });

  test('the endpoint limit holds when processes create endpoints at once', async () => {
    const url = await server.createDatabase();
    const stores = await openProcesses(4, url);
    const accountId = newId.account();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => stores[i % 4]!.createEndpoint(endpointOf(accountId), { secret: 'whsec_x', created: T0, expiresAt: null }, 5)),
    );
    assert.equal(results.filter((r) => r === 'created').length, 5);
    assert.equal((await stores[0]!.listEndpoints(accountId, 'test', { limit: 100 })).data.length, 5);
    await Promise.all(stores.map((s) => s.close()));
  });

  test('an idempotency key lets exactly one of several racing first requests proceed', async () => {
    const url = await server.createDatabase();
    const stores = await openProcesses(4, url);
    const req = { accountId: 'acct_x', mode: 'test' as const, key: 'race', requestHash: 'h', now: T0, lockMs: 60_000 };
    const verdicts = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 4]!.beginIdempotentRequest(req)));
    assert.equal(verdicts.filter((v) => v.kind === 'proceed').length, 1);
    assert.equal(verdicts.filter((v) => v.kind === 'in_progress').length, 7);
    await Promise.all(stores.map((s) => s.close()));
  });

  test('secret rolls from several processes at once leave exactly one current secret', async () => {
    const url = await server.createDatabase();
    const stores = await openProcesses(4, url);
    const endpoint = endpointOf('acct_roll');
    await stores[0]!.createEndpoint(endpoint, { secret: 'whsec_0', created: T0, expiresAt: null }, 10);
    await Promise.all(stores.map((s, i) => s.rollSecret(endpoint.id, { secret: `whsec_${i + 1}`, created: T0 + 1 + i, expiresAt: null }, T0 + 86_400_000)));
    const secrets = await stores[0]!.activeSecrets(endpoint.id, T0 + 100);
    assert.equal(secrets.filter((s) => s.expiresAt === null).length, 1);
    assert.equal(secrets.length, 5);
    await Promise.all(stores.map((s) => s.close()));
  });

  test('auto-disable is decided once when processes record failures at once', async () => {
    const url = await server.createDatabase();
    const stores = await openProcesses(4, url);
    const endpoint = endpointOf('acct_disable');
    await stores[0]!.createEndpoint({ ...endpoint, failingSince: null }, { secret: 'whsec_0', created: T0, expiresAt: null }, 10);
    await stores[0]!.publishEvents(Array.from({ length: 40 }, () => eventOf('acct_disable')));
    const claims = await stores[0]!.claimDueDeliveries(T0, 100, 60_000);
    // The first failure starts the run; the others come after disableAfterMs.
    const first = claims.shift()!;
    const failure = (claim: typeof first, at: number) => ({
      claim,
      attempt: {
        id: newId.attempt(), deliveryId: claim.deliveryId, eventId: claim.event.id, endpointId: endpoint.id, accountId: 'acct_disable', mode: 'test' as const,
        kind: claim.kind, attemptNumber: 1, url: endpoint.url, created: at, durationMs: 1, outcome: 'failed' as const, failureKind: 'http_error' as const,
        failureMessage: 'HTTP 500', httpStatus: 500, requestHeaders: {}, responseHeaders: null, responseBody: null, nextRetryAt: at + 1000,
      },
      next: { state: 'pending' as const, at: at + 1000, scheduleStep: 1 },
    });
    await stores[0]!.recordAttempts([failure(first, T0)], { disableAfterMs: 1000 });
    const outcomes = await Promise.all(claims.map((c, i) => stores[i % 4]!.recordAttempts([failure(c, T0 + 5000 + i)], { disableAfterMs: 1000 })));
    assert.equal(outcomes.flatMap((o) => o.disabled).length, 1, 'one process reports the disabling');
    assert.equal((await stores[1]!.getEndpoint('acct_disable', 'test', endpoint.id))!.status, 'disabled');
    await Promise.all(stores.map((s) => s.close()));
  });

  test('a store vacuums the queue once its claims and results leave enough dead rows', async () => {
    const url = await server.createDatabase();
    const database = new URL(url).pathname.slice(1);
    const queueStats = async () =>
      (await server.query("SELECT vacuum_count::int AS vacuums, n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE relname = 'delivery_queue'", [], database)).rows[0] as { vacuums: number; dead: number };
    const store = await PostgresStore.open(url, { queueVacuumEveryRows: 100 });
    const endpoint = endpointOf('acct_vacuum');
    await store.createEndpoint(endpoint, { secret: 'whsec_0', created: T0, expiresAt: null }, 10);
    await store.publishEvents(Array.from({ length: 60 }, () => eventOf('acct_vacuum')));
    const claims = await store.claimDueDeliveries(T0, 100, 60_000);
    assert.equal(claims.length, 60);
    // 60 leased rows left 60 dead versions: fewer than 100, no VACUUM yet.
    assert.equal((await queueStats()).vacuums, 0);
    const at = T0 + 10;
    await store.recordAttempts(claims.map((claim) => succeed(claim, at)), { disableAfterMs: 1000 });
    // 120 now: the store vacuums in the background, and the delivered rows' versions are gone.
    await waitFor(async () => (await queueStats()).vacuums >= 1, { message: 'a VACUUM of delivery_queue' });
    assert.equal((await queueStats()).dead, 0);
    await store.close();
  });

  test("claims and results commit without waiting for the disk; publishes and health changes wait", async () => {
    // A server that syncs its log (the shared test server does not), and its WAL fsyncs made by
    // sessions themselves: a commit that waits for the disk makes one; an unsynced one leaves the
    // flush to the WAL writer. A session's counts are published when it ends.
    const durable = await startTestPostgres({ durable: true });
    try {
      const url = await durable.createDatabase();
      const walFsyncs = async () => Number((await durable.query("SELECT sum(fsyncs) AS n FROM pg_stat_io WHERE object = 'wal' AND backend_type = 'client backend'")).rows[0].n);
      const fsyncsOf = async (work: (store: PostgresStore) => Promise<void>) => {
        const before = await walFsyncs();
        const store = await PostgresStore.open(url, { poolSize: 1 });
        await work(store);
        await store.close();
        await new Promise((resolve) => setTimeout(resolve, 500));
        return (await walFsyncs()) - before;
      };
      const endpoint = endpointOf('acct_sync');
      const published = await fsyncsOf(async (store) => {
        await store.createEndpoint(endpoint, { secret: 'whsec_0', created: T0, expiresAt: null }, 10);
        for (let i = 0; i < 20; i++) await store.publishEvents([eventOf('acct_sync')]);
      });
      assert.ok(published >= 20, `each publish waits for the disk (${published} fsyncs for 20 publishes and an endpoint)`);
      const bookkeeping = await fsyncsOf(async (store) => {
        for (let i = 0; i < 10; i++) {
          const claims = await store.claimDueDeliveries(T0, 2, 60_000);
          assert.equal(claims.length, 2);
          await store.recordAttempts(claims.map((c) => succeed(c, T0 + i)), { disableAfterMs: 60_000 });
        }
      });
      assert.ok(bookkeeping <= 2, `10 claims and 10 results recorded without waiting for the disk (${bookkeeping} fsyncs)`);
      const healthChange = await fsyncsOf(async (store) => {
        await store.publishEvents([eventOf('acct_sync')]);
        const [claim] = await store.claimDueDeliveries(T0, 1, 60_000);
        // The endpoint's first failure starts its failing run: the endpoint row changes.
        await store.recordAttempts([retryAt(claim!, T0 + 100, T0 + 1100)], { disableAfterMs: 60_000 });
      });
      assert.ok(healthChange >= 2, `the publish and the result that changed the endpoint's health wait for the disk (${healthChange} fsyncs)`);
    } finally {
      await durable.stop();
    }
  });

  test('publishing in one process wakes watchers in another (LISTEN/NOTIFY)', async () => {
    const url = await server.createDatabase();
    const [publisher, worker] = await openProcesses(2, url);
    let wakes = 0;
    const unsubscribe = worker!.watchForWork(() => wakes++);
    await waitFor(() => wakes >= 1, { message: 'the first wake-up after LISTEN' });
    const before = wakes;
    await publisher!.createEndpoint(endpointOf('acct_wake'), { secret: 'whsec_0', created: T0, expiresAt: null }, 10);
    await publisher!.publishEvents([eventOf('acct_wake')]);
    await waitFor(() => wakes > before, { message: 'a NOTIFY after publishing' });
    unsubscribe();
    await Promise.all([publisher!.close(), worker!.close()]);
  });

  test('each announcement wakes one idle worker on call; a worker with more than it can take hands the duty on; a closed one loses it', async () => {
    const url = await server.createDatabase();
    const [publisher, ...workers] = await openProcesses(4, url);
    const wakes = [0, 0, 0];
    const duties = workers.map((store, i) => store.watchForWorkOnCall(() => wakes[i]!++));
    const dutyHeld = async () => Number((await server.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 3 AND objsubid = 2 AND granted")).rows[0].n) === 1;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    // Each is woken once when it starts listening (announcements may have been missed); one takes the duty.
    await waitFor(() => wakes.every((n) => n >= 1), { message: 'the first wake-up of each worker' });
    await waitFor(dutyHeld, { message: 'a worker on call' });
    await publisher!.createEndpoint(endpointOf('acct_duty'), { secret: 'whsec_0', created: T0, expiresAt: null }, 10);
    const wokenBy = async (action: () => Promise<unknown>): Promise<number[]> => {
      await settle();
      const before = [...wakes];
      await action();
      await waitFor(() => wakes.some((n, i) => n > before[i]!), { message: 'a wake-up' });
      await settle();
      return wakes.flatMap((n, i) => (n > before[i]! ? [i] : []));
    };
    const publish = () => publisher!.publishEvents([eventOf('acct_duty')]);

    const [first, ...others] = await wokenBy(publish);
    assert.deepEqual(others, [], 'one worker woken by a publish');
    assert.deepEqual(await wokenBy(publish), [first], 'the same worker woken by the next one');

    // A full claim: more is due than it can take. The work is announced again, for another worker.
    const [second, ...more] = await wokenBy(async () => duties[first!]!.claimed(true));
    assert.deepEqual(more, [], 'one other worker woken when the duty is handed on');
    assert.notEqual(second, first);
    assert.deepEqual(await wokenBy(publish), [second], 'the next publish wakes the new worker on call');
    // Drained again, the first worker may take the duty again, but the second still holds it.
    duties[first!]!.claimed(false);
    assert.deepEqual(await wokenBy(publish), [second]);

    // The worker on call goes away: PostgreSQL releases its lock with its session.
    duties[second!]!.stop();
    await waitFor(async () => !(await dutyHeld()), { message: 'the duty released' });
    const [third, ...rest] = await wokenBy(publish);
    assert.deepEqual(rest, [], 'one worker woken after the worker on call left');
    assert.notEqual(third, second);
    duties.forEach((duty) => duty.stop());
    await Promise.all([publisher, ...workers].map((store) => store!.close()));
  });

  test('a publish commits while another commit holds the notification queue; watchers are told once it is free', async () => {
    // PostgreSQL lets one committing transaction that has NOTIFYed at a time hold its notification
    // queue, until its commit ends (the wait for the disk, or a standby, included). Here a commit
    // waits for a synchronous standby that does not exist, so it holds the queue until cancelled.
    // Herald's own sessions commit locally (this test server does not sync), so only that one waits.
    const own = await startTestPostgres();
    let blocker: pg.Client | null = null;
    try {
      const url = await own.createDatabase();
      await own.query("ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'");
      await own.query('SELECT pg_reload_conf()');
      const [publisher, worker] = await openProcesses(2, url);
      let wakes = 0;
      const unsubscribe = worker!.watchForWork(() => wakes++);
      await waitFor(() => wakes >= 1, { message: 'the first wake-up after LISTEN' });
      await publisher!.createEndpoint(endpointOf('acct_queue'), { secret: 'whsec_0', created: T0, expiresAt: null }, 10);

      blocker = new pg.Client({ connectionString: url });
      await blocker.connect();
      await blocker.query('CREATE TABLE blocker_writes (x int)');
      await blocker.query("SET synchronous_commit = 'remote_write'");
      // The insert: a commit waits for a standby only when its transaction wrote to the log.
      const blocked = blocker.query('BEGIN; NOTIFY herald_work; INSERT INTO blocker_writes VALUES (1); COMMIT').catch((err: Error) => err);
      const waitingForStandby = async () => Number((await own.query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'")).rows[0].n) === 1;
      await waitFor(waitingForStandby, { message: 'the blocking commit waiting for its standby' });
      const before = wakes;

      const outcome = await Promise.race([
        publisher!.publishEvents([eventOf('acct_queue')]).then(() => 'published'),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5000)),
      ]);
      assert.equal(outcome, 'published');
      assert.equal((await worker!.claimDueDeliveries(T0, 10, 60_000)).length, 1, 'the publish is committed');
      assert.equal(wakes, before, 'the announcement waits for the notification queue');

      await own.query("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
      await blocked;
      await waitFor(() => wakes > before, { message: 'the announcement of the publish, once the queue is free' });
      unsubscribe();
      await Promise.all([publisher!.close(), worker!.close()]);
    } finally {
      await blocker?.end().catch(() => {});
      await own.stop();
    }
  });

  test('the pool size comes from the URL', async () => {
    const url = await server.createDatabase();
    await assert.rejects(PostgresStore.open(`${url}?pool_size=zero`), /pool_size/);
    const store = await PostgresStore.open(`${url}?pool_size=3`);
    await store.close();
  });

  test('hot statements are prepared once per connection, none with prepared_statements=false (PgBouncer before 1.21)', async () => {
    const url = await server.createDatabase();
    await assert.rejects(PostgresStore.open(`${url}?prepared_statements=yes`), /prepared_statements/);
    for (const [setting, expected] of [
      ['', ['herald_announce_work', 'herald_claimed_secrets', 'herald_next_due', 'herald_publish_events', 'herald_publish_targets']],
      ['&prepared_statements=false', []],
    ] as const) {
      // One connection, so the session this test looks into is the one that ran the statements.
      const store = await PostgresStore.open(`${url}?pool_size=1${setting}`);
      const accountId = `acct_prepared${setting === '' ? 'on' : 'off'}`;
      await store.createEndpoint(endpointOf(accountId), { secret: 'whsec_0', created: T0, expiresAt: null }, 10);
      await store.publishEvents([eventOf(accountId)]);
      await store.publishEvents([eventOf(accountId)]);
      assert.equal((await store.claimDueDeliveries(T0, 10, 30_000)).length, 2);
      await store.nextDueTime();
      const session = (store as unknown as { pool: { query(sql: string): Promise<{ rows: { name: string }[] }> } }).pool;
      const { rows } = await session.query('SELECT name FROM pg_prepared_statements ORDER BY name');
      assert.deepEqual(rows.map((r) => r.name), expected);
      await store.close();
    }
  });
});
