/**
 * The body of the SQLite store's thread (see threaded-store.ts): one SqliteStore, its methods
 * called by name. The calls that arrive in one turn of this thread's event loop run together in one
 * transaction (SqliteStore.runBatch: group commit), in the order they were made; a call that wrote
 * is answered once the batch is on disk, except the delivery loop's bookkeeping, which at-least-once
 * delivery lets go unsynced (as on the main thread before).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite-store.js';
import type { StoreCall, StoreReply } from './threaded-store.js';

/** Writes that need not be durable before they are answered (see SqliteStore.withoutSync). */
const UNSYNCED = new Set(['claimDueDeliveries', 'recordAttempts', 'releaseDeliveries']);

const { path } = workerData as { path: string };
const store = new SqliteStore(path, { background: true, onBackgroundError: (err) => parentPort!.postMessage({ backgroundError: `the SQLite checkpoint thread failed (SQLite checkpoints on the store's thread instead): ${String(err)}` }) });
const methods = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

const reply = (message: StoreReply) => parentPort!.postMessage(message);
const replyError = (id: number, err: unknown) => {
  const e = err as { name?: string; message?: string; code?: string; stack?: string };
  reply({ id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), code: e?.code, stack: e?.stack } });
};

let queue: StoreCall[] = [];
let scheduled = false;
parentPort!.on('message', (call: StoreCall) => {
  queue.push(call);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runQueued);
  }
});

function runQueued(): void {
  scheduled = false;
  const calls = queue;
  queue = [];
  // close ends the batch before it: everything asked before it is done first.
  const closing = calls.findIndex((c) => c.method === 'close');
  const batch = closing === -1 ? calls : calls.slice(0, closing);
  const started: { call: StoreCall; result: Promise<unknown>; durable: Promise<void> | null }[] = [];
  try {
    store.runBatch(() => {
      for (const call of batch) {
        // Whether a call wrote matters only for calls that wait for durability: the delivery loop's
        // bookkeeping, most of the calls, skips the two lookups.
        const synced = !UNSYNCED.has(call.method);
        const before = synced ? store.changesSoFar() : 0;
        let result: Promise<unknown>;
        try {
          result = Promise.resolve(methods[call.method]!.apply(store, call.args));
        } catch (err) {
          result = Promise.reject(err);
        }
        const wrote = synced && store.changesSoFar() !== before;
        started.push({ call, result, durable: wrote ? store.whenBatchDurable() : null });
      }
    });
  } catch (err) {
    // The batch's commit failed: nothing of it was written, whatever each call answered.
    for (const { call, result } of started) {
      result.catch(() => {});
      replyError(call.id, err);
    }
    return;
  }
  for (const { call, result, durable } of started) {
    Promise.all([result, durable]).then(
      ([value]) => reply({ id: call.id, result: value }),
      (err: unknown) => replyError(call.id, err),
    );
  }
  if (closing !== -1) {
    const close = calls[closing]!;
    void store.close().then(
      () => {
        reply({ id: close.id, result: undefined });
        parentPort!.close();
      },
      (err: unknown) => replyError(close.id, err),
    );
  }
}
parentPort!.postMessage({ ready: true });
