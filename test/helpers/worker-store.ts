import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { newId } from '../../src/domain/ids.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';

/** A SQLite store in a temporary directory with one endpoint, and a way to publish events due for it now. */
export async function storeWithEndpoint(): Promise<{ store: SqliteStore; publish: (count: number) => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-worker-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'herald.db'));
  const accountId = newId.account();
  await store.createAccount({ id: accountId, name: 'Worker', applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: 0 });
  const endpoint = {
    id: newId.endpoint(), accountId, mode: 'test' as const, url: 'https://receiver.example/hook', enabledEvents: ['*'], apiVersion: null, connect: false,
    description: null, metadata: {}, signatureSchemes: ['stripe' as const], status: 'enabled' as const, disabledReason: null, disabledAt: null, failingSince: null, lastSuccessAt: null, created: 0,
  };
  await store.createEndpoint(endpoint, { secret: 'whsec_worker', created: 0, expiresAt: null }, 10);
  const publish = async (count: number) => {
    const now = Date.now();
    await store.publishEvents(Array.from({ length: count }, (_, i) => ({
      id: newId.event(), accountId, mode: 'test' as const, type: 'charge.succeeded', account: null, apiVersion: '2026-10-28.endive', accountApiVersion: '2026-10-28.endive',
      created: now - 1000 + i, data: { object: { id: `ch_${now}_${i}`, object: 'charge' } }, request: { id: null, idempotency_key: null }, relatedObject: null,
    })));
  };
  return { store, publish };
}

/** `store`, telling `onCall` the name and arguments of every call of the methods named. */
export function countingCalls<M extends keyof Store>(store: Store, methods: M[], onCall: (method: M, args: unknown[]) => void): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (!(methods as PropertyKey[]).includes(property)) return value.bind(target);
      return (...args: unknown[]) => (onCall(property as M, args), value.apply(target, args));
    },
  });
}
