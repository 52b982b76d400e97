/**
 * Remembers which event ids were taken for processing, so a redelivered event runs its handler
 * once. `claim` must be atomic (a SQL `INSERT … ON CONFLICT DO NOTHING`, a Redis `SET NX`): two
 * concurrent deliveries of one event must not both get `true`.
 */
export interface DedupeStore {
  /** Records `id`; true when it was not seen before (process the event), false for a duplicate. */
  claim(id: string): boolean | Promise<boolean>;
  /** Forgets `id` after its handler failed, so a redelivery (or a manual resend) runs it again. */
  release(id: string): void | Promise<void>;
}

export interface MemoryDedupeOptions {
  /** Most ids kept; the least recently seen go first. Default 10,000. */
  maxEntries?: number;
  /** How long an id is remembered. Default 3 days, Herald's (and Stripe's) retry window. */
  ttlSeconds?: number;
  /** Milliseconds clock, for tests. */
  now?: () => number;
}

/**
 * The default store: an LRU map in this process. It forgets on restart and is not shared between
 * processes; use a SQLite or Redis store (see the README) when either matters.
 */
export class MemoryDedupeStore implements DedupeStore {
  private readonly seenAt = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: MemoryDedupeOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.ttlMs = (options.ttlSeconds ?? 3 * 24 * 3600) * 1000;
    this.now = options.now ?? Date.now;
    if (!(this.maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1.');
  }

  claim(id: string): boolean {
    const now = this.now();
    const seenAt = this.seenAt.get(id);
    const fresh = seenAt !== undefined && now - seenAt < this.ttlMs;
    // Re-inserting moves the id to the young end of the Map's insertion order: that is the LRU.
    this.seenAt.delete(id);
    this.seenAt.set(id, fresh ? seenAt : now);
    while (this.seenAt.size > this.maxEntries) this.seenAt.delete(this.seenAt.keys().next().value as string);
    return !fresh;
  }

  release(id: string): void {
    this.seenAt.delete(id);
  }

  get size(): number {
    return this.seenAt.size;
  }
}
