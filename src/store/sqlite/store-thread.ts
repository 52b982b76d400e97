/**
 * The body of the SQLite store's thread (see threaded-store.ts): one SqliteStore, its methods
 * called by name. Each call starts as soon as it arrives, as on the main thread: SQLite's work in a
 * method is synchronous, so calls reach the database in the order they were made, and a publish
 * waiting for its fsync does not hold up the calls behind it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite-store.js';
import type { StoreCall, StoreReply } from './threaded-store.js';

const { path } = workerData as { path: string };
const store = new SqliteStore(path, { background: true, onBackgroundError: (err) => parentPort!.postMessage({ backgroundError: String(err) }) });
const methods = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

parentPort!.on('message', (call: StoreCall) => {
  const reply = (message: StoreReply) => parentPort!.postMessage(message);
  let pending: Promise<unknown>;
  try {
    pending = Promise.resolve(methods[call.method]!.apply(store, call.args));
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    (result) => reply({ id: call.id, result }),
    (err: unknown) => {
      const e = err as { name?: string; message?: string; code?: string; stack?: string };
      reply({ id: call.id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), code: e?.code, stack: e?.stack } });
    },
  );
  if (call.method === 'close') void pending.finally(() => parentPort!.close());
});
parentPort!.postMessage({ ready: true });
