import { relatedObjectOf } from '../../domain/destinations.js';
import type { StoredEvent } from '../../domain/types.js';
import type { AttemptResult, Store } from '../store.js';
import { SqliteStore } from './sqlite-store.js';
import { startThread } from './thread.js';

/** A call to the store's thread: a method of SqliteStore by name, with its arguments. */
export interface StoreCall {
  id: number;
  method: string;
  args: unknown[];
}
export type StoreReply = { id: number; result: unknown } | { id: number; error: { name: string; message: string; code?: string; stack?: string } };

/**
 * The SQLite store of the server, run on a thread of its own. Every query, transaction and
 * serialisation of rows takes CPU; on the main thread it competed with the HTTP work of the API
 * and of deliveries, so one core did everything while the other idled. Here the main thread sends
 * a method's name and arguments and gets its answer back; the store's interface is asynchronous
 * already, so nothing else changes. One connection still does all the writing (no lock waits).
 */
export async function openThreadedSqliteStore(path: string, onBackgroundError: (err: Error) => void): Promise<Store> {
  const worker = startThread('store-thread', { path });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let failure: Error | null = null;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: StoreReply | { ready: true } | { backgroundError: string }) => {
      if ('ready' in message) return resolve();
      if ('backgroundError' in message) return onBackgroundError(new Error(message.backgroundError));
      const call = waiting.get(message.id);
      if (!call) return;
      waiting.delete(message.id);
      if ('error' in message) call.reject(rebuildError(message.error));
      else call.resolve(message.result);
    });
    worker.on('error', (err) => {
      // The database could not be opened (first message), or the thread died: every call fails from now on.
      failure = new Error(`the SQLite store's thread failed: ${err.message}`, { cause: err });
      onBackgroundError(failure);
      for (const call of waiting.values()) call.reject(failure);
      waiting.clear();
      reject(failure);
    });
    worker.once('exit', (code) => {
      // After close, nothing waits; otherwise the calls still waiting would never be answered.
      failure ??= new Error(`the SQLite store's thread exited (code ${code})`);
      for (const call of waiting.values()) call.reject(failure);
      waiting.clear();
      reject(failure);
    });
  });

  let nextId = 0;
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (failure) return Promise.reject(failure);
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, method, args } satisfies StoreCall);
    });
  };

  const special: Partial<Store> = {
    // An event's data crosses to the thread as the JSON text that is stored, not as an object
    // copied there and back: the answer takes the data from the caller's own event.
    publishEvents: async (events) => {
      const stored = (await call('publishEvents', [
        events.map((event) => ({ ...event, relatedObject: relatedObjectOf(event), data: NO_DATA, dataJson: event.dataJson ?? JSON.stringify(event.data) })),
      ])) as StoredEvent[];
      return stored.map((event, i) => ({ ...event, data: events[i]!.data }));
    },
    // Recording needs only the claim's ids and schedule step: the event and endpoint stay here
    // instead of being copied to the thread with every result.
    recordAttempts: (results, policy) =>
      call('recordAttempts', [results.map((r) => ({ ...r, claim: { deliveryId: r.claim.deliveryId, leaseToken: r.claim.leaseToken, kind: r.claim.kind, scheduleStep: r.claim.scheduleStep } as AttemptResult['claim'] })), policy]) as ReturnType<Store['recordAttempts']>,
    // The rewrite is a function, which cannot cross to the thread: a connection of this thread
    // runs it (once, at start or from the CLI; SQLite's busy timeout orders it with the thread's writes).
    rewriteSecrets: async (rewrite, options) => {
      const direct = new SqliteStore(path);
      try {
        return await direct.rewriteSecrets(rewrite, options);
      } finally {
        await direct.close();
      }
    },
    close: async () => {
      await call('close', []).catch(() => {});
      await exited;
    },
  };
  const methods = new Set(Object.getOwnPropertyNames(SqliteStore.prototype).filter((name) => name !== 'constructor'));
  return new Proxy({} as Store, {
    get(_target, property) {
      if (typeof property !== 'string') return undefined;
      if (Object.hasOwn(special, property)) return special[property as keyof Store];
      // Only the store's methods: anything else (`then`, `watchForWork`, which SQLite lacks) is absent.
      if (!methods.has(property)) return undefined;
      return (...args: unknown[]) => call(property, args);
    },
  });
}

/** Stands for an event's data on the way to the thread, which stores the event's `dataJson`. */
const NO_DATA: StoredEvent['data'] = { object: {} };

function rebuildError(error: { name: string; message: string; code?: string; stack?: string }): Error {
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  if (error.code !== undefined) (rebuilt as Error & { code?: string }).code = error.code;
  // The thread's stack says where in the store it failed; this thread's says who called.
  rebuilt.stack = `${error.stack ?? `${error.name}: ${error.message}`}\n    --- called from the main thread ---\n${rebuilt.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return rebuilt;
}
