import type { DatabaseLocation } from '../config/config.js';
import type { Store } from './store.js';

export type { Store } from './store.js';

/** Opens the store a database location names. PostgreSQL support is loaded only when used. */
export async function openStore(location: DatabaseLocation, options: { server?: { onBackgroundError: (err: Error) => void } } = {}): Promise<Store> {
  if (location.kind === 'sqlite') {
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    // The server checkpoints SQLite's log from a background thread; one-off commands need not.
    return new SqliteStore(location.path, options.server ? { background: true, onBackgroundError: options.server.onBackgroundError } : {});
  }
  // `pg` is a dependency only this branch loads: a SQLite deployment never imports it.
  const { PostgresStore } = await import('./postgres/postgres-store.js');
  return PostgresStore.open(location.url);
}
