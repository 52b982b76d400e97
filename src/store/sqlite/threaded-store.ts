import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { relatedObjectOf } from '../../domain/destinations.js';
import { startThread } from '../../domain/thread.js';
import type { StoredEvent } from '../../domain/types.js';
import type { AttemptResult, Store } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

/** A call to the store's thread: a method of SqliteStore by name, with its arguments. */
export interface StoreCall {
  id: number;
  method: string;
  args: unknown[];
}
export type StoreReply = { id: number; result: unknown } | { id: number; error: { name: string; message: string; code?: string; stack?: string } };

/** The store thread of each threaded store, for connecting other threads to it. */
const threads = new WeakMap<Store, Worker>();

/**
 * The SQLite store of the server, run on a thread of its own. Every query, transaction and
 * serialisation of rows takes CPU; on the main thread it competed with the HTTP work of the API
 * and of deliveries, so one core did everything while the other idled. Here the main thread sends
 * a method's name and arguments and gets its answer back; the store's interface is asynchronous
 * already, so nothing else changes. One connection still does all the writing (no lock waits).
 */
export async function openThreadedSqliteStore(path: string, onBackgroundError: (err: Error) => void): Promise<Store> {
  const worker = startThread(import.meta.url, 'store-thread', { path });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const client = new StoreClient(worker);
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: StoreReply | { ready: true } | { backgroundError: string }) => {
      if ('ready' in message) return resolve();
      if ('backgroundError' in message) return onBackgroundError(new Error(message.backgroundError));
      client.answer(message);
    });
    worker.on('error', (err) => {
      // The database could not be opened (first message), or the thread died: every call fails from now on.
      const failure = new Error(`the SQLite store's thread failed: ${err.message}`, { cause: err });
      onBackgroundError(failure);
      client.fail(failure);
      reject(failure);
    });
    worker.once('exit', (code) => {
      // After close, nothing waits; otherwise the calls still waiting would never be answered.
      const failure = new Error(`the SQLite store's thread exited (code ${code})`);
      client.fail(failure);
      reject(failure);
    });
  });

  const store = client.store({
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
      await client.call('close', []).catch(() => {});
      await exited;
    },
  });
  threads.set(store, worker);
  return store;
}

/**
 * A port to the store's thread for another thread of this process (the delivery thread: open it
 * there with `storeOverPort`). Its calls join the same batches as this thread's. Null when `store`
 * is not a threaded store.
 */
export function portToStoreThread(store: Store): MessagePort | null {
  const worker = threads.get(store);
  if (!worker) return null;
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ connect: port2 }, [port2]);
  return port1;
}

/** The threaded store, from another thread, through a port from `portToStoreThread`. Closing it closes only the port. */
export function storeOverPort(port: MessagePort): Store {
  const client = new StoreClient(port);
  port.on('message', (message: StoreReply) => client.answer(message));
  port.once('close', () => client.fail(new Error("the port to the SQLite store's thread closed")));
  return client.store({
    rewriteSecrets: () => Promise.reject(new Error("rewriting secrets is done from the store's own thread")),
    close: async () => port.close(),
  });
}

/** Calls to the store's thread, and their answers, over one port. */
class StoreClient {
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private failure: Error | null = null;
  private nextId = 0;

  constructor(private readonly port: Pick<MessagePort, 'postMessage'>) {}

  call(method: string, args: unknown[]): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ id, method, args } satisfies StoreCall);
    });
  }

  answer(message: StoreReply): void {
    const call = this.waiting.get(message.id);
    if (!call) return;
    this.waiting.delete(message.id);
    if ('error' in message) call.reject(rebuildError(message.error));
    else call.resolve(message.result);
  }

  /** Every call still waiting, and every later one, fails with `failure`. */
  fail(failure: Error): void {
    this.failure ??= failure;
    for (const call of this.waiting.values()) call.reject(failure);
    this.waiting.clear();
  }

  /** The Store whose methods are calls over this port; `own` are the methods that are not. */
  store(own: Pick<Store, 'rewriteSecrets' | 'close'>): Store {
    const special: Partial<Store> = {
      ...own,
      // An event's data crosses to the thread as the JSON text that is stored, not as an object
      // copied there and back: the answer takes the data from the caller's own event.
      publishEvents: async (events) => {
        const stored = (await this.call('publishEvents', [
          events.map((event) => ({ ...event, relatedObject: relatedObjectOf(event), data: NO_DATA, dataJson: event.dataJson ?? JSON.stringify(event.data) })),
        ])) as StoredEvent[];
        return stored.map((event, i) => ({ ...event, data: events[i]!.data }));
      },
      // Recording needs only the claim's ids and schedule step: the event and endpoint stay here
      // instead of being copied to the thread with every result.
      recordAttempts: (results, policy) =>
        this.call('recordAttempts', [results.map((r) => ({ ...r, claim: { deliveryId: r.claim.deliveryId, leaseToken: r.claim.leaseToken, kind: r.claim.kind, scheduleStep: r.claim.scheduleStep } as AttemptResult['claim'] })), policy]) as ReturnType<Store['recordAttempts']>,
    };
    return new Proxy({} as Store, {
      get: (_target, property) => {
        if (typeof property !== 'string') return undefined;
        if (Object.hasOwn(special, property)) return special[property as keyof Store];
        // Only the store's methods: anything else (`then`, `watchForWork`, which SQLite lacks) is absent.
        if (!STORE_METHODS.has(property)) return undefined;
        return (...args: unknown[]) => this.call(property, args);
      },
    });
  }
}

const STORE_METHODS = new Set(Object.getOwnPropertyNames(SqliteStore.prototype).filter((name) => name !== 'constructor'));

/** Stands for an event's data on the way to the thread, which stores the event's `dataJson`. */
const NO_DATA: StoredEvent['data'] = { object: {} };

function rebuildError(error: { name: string; message: string; code?: string; stack?: string }): Error {
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  if (error.code !== undefined) (rebuilt as Error & { code?: string }).code = error.code;
  // The thread's stack says where in the store it failed; this thread's says who called.
  rebuilt.stack = `${error.stack ?? `${error.name}: ${error.message}`}\n    --- called from ---\n${rebuilt.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return rebuilt;
}
