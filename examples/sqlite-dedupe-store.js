// A dedupe store for createWebhookHandler that survives restarts and is shared by every process
// on the machine: one SQLite table, claimed with an atomic INSERT … ON CONFLICT DO NOTHING.
import Database from 'better-sqlite3';

export class SqliteDedupeStore {
  constructor(path, { ttlSeconds = 3 * 24 * 3600 } = {}) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec('CREATE TABLE IF NOT EXISTS processed_webhook_events (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL)');
    this.insert = this.db.prepare('INSERT INTO processed_webhook_events (id, seen_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
    this.remove = this.db.prepare('DELETE FROM processed_webhook_events WHERE id = ?');
    this.prune = this.db.prepare('DELETE FROM processed_webhook_events WHERE seen_at < ?');
    this.ttlMs = ttlSeconds * 1000;
    this.claims = 0;
  }

  /** True when the id is new; false for a redelivery. */
  claim(id) {
    const now = Date.now();
    // Ids older than the sender's retry window can no longer come back: drop them now and then.
    if (++this.claims % 1000 === 0) this.prune.run(now - this.ttlMs);
    return this.insert.run(id, now).changes === 1;
  }

  /** The handler failed: forget the id so a redelivery is processed again. */
  release(id) {
    this.remove.run(id);
  }

  close() {
    this.db.close();
  }
}
