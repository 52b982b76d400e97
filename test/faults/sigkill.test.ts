import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { runKillScenario } from './sigkill-scenario.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
});

describe('SIGKILL under load (SQLite)', () => {
  test('killed five times while publishing and delivering: every acknowledged event reaches every subscribed endpoint', { timeout: 180_000 }, async () => {
    await runKillScenario(
      {
        database: 'sqlite',
        processes: 1,
        killsPerProcess: 5,
        async openDeliveries(database) {
          const path = database.slice('sqlite:'.length);
          if (!existsSync(path)) return -1;
          const db = new Database(path, { readonly: true, fileMustExist: true });
          try {
            return (db.prepare("SELECT count(*) AS n FROM deliveries WHERE state IN ('pending', 'in_flight')").get() as { n: number }).n;
          } finally {
            db.close();
          }
        },
        async mostEventsPerObject(database) {
          const db = new Database(database.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
          try {
            return (db.prepare('SELECT max(n) AS n FROM (SELECT count(*) AS n FROM events GROUP BY object_id)').get() as { n: number }).n;
          } finally {
            db.close();
          }
        },
      },
      (fn) => cleanup.push(fn),
    );
  });
});
