import type { Worker } from 'node:worker_threads';
import { startThread } from '../../domain/thread.js';

/**
 * Checkpoints the write-ahead log from a thread of its own. SQLite's automatic checkpoint runs
 * inside a commit on the committing connection: every 1,000 pages it copies the log into the
 * database and fsyncs it, holding the event loop still for tens of milliseconds; at a few thousand
 * deliveries a second that happened several times a second and made most of the latency's tail.
 * The main connection keeps a far larger automatic checkpoint only as a bound on the log's size,
 * for when this thread cannot keep up.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(path: string, onError: (err: Error) => void, intervalMs = 100) {
    this.worker = startThread(import.meta.url, 'checkpoint-thread', { path, intervalMs });
    // The thread must not keep a process alive that has nothing else to do.
    this.worker.unref();
    // Without a checkpointer the main connection's bounded automatic checkpoint still runs: degraded, not broken.
    this.worker.on('error', onError);
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  /** Lets the current checkpoint finish and closes the thread's connection. */
  async stop(): Promise<void> {
    this.worker.postMessage('stop');
    await this.exited;
  }
}

