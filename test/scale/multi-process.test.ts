import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { HOLD_FACTOR } from '../../src/delivery/worker.js';
import { newApiKey } from '../../src/domain/ids.js';
import { CountingReceiver } from '../helpers/counting-receiver.js';
import { waitFor } from '../helpers/herald.js';
import { spawnHerald, type HeraldProcess } from '../helpers/herald-process.js';
import { createEndpoint, publishEvents } from '../helpers/load.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * Scale-out on PostgreSQL, end to end: one API process and three worker processes (real
 * `herald serve` processes) share one database; 20,000 events fan out to 5 real receivers.
 */
const EVENTS = 20_000;
const ENDPOINTS = 5;
/** Long enough that no lease expires on a busy 2-core machine unless its worker really died. */
const DELIVERY_TIMEOUT_MS = 10_000;
/**
 * The first worker (the one the second test kills) attempts with a longer timeout, so its leases
 * run longer than any other worker's can: a lease ending beyond every other's reach is provably
 * its own (see `leasesOnlyTheVictimCanHold`).
 */
const VICTIM_TIMEOUT_MS = 15_000;
/** How long a worker's lease runs beyond its timeout (worker.ts: LEASE_MARGIN_MS + READY_WAIT_LIMIT_MS). */
const LEASE_BEYOND_TIMEOUT_MS = 10_000;

let server: TestPostgres;
const running: Deployment[] = [];
before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  // Also after a failed or timed-out test: no process may outlive the file.
  await Promise.all(running.map((d) => d.stop()));
  await server?.stop();
});

interface Deployment {
  api: HeraldProcess;
  workers: HeraldProcess[];
  receivers: CountingReceiver[];
  db: pg.Client;
  key: string;
  stop(): Promise<void>;
}

async function deploy(): Promise<Deployment> {
  const url = await server.createDatabase('herald_scale');
  const key = newApiKey('test');
  const env = { HERALD_TEST_SECRET_KEY: key, HERALD_RETRY_SCHEDULE: '1s,1s,1s', HERALD_DELIVERY_TIMEOUT: `${DELIVERY_TIMEOUT_MS}ms` };
  // All four start together: migrations and the default account must come out right anyway.
  const [api, ...workers] = await Promise.all([
    spawnHerald(['--role', 'api', '--port', '0', '--database', url], env),
    ...Array.from({ length: 3 }, (_, i) => spawnHerald(['--role', 'worker', '--database', url], i === 0 ? { ...env, HERALD_DELIVERY_TIMEOUT: `${VICTIM_TIMEOUT_MS}ms` } : env)),
  ]);
  const receivers = await Promise.all(Array.from({ length: ENDPOINTS }, () => new CountingReceiver().start()));
  const db = new pg.Client({ connectionString: url });
  db.on('error', () => {});
  await db.connect();
  let stopped: Promise<void> | null = null;
  const deployment: Deployment = {
    api: api!,
    workers,
    receivers,
    db,
    key,
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(progress);
        await Promise.all([api!, ...workers].map((p) => p.stop()));
        await Promise.all(receivers.map((r) => r.stop()));
        await db.end().catch(() => {});
      })()),
  };
  // A line every 10 s, so a slow machine shows progress rather than silence.
  const started = Date.now();
  const progress = setInterval(() => {
    const received = receivers.reduce((sum, r) => sum + r.total, 0);
    process.stderr.write(`# ${Math.round((Date.now() - started) / 1000)} s: ${received} deliveries received\n`);
  }, 10_000);
  progress.unref();
  running.push(deployment);
  return deployment;
}

/**
 * Deliveries leased by the victim worker, seen while it is stopped (SIGSTOP, so it can neither
 * record nor claim). Every other worker's lease ends at most DELIVERY_TIMEOUT_MS + LEASE_BEYOND_TIMEOUT_MS
 * after its claim, and every claim this query sees happened before it returned: a lease ending
 * later than that after the query is the victim's (claimed within the last 5 s).
 */
async function leasesOnlyTheVictimCanHold(db: pg.Client): Promise<string[]> {
  const { rows } = await db.query("SELECT id, next_attempt_at FROM deliveries WHERE state = 'in_flight'");
  const answered = Date.now();
  return rows.filter((r) => Number(r.next_attempt_at) > answered + DELIVERY_TIMEOUT_MS + LEASE_BEYOND_TIMEOUT_MS).map((r) => r.id as string);
}

/** Why events arrived twice, if they did: their attempts by outcome, failure and duration. */
async function describeDuplicates(d: Deployment): Promise<void> {
  const twice = [...new Set(d.receivers.flatMap((r) => r.duplicates()))];
  if (twice.length === 0) return;
  const { rows } = await d.db.query(
    `SELECT outcome, failure_kind, attempt_number, count(*)::int AS n, max(duration_ms)::int AS longest_ms
     FROM attempts WHERE event_id = ANY($1) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [twice],
  );
  process.stderr.write(`# ${twice.length} events arrived twice somewhere; their attempts: ${JSON.stringify(rows)}\n`);
}

async function openDeliveries(db: pg.Client): Promise<number> {
  const { rows } = await db.query("SELECT count(*)::int AS n FROM deliveries WHERE state IN ('pending', 'in_flight')");
  return rows[0].n;
}

describe('scale-out: one API and three worker processes on one PostgreSQL database', () => {
  test(`${EVENTS} events to ${ENDPOINTS} endpoints: every delivery made, none twice`, { timeout: 240_000 }, async () => {
    const d = await deploy();
    try {
      for (const r of d.receivers) await createEndpoint(d.api.url!, d.key, r.url);
      const ids = await publishEvents(d.api.url!, d.key, EVENTS);
      await waitFor(async () => (await openDeliveries(d.db)) === 0, { timeoutMs: 180_000, intervalMs: 500, message: 'every delivery to finish' });
      for (const r of d.receivers) {
        assert.equal(r.counts.size, EVENTS, 'every event reached every endpoint');
        assert.deepEqual(r.duplicates(), [], 'no event arrived twice');
        assert.equal(r.total, EVENTS);
        for (const id of ids) assert.equal(r.counts.get(id), 1);
      }
      const { rows } = await d.db.query("SELECT count(*)::int AS n FROM deliveries WHERE state = 'succeeded'");
      assert.equal(rows[0].n, EVENTS * ENDPOINTS);
      const sample = await fetch(`${d.api.url}/v1/events/${ids[ids.length - 1]}`, { headers: { authorization: `Bearer ${d.key}` } });
      assert.equal(((await sample.json()) as { pending_webhooks: number }).pending_webhooks, 0, 'pending_webhooks reached 0');
      const undelivered = await d.db.query("SELECT count(*)::int AS n FROM deliveries WHERE kind = 'automatic' AND delivered_at IS NULL");
      assert.equal(undelivered.rows[0].n, 0, 'every delivery is marked delivered');
    } catch (err) {
      for (const p of [d.api, ...d.workers]) process.stderr.write(p.log());
      await describeDuplicates(d);
      throw err;
    } finally {
      await d.stop();
    }
  });

  test('a worker SIGKILLed midway: every delivery made at least once, duplicates only from its leased batch', { timeout: 240_000 }, async () => {
    const d = await deploy();
    try {
      for (const r of d.receivers) await createEndpoint(d.api.url!, d.key, r.url);
      const publishing = publishEvents(d.api.url!, d.key, EVENTS);
      const received = () => d.receivers.reduce((sum, r) => sum + r.total, 0);
      await waitFor(() => received() >= (EVENTS * ENDPOINTS) / 4, { timeoutMs: 120_000, intervalMs: 10, message: 'a quarter of the deliveries' });
      const victim = d.workers[0]!;
      // Killed only once it provably holds leases (on a loaded machine it may hold none between
      // two claims): when a look shows some, it is stopped, and killed if a second look, taken
      // while it can change nothing, still shows some; otherwise it resumes. It runs freely
      // between looks: a worker kept stopped would let its leases run out and be taken over.
      const deadline = Date.now() + 60_000;
      let held: string[] = [];
      while (held.length === 0) {
        assert.ok(Date.now() < deadline, 'the victim worker held leases at some moment within 60 s');
        if ((await leasesOnlyTheVictimCanHold(d.db)).length > 0) {
          victim.child.kill('SIGSTOP');
          // A statement the victim sent just before it stopped still runs to its end in PostgreSQL
          // (a claim, or the record of a batch): the second look waits for it.
          await new Promise((r) => setTimeout(r, 500));
          held = await leasesOnlyTheVictimCanHold(d.db);
          if (held.length === 0) victim.child.kill('SIGCONT');
        }
        if (held.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      await victim.kill();
      // What was leased when the worker died. The survivors' leases among these are recorded by
      // them; the victim's are never recorded and are taken over once their lease expires.
      const snapshot = await d.db.query(
        "SELECT id, event_id, endpoint_id, attempt_count FROM deliveries WHERE state = 'in_flight'",
      );
      const ids = await publishing;
      await waitFor(async () => (await openDeliveries(d.db)) === 0, { timeoutMs: 180_000, intervalMs: 500, message: 'every delivery to finish after the crash' });

      const recorded = await d.db.query('SELECT delivery_id, attempt_number FROM attempts WHERE delivery_id = ANY($1)', [snapshot.rows.map((r) => r.id)]);
      const recordedAttempts = new Set(recorded.rows.map((r) => `${r.delivery_id}#${r.attempt_number}`));
      // The victim's batch: leased at the kill and whose attempt was never recorded.
      const victimBatch = snapshot.rows.filter((r) => !recordedAttempts.has(`${r.id}#${r.attempt_count}`));
      assert.ok(victimBatch.length > 0, 'the killed worker held leases when it died');
      const batchIds = new Set(victimBatch.map((r) => r.id as string));
      assert.ok(held.every((id) => batchIds.has(id)), 'the leases seen as its own were never recorded by it');
      // A worker holds leases on its attempts in flight (its delivery concurrency, 256 by default)
      // and on claims held ready to send next: HOLD_FACTOR times that in all.
      assert.ok(victimBatch.length <= HOLD_FACTOR * 256, `at most what one worker holds, in flight and ready: ${victimBatch.length}`);
      const endpointIds = await d.db.query('SELECT id, url FROM endpoints');
      const endpointOfUrl = new Map(endpointIds.rows.map((r) => [r.url as string, r.id as string]));
      const allowed = new Set(victimBatch.map((r) => `${r.event_id} ${r.endpoint_id}`));

      // On a machine too busy to answer within the timeout, a timed-out attempt whose request did
      // arrive is sent again: the other honest source of duplicates.
      const timedOut = await d.db.query("SELECT DISTINCT event_id, endpoint_id FROM attempts WHERE failure_kind = 'timeout'");
      for (const r of timedOut.rows) allowed.add(`${r.event_id} ${r.endpoint_id}`);

      let duplicates = 0;
      for (const r of d.receivers) {
        assert.equal(r.counts.size, EVENTS, 'every event reached every endpoint at least once');
        for (const id of ids) assert.ok((r.counts.get(id) ?? 0) >= 1);
        const endpointId = endpointOfUrl.get(r.url)!;
        for (const id of r.duplicates()) {
          duplicates++;
          if (!allowed.has(`${id} ${endpointId}`)) {
            const attempts = await d.db.query('SELECT attempt_number, outcome, failure_kind, created FROM attempts WHERE event_id = $1 AND endpoint_id = $2 ORDER BY attempt_number', [id, endpointId]);
            assert.fail(`duplicate ${id} → ${endpointId} was not in the killed worker's batch; its attempts: ${JSON.stringify(attempts.rows)}`);
          }
          assert.equal(r.counts.get(id), 2, 'sent at most once more, by the worker that took over');
        }
      }
      const taken = await d.db.query("SELECT count(*)::int AS n FROM deliveries WHERE state = 'succeeded'");
      assert.equal(taken.rows[0].n, EVENTS * ENDPOINTS);
      process.stdout.write(`# killed worker's batch: ${victimBatch.length} leased deliveries (${held.length} seen as its own before the kill), ${duplicates} delivered twice\n`);
    } catch (err) {
      for (const p of [d.api, ...d.workers]) process.stderr.write(p.log());
      throw err;
    } finally {
      await d.stop();
    }
  });
});
