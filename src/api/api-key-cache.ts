import { hashApiKey } from '../domain/ids.js';
import type { Account, ApiKeyKind, Mode } from '../domain/types.js';
import type { Store } from '../store/store.js';

/** What a valid API key authenticates as. */
export interface KeyHolder {
  account: Account;
  mode: Mode;
  kind: ApiKeyKind;
}

/**
 * How long a key's owner and account are trusted without asking the store again. Changes made in
 * this process are seen at once (`forget`); a change made by another process (`herald keys roll`,
 * `herald accounts set-default-version`, another API process on PostgreSQL) is seen within this
 * time: a replaced key keeps working for at most this long in a running process.
 */
export const API_KEY_CACHE_TTL_MS = 2_000;

/** Beyond any real number of keys in use at once; a bound all the same. */
const MAX_CACHED_KEYS = 10_000;

interface Entry {
  holder: Promise<KeyHolder | null>;
  loadedAt: number;
}

/**
 * The key → account lookup of every request (two store queries and a hash) kept in memory. Only
 * keys the store knows are kept: an unknown key is asked about every time, so a stream of invented
 * keys cannot grow the map, and a key added by another process works at once. Entries are keyed by
 * the key itself (as every request carries it) and live at most API_KEY_CACHE_TTL_MS.
 */
export class ApiKeyCache {
  /** In load order, so the oldest (first to expire) are first. */
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The key's holder, or null when the store knows no such key (of this mode and kind). */
  find(key: string, mode: Mode, kind: ApiKeyKind): Promise<KeyHolder | null> {
    const now = this.now();
    const cached = this.entries.get(key);
    if (cached && now - cached.loadedAt < API_KEY_CACHE_TTL_MS) return cached.holder;
    if (cached) this.entries.delete(key);
    this.dropExpired(now);
    // Concurrent requests with the same key share one load.
    const entry: Entry = { holder: this.load(key, mode, kind), loadedAt: now };
    this.entries.set(key, entry);
    entry.holder.then(
      (holder) => {
        if (!holder && this.entries.get(key) === entry) this.entries.delete(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.holder;
  }

  /** Forgets everything: a key or an account changed in this process. */
  forget(): void {
    this.entries.clear();
  }

  private async load(key: string, mode: Mode, kind: ApiKeyKind): Promise<KeyHolder | null> {
    const owner = await this.store.findApiKeyOwner(hashApiKey(key));
    if (!owner || owner.mode !== mode || owner.kind !== kind) return null;
    const account = await this.store.getAccount(owner.accountId);
    return account ? { account, mode, kind } : null;
  }

  private dropExpired(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.loadedAt < API_KEY_CACHE_TTL_MS && this.entries.size < MAX_CACHED_KEYS) break;
      this.entries.delete(key);
    }
  }
}
