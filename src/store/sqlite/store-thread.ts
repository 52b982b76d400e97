/**
 * The body of the SQLite store's thread (see threaded-store.ts): one SqliteStore, its methods
 * called by name. The calls that arrive in one turn of this thread's event loop run together in one
 * transaction (SqliteStore.runBatch: group commit), in the order they were made; a call that wrote
 * is answered once the batch is on disk, except the delivery loop's bookkeeping, which at-least-once
 * delivery lets go unsynced (as on the main thread before). Other threads of the process (the
 * delivery thread) call through ports of their own, and their calls join the same batches.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteStore } from './sqlite-store.js';
import type { StoreCall, StoreReply } from './threaded-store.js';

/** Writes that need not be durable before they are answered (see SqliteStore.withoutSync). */
const UNSYNCED = new Set(['claimDueDeliveries', 'recordAttempts', 'releaseDeliveries']);

const { path } = workerData as { path: string };
// Group commit: every call runs in runBatch (below), which syncs the log for the calls that need it.
const store = new SqliteStore(path, { background: true, groupCommit: true, onBackgroundError: (err) => parentPort!.postMessage({ backgroundError: `the SQLite checkpoint thread failed (SQLite checkpoints on the store's thread instead): ${String(err)}` }) });
// Not synced on its own (group commit); lost in a power cut, it is simply done again at the next start.
store.unlockRequestsOfEarlierRuns();
const methods = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

/** Where a call came from, and where its answer goes. */
type Caller = Pick<MessagePort, 'postMessage'>;
type QueuedCall = StoreCall & { caller: Caller };

const replyError = (caller: Caller, id: number, err: unknown) => {
  const e = err as { name?: string; message?: string; code?: string; stack?: string };
  caller.postMessage({ id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), code: e?.code, stack: e?.stack } } satisfies StoreReply);
};

let queue: QueuedCall[] = [];
let scheduled = false;
const enqueue = (call: StoreCall, caller: Caller) => {
  queue.push({ ...call, caller });
  if (!scheduled) {
    scheduled = true;
    setImmediate(runQueued);
  }
};
const connected = new Set<MessagePort>();
parentPort!.on('message', (message: StoreCall | { connect: MessagePort }) => {
  if ('connect' in message) {
    const port = message.connect;
    connected.add(port);
    port.on('message', (call: StoreCall) => enqueue(call, port));
    port.once('close', () => connected.delete(port));
    return;
  }
  enqueue(message, parentPort!);
});

function runQueued(): void {
  scheduled = false;
  const calls = queue;
  queue = [];
  // close ends the batch before it: everything asked before it is done first.
  const closing = calls.findIndex((c) => c.method === 'close');
  const batch = closing === -1 ? calls : calls.slice(0, closing);
  const started: { call: QueuedCall; result: Promise<unknown>; durable: Promise<void> | null }[] = [];
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
      replyError(call.caller, call.id, err);
    }
    return;
  }
  for (const { call, result, durable } of started) {
    Promise.all([result, durable]).then(
      ([value]) => call.caller.postMessage({ id: call.id, result: value } satisfies StoreReply),
      (err: unknown) => replyError(call.caller, call.id, err),
    );
  }
  if (closing !== -1) {
    const close = calls[closing]!;
    void store.close().then(
      () => {
        close.caller.postMessage({ id: close.id, result: undefined } satisfies StoreReply);
        for (const port of connected) port.close();
        parentPort!.close();
      },
      (err: unknown) => replyError(close.caller, close.id, err),
    );
  }
}
parentPort!.postMessage({ ready: true });
