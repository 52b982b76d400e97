import type { Millis } from '../domain/types.js';
import type { Store } from '../store/store.js';

/**
 * HERALD_RATE_LIMIT: fixed one-second windows per account and mode. `hit` counts one request and
 * says whether it is within the limit (a boolean at once when no store is asked).
 */
export interface RateLimiter {
  hit(key: string, now: Millis): boolean | Promise<boolean>;
}

/** The limiter for this database: counted in memory for SQLite, in the store for PostgreSQL. */
export function rateLimiterFor(store: Store, database: 'sqlite' | 'postgres', limit: number): RateLimiter {
  return database === 'sqlite' ? new LocalRateLimiter(limit) : new SharedRateLimiter(store, limit);
}

/**
 * One process serves a SQLite database, so its own count is the whole count: exact, and no
 * transaction per request (which counting in the store was).
 */
export class LocalRateLimiter implements RateLimiter {
  /** One entry per account and mode that made a request; the count of its latest window. */
  private readonly windows = new Map<string, { start: Millis; count: number }>();

  constructor(private readonly limit: number) {}

  hit(key: string, now: Millis): boolean {
    const start = now - (now % 1000);
    const window = this.windows.get(key);
    if (!window || window.start !== start) {
      this.windows.set(key, { start, count: 1 });
      return 1 <= this.limit;
    }
    window.count++;
    return window.count <= this.limit;
  }
}

/**
 * Several processes share a PostgreSQL database, and the limit holds for all of them together, so
 * each request is counted in the store (one upsert; exact, where counts kept in memory and synced
 * in batches would let every process overshoot by what it counted since its last sync). Once the
 * store says a window is used up, the rest of that window is refused here without asking it again:
 * a client hammering past its limit costs no queries.
 */
export class SharedRateLimiter implements RateLimiter {
  private readonly exhausted = new Map<string, Millis>();

  constructor(
    private readonly store: Store,
    private readonly limit: number,
  ) {}

  hit(key: string, now: Millis): boolean | Promise<boolean> {
    const start = now - (now % 1000);
    if (this.exhausted.get(key) === start) return false;
    return this.store.hitRateLimit(key, start, this.limit).then((allowed) => {
      if (!allowed) this.exhausted.set(key, start);
      return allowed;
    });
  }
}
