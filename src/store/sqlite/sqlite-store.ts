import Database from 'better-sqlite3';
import { closeSync, fsync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Checkpointer } from './checkpointer.js';
import { withRequestBodies } from '../attempt-bodies.js';
import { destinationWants, relatedObjectOf } from '../../domain/destinations.js';
import { destinationOfRow, destinationParams, eventSubjectOfRow, relatedObjectOfColumns, rewriteStoredAwsCredentials } from '../destination-rows.js';
import type {
  Account,
  ApiKeyOwner,
  ConnectedAccount,
  DeliveryAttempt,
  EndpointSecret,
  Millis,
  Mode,
  Page,
  PageRequest,
  SignatureScheme,
  StoredEvent,
  WebhookEndpoint,
} from '../../domain/types.js';
import { newId } from '../../domain/ids.js';
import type {
  AlertCandidate,
  AlertSendResult,
  AlertState,
  AlertStateRecord,
  ClaimedAlert,
  EndpointAlert,
  AttemptResult,
  AttemptScope,
  AttemptCountBucket,
  ClaimedDelivery,
  ClaimFairness,
  DeliveryFilter,
  DeliverySummary,
  EndpointFilter,
  EventFilter,
  HealthPolicy,
  IdempotencyVerdict,
  IdempotentRequest,
  ListenEvent,
  ListenSession,
  PublishedEvent,
  RecordOutcome,
  Store,
} from '../store.js';
import { DELIVERY_STATUS_SQL, deliveryStatus } from '../delivery-status.js';
import { disableReason } from '../health.js';
import { allowanceCounter, claimAllowance, fairnessBinds } from '../claim-fairness.js';
import { LISTEN_DELIVERY_UPSERT_SQL, listenDeliveryValues } from '../listen-delivery.js';
import { idempotencyOwner, SEALED_PREFIX } from '../secret-encryption.js';
import { judgeStoredKey, proceedVerdict, type StoredIdempotencyKey } from '../idempotency.js';

type Row = Record<string, unknown>;
type Params = Record<string, unknown>;

/** Longest a pruning round keeps going before it leaves the rest for the next round. */
const PRUNE_BUDGET_MS = 2000;
const MIGRATIONS_DIR = new URL('../../../src/store/sqlite/migrations/', import.meta.url);

/** The embedded store: one SQLite file in WAL mode, for one Herald process. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;

  /** The write-ahead log that publishes fsync themselves (null: not in WAL mode, e.g. :memory:). */
  private readonly walPath: string | null;
  private wal: { fd: number; inode: number } | null = null;
  private walSync: Promise<void> | null = null;
  private nextWalSync: Promise<void> | null = null;

  private readonly checkpointer: Checkpointer | null = null;

  /**
   * Whether commits sync the log themselves (synchronous = FULL). Not in group-commit mode, where
   * every write runs in runBatch, which syncs the log once per batch instead.
   */
  private readonly syncsOnCommit: boolean;

  /** A transaction (or, within one, a savepoint) around `fn`: one wrapper, not one per call. */
  private readonly inTransaction: Database.Transaction<(fn: () => unknown) => unknown>;

  /**
   * `options.background`: checkpoint the write-ahead log from a thread of its own (see
   * checkpointer.ts), for the long-running server; short-lived commands leave it to SQLite.
   * `options.groupCommit`: every write will run in `runBatch` (the store's thread calls it so), so
   * the connection is set once not to sync on commit. Switching `synchronous` around each batch,
   * as this store does otherwise, makes SQLite prepare every statement again on its next use (an
   * empty claim in a transaction: 86 µs instead of 49).
   */
  constructor(path: string, options: { background?: boolean; groupCommit?: boolean; onBackgroundError?: (err: Error) => void } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    const journal = this.db.pragma('journal_mode = WAL', { simple: true });
    this.walPath = journal === 'wal' && path !== ':memory:' ? `${path}-wal` : null;
    // FULL: a published event survives a power cut, not only a crash, before the API answers.
    this.syncsOnCommit = !(options.groupCommit && this.walPath);
    this.db.pragma(this.syncsOnCommit ? 'synchronous = FULL' : 'synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // 8 MiB of page cache instead of SQLite's 2 MiB: the pages a busy queue touches (the head of the
    // due index, the newest events and attempts: ids are time-ordered) stay in memory however long
    // the backlog is. Not more: SQLite walks its page cache's hash at the end of every write
    // transaction, and with 64 MiB that walk was 6% of the store thread's CPU.
    this.db.pragma('cache_size = -8192');
    this.db.pragma('temp_store = MEMORY');
    this.migrate();
    if (options.background && this.walPath) {
      // SQLite's automatic checkpoint (every 1,000 pages) stays on: the thread copies the log
      // meanwhile, so little is left for it to copy, and only a checkpoint made by the writing
      // connection between its own transactions lets the log start over from its beginning
      // instead of growing (a log written without pause is never fully copied otherwise).
      this.checkpointer = new Checkpointer(path, options.onBackgroundError ?? (() => {}));
    }
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** A prepared statement, compiled once per SQL text (preparing costs more than most queries). */
  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      // Lists of variable length make new texts; a bound keeps the cache from growing without limit.
      if (this.statements.size >= 1000) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    } else if (statement.reader) {
      statement.pluck(false); // callers that want plucked rows ask for it again
    }
    return statement;
  }

  /**
   * Runs the delivery loop's bookkeeping (claims, results, releases) as one transaction that is not
   * synced to disk on commit. Losing it in a power cut only means an attempt is made again, which
   * at-least-once delivery allows; the next durable commit (a publish, any API write) syncs it too.
   * Everything the API acknowledges is synced before it answers.
   */
  private withoutSync<T>(fn: () => T): T {
    // Inside a batch (runBatch): a savepoint of the batch's transaction, which commits without a sync.
    if (this.batch) return this.inTransaction.immediate(fn) as T;
    return this.unsyncedTransaction(fn);
  }

  /** `fn` in a transaction whose commit does not sync (a connection that syncs on commit is switched for it). */
  private unsyncedTransaction<T>(fn: () => T): T {
    if (!this.syncsOnCommit) return this.inTransaction.immediate(fn) as T;
    this.stmt('PRAGMA synchronous = NORMAL').run();
    try {
      return this.inTransaction.immediate(fn) as T;
    } finally {
      this.stmt('PRAGMA synchronous = FULL').run();
    }
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const applied = new Set(this.stmt('SELECT version FROM schema_migrations').pluck().all() as number[]);
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
    for (const file of files) {
      const version = Number.parseInt(file, 10);
      if (applied.has(version)) continue;
      const sql = readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8');
      this.db.transaction(() => {
        this.db.exec(sql);
        this.stmt('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(version, file, Date.now());
      }).immediate();
    }
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    await Promise.allSettled([this.walSync, this.nextWalSync]);
    if (this.wal) closeSync(this.wal.fd);
    this.wal = null;
    this.db.close();
  }

  /**
   * Makes every transaction committed so far durable with one fsync of the write-ahead log, run on
   * libuv's thread pool. This is the sync synchronous=FULL makes inside COMMIT, moved off the event
   * loop: with FULL, each group commit of publishes held the whole process still for the length of
   * an fsync (4–8 ms on the reference machine), so requests were neither read nor answered
   * meanwhile. Now the next batch is parsed and committed while the previous one syncs, and one
   * fsync serves every commit made before it started.
   */
  private syncWal(): Promise<void> {
    if (this.batch) return this.whenBatchDurable()!;
    if (!this.walSync) {
      this.walSync = this.fsyncWal().finally(() => {
        this.walSync = null;
      });
      return this.walSync;
    }
    // The fsync under way may have started before this commit: wait for the next one, shared by
    // every commit made until it starts.
    const next = () => {
      this.nextWalSync = null;
      return this.syncWal();
    };
    this.nextWalSync ??= this.walSync.then(next, next);
    return this.nextWalSync;
  }

  /** The batch under way (runBatch), and whether anything in it waits for it to be on disk. */
  private batch: { durableWanted: boolean; durable: Promise<void>; committed: () => void } | null = null;

  /**
   * Runs `run` (calls of this store's methods, made by the store's thread: store-thread.ts) in one
   * transaction committed without a sync; calls that need their writes durable wait for
   * `whenBatchDurable()`, one fsync of the log after the commit. This is group commit across
   * everything the process does at once: a publish, the claims and the results recorded in the
   * same turn share one transaction and one sync, so each writes its pages into the log once
   * instead of once per transaction (at a few hundred events a second, tens of megabytes a second
   * less to write, sync and checkpoint). A call's own transaction becomes a savepoint of the batch:
   * its failure undoes only its own writes.
   */
  runBatch(run: () => void): void {
    if (this.batch || !this.walPath) return run();
    let committed!: () => void;
    const durable = new Promise<void>((resolve) => (committed = resolve)).then(() => this.syncWal());
    const batch = { durableWanted: false, durable, committed };
    this.batch = batch;
    try {
      this.unsyncedTransaction(run);
    } finally {
      this.batch = null;
      if (batch.durableWanted) batch.committed();
    }
  }

  /** Within a batch: a promise that it is on disk, once committed (null outside a batch). */
  whenBatchDurable(): Promise<void> | null {
    if (!this.batch) return null;
    this.batch.durableWanted = true;
    return this.batch.durable;
  }

  /** Rows changed by this connection so far: tells the store's thread which calls wrote. */
  changesSoFar(): number {
    return this.stmt('SELECT total_changes()').pluck().get() as number;
  }

  private async fsyncWal(): Promise<void> {
    const path = this.walPath!;
    // SQLite keeps the log's inode while any connection is open; should it ever be replaced, the
    // sync must reach the new file, not the old one.
    const inode = statSync(path).ino;
    if (this.wal?.inode !== inode) {
      if (this.wal) closeSync(this.wal.fd);
      this.wal = { fd: openSync(path, 'r'), inode };
    }
    const { fd } = this.wal;
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
  }

  // Accounts and keys ------------------------------------------------------------------------

  async ensureDefaultAccount(init: Account): Promise<{ account: Account; created: boolean }> {
    return this.db.transaction(() => {
      const row = this.stmt('SELECT * FROM accounts WHERE is_default = 1').get() as Row | undefined;
      if (row) return { account: toAccount(row), created: false };
      this.insertAccount(init, true);
      return { account: init, created: true };
    }).immediate();
  }

  async createAccount(account: Account): Promise<void> {
    this.insertAccount(account, false);
  }

  private insertAccount(account: Account, isDefault: boolean): void {
    this
      .stmt('INSERT INTO accounts (id, name, application_id, default_api_version, is_default, created) VALUES (?, ?, ?, ?, ?, ?)')
      .run(account.id, account.name, account.applicationId, account.defaultApiVersion, isDefault ? 1 : 0, account.created);
  }

  async getAccount(id: string): Promise<Account | null> {
    const row = this.stmt('SELECT * FROM accounts WHERE id = ?').get(id) as Row | undefined;
    return row ? toAccount(row) : null;
  }

  async listAccounts(): Promise<Account[]> {
    return (this.stmt('SELECT * FROM accounts ORDER BY created, rowid').all() as Row[]).map(toAccount);
  }

  async setApiKey(accountId: string, mode: Mode, keyHash: string, now: Millis): Promise<void> {
    this.db.transaction(() => {
      this.stmt("DELETE FROM api_keys WHERE account_id = ? AND mode = ? AND kind = 'secret'").run(accountId, mode);
      this.stmt("INSERT OR REPLACE INTO api_keys (key_hash, account_id, mode, created, kind) VALUES (?, ?, ?, ?, 'secret')").run(keyHash, accountId, mode, now);
    }).immediate();
  }

  async setDefaultApiVersion(accountId: string, version: string): Promise<boolean> {
    return this.stmt('UPDATE accounts SET default_api_version = ? WHERE id = ?').run(version, accountId).changes === 1;
  }

  async addRestrictedApiKey(accountId: string, mode: Mode, keyHash: string, now: Millis): Promise<void> {
    this.stmt("INSERT INTO api_keys (key_hash, account_id, mode, created, kind) VALUES (?, ?, ?, ?, 'restricted')").run(keyHash, accountId, mode, now);
  }

  async findApiKeyOwner(keyHash: string): Promise<ApiKeyOwner | null> {
    const row = this.stmt('SELECT account_id, mode, kind FROM api_keys WHERE key_hash = ?').get(keyHash) as Row | undefined;
    return row ? { accountId: row.account_id as string, mode: row.mode as Mode, kind: row.kind === 'restricted' ? 'restricted' : 'secret' } : null;
  }

  // Connected accounts -----------------------------------------------------------------------

  async ensureConnectedAccount(account: ConnectedAccount): Promise<{ account: ConnectedAccount; created: boolean }> {
    return this.db.transaction(() => {
      const existing = this.stmt('SELECT * FROM connected_accounts WHERE platform_account_id = ? AND id = ?').get(account.platformAccountId, account.id) as Row | undefined;
      if (existing) return { account: toConnectedAccount(existing), created: false };
      this
        .stmt(
          `INSERT INTO connected_accounts (platform_account_id, id, seq, name, email, created)
           VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM connected_accounts), ?, ?, ?)`,
        )
        .run(account.platformAccountId, account.id, account.name, account.email, account.created);
      return { account, created: true };
    }).immediate();
  }

  async getConnectedAccount(platformAccountId: string, id: string): Promise<ConnectedAccount | null> {
    const row = this.stmt('SELECT * FROM connected_accounts WHERE platform_account_id = ? AND id = ?').get(platformAccountId, id) as Row | undefined;
    return row ? toConnectedAccount(row) : null;
  }

  async listConnectedAccounts(platformAccountId: string, page: PageRequest): Promise<Page<ConnectedAccount>> {
    return this.paginate('connected_accounts', 'platform_account_id = @platformAccountId', { platformAccountId }, page, toConnectedAccount);
  }

  // Signing secrets at rest ------------------------------------------------------------------

  /**
   * After a rewrite that changed rows, the file is compacted (VACUUM) and the WAL emptied, so the
   * values replaced (plaintext before encryption, ciphertext under a retired key) do not linger in
   * free pages. A one-off cost, proportional to the database size, when encryption is turned on or
   * the key rotated.
   */
  async rewriteSecrets(rewrite: (stored: string, ownerId: string) => string, options: { responses?: 'all' | 'sealed' | 'plaintext' } = {}): Promise<number> {
    const changed = this.rewriteSecretRows(rewrite, options.responses ?? 'all');
    if (changed > 0) {
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    return changed;
  }

  private rewriteSecretRows(rewrite: (stored: string, ownerId: string) => string, responses: 'all' | 'sealed' | 'plaintext'): number {
    return this.db.transaction(() => {
      let changed = 0;
      const endpointSecrets = this.stmt('SELECT rowid, endpoint_id, secret FROM endpoint_secrets').all() as Row[];
      const updateEndpointSecret = this.stmt('UPDATE endpoint_secrets SET secret = ? WHERE rowid = ?');
      for (const row of endpointSecrets) {
        const next = rewrite(row.secret as string, row.endpoint_id as string);
        if (next !== row.secret) changed += updateEndpointSecret.run(next, row.rowid).changes;
      }
      const destinations = this.stmt('SELECT id, aws_credentials FROM endpoints WHERE aws_credentials IS NOT NULL').all() as Row[];
      const updateDestination = this.stmt('UPDATE endpoints SET aws_credentials = ? WHERE id = ?');
      for (const row of destinations) {
        const next = rewriteStoredAwsCredentials(row.aws_credentials as string, row.id as string, rewrite);
        if (next !== row.aws_credentials) changed += updateDestination.run(next, row.id).changes;
      }
      const sessions = this.stmt('SELECT id, secret FROM listen_sessions').all() as Row[];
      const updateSession = this.stmt('UPDATE listen_sessions SET secret = ? WHERE id = ?');
      for (const row of sessions) {
        const next = rewrite(row.secret as string, row.id as string);
        if (next !== row.secret) changed += updateSession.run(next, row.id).changes;
      }
      const sealed = { all: '', sealed: ' AND substr(body, 1, @length) = @prefix', plaintext: ' AND substr(body, 1, @length) != @prefix' }[responses];
      const kept = this
        .stmt(`SELECT rowid, account_id, mode, key, body FROM idempotency_keys WHERE body IS NOT NULL${sealed}`)
        .all(sealed ? { length: SEALED_PREFIX.length, prefix: SEALED_PREFIX } : {}) as Row[];
      const updateResponse = this.stmt('UPDATE idempotency_keys SET body = ? WHERE rowid = ?');
      for (const row of kept) {
        const next = rewrite(row.body as string, idempotencyOwner(row.account_id as string, row.mode as string, row.key as string));
        if (next !== row.body) changed += updateResponse.run(next, row.rowid).changes;
      }
      return changed;
    }).immediate();
  }

  // Endpoints --------------------------------------------------------------------------------

  async createEndpoint(endpoint: WebhookEndpoint, secret: EndpointSecret, max: number): Promise<'created' | 'limit_reached'> {
    return this.db.transaction(() => {
      const count = this
        .stmt("SELECT COUNT(*) FROM endpoints WHERE account_id = ? AND mode = ? AND status != 'deleted'")
        .pluck()
        .get(endpoint.accountId, endpoint.mode) as number;
      if (count >= max) return 'limit_reached' as const;
      this
        .stmt(
          `INSERT INTO endpoints (id, account_id, mode, url, enabled_events, api_version, connect, description, metadata, status,
             disabled_reason, disabled_at, failing_since, last_success_at, created, signature_schemes,
             type, name, event_payload, events_from, aws_account_id, aws_region, aws_event_bus, aws_credentials, updated)
           VALUES (@id, @account_id, @mode, @url, @enabled_events, @api_version, @connect, @description, @metadata, @status,
             @disabled_reason, @disabled_at, @failing_since, @last_success_at, @created, @signature_schemes,
             @type, @name, @event_payload, @events_from, @aws_account_id, @aws_region, @aws_event_bus, @aws_credentials, @updated)`,
        )
        .run(endpointParams(endpoint));
      this
        .stmt('INSERT INTO endpoint_secrets (endpoint_id, secret, created, expires_at) VALUES (?, ?, ?, ?)')
        .run(endpoint.id, secret.secret, secret.created, secret.expiresAt);
      return 'created' as const;
    }).immediate();
  }

  async getEndpoint(accountId: string, mode: Mode, id: string): Promise<WebhookEndpoint | null> {
    const row = this
      .stmt("SELECT * FROM endpoints WHERE id = ? AND account_id = ? AND mode = ? AND status != 'deleted'")
      .get(id, accountId, mode) as Row | undefined;
    return row ? toEndpoint(row) : null;
  }

  async findEndpointMode(accountId: string, id: string): Promise<Mode | null> {
    const mode = this
      .stmt("SELECT mode FROM endpoints WHERE id = ? AND account_id = ? AND status != 'deleted'")
      .pluck()
      .get(id, accountId) as Mode | undefined;
    return mode ?? null;
  }

  async updateEndpoint(endpoint: WebhookEndpoint): Promise<boolean> {
    const result = this
      .stmt(
        `UPDATE endpoints SET url = @url, enabled_events = @enabled_events, description = @description, metadata = @metadata,
           signature_schemes = @signature_schemes, name = @name, aws_account_id = @aws_account_id, aws_region = @aws_region,
           aws_event_bus = @aws_event_bus, aws_credentials = @aws_credentials, updated = @updated,
           status = @status, disabled_reason = @disabled_reason, disabled_at = @disabled_at, failing_since = @failing_since
         WHERE id = @id AND account_id = @account_id AND mode = @mode AND status != 'deleted'`,
      )
      .run(endpointParams(endpoint));
    return result.changes === 1;
  }

  async deleteEndpoint(accountId: string, mode: Mode, id: string, now: Millis): Promise<boolean> {
    return this.db.transaction(() => {
      const result = this
        .stmt("UPDATE endpoints SET status = 'deleted', disabled_at = ? WHERE id = ? AND account_id = ? AND mode = ? AND status != 'deleted'")
        .run(now, id, accountId, mode);
      if (result.changes === 0) return false;
      // Pending work for a deleted endpoint is dropped; what is in flight finishes and is recorded.
      this.stmt("UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL WHERE endpoint_id = ? AND state = 'pending'").run(id);
      this.stmt('DELETE FROM endpoint_secrets WHERE endpoint_id = ?').run(id);
      return true;
    }).immediate();
  }

  async listEndpoints(accountId: string, mode: Mode, page: PageRequest, filter: EndpointFilter = {}): Promise<Page<WebhookEndpoint>> {
    const where = "account_id = @accountId AND mode = @mode AND status != 'deleted'" + (filter.type ? ' AND type = @type' : '');
    return this.paginate('endpoints', where, filter.type ? { accountId, mode, type: filter.type } : { accountId, mode }, page, toEndpoint);
  }

  async activeSecrets(endpointId: string, now: Millis): Promise<EndpointSecret[]> {
    return this.secretsOf(endpointId, now);
  }

  private secretsOf(endpointId: string, now: Millis): EndpointSecret[] {
    const rows = this
      .stmt('SELECT secret, created, expires_at FROM endpoint_secrets WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created DESC, rowid DESC')
      .all(endpointId, now) as Row[];
    return rows.map((r) => ({ secret: r.secret as string, created: r.created as number, expiresAt: (r.expires_at as number | null) ?? null }));
  }

  async rollSecret(endpointId: string, secret: EndpointSecret, oldExpiresAt: Millis): Promise<void> {
    this.db.transaction(() => {
      // Only the current secret gets the new expiry; an older secret keeps its own (earlier) one.
      this
        .stmt('UPDATE endpoint_secrets SET expires_at = ? WHERE endpoint_id = ? AND expires_at IS NULL')
        .run(oldExpiresAt, endpointId);
      this.stmt('DELETE FROM endpoint_secrets WHERE endpoint_id = ? AND expires_at <= ?').run(endpointId, secret.created);
      this
        .stmt('INSERT INTO endpoint_secrets (endpoint_id, secret, created, expires_at) VALUES (?, ?, ?, NULL)')
        .run(endpointId, secret.secret, secret.created);
    }).immediate();
  }

  // Events -----------------------------------------------------------------------------------

  async publishEvents(events: PublishedEvent[]): Promise<StoredEvent[]> {
    if (!this.walPath) return this.db.transaction(() => this.insertEvents(events)).immediate();
    // Group commit: the batch commits without a sync, then waits for an fsync of the log (see
    // syncWal), which it shares with the batches committed while the previous one ran.
    const stored = this.withoutSync(() => this.insertEvents(events));
    await this.syncWal();
    return stored;
  }

  private insertEvents(events: PublishedEvent[]): StoredEvent[] {
    const selectEndpoints = this.stmt("SELECT id, enabled_events, connect, events_from FROM endpoints WHERE account_id = ? AND mode = ? AND status = 'enabled'");
    const insertEvent = this.stmt(
      `INSERT INTO events (id, account_id, mode, type, connected_account, api_version, created, data, request_id,
         request_idempotency_key, account_api_version, object_id, object_type, related_object_url)
       VALUES (@id, @account_id, @mode, @type, @connected_account, @api_version, @created, @data, @request_id,
         @request_idempotency_key, @account_api_version, @object_id, @object_type, @related_object_url)`,
    );
    const insertDelivery = this.stmt(
      `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, next_attempt_at, created)
       VALUES (?, ?, ?, ?, ?, 'automatic', 'pending', ?, ?)`,
    );
    const endpointsByOwner = new Map<string, { id: string; enabledEvents: string[]; connect: boolean; eventsFrom: string[] }[]>();
    return events.map((event) => {
      const owner = `${event.accountId}/${event.mode}`;
      let endpoints = endpointsByOwner.get(owner);
      if (!endpoints) {
        endpoints = (selectEndpoints.all(event.accountId, event.mode) as Row[]).map((r) => ({
          id: r.id as string,
          enabledEvents: JSON.parse(r.enabled_events as string) as string[],
          connect: r.connect === 1,
          eventsFrom: (r.events_from as string).split(','),
        }));
        endpointsByOwner.set(owner, endpoints);
      }
      const targets = event.onlyEndpointId !== undefined ? endpoints.filter((e) => e.id === event.onlyEndpointId) : endpoints.filter((e) => destinationWants(e, event));
      const related = relatedObjectOf(event);
      insertEvent.run({
        id: event.id,
        account_id: event.accountId,
        mode: event.mode,
        type: event.type,
        connected_account: event.account,
        api_version: event.apiVersion,
        created: event.created,
        data: event.dataJson ?? JSON.stringify(event.data),
        request_id: event.request.id,
        request_idempotency_key: event.request.idempotency_key,
        account_api_version: event.accountApiVersion ?? event.apiVersion,
        object_id: related?.id ?? null,
        object_type: related?.type ?? null,
        related_object_url: related?.url ?? null,
      });
      for (const target of targets) {
        insertDelivery.run(newId.delivery(), event.id, target.id, event.accountId, event.mode, event.created, event.created);
      }
      const { onlyEndpointId: _only, dataJson: _json, ...stored } = event;
      return { ...stored, accountApiVersion: event.accountApiVersion ?? event.apiVersion, relatedObject: related, pendingWebhooks: targets.length };
    });
  }

  async getEvent(accountId: string, mode: Mode, id: string): Promise<StoredEvent | null> {
    const row = this.stmt(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ? AND account_id = ? AND mode = ?`).get(id, accountId, mode) as Row | undefined;
    return row ? toEvent(row) : null;
  }

  async latestEventAbout(accountId: string, mode: Mode, object: { type: string; id: string }): Promise<StoredEvent | null> {
    const row = this
      .stmt(`SELECT ${EVENT_COLUMNS} FROM events WHERE account_id = ? AND mode = ? AND object_id = ? AND object_type = ? ORDER BY seq DESC LIMIT 1`)
      .get(accountId, mode, object.id, object.type) as Row | undefined;
    return row ? toEvent(row) : null;
  }

  async findEventMode(accountId: string, id: string): Promise<Mode | null> {
    return (this.stmt('SELECT mode FROM events WHERE id = ? AND account_id = ?').pluck().get(id, accountId) as Mode | undefined) ?? null;
  }

  async listEvents(accountId: string, mode: Mode, filter: EventFilter, page: PageRequest): Promise<Page<StoredEvent>> {
    const where = ['account_id = @accountId', 'mode = @mode', 'created >= @notBefore'];
    const params: Params = { accountId, mode, notBefore: filter.notBefore };
    if (filter.type !== undefined) {
      if (filter.type.includes('*')) {
        where.push("type LIKE @typePattern ESCAPE '\\'");
        params.typePattern = filter.type.replace(/[\\%_]/g, (c) => `\\${c}`).replaceAll('*', '%');
      } else {
        where.push('type = @type');
        params.type = filter.type;
      }
    }
    if (filter.objectId !== undefined) {
      where.push('object_id = @objectId');
      params.objectId = filter.objectId;
    }
    if (filter.types !== undefined) {
      where.push(`type IN (${filter.types.map((_, i) => `@t${i}`).join(', ')})`);
      filter.types.forEach((t, i) => (params[`t${i}`] = t));
    }
    if (filter.createdGte !== undefined) {
      where.push('created >= @createdGte');
      params.createdGte = filter.createdGte;
    }
    if (filter.createdLt !== undefined) {
      where.push('created < @createdLt');
      params.createdLt = filter.createdLt;
    }
    if (filter.deliverySuccess !== undefined) where.push(`${filter.deliverySuccess ? 'NOT ' : ''}EXISTS (${undeliveredOf('events')})`);
    if (filter.connectedAccount !== undefined) {
      where.push('connected_account = @connectedAccount');
      params.connectedAccount = filter.connectedAccount;
    }
    return this.paginate('events', where.join(' AND '), params, page, toEvent, EVENT_COLUMNS);
  }

  // Deliveries -------------------------------------------------------------------------------

  async claimDueDeliveries(now: Millis, limit: number, leaseMs: number, fairness?: ClaimFairness): Promise<ClaimedDelivery[]> {
    const leaseToken = randomBytes(12).toString('hex');
    const lease = { leaseUntil: now + leaseMs, leaseToken };
    return this.withoutSync(() => {
      const rows = fairnessBinds(fairness, limit)
        ? this.leaseDeliveries(this.dueWithinAllowances(now, limit, fairness), lease)
        : (this
            .stmt(
              `UPDATE deliveries SET state = 'in_flight', next_attempt_at = @leaseUntil, lease_token = @leaseToken,
                 attempt_count = attempt_count + 1
               WHERE seq IN (SELECT seq FROM deliveries WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= @now
                             ORDER BY next_attempt_at ${limitClause(limit)})
               RETURNING ${LEASED_COLUMNS}`,
            )
            .raw()
            .all({ now, ...lease }) as LeasedRow[]);
      if (rows.length === 0) return [];
      const endpoints = new Map<string, { endpoint: WebhookEndpoint; secrets: string[] } | null>();
      const events = new Map<string, ClaimedDelivery['event'] | null>();
      const getEndpoint = this.stmt('SELECT * FROM endpoints WHERE id = ?');
      const cancel = this.stmt("UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL, lease_token = NULL, attempt_count = attempt_count - 1 WHERE id = ?");
      const claims: ClaimedDelivery[] = [];
      for (const [deliveryId, eventId, endpointId, kind, attemptNumber, scheduleStep] of rows) {
        if (!endpoints.has(endpointId)) {
          const endpointRow = getEndpoint.get(endpointId) as Row | undefined;
          const endpoint = endpointRow ? toEndpoint(endpointRow) : null;
          endpoints.set(endpointId, endpoint && endpoint.status === 'enabled' ? { endpoint, secrets: this.secretsOf(endpointId, now).map((s) => s.secret) } : null);
        }
        const target = endpoints.get(endpointId);
        // An event fanned out to several endpoints is read once per batch, and its claims share
        // one object (the worker renders one body per event object and version).
        if (!events.has(eventId)) events.set(eventId, this.claimedEvent(eventId));
        const event = events.get(eventId);
        // The endpoint was disabled or deleted (or the event pruned) before this attempt fell due:
        // the attempt is dropped, as Stripe drops retries for disabled endpoints.
        if (!target || !event) {
          cancel.run(deliveryId);
          continue;
        }
        claims.push({ deliveryId, leaseToken, kind, attemptNumber, scheduleStep, event, endpoint: target.endpoint, secrets: target.secrets });
      }
      return claims;
    });
  }

  /**
   * The seqs of up to `limit` due deliveries, earliest first, none beyond an endpoint's allowance.
   * Usually the earliest due rows are within every allowance and are taken as they are. Otherwise
   * (a backlog at an endpoint near its bound) each endpoint with waiting work gives at most its
   * allowance of its earliest due rows, found through deliveries_endpoint_due: the endpoints by
   * hopping from one endpoint id to the next (one index seek each), so the cost grows with the
   * number of endpoints with work, never with the length of a backlog.
   */
  private dueWithinAllowances(now: Millis, limit: number, fairness: ClaimFairness): number[] {
    const earliest: number[] = [];
    const withinAllowance = allowanceCounter(fairness);
    let skewed = false;
    // Read only until the first row beyond its endpoint's allowance: a saturated backlog is seen at once.
    for (const [seq, endpointId] of this
      .stmt(`SELECT seq, endpoint_id FROM deliveries WHERE state IN ('pending', 'in_flight') AND next_attempt_at <= ? ORDER BY next_attempt_at ${limitClause(limit)}`)
      .raw()
      .iterate(now) as IterableIterator<[number, string]>) {
      if (!withinAllowance(endpointId)) {
        skewed = true;
        break;
      }
      earliest.push(seq);
    }
    if (!skewed) return earliest;
    const endpointsWithWork = this
      .stmt(
        `WITH RECURSIVE busy(endpoint_id) AS (
           SELECT MIN(endpoint_id) FROM deliveries WHERE state IN ('pending', 'in_flight')
           UNION ALL
           SELECT (SELECT MIN(endpoint_id) FROM deliveries WHERE state IN ('pending', 'in_flight') AND endpoint_id > busy.endpoint_id)
           FROM busy WHERE busy.endpoint_id IS NOT NULL
         )
         SELECT endpoint_id FROM busy WHERE endpoint_id IS NOT NULL`,
      )
      .pluck()
      .all() as string[];
    const dueOf = (allowance: number) =>
      this
        .stmt(`SELECT seq, next_attempt_at FROM deliveries WHERE endpoint_id = ? AND state IN ('pending', 'in_flight') AND next_attempt_at <= ? ORDER BY next_attempt_at ${limitClause(allowance)}`)
        .raw();
    const candidates: [number, number][] = [];
    for (const endpointId of endpointsWithWork) {
      const allowance = Math.min(limit, claimAllowance(fairness, endpointId));
      if (allowance > 0) for (const row of dueOf(allowance).all(endpointId, now) as [number, number][]) candidates.push(row);
    }
    return candidates
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([seq]) => seq);
  }

  /** Leases the deliveries `seqs` (due rows this transaction just chose) to one claim. */
  private leaseDeliveries(seqs: number[], lease: { leaseUntil: Millis; leaseToken: string }): LeasedRow[] {
    if (seqs.length === 0) return [];
    return this
      .stmt(
        `UPDATE deliveries SET state = 'in_flight', next_attempt_at = @leaseUntil, lease_token = @leaseToken,
           attempt_count = attempt_count + 1
         WHERE seq IN (SELECT value FROM json_each(@seqs))
         RETURNING ${LEASED_COLUMNS}`,
      )
      .raw()
      .all({ seqs: JSON.stringify(seqs), ...lease }) as LeasedRow[];
  }

  async recordAttempts(results: AttemptResult[], policy: HealthPolicy): Promise<RecordOutcome> {
    const insertAttempt = this.stmt(INSERT_ATTEMPT_SQL);
    const moveOn = this.stmt(
      `UPDATE deliveries SET state = @state, next_attempt_at = @next_attempt_at, schedule_step = @schedule_step, lease_token = NULL
       WHERE id = @id AND lease_token = @lease_token`,
    );
    // The common case in one statement: an automatic delivery's own success, not delivered before.
    const moveOnDelivered = this.stmt(
      `UPDATE deliveries SET state = 'succeeded', next_attempt_at = NULL, lease_token = NULL, delivered_at = @delivered_at
       WHERE id = @id AND lease_token = @lease_token AND delivered_at IS NULL`,
    );
    const markDelivered = this.stmt(
      "UPDATE deliveries SET delivered_at = ? WHERE event_id = ? AND endpoint_id = ? AND kind = 'automatic' AND delivered_at IS NULL",
    );
    const endpointSucceeded = this.stmt('UPDATE endpoints SET failing_since = NULL, last_success_at = MAX(COALESCE(last_success_at, 0), ?) WHERE id = ?');
    const endpointFailed = this.stmt('UPDATE endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ? RETURNING failing_since, status');
    const disable = this.stmt(
      "UPDATE endpoints SET status = 'disabled', disabled_reason = ?, disabled_at = ? WHERE id = ? AND status = 'enabled'",
    );
    return this.withoutSync(() => {
      const outcome: RecordOutcome = { disabled: [] };
      // Per batch rather than per attempt: each endpoint's latest success (written before any later
      // failure of the same endpoint, so the order of a success and a failure within the batch is kept).
      const successes = new Map<string, number>();
      const writeSuccess = (endpointId: string) => {
        endpointSucceeded.run(successes.get(endpointId), endpointId);
        successes.delete(endpointId);
      };
      for (const { claim, attempt, next, disableReason: requested } of results) {
        insertAttempt.run(attemptValues(attempt));
        let delivered = false;
        if (attempt.outcome === 'succeeded' && claim.kind === 'automatic') {
          delivered = moveOnDelivered.run({ id: claim.deliveryId, lease_token: claim.leaseToken, delivered_at: attempt.created }).changes > 0;
        }
        if (!delivered) {
          moveOn.run({
            id: claim.deliveryId,
            lease_token: claim.leaseToken,
            state: next.state,
            next_attempt_at: next.state === 'pending' ? next.at : null,
            schedule_step: next.state === 'pending' ? next.scheduleStep : claim.scheduleStep,
          });
          // A resend's success (or one whose lease was lost) delivers the automatic delivery of the pair.
          if (attempt.outcome === 'succeeded') markDelivered.run(attempt.created, attempt.eventId, attempt.endpointId);
        }
        if (attempt.outcome === 'succeeded') {
          successes.set(attempt.endpointId, Math.max(successes.get(attempt.endpointId) ?? 0, attempt.created));
        } else {
          if (successes.has(attempt.endpointId)) writeSuccess(attempt.endpointId);
          const row = endpointFailed.get(attempt.created, attempt.endpointId) as Row | undefined;
          const failingSince = row?.failing_since as number | undefined;
          if (row?.status === 'enabled' && failingSince !== undefined && (requested || attempt.created - failingSince >= policy.disableAfterMs)) {
            const reason = requested ?? disableReason(failingSince, attempt.created);
            if (disable.run(reason, attempt.created, attempt.endpointId).changes > 0) outcome.disabled.push({ endpointId: attempt.endpointId, reason });
          }
        }
      }
      for (const endpointId of [...successes.keys()]) writeSuccess(endpointId);
      return outcome;
    });
  }

  async releaseDeliveries(claims: { deliveryId: string; leaseToken: string }[], now: Millis): Promise<void> {
    const release = this.stmt(
      "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, lease_token = NULL, attempt_count = attempt_count - 1 WHERE id = ? AND lease_token = ? AND state = 'in_flight'",
    );
    this.withoutSync(() => {
      for (const claim of claims) release.run(now, claim.deliveryId, claim.leaseToken);
    });
  }

  async nextDueTime(): Promise<Millis | null> {
    return (this.stmt("SELECT MIN(next_attempt_at) FROM deliveries WHERE state IN ('pending', 'in_flight')").pluck().get() as number | null) ?? null;
  }

  async enqueueManualDelivery(eventId: string, endpoint: WebhookEndpoint, now: Millis): Promise<void> {
    this
      .stmt(
        `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, next_attempt_at, created)
         VALUES (?, ?, ?, ?, ?, 'manual', 'pending', ?, ?)`,
      )
      .run(newId.delivery(), eventId, endpoint.id, endpoint.accountId, endpoint.mode, now, now);
  }

  async recoverEvents(endpoint: WebhookEndpoint, window: { since: Millis; until: Millis }, now: Millis, dryRun: boolean): Promise<number> {
    return this.db.transaction(() => {
      const candidates = this
        .stmt(
          `SELECT e.id, e.type, e.connected_account, d.id AS delivery_id, d.state
           FROM events e LEFT JOIN deliveries d ON d.event_id = e.id AND d.endpoint_id = @endpointId AND d.kind = 'automatic'
           WHERE e.account_id = @accountId AND e.mode = @mode AND e.created >= @since AND e.created < @until
             AND (d.id IS NULL OR (d.delivered_at IS NULL AND d.state != 'in_flight'))`,
        )
        .all({ endpointId: endpoint.id, accountId: endpoint.accountId, mode: endpoint.mode, since: window.since, until: window.until }) as Row[];
      const wanted = candidates.filter((c) => destinationWants(endpoint, { type: c.type as string, account: (c.connected_account as string | null) ?? null }));
      if (dryRun) return wanted.length;
      const rearm = this.stmt("UPDATE deliveries SET state = 'pending', next_attempt_at = ?, schedule_step = 0 WHERE id = ?");
      const insert = this.stmt(
        `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, next_attempt_at, created)
         VALUES (?, ?, ?, ?, ?, 'automatic', 'pending', ?, ?)`,
      );
      for (const c of wanted) {
        if (c.delivery_id) {
          rearm.run(now, c.delivery_id);
        } else {
          insert.run(newId.delivery(), c.id, endpoint.id, endpoint.accountId, endpoint.mode, now, now);
        }
      }
      return wanted.length;
    }).immediate();
  }

  async listAttempts(scope: AttemptScope, page: PageRequest): Promise<Page<DeliveryAttempt>> {
    const [column, value] = 'endpointId' in scope ? ['endpoint_id', scope.endpointId] : ['event_id', scope.eventId];
    const listed = this.paginate('attempts', `${column} = @value AND account_id = @accountId AND mode = @mode`, { value, accountId: scope.accountId, mode: scope.mode }, page, toAttempt);
    return { ...listed, data: await withRequestBodies(listed.data, this.loadEvents) };
  }

  async getAttempt(accountId: string, mode: Mode, id: string): Promise<DeliveryAttempt | null> {
    const row = this.stmt('SELECT * FROM attempts WHERE id = ? AND account_id = ? AND mode = ?').get(id, accountId, mode) as Row | undefined;
    return row ? (await withRequestBodies([toAttempt(row)], this.loadEvents))[0]! : null;
  }

  async listDeliveries(scope: AttemptScope, filter: DeliveryFilter, page: PageRequest): Promise<Page<DeliverySummary>> {
    const [column, value] = 'endpointId' in scope ? ['d.endpoint_id', scope.endpointId] : ['d.event_id', scope.eventId];
    const where = [`${column} = @value`, 'd.account_id = @accountId', 'd.mode = @mode'];
    const params: Params = { value, accountId: scope.accountId, mode: scope.mode };
    if (filter.status !== undefined) where.push(DELIVERY_STATUS_SQL[filter.status]);
    if (filter.eventType !== undefined) {
      where.push('e.type = @eventType');
      params.eventType = filter.eventType;
    }
    if (filter.createdGte !== undefined) {
      where.push('d.created >= @createdGte');
      params.createdGte = filter.createdGte;
    }
    if (filter.createdLt !== undefined) {
      where.push('d.created < @createdLt');
      params.createdLt = filter.createdLt;
    }
    const cursorId = page.startingAfter ?? page.endingBefore;
    if (cursorId !== undefined) {
      // The cursor must be a delivery in the same scope (not necessarily matching the filters).
      const seq = this
        .stmt(`SELECT d.seq FROM deliveries d WHERE d.id = @cursorId AND ${where.slice(0, 3).join(' AND ')}`)
        .pluck()
        .get({ ...params, cursorId }) as number | undefined;
      if (seq === undefined) return { data: [], hasMore: false, missingCursor: true };
      where.push(page.startingAfter !== undefined ? 'd.seq < @cursorSeq' : 'd.seq > @cursorSeq');
      params.cursorSeq = seq;
    }
    const order = page.endingBefore !== undefined ? 'ASC' : 'DESC';
    const rows = this
      .stmt(
        `SELECT d.id, d.event_id, d.endpoint_id, d.mode, d.kind, d.state, d.attempt_count, d.next_attempt_at, d.created, e.type AS event_type,
           a.id AS a_id, a.created AS a_created, a.outcome AS a_outcome, a.http_status AS a_http_status, a.failure_kind AS a_failure_kind,
           a.duration_ms AS a_duration_ms
         FROM deliveries d JOIN events e ON e.id = d.event_id
           LEFT JOIN attempts a ON a.seq = (SELECT MAX(seq) FROM attempts WHERE delivery_id = d.id)
         WHERE ${where.join(' AND ')} ORDER BY d.seq ${order} ${limitClause(page.limit + 1)}`,
      )
      .all(params) as Row[];
    const hasMore = rows.length > page.limit;
    const kept = rows.slice(0, page.limit);
    if (order === 'ASC') kept.reverse();
    return { data: kept.map(toDeliverySummary), hasMore };
  }

  async attemptCounts(
    scope: { accountId: string; mode: Mode; endpointId: string },
    window: { since: Millis; until: Millis; bucketMs: number },
  ): Promise<AttemptCountBucket[]> {
    const rows = this
      .stmt(
        `SELECT CAST((created - @since) / @bucketMs AS INTEGER) AS bucket, SUM(outcome = 'succeeded') AS succeeded, SUM(outcome = 'failed') AS failed
         FROM attempts WHERE endpoint_id = @endpointId AND account_id = @accountId AND mode = @mode AND created >= @since AND created < @until
         GROUP BY bucket ORDER BY bucket`,
      )
      .all({ ...scope, ...window }) as Row[];
    return rows.map((r) => ({ start: window.since + (r.bucket as number) * window.bucketMs, succeeded: r.succeeded as number, failed: r.failed as number }));
  }

  // Listen sessions ------------------------------------------------------------------------------

  async openListenSession(init: Omit<ListenSession, 'cursor'>): Promise<ListenSession> {
    return this.db.transaction(() => {
      const existing = this.stmt('SELECT * FROM listen_sessions WHERE account_id = ? AND mode = ?').get(init.accountId, init.mode) as Row | undefined;
      if (existing) {
        this.stmt('UPDATE listen_sessions SET enabled_events = ? WHERE id = ?').run(JSON.stringify(init.enabledEvents), existing.id);
        return { ...toListenSession(existing), enabledEvents: init.enabledEvents };
      }
      // A new session starts at the newest event: it receives what is published from now on.
      const cursor = (this.stmt('SELECT COALESCE(MAX(seq), 0) FROM events').pluck().get() as number) ?? 0;
      this
        .stmt('INSERT INTO listen_sessions (id, account_id, mode, secret, enabled_events, cursor_seq, created) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(init.id, init.accountId, init.mode, init.secret, JSON.stringify(init.enabledEvents), cursor, init.created);
      return { ...init, cursor };
    }).immediate();
  }

  async getListenSession(accountId: string, mode: Mode, id: string): Promise<ListenSession | null> {
    const row = this.stmt('SELECT * FROM listen_sessions WHERE id = ? AND account_id = ? AND mode = ?').get(id, accountId, mode) as Row | undefined;
    return row ? toListenSession(row) : null;
  }

  async listenBacklog(sessionId: string, afterSeq: number, limit: number): Promise<ListenEvent[]> {
    const rows = this
      .stmt(
        `SELECT ${claimedEventColumns('e')}, e.seq
         FROM listen_sessions s JOIN events e ON e.account_id = s.account_id AND e.mode = s.mode AND e.seq > ?
         WHERE s.id = ? AND NOT EXISTS (SELECT 1 FROM listen_acks a WHERE a.session_id = s.id AND a.event_id = e.id)
         ORDER BY e.seq ${limitClause(limit)}`,
      )
      .raw()
      .all(afterSeq, sessionId) as unknown[][];
    return rows.map((row) => ({ ...claimedEventOfColumns(row), seq: row[CLAIMED_EVENT_COLUMN_COUNT] as number }));
  }

  async listenUnacknowledged(sessionId: string, eventIds: string[]): Promise<string[]> {
    if (eventIds.length === 0) return [];
    const acked = new Set(
      this
        .stmt(`SELECT event_id FROM listen_acks WHERE session_id = ? AND event_id IN (${eventIds.map(() => '?').join(', ')})`)
        .pluck()
        .all(sessionId, ...eventIds) as string[],
    );
    return eventIds.filter((id) => !acked.has(id));
  }

  async recordListenAttempts(sessionId: string, eventId: string, attempts: DeliveryAttempt[]): Promise<void> {
    const insertAttempt = this.stmt(INSERT_ATTEMPT_SQL);
    const acknowledge = this.stmt(
      `INSERT OR IGNORE INTO listen_acks (session_id, event_id, event_seq)
       SELECT s.id, e.id, e.seq FROM listen_sessions s JOIN events e ON e.id = ? AND e.account_id = s.account_id AND e.mode = s.mode WHERE s.id = ?`,
    );
    // Each $n appears once, in order: SQLite's anonymous parameters bind the same values.
    const upsertDelivery = this.stmt(LISTEN_DELIVERY_UPSERT_SQL.replace(/\$\d+/g, '?'));
    this.db.transaction(() => {
      if (attempts.length > 0) {
        const deliveryId = (upsertDelivery.pluck().get(...listenDeliveryValues(sessionId, eventId, attempts)) as string) ?? '';
        for (const attempt of attempts) insertAttempt.run(attemptValues({ ...attempt, deliveryId }));
      }
      acknowledge.run(eventId, sessionId);
    }).immediate();
  }

  async advanceListenCursor(sessionId: string, seq: number): Promise<void> {
    this.db.transaction(() => {
      this.stmt('UPDATE listen_sessions SET cursor_seq = ? WHERE id = ? AND cursor_seq < ?').run(seq, sessionId, seq);
      this.stmt('DELETE FROM listen_acks WHERE session_id = ? AND event_seq <= (SELECT cursor_seq FROM listen_sessions WHERE id = ?)').run(sessionId, sessionId);
    }).immediate();
  }

  // Idempotency ------------------------------------------------------------------------------

  async beginIdempotentRequest(req: IdempotentRequest): Promise<IdempotencyVerdict> {
    return this.db.transaction((): IdempotencyVerdict => {
      const row = this
        .stmt('SELECT request_hash, status, body, locked_until, expires_at, reserved_id FROM idempotency_keys WHERE account_id = ? AND mode = ? AND key = ?')
        .get(req.accountId, req.mode, req.key) as StoredIdempotencyKey | undefined;
      const judged = judgeStoredKey(row, req);
      if (judged.kind !== 'take_over') return judged;
      this
        .stmt(
          `INSERT OR REPLACE INTO idempotency_keys (account_id, mode, key, request_hash, status, body, locked_until, expires_at, reserved_id)
           VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, ?)`,
        )
        .run(req.accountId, req.mode, req.key, req.requestHash, req.now + req.lockMs, req.now + (req.reserve?.forMs ?? req.lockMs), judged.reservedId);
      return proceedVerdict(judged.reservedId, judged.resumed);
    }).immediate();
  }

  async completeIdempotentRequest(req: IdempotentRequest, status: number, body: string, expiresAt: Millis): Promise<void> {
    this
      .stmt('UPDATE idempotency_keys SET status = ?, body = ?, expires_at = ? WHERE account_id = ? AND mode = ? AND key = ? AND request_hash = ?')
      .run(status, body, expiresAt, req.accountId, req.mode, req.key, req.requestHash);
  }

  /**
   * Lets retries of the requests that were in progress when the previous server died run at once
   * (resumed under their reserved ids) instead of waiting out their locks: a SQLite file has one
   * server, so at its start no request of its own is in progress yet. Returns how many were unlocked.
   */
  unlockRequestsOfEarlierRuns(): number {
    return this.stmt('UPDATE idempotency_keys SET locked_until = 0 WHERE status IS NULL AND locked_until > 0').run().changes;
  }

  async unlockIdempotentRequest(req: IdempotentRequest): Promise<void> {
    this
      .stmt('UPDATE idempotency_keys SET locked_until = ? WHERE account_id = ? AND mode = ? AND key = ? AND request_hash = ? AND status IS NULL')
      .run(req.now, req.accountId, req.mode, req.key, req.requestHash);
  }

  async abandonIdempotentRequest(req: IdempotentRequest): Promise<void> {
    this
      .stmt('DELETE FROM idempotency_keys WHERE account_id = ? AND mode = ? AND key = ? AND status IS NULL')
      .run(req.accountId, req.mode, req.key);
  }

  // Failure alerts ---------------------------------------------------------------------------

  async alertCandidates(failingSinceBefore: Millis): Promise<AlertCandidate[]> {
    const rows = this
      .stmt(
        `SELECT e.*, s.state AS alert_state, s.failing_since AS alert_failing_since
         FROM endpoints e LEFT JOIN endpoint_alert_states s ON s.endpoint_id = e.id
         WHERE e.status != 'deleted' AND (
           s.state = 'warned'
           OR (s.state = 'disabled' AND e.status = 'enabled')
           OR (e.status = 'enabled' AND e.failing_since <= ? AND COALESCE(s.state, 'ok') = 'ok')
           OR (e.status = 'disabled' AND e.disabled_reason IS NOT NULL AND COALESCE(s.state, 'ok') = 'ok'))`,
      )
      .all(failingSinceBefore) as Row[];
    return rows.map(toAlertCandidate);
  }

  async transitionAlertState(endpointId: string, from: AlertStateRecord, to: AlertStateRecord, alert: EndpointAlert, now: Millis): Promise<boolean> {
    return this.db.transaction(() => {
      const row = this.stmt('SELECT state, failing_since FROM endpoint_alert_states WHERE endpoint_id = ?').get(endpointId) as Row | undefined;
      const current: AlertStateRecord = row ? { state: row.state as AlertState, failingSince: (row.failing_since as number | null) ?? null } : { state: 'ok', failingSince: null };
      if (current.state !== from.state || current.failingSince !== from.failingSince) return false;
      this
        .stmt(
          `INSERT INTO endpoint_alert_states (endpoint_id, state, failing_since, changed_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (endpoint_id) DO UPDATE SET state = excluded.state, failing_since = excluded.failing_since, changed_at = excluded.changed_at`,
        )
        .run(endpointId, to.state, to.failingSince, now);
      this
        .stmt(
          `INSERT INTO alerts (id, account_id, mode, endpoint_id, kind, created, subject, body, details, delivery, next_send_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
        )
        .run(alert.id, alert.accountId, alert.mode, alert.endpointId, alert.kind, alert.created, alert.subject, alert.body, JSON.stringify(alert.details), now);
      return true;
    }).immediate();
  }

  async claimDueAlerts(now: Millis, limit: number, leaseMs: number): Promise<ClaimedAlert[]> {
    const leaseToken = randomBytes(12).toString('hex');
    const rows = this
      .stmt(
        `UPDATE alerts SET next_send_at = ?, lease_token = ?, send_attempts = send_attempts + 1
         WHERE seq IN (SELECT seq FROM alerts WHERE next_send_at IS NOT NULL AND next_send_at <= ? ORDER BY next_send_at ${limitClause(limit)})
         RETURNING *, (SELECT email FROM account_alert_settings WHERE account_id = alerts.account_id) AS account_email`,
      )
      .all(now + leaseMs, leaseToken, now) as Row[];
    return rows.map((row) => ({ alert: toAlert(row), leaseToken, accountEmail: (row.account_email as string | null) ?? null }));
  }

  async finishAlert(claim: ClaimedAlert, result: AlertSendResult): Promise<void> {
    if (result.delivery === 'pending') {
      this.stmt('UPDATE alerts SET next_send_at = ?, last_error = ?, lease_token = NULL WHERE id = ? AND lease_token = ?').run(result.retryAt, result.error, claim.alert.id, claim.leaseToken);
    } else {
      this
        .stmt('UPDATE alerts SET delivery = ?, recipient = ?, sent_at = ?, next_send_at = NULL, lease_token = NULL WHERE id = ? AND lease_token = ?')
        .run(result.delivery, result.recipient, result.at, claim.alert.id, claim.leaseToken);
    }
  }

  async listAlerts(accountId: string, mode: Mode, page: PageRequest): Promise<Page<EndpointAlert>> {
    return this.paginate('alerts', 'account_id = @accountId AND mode = @mode', { accountId, mode }, page, toAlert);
  }

  async getAlertEmail(accountId: string): Promise<string | null> {
    return (this.stmt('SELECT email FROM account_alert_settings WHERE account_id = ?').pluck().get(accountId) as string | null | undefined) ?? null;
  }

  async setAlertEmail(accountId: string, email: string | null, now: Millis): Promise<void> {
    this
      .stmt(
        `INSERT INTO account_alert_settings (account_id, email, updated) VALUES (?, ?, ?)
         ON CONFLICT (account_id) DO UPDATE SET email = excluded.email, updated = excluded.updated`,
      )
      .run(accountId, email, now);
  }

  // Housekeeping -----------------------------------------------------------------------------

  async hitRateLimit(key: string, windowStart: Millis, limit: number): Promise<boolean> {
    const count = this.withoutSync(
      () =>
        this.stmt(
          `INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1)
           ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count`,
        )
          .pluck()
          .get(key, windowStart) as number,
    );
    return count <= limit;
  }

  async prune(now: Millis, olderThan: Millis): Promise<{ events: number; attempts: number; idempotencyKeys: number }> {
    const batch = 500;
    const deadline = Date.now() + PRUNE_BUDGET_MS;
    // Small batches, each its own short transaction, with the event loop free in between: pruning
    // never holds deliveries up for long, and a large backlog is worked off over several rounds.
    const repeat = async (deleteBatch: () => number) => {
      let total = 0;
      for (;;) {
        const n = deleteBatch();
        total += n;
        if (n < batch || Date.now() >= deadline) return total;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const idempotencyKeys = await repeat(
      () => this.stmt(`DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? ${limitClause(batch)})`).run(now).changes,
    );
    this.stmt('DELETE FROM rate_limits WHERE window_start < ?').run(now - 60_000);
    // Alerts are kept as long as events; one still to be sent is kept until it is.
    this.stmt('DELETE FROM alerts WHERE created < ? AND next_send_at IS NULL').run(olderThan);
    const attempts = await repeat(() => this.stmt(`DELETE FROM attempts WHERE seq IN (SELECT seq FROM attempts WHERE created < ? ${limitClause(batch)})`).run(olderThan).changes);
    const events = await repeat(() =>
      this.withoutSync(() => {
        // An old event still waiting for a delivery stays until that delivery is finished.
        const ids = this.stmt(
          `SELECT id FROM events e WHERE created < ?
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state IN ('pending', 'in_flight')) ${limitClause(batch)}`,
        )
          .pluck()
          .all(olderThan) as string[];
        if (ids.length === 0) return 0;
        const placeholders = ids.map(() => '?').join(', ');
        this.stmt(`DELETE FROM deliveries WHERE event_id IN (${placeholders})`).run(...ids);
        this.stmt(`DELETE FROM events WHERE id IN (${placeholders})`).run(...ids);
        return ids.length;
      }),
    );
    return { events, attempts, idempotencyKeys };
  }

  // Pagination -------------------------------------------------------------------------------

  /** An event as claims carry it (its data as stored JSON text), or null when it is gone. */
  private claimedEvent(id: string): ClaimedDelivery['event'] | null {
    const row = this.stmt(CLAIMED_EVENT_SELECT).raw().get(id) as unknown[] | undefined;
    return row ? claimedEventOfColumns(row) : null;
  }

  /** Events by id, as claims carry them (for request bodies rendered again: attempt-bodies.ts). */
  private readonly loadEvents = async (ids: string[]): Promise<Map<string, ClaimedDelivery['event']>> => {
    const events = new Map<string, ClaimedDelivery['event']>();
    for (const id of ids) {
      const event = this.claimedEvent(id);
      if (event) events.set(id, event);
    }
    return events;
  };

  /** Stripe's cursor pagination over a table ordered by insertion (`seq`), newest first. */
  private paginate<T>(table: string, where: string, params: Params, page: PageRequest, map: (row: Row) => T, columns = '*'): Page<T> {
    const cursorId = page.startingAfter ?? page.endingBefore;
    let cursorClause = '';
    if (cursorId !== undefined) {
      const seq = this.stmt(`SELECT seq FROM ${table} WHERE id = @cursorId AND ${where}`).pluck().get({ ...params, cursorId }) as number | undefined;
      if (seq === undefined) return { data: [], hasMore: false, missingCursor: true };
      cursorClause = page.startingAfter !== undefined ? ' AND seq < @cursorSeq' : ' AND seq > @cursorSeq';
      params = { ...params, cursorSeq: seq };
    }
    const order = page.endingBefore !== undefined ? 'ASC' : 'DESC';
    const rows = this
      .stmt(`SELECT ${columns}, seq FROM ${table} WHERE ${where}${cursorClause} ORDER BY seq ${order} ${limitClause(page.limit + 1)}`)
      .all(params) as Row[];
    const hasMore = rows.length > page.limit;
    const kept = rows.slice(0, page.limit);
    if (order === 'ASC') kept.reverse();
    return { data: kept.map(map), hasMore };
  }
}

/**
 * An event's automatic deliveries to endpoints not delivered yet (a `herald listen` session is not
 * an endpoint: its reports are logged as deliveries but never count). `pending_webhooks` is counted
 * from these (as on PostgreSQL) rather than kept on the event: a counter there rewrote the whole
 * event row, its data included, each time one of its deliveries succeeded.
 */
function undeliveredOf(eventAlias: string): string {
  return `SELECT 1 FROM deliveries pd WHERE pd.event_id = ${eventAlias}.id AND pd.kind = 'automatic' AND pd.delivered_at IS NULL
    AND pd.endpoint_id NOT LIKE 'lsn\\_%' ESCAPE '\\'`;
}

/** What a claim reads of each delivery it leases, as arrays (`raw()`, as for its events below). */
const LEASED_COLUMNS = 'id, event_id, endpoint_id, kind, attempt_count, schedule_step';
type LeasedRow = [deliveryId: string, eventId: string, endpointId: string, kind: ClaimedDelivery['kind'], attemptNumber: number, scheduleStep: number];

/**
 * An event as claims (and listen sessions) carry it, read as an array of columns in the order
 * `claimedEventOfColumns` takes them, and built at once. Read as a row object (named keys) and
 * turned into a whole event first, it cost 5 µs more per claimed event: a bare store's claim took
 * 19 µs per delivery, now 14.
 */
function claimedEventColumns(alias: string): string {
  return `${CLAIMED_EVENT_TABLE_COLUMNS.map((c) => `${alias}.${c}`).join(', ')}, (SELECT count(*) FROM (${undeliveredOf(alias)}))`;
}
const CLAIMED_EVENT_TABLE_COLUMNS = ['id', 'mode', 'type', 'connected_account', 'api_version', 'created', 'data', 'request_id', 'request_idempotency_key', 'account_api_version', 'object_id', 'object_type', 'related_object_url'];
/** How many columns `claimedEventColumns` reads (the table's and the count): a query's own follow them. */
const CLAIMED_EVENT_COLUMN_COUNT = CLAIMED_EVENT_TABLE_COLUMNS.length + 1;
const CLAIMED_EVENT_SELECT = `SELECT ${claimedEventColumns('events')} FROM events WHERE id = ?`;

/** A whole event's columns, read by name (`toEvent`): the claim's columns, its account and names. */
function eventColumns(alias: string): string {
  return `${alias}.account_id, ${claimedEventColumns(alias)} AS pending_webhooks`;
}
/** The columns of an event row read from `events`. */
const EVENT_COLUMNS = eventColumns('events');

/**
 * A LIMIT written into the statement's text, never bound: SQLite plans with a bound LIMIT's value,
 * so it prepares such a statement again on every run (a claim took 90 µs instead of 22). A literal
 * costs one cached statement per value, and the values are few (batch sizes, page sizes).
 */
function limitClause(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`Invalid LIMIT ${limit}`);
  return `LIMIT ${limit}`;
}

/** The claim's event from the first columns of a row read with `claimedEventColumns`. */
function claimedEventOfColumns(columns: unknown[]): ClaimedDelivery['event'] {
  const [id, mode, type, account, apiVersion, created, data, requestId, idempotencyKey, accountApiVersion, objectId, objectType, objectUrl, pendingWebhooks] = columns;
  return {
    id: id as string,
    mode: mode as Mode,
    type: type as string,
    account: (account as string | null) ?? null,
    apiVersion: apiVersion as string,
    created: created as number,
    request: { id: (requestId as string | null) ?? null, idempotency_key: (idempotencyKey as string | null) ?? null },
    pendingWebhooks: pendingWebhooks as number,
    accountApiVersion: (accountApiVersion as string | null) ?? (apiVersion as string),
    relatedObject: relatedObjectOfColumns(objectId, objectType, objectUrl),
    dataJson: data as string,
  };
}

function toAccount(row: Row): Account {
  return {
    id: row.id as string,
    name: row.name as string,
    applicationId: row.application_id as string,
    defaultApiVersion: row.default_api_version as string,
    created: row.created as number,
  };
}

function toConnectedAccount(row: Row): ConnectedAccount {
  return {
    id: row.id as string,
    platformAccountId: row.platform_account_id as string,
    name: (row.name as string | null) ?? null,
    email: (row.email as string | null) ?? null,
    created: row.created as number,
  };
}

function endpointParams(e: WebhookEndpoint): Params {
  return {
    id: e.id,
    account_id: e.accountId,
    mode: e.mode,
    url: e.url,
    enabled_events: JSON.stringify(e.enabledEvents),
    api_version: e.apiVersion,
    connect: e.connect ? 1 : 0,
    description: e.description,
    metadata: JSON.stringify(e.metadata),
    signature_schemes: e.signatureSchemes.join(','),
    status: e.status,
    disabled_reason: e.disabledReason,
    disabled_at: e.disabledAt,
    failing_since: e.failingSince,
    last_success_at: e.lastSuccessAt,
    created: e.created,
    ...destinationParams(e),
  };
}

function toEndpoint(row: Row): WebhookEndpoint {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    mode: row.mode as Mode,
    url: row.url as string,
    enabledEvents: JSON.parse(row.enabled_events as string) as string[],
    apiVersion: (row.api_version as string | null) ?? null,
    connect: row.connect === 1,
    description: (row.description as string | null) ?? null,
    metadata: JSON.parse(row.metadata as string) as Record<string, string>,
    signatureSchemes: parseSchemes(row.signature_schemes),
    status: row.status === 'disabled' ? 'disabled' : 'enabled',
    disabledReason: (row.disabled_reason as string | null) ?? null,
    disabledAt: (row.disabled_at as number | null) ?? null,
    failingSince: (row.failing_since as number | null) ?? null,
    lastSuccessAt: (row.last_success_at as number | null) ?? null,
    created: row.created as number,
    ...destinationOfRow(row),
  };
}

function toEvent(row: Row): StoredEvent {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    mode: row.mode as Mode,
    type: row.type as string,
    account: (row.connected_account as string | null) ?? null,
    apiVersion: row.api_version as string,
    created: row.created as number,
    data: JSON.parse(row.data as string) as StoredEvent['data'],
    request: { id: (row.request_id as string | null) ?? null, idempotency_key: (row.request_idempotency_key as string | null) ?? null },
    pendingWebhooks: row.pending_webhooks as number,
    ...eventSubjectOfRow(row),
  };
}

function toDeliverySummary(row: Row): DeliverySummary {
  const state = row.state as string;
  const attemptCount = row.attempt_count as number;
  const status = deliveryStatus(state, attemptCount);
  return {
    id: row.id as string,
    eventId: row.event_id as string,
    eventType: row.event_type as string,
    endpointId: row.endpoint_id as string,
    mode: row.mode as Mode,
    kind: row.kind as DeliverySummary['kind'],
    status,
    attemptCount,
    nextAttemptAt: state === 'pending' ? ((row.next_attempt_at as number | null) ?? null) : null,
    created: row.created as number,
    lastAttempt:
      row.a_id === null
        ? null
        : {
            id: row.a_id as string,
            created: row.a_created as number,
            outcome: row.a_outcome as DeliveryAttempt['outcome'],
            httpStatus: (row.a_http_status as number | null) ?? null,
            failureKind: (row.a_failure_kind as DeliveryAttempt['failureKind']) ?? null,
            durationMs: row.a_duration_ms as number,
          },
  };
}

/**
 * An attempt's row, bound by position: recording binds one per delivery, and 21 named parameters
 * cost about 1 µs more each time than positions.
 */
const INSERT_ATTEMPT_SQL = `INSERT INTO attempts (id, delivery_id, event_id, endpoint_id, account_id, mode, kind, attempt_number, url, created,
  duration_ms, outcome, failure_kind, failure_message, http_status, request_headers, response_headers, response_body, next_retry_at, request_body, request_body_pending_webhooks)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The values of INSERT_ATTEMPT_SQL, in its order. */
function attemptValues(a: DeliveryAttempt): unknown[] {
  return [
    a.id,
    a.deliveryId,
    a.eventId,
    a.endpointId,
    a.accountId,
    a.mode,
    a.kind,
    a.attemptNumber,
    a.url,
    a.created,
    a.durationMs,
    a.outcome,
    a.failureKind,
    a.failureMessage,
    a.httpStatus,
    JSON.stringify(a.requestHeaders),
    a.responseHeaders ? JSON.stringify(a.responseHeaders) : null,
    a.responseBody,
    a.nextRetryAt,
    a.requestBody ?? null,
    a.publishedBody?.pendingWebhooks ?? null,
  ];
}

function toAttempt(row: Row): DeliveryAttempt {
  return {
    id: row.id as string,
    deliveryId: row.delivery_id as string,
    eventId: row.event_id as string,
    endpointId: row.endpoint_id as string,
    accountId: row.account_id as string,
    mode: row.mode as Mode,
    kind: row.kind as DeliveryAttempt['kind'],
    attemptNumber: row.attempt_number as number,
    url: row.url as string,
    created: row.created as number,
    durationMs: row.duration_ms as number,
    outcome: row.outcome as DeliveryAttempt['outcome'],
    failureKind: (row.failure_kind as DeliveryAttempt['failureKind']) ?? null,
    failureMessage: (row.failure_message as string | null) ?? null,
    httpStatus: (row.http_status as number | null) ?? null,
    requestHeaders: JSON.parse(row.request_headers as string) as Record<string, string>,
    responseHeaders: row.response_headers ? (JSON.parse(row.response_headers as string) as Record<string, string>) : null,
    responseBody: (row.response_body as string | null) ?? null,
    requestBody: (row.request_body as string | null) ?? null,
    ...(row.request_body_pending_webhooks != null ? { publishedBody: { pendingWebhooks: row.request_body_pending_webhooks as number } } : {}),
    nextRetryAt: (row.next_retry_at as number | null) ?? null,
  };
}

function toListenSession(row: Row): ListenSession {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    mode: row.mode as Mode,
    secret: row.secret as string,
    enabledEvents: JSON.parse(row.enabled_events as string) as string[],
    cursor: row.cursor_seq as number,
    created: row.created as number,
  };
}

function toAlertCandidate(row: Row): AlertCandidate {
  return {
    endpoint: toEndpoint(row),
    alert: { state: ((row.alert_state as AlertState | null) ?? 'ok'), failingSince: (row.alert_failing_since as number | null) ?? null },
  };
}

function toAlert(row: Row): EndpointAlert {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    mode: row.mode as Mode,
    endpointId: row.endpoint_id as string,
    kind: row.kind as EndpointAlert['kind'],
    created: row.created as number,
    subject: row.subject as string,
    body: row.body as string,
    details: JSON.parse(row.details as string) as EndpointAlert['details'],
    delivery: row.delivery as EndpointAlert['delivery'],
    recipient: (row.recipient as string | null) ?? null,
    sendAttempts: row.send_attempts as number,
    lastError: (row.last_error as string | null) ?? null,
    sentAt: (row.sent_at as number | null) ?? null,
  };
}

function parseSchemes(value: unknown): SignatureScheme[] {
  return typeof value === 'string' && value ? (value.split(',') as SignatureScheme[]) : ['stripe'];
}
