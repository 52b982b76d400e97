import { after, before, describe, test } from 'node:test';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runKillScenario } from './sigkill-scenario.js';

let server: TestPostgres;
const cleanup: (() => Promise<void>)[] = [];
before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  await server?.stop();
});

describe('SIGKILL under load (PostgreSQL, two processes)', () => {
  test('two Herald processes each killed five times at different moments: every acknowledged event reaches every subscribed endpoint', { timeout: 180_000 }, async () => {
    const database = await server.createDatabase('herald_kill');
    const name = new URL(database).pathname.slice(1);
    await runKillScenario(
      {
        database,
        processes: 2,
        killsPerProcess: 5,
        async openDeliveries() {
          const { rows } = await server.query("SELECT count(*)::int AS n FROM deliveries WHERE state IN ('pending', 'in_flight')", [], name);
          return rows[0].n as number;
        },
        async mostEventsPerObject() {
          const { rows } = await server.query('SELECT max(n)::int AS n FROM (SELECT count(*) AS n FROM events GROUP BY object_id) AS per_object', [], name);
          return rows[0].n as number;
        },
      },
      (fn) => cleanup.push(fn),
    );
  });
});
