import type { DatabaseLocation } from '../config/config.js';
import type { Store } from './store.js';

export type { Store } from './store.js';

/** Opens the store a database location names. PostgreSQL support is loaded only when used. */
export async function openStore(location: DatabaseLocation): Promise<Store> {
  if (location.kind === 'sqlite') {
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return new SqliteStore(location.path);
  }
  throw new Error('PostgreSQL is not supported by this build yet; use a sqlite: database.');
}
