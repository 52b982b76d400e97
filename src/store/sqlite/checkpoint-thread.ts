/**
 * The body of the checkpointer thread (see checkpointer.ts): its own connection to the database
 * copies the write-ahead log back into the database file, so the fsyncs of that copy never hold
 * up the event loop of the process that serves the API and delivers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new Database(path);
db.pragma('synchronous = FULL');
let timer: NodeJS.Timeout | undefined;
// Messages arrive between checkpoints (this thread runs one thing at a time): never mid-copy.
parentPort!.on('message', (message: string) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort!.close();
});

function checkpoint(): void {
  let behind = false;
  try {
    // PASSIVE never waits for the writer: it copies what is committed and leaves the rest for next time.
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    behind = result !== undefined && result.checkpointed < result.log;
  } catch {
    // SQLITE_BUSY and the like: the next round tries again.
  }
  // Soon again while the log is being written faster than it is copied; otherwise at a steady pace.
  timer = setTimeout(checkpoint, behind ? Math.min(10, intervalMs) : intervalMs);
}
checkpoint();
