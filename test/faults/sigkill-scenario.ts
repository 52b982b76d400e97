import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { newApiKey } from '../../src/domain/ids.js';
import { CrashReceiver, RestartableHerald, seededRandom, SteadyPublisher, unusedPort } from '../helpers/crash-load.js';
import { waitFor } from '../helpers/herald.js';
import { testTempDir } from '../helpers/temp-dir.js';

/**
 * SIGKILL under load, shared by the SQLite and PostgreSQL runs: Herald processes deliver a steady
 * stream of events to three endpoints (different filters) while each process is SIGKILLed
 * `killsPerProcess` times at random moments and restarted on the same port and database; the
 * publishers keep going through the crashes. Afterwards every acknowledged event reached every
 * endpoint that wants it, at least once.
 */
export interface KillScenario {
  /** `sqlite:<path>` or a postgres:// URL; `sqlite` makes a temporary file. */
  database: string | 'sqlite';
  /** Database rows, for the quiescence check: deliveries still pending or in flight. */
  openDeliveries(database: string): Promise<number>;
  /** The most events stored about one object (each published event is about an object of its own). */
  mostEventsPerObject(database: string): Promise<number>;
  processes: number;
  killsPerProcess: number;
}

const TYPES = ['payment_intent.succeeded', 'charge.succeeded', 'invoice.paid', 'customer.created'];
const ENDPOINTS = [
  { name: 'all', events: ['*'] },
  { name: 'payments', events: ['payment_intent.succeeded'] },
  { name: 'billing', events: ['charge.succeeded', 'invoice.paid'] },
];
const EVENTS_PER_SECOND = 40;

export async function runKillScenario(scenario: KillScenario, cleanup: (fn: () => Promise<void>) => void): Promise<void> {
  const seed = Number(process.env.FAULT_SEED ?? randomInt(1, 2 ** 31));
  const random = seededRandom(seed);
  process.stdout.write(`# kill moments seed ${seed} (FAULT_SEED=${seed} replays them)\n`);
  const database = scenario.database === 'sqlite' ? `sqlite:${join(testTempDir('herald-kill-'), 'herald.db')}` : scenario.database;
  const key = newApiKey('test');
  const env = { HERALD_TEST_SECRET_KEY: key, HERALD_RETRY_SCHEDULE: '500ms,1s,1s,1s,1s', HERALD_DELIVERY_TIMEOUT: '2s' };

  const receivers = await Promise.all(ENDPOINTS.map(() => new CrashReceiver({ delayMs: 20, failFirstOneIn: 5 }).start()));
  cleanup(async () => void (await Promise.all(receivers.map((r) => r.stop()))));
  const heralds: RestartableHerald[] = [];
  for (let i = 0; i < scenario.processes; i++) {
    heralds.push(new RestartableHerald(`herald-${i + 1}`, ['--port', String(await unusedPort()), '--database', database], env));
  }
  cleanup(async () => void (await Promise.all(heralds.map((h) => h.stop()))));
  // The first creates the schema alone; the others then start together.
  await heralds[0]!.start();
  await Promise.all(heralds.slice(1).map((h) => h.start()));

  try {
    const api = heralds[0]!.current!.url!;
    for (const [i, { events }] of ENDPOINTS.entries()) {
      const form = new URLSearchParams({ url: receivers[i]!.url });
      for (const e of events) form.append('enabled_events[]', e);
      const response = await fetch(`${api}/v1/webhook_endpoints`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      assert.equal(response.status, 200, await response.text());
    }

    const publisher = new SteadyPublisher({
      targets: () => heralds.flatMap((h) => (h.current?.url ? [h.current.url] : [])),
      key,
      types: TYPES,
      eventsPerSecond: EVENTS_PER_SECOND,
      concurrency: 32,
    });
    const started = Date.now();
    const delivered = () => receivers.reduce((sum, r) => sum + r.delivered.size, 0);
    publisher.start();

    // Each process dies `killsPerProcess` times, each after a random 2–5 s of work since its
    // last start: independent moments, so with two processes they are sometimes down together.
    const acknowledgedAtKills: number[] = [];
    await Promise.all(
      heralds.map(async (herald) => {
        for (let k = 1; k <= scenario.killsPerProcess; k++) {
          await new Promise((r) => setTimeout(r, 2000 + random() * 3000));
          const at = ((Date.now() - started) / 1000).toFixed(1);
          acknowledgedAtKills.push(publisher.acknowledged.size);
          await herald.killAndRestart();
          process.stdout.write(`# ${at} s: SIGKILLed ${herald.name} (${k} of ${scenario.killsPerProcess}) with ${publisher.acknowledged.size} events acknowledged and ${delivered()} delivered; restarted\n`);
        }
      }),
    );
    // Load goes on a little after the last restart, then stops.
    const atLastKill = publisher.acknowledged.size;
    await waitFor(() => publisher.acknowledged.size > atLastKill + EVENTS_PER_SECOND, { timeoutMs: 30_000, message: 'publishing to go on after the last restart' });
    await publisher.stop();
    const publishedFor = (Date.now() - started) / 1000;

    const acknowledged = publisher.acknowledged;
    const expected = ENDPOINTS.map(({ events }) => [...acknowledged].filter(([, type]) => events.includes('*') || events.includes(type)).map(([id]) => id));
    const missing = () => receivers.map((r, i) => expected[i]!.filter((id) => !r.delivered.has(id)));
    try {
      await waitFor(async () => missing().every((m) => m.length === 0) && (await scenario.openDeliveries(database)) === 0, {
        timeoutMs: 90_000,
        intervalMs: 250,
        message: 'every acknowledged event at every subscribed endpoint, and no delivery open',
      });
    } catch (err) {
      const gaps = missing().map((m, i) => `${ENDPOINTS[i]!.name}: ${m.length} missing (${m.slice(0, 5).join(', ')})`);
      throw new Error(`${(err as Error).message}\n${gaps.join('\n')}`);
    }

    // The API agrees: no acknowledged event is still waiting for an endpoint.
    const api2 = heralds[0]!.current!.url!;
    const undelivered = await fetch(`${api2}/v1/events?delivery_success=false&limit=100`, { headers: { authorization: `Bearer ${key}` } });
    const { data } = (await undelivered.json()) as { data: { id: string }[] };
    assert.deepEqual(data.filter((e) => acknowledged.has(e.id)).map((e) => e.id), [], 'no acknowledged event has pending_webhooks > 0');

    const perEndpoint = receivers.map((r, i) => {
      const ids = expected[i]!;
      const got = ids.filter((id) => r.delivered.has(id)).length;
      assert.equal(got, ids.length, `${ENDPOINTS[i]!.name}: every acknowledged event it subscribes to arrived`);
      return `${ENDPOINTS[i]!.name} ${got}/${ids.length}`;
    });
    const duplicates = receivers.reduce((sum, r) => sum + r.duplicates(), 0);
    const kills = heralds.reduce((sum, h) => sum + h.kills, 0);
    process.stdout.write(
      `# ${kills} SIGKILLs over ${publishedFor.toFixed(0)} s of load (${scenario.processes} process${scenario.processes > 1 ? 'es' : ''}, ${database.startsWith('sqlite') ? 'SQLite' : 'PostgreSQL'})\n` +
        `# acknowledged ${acknowledged.size}, delivered ${acknowledged.size} per endpoint (${perEndpoint.join(', ')}), duplicates ${duplicates}\n` +
        `# publisher: ${publisher.retries} requests sent again after a crash (${[...publisher.retryReasons].map(([r, n]) => `${r}: ${n}`).join(', ')}), ${publisher.replayed} acknowledged as idempotent replays, ${publisher.abandoned} keys left in progress by a crash (not acknowledged)\n`,
    );
    assert.equal(kills, scenario.processes * scenario.killsPerProcess);
    // Requests cut off by a kill were sent again with their keys: none made a second event.
    assert.equal(await scenario.mostEventsPerObject(database), 1, 'one event per idempotency key');
    // One process (SQLite): its restart lets those retries resume at once; none is left at 409.
    if (scenario.processes === 1) assert.equal(publisher.abandoned, 0, 'no key left in progress after a restart');
    // The load went on through the crashes: events were acknowledged between every two kills.
    // (With two processes both may be down between two kills.)
    if (scenario.processes === 1) acknowledgedAtKills.forEach((n, i) => i > 0 && assert.ok(n > acknowledgedAtKills[i - 1]!, `events acknowledged between kills ${i} and ${i + 1}`));
    assert.ok(acknowledgedAtKills[0]! > 0 && acknowledged.size > acknowledgedAtKills.at(-1)!, 'events acknowledged before the first kill and after the last');
  } catch (err) {
    for (const h of heralds) process.stderr.write(`--- ${h.name} log ---\n${h.log()}\n`);
    throw err;
  }
}
