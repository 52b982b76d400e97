import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_KEY_CACHE_TTL_MS, ApiKeyCache } from '../../src/api/api-key-cache.js';
import { LocalRateLimiter } from '../../src/api/rate-limit.js';
import { hashApiKey } from '../../src/domain/ids.js';
import type { Account, ApiKeyOwner } from '../../src/domain/types.js';
import type { Store } from '../../src/store/store.js';

/** The two store methods the cache uses, over a map the test changes as `herald keys roll` would. */
function fakeStore() {
  const owners = new Map<string, ApiKeyOwner>();
  const accounts = new Map<string, Account>();
  const queries = { owners: 0, accounts: 0 };
  const store = {
    async findApiKeyOwner(hash: string) {
      queries.owners++;
      return owners.get(hash) ?? null;
    },
    async getAccount(id: string) {
      queries.accounts++;
      return accounts.get(id) ?? null;
    },
  } as unknown as Store;
  const account: Account = { id: 'acct_1', name: 'A', applicationId: 'ca_1', defaultApiVersion: '2026-10-28.endive', created: 0 };
  accounts.set(account.id, account);
  return { store, owners, accounts, queries, account };
}

describe('API key cache', () => {
  const key = 'sk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

  it('asks the store once per key within the TTL, and again after it: a replaced key stops working', async () => {
    const { store, owners, queries, account } = fakeStore();
    owners.set(hashApiKey(key), { accountId: account.id, mode: 'test', kind: 'secret' });
    let now = 0;
    const cache = new ApiKeyCache(store, () => now);
    assert.equal((await cache.find(key, 'test', 'secret'))?.account.id, account.id);
    now = API_KEY_CACHE_TTL_MS - 1;
    await Promise.all([cache.find(key, 'test', 'secret'), cache.find(key, 'test', 'secret')]);
    assert.deepEqual(queries, { owners: 1, accounts: 1 });
    owners.clear(); // rolled by another process
    assert.ok(await cache.find(key, 'test', 'secret'), 'still trusted until the TTL runs out');
    now = API_KEY_CACHE_TTL_MS;
    assert.equal(await cache.find(key, 'test', 'secret'), null);
  });

  it('sees a change made in this process at once (forget)', async () => {
    const { store, owners, accounts, account } = fakeStore();
    owners.set(hashApiKey(key), { accountId: account.id, mode: 'test', kind: 'secret' });
    const cache = new ApiKeyCache(store, () => 0);
    assert.equal((await cache.find(key, 'test', 'secret'))?.account.defaultApiVersion, '2026-10-28.endive');
    accounts.set(account.id, { ...account, defaultApiVersion: '2025-03-31.basil' });
    cache.forget();
    assert.equal((await cache.find(key, 'test', 'secret'))?.account.defaultApiVersion, '2025-03-31.basil');
  });

  it('keeps no unknown keys: each is asked about, and one added later works at once', async () => {
    const { store, owners, queries, account } = fakeStore();
    const cache = new ApiKeyCache(store, () => 0);
    for (let i = 0; i < 3; i++) assert.equal(await cache.find(key, 'test', 'secret'), null);
    assert.equal(queries.owners, 3);
    owners.set(hashApiKey(key), { accountId: account.id, mode: 'test', kind: 'secret' });
    assert.ok(await cache.find(key, 'test', 'secret'));
    // A key of another mode or kind than its prefix says is unknown, as before.
    owners.set(hashApiKey(key), { accountId: account.id, mode: 'live', kind: 'secret' });
    assert.equal(await new ApiKeyCache(store).find(key, 'test', 'secret'), null);
  });
});

describe('rate limit counted in memory (SQLite: one process)', () => {
  it('allows `limit` requests per key per one-second window', () => {
    const limiter = new LocalRateLimiter(2);
    const t = Date.UTC(2026, 10, 27, 12, 0, 0);
    assert.deepEqual([limiter.hit('a/test', t), limiter.hit('a/test', t + 10), limiter.hit('a/test', t + 999)], [true, true, false]);
    assert.equal(limiter.hit('a/live', t + 999), true, 'each account and mode counts alone');
    assert.equal(limiter.hit('a/test', t + 1000), true, 'the next second starts afresh');
  });
});
