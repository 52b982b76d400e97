import type { DatabaseLocation } from '../config/config.js';
import type { Store } from './store.js';

export type { Store } from './store.js';

/** Opens the store a database location names. PostgreSQL support is loaded only when used. */
export async function openStore(location: DatabaseLocation, options: { server?: { onBackgroundError: (err: Error) => void } } = {}): Promise<Store> {
  if (location.kind === 'sqlite') {
    // The server runs SQLite on a thread of its own (threaded-store.ts); one-off commands need not.
    if (options.server) {
      const { openThreadedSqliteStore } = await import('./sqlite/threaded-store.js');
      return openThreadedSqliteStore(location.path, options.server.onBackgroundError);
    }
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return new SqliteStore(location.path);
  }
  // `pg` is a dependency only this branch loads: a SQLite deployment never imports it.
  const { PostgresStore } = await import('./postgres/postgres-store.js');
  return PostgresStore.open(location.url);
}
