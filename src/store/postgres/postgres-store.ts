import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { destinationWants, relatedObjectOf } from '../../domain/destinations.js';
import { destinationOfRow, destinationParams, eventSubjectOfRow, rewriteStoredAwsCredentials } from '../destination-rows.js';
import { newId } from '../../domain/ids.js';
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
  StoredEvent,
  WebhookEndpoint,
} from '../../domain/types.js';
import { DELIVERY_STATUS_SQL, deliveryStatus } from '../delivery-status.js';
import { disableReason } from '../health.js';
import { fairnessBinds } from '../claim-fairness.js';
import { LISTEN_DELIVERY_UPSERT_SQL, listenDeliveryValues } from '../listen-delivery.js';
import { withRequestBodies } from '../attempt-bodies.js';
import { idempotencyOwner, SEALED_PREFIX } from '../secret-encryption.js';
import { judgeStoredKey, proceedVerdict, type StoredIdempotencyKey } from '../idempotency.js';
import type {
  AlertCandidate,
  AlertSendResult,
  AlertState,
  AlertStateRecord,
  ClaimedAlert,
  EndpointAlert,
  AttemptCountBucket,
  AttemptResult,
  AttemptScope,
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
  WakeUpDuty,
} from '../store.js';

type Row = Record<string, any>;
type Queryable = pg.Pool | pg.PoolClient;

const MIGRATIONS_DIR = new URL('../../../src/store/postgres/migrations/', import.meta.url);

/** The channel on which committed work is announced to idle workers of every process. */
const WORK_CHANNEL = 'herald_work';

/** First key of every advisory lock Herald takes ("HRLD"), so they never collide with the application's. */
const LOCK_NAMESPACE = 0x48524c44;
const LOCK_MIGRATIONS = 1;
const LOCK_DEFAULT_ACCOUNT = 2;
/** Held, on its listening session, by the worker on call for wake-ups (watchForWorkOnCall). */
const LOCK_WAKE_UP_DUTY = 3;
/** TCP keepalives of a listening session, on the server's side (see listenForWork). */
const LISTEN_KEEPALIVE_IDLE_S = 10;
const LISTEN_KEEPALIVE_INTERVAL_S = 3;
const LISTEN_KEEPALIVE_COUNT = 3;
/** Per account and mode locks use hashtext(account/mode) as second key, each kind in its own namespace. */
const LOCK_NAMESPACE_ENDPOINT_LIMIT = LOCK_NAMESPACE + 1;

/** Rows deleted per pruning transaction: short enough never to hold up deliveries. */
const PRUNE_BATCH = 1000;
/** Longest time one `prune` call keeps deleting before it lets the next call continue. */
const PRUNE_BUDGET_MS = 2000;

/** BIGINT columns hold milliseconds and counts, all well within a double's exact range. */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PostgresStoreOptions {
  /** Connections in the pool (the URL's `pool_size` parameter wins). LISTEN uses one more. */
  poolSize?: number;
  /** Queue rows this store makes dead (claims, results, releases) between its VACUUMs of the queue. */
  queueVacuumEveryRows?: number;
}

/**
 * Dead queue rows between two VACUUMs of `delivery_queue` by one store. Every claim and result
 * leaves a dead row version and a dead entry in the due indexes, ahead of the live ones (they were
 * due earlier), which each claim's index scan walks past. Autovacuum visits a database at most once
 * a minute (`autovacuum_naptime`): in the benchmark's 15-second phases it never came, 36,000–76,000
 * dead rows piled up, and the database's CPU grew through each phase (docs/performance-history.md).
 */
const QUEUE_VACUUM_EVERY_ROWS = 10_000;

/**
 * A statement of the hot paths (publishing, recording results), prepared once per connection and
 * then only bound and run: PostgreSQL parses and plans it once instead of on every call. Only
 * statements whose plan does not hinge on their values, and whose result columns are named (a
 * prepared `SELECT *` fails once a migration adds a column). The statements that pick the deliveries
 * to claim are not: how many rows their scans meet depends on the backlog, which a plan made once
 * could not follow.
 */
interface HotStatement {
  name: string;
  text: string;
}

/**
 * The shared store: one PostgreSQL database for many API and worker processes. Work is claimed with
 * `FOR UPDATE SKIP LOCKED` under leases, so workers never wait on each other and a dead worker's
 * deliveries come back when its leases expire; a NOTIFY follows each commit that creates work, for
 * idle workers.
 */
export class PostgresStore implements Store {
  private readonly listeners = new Set<() => Promise<void>>();
  private closed = false;
  /** Queue rows made dead by this store since its last VACUUM of the queue (see QUEUE_VACUUM_EVERY_ROWS). */
  private deadQueueRows = 0;
  private queueVacuum: Promise<void> | null = null;
  /** The NOTIFY on its way (announceWork), and whether commits since it was sent want another. */
  private announcement: Promise<void> | null = null;
  private announceAgain = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly connection: pg.ClientConfig,
    /** The URL's `prepared_statements` (true unless `false`: PgBouncer before 1.21 in transaction mode). */
    private readonly prepareHotStatements: boolean,
    private readonly queueVacuumEveryRows: number,
  ) {}

  /** Connects and brings the schema up to date (under an advisory lock, so processes may start together). */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const parsed = new URL(url);
    const poolParam = parsed.searchParams.get('pool_size');
    parsed.searchParams.delete('pool_size');
    const poolSize = poolParam !== null ? Number.parseInt(poolParam, 10) : (options.poolSize ?? 10);
    if (!Number.isInteger(poolSize) || poolSize < 1) throw new Error(`Invalid pool_size '${poolParam}' in the database URL: expected a whole number of at least 1`);
    const preparedParam = parsed.searchParams.get('prepared_statements');
    parsed.searchParams.delete('prepared_statements');
    if (preparedParam !== null && preparedParam !== 'true' && preparedParam !== 'false') {
      throw new Error(`Invalid prepared_statements '${preparedParam}' in the database URL: expected true or false`);
    }
    const connection: pg.ClientConfig = { connectionString: parsed.toString(), application_name: 'herald', types: typeParsers };
    const pool = new pg.Pool({ ...connection, max: poolSize, idleTimeoutMillis: 30_000 });
    // An idle connection that breaks (database restart, network) is dropped by the pool; without a
    // listener the 'error' event would crash the process.
    pool.on('error', () => {});
    const store = new PostgresStore(pool, connection, preparedParam !== 'false', options.queueVacuumEveryRows ?? QUEUE_VACUUM_EVERY_ROWS);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  /** Applies the numbered .sql files not applied yet, each in its own transaction. */
  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCK_MIGRATIONS]);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
        const applied = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => r.version as number));
        const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
        for (const file of files) {
          const version = Number.parseInt(file, 10);
          if (applied.has(version)) continue;
          const sql = readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8');
          await client.query('BEGIN');
          try {
            await client.query(sql);
            await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [version, file, Date.now()]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK');
            throw new Error(`PostgreSQL migration ${file} failed: ${(err as Error).message}`);
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCK_MIGRATIONS]);
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.listeners].map((stop) => stop()));
    await this.queueVacuum;
    while (this.announcement !== null) await this.announcement;
    await this.pool.end();
  }

  /**
   * Counts `rows` queue rows made dead, and vacuums the queue once there are enough, in the
   * background. SKIP_LOCKED: a VACUUM of another process already under way is enough. Index
   * cleanup is forced: the dead entries of the due indexes are what claims pay for, and VACUUM may
   * otherwise leave indexes alone when few heap pages hold dead rows. TRUNCATE OFF: the table fills
   * again, and giving back its empty tail takes a lock that stops claims and publishes (VACUUM took
   * 37–226 ms with it, 10–25 ms without). A failure (a role that does not own the table) leaves the
   * queue to autovacuum: claims are only slower.
   */
  private queueRowsDied(rows: number): void {
    this.deadQueueRows += rows;
    if (this.deadQueueRows < this.queueVacuumEveryRows || this.queueVacuum !== null || this.closed) return;
    this.deadQueueRows = 0;
    this.queueVacuum = this.pool
      .query('VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, TRUNCATE OFF) delivery_queue')
      .then(
        () => {},
        () => {},
      )
      .finally(() => (this.queueVacuum = null));
  }

  /**
   * Wakes the idle workers and listen streams of every process (watchForWork), after a commit that
   * made work: with a NOTIFY of its own, not one inside the commit. PostgreSQL lets one committing
   * transaction that has NOTIFYed at a time hold its notification queue, until that commit has
   * reached the disk: publishes that notified committed one after another, each waiting for its
   * own disk flush, instead of sharing flushes. This NOTIFY commits without waiting for the disk
   * (a lost one only delays work until the next poll) and so holds the queue for microseconds.
   * One is sent at a time: commits made while it is on its way ask for one more after it.
   */
  private announceWork(): void {
    if (this.closed) return;
    if (this.announcement !== null) {
      this.announceAgain = true;
      return;
    }
    this.announcement = this.runHot(this.pool, ANNOUNCE_WORK, [])
      .then(
        () => {},
        () => {}, // the pollers are the fallback
      )
      .finally(() => {
        this.announcement = null;
        if (!this.announceAgain) return;
        this.announceAgain = false;
        this.announceWork();
      });
  }

  /** Runs a hot statement: by name, so each connection prepares it once (see HotStatement). */
  private runHot(db: Queryable, statement: HotStatement, values: unknown[]): Promise<pg.QueryResult> {
    return db.query(this.prepareHotStatements ? { name: statement.name, text: statement.text, values } : { text: statement.text, values });
  }

  /**
   * Runs `work` in one transaction. A deadlock or serialization failure (two processes touching
   * the same rows in another order) is retried: the transaction was rolled back whole.
   */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        const code = (err as { code?: string }).code;
        if (attempt < 5 && (code === '40P01' || code === '40001')) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  // Work notifications -----------------------------------------------------------------------

  /**
   * Calls `onWork` whenever another process commits new due work (LISTEN on a session of its own:
   * behind PgBouncer this connection must bypass transaction pooling). Reconnects after errors and
   * calls `onWork` then, since notifications may have been missed. Returns the unsubscribe function.
   */
  watchForWork(onWork: () => void): () => void {
    return this.listenForWork({ connected: onWork, notified: onWork, lost: () => {} });
  }

  /**
   * Wake-ups for one idle worker of all processes at a time. Every announcement used to wake every
   * worker: all claimed at once, SKIP LOCKED gave the rows to one, and the others came back empty
   * (half the claims with 2 workers at 2,000 events/s, each planned and run for nothing). The
   * worker on call holds a session advisory lock on its listening session, which PostgreSQL
   * releases if that session or its process dies; the others only try to take it when an
   * announcement comes, a round trip instead of a claim. A worker that can take no more hands the
   * duty on and announces the work again, so an idle worker takes it over; it competes again once
   * a claim of its own takes all the due work. Workers not on call still claim at their polls.
   */
  watchForWorkOnCall(onWork: () => void): WakeUpDuty {
    let session: pg.Client | null = null;
    let onCall = false;
    /** False from a full claim until a claim takes all the due work: a busy worker does not take the duty. */
    let eligible = true;
    let taking = false;
    const handOff = (client: pg.Client) => {
      onCall = false;
      client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCK_WAKE_UP_DUTY]).then(
        () => this.announceWork(),
        () => {}, // the session is lost, and the lock with it
      );
    };
    const takeDuty = async (client: pg.Client) => {
      if (taking || !eligible) return;
      taking = true;
      try {
        const { rows } = await client.query('SELECT pg_try_advisory_lock($1, $2) AS taken', [LOCK_NAMESPACE, LOCK_WAKE_UP_DUTY]);
        if (!rows[0].taken || client !== session) return;
        onCall = true;
        // A full claim while the lock was being taken.
        if (!eligible) return handOff(client);
        onWork();
      } catch {
        // The session is lost: reconnecting tries again.
      } finally {
        taking = false;
      }
    };
    const stop = this.listenForWork({
      connected: (client) => {
        session = client;
        onWork(); // notifications may have been missed
        void takeDuty(client);
      },
      notified: (client) => {
        if (onCall) onWork();
        else void takeDuty(client);
      },
      lost: () => {
        session = null;
        onCall = false;
      },
    });
    return {
      claimed: (full) => {
        eligible = !full;
        if (full && onCall && session) handOff(session);
      },
      stop,
    };
  }

  /** A session of its own that LISTENs for announcements of work, and reconnects after errors. */
  private listenForWork(events: { connected(client: pg.Client): void; notified(client: pg.Client): void; lost(): void }): () => void {
    let client: pg.Client | null = null;
    let stopped = false;
    let retryTimer: NodeJS.Timeout | null = null;
    const connect = async () => {
      if (stopped) return;
      const next = new pg.Client(this.connection);
      next.on('notification', () => events.notified(next));
      next.on('error', () => reconnect(next));
      next.on('end', () => reconnect(next));
      client = next;
      try {
        await next.connect();
        // The server drops this session within about 20 s of its client vanishing (a machine lost,
        // not a process: a process's exit closes the connection at once), instead of the
        // operating system's two hours, and so gives up the wake-up duty held on it.
        await next.query(`SET tcp_keepalives_idle = ${LISTEN_KEEPALIVE_IDLE_S}; SET tcp_keepalives_interval = ${LISTEN_KEEPALIVE_INTERVAL_S}; SET tcp_keepalives_count = ${LISTEN_KEEPALIVE_COUNT}; LISTEN ${WORK_CHANNEL}`);
        events.connected(next);
      } catch {
        reconnect(next);
      }
    };
    const reconnect = (failed: pg.Client) => {
      if (stopped || client !== failed || retryTimer) return;
      client = null;
      events.lost();
      failed.end().catch(() => {});
      retryTimer = setTimeout(() => {
        retryTimer = null;
        void connect();
      }, 1000);
      retryTimer.unref();
    };
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      this.listeners.delete(stop);
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = null;
      events.lost();
      await current?.end().catch(() => {});
    };
    this.listeners.add(stop);
    void connect();
    return () => void stop();
  }

  // Accounts and keys ------------------------------------------------------------------------

  async ensureDefaultAccount(init: Account): Promise<{ account: Account; created: boolean }> {
    return this.transaction(async (c) => {
      // Processes starting together on an empty database must agree on one default account.
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCK_DEFAULT_ACCOUNT]);
      const existing = await c.query('SELECT * FROM accounts WHERE is_default');
      if (existing.rows[0]) return { account: toAccount(existing.rows[0]), created: false };
      await insertAccount(c, init, true);
      return { account: init, created: true };
    });
  }

  async createAccount(account: Account): Promise<void> {
    await insertAccount(this.pool, account, false);
  }

  async getAccount(id: string): Promise<Account | null> {
    const { rows } = await this.pool.query('SELECT * FROM accounts WHERE id = $1', [id]);
    return rows[0] ? toAccount(rows[0]) : null;
  }

  async listAccounts(): Promise<Account[]> {
    const { rows } = await this.pool.query('SELECT * FROM accounts ORDER BY created, id');
    return rows.map(toAccount);
  }

  async setApiKey(accountId: string, mode: Mode, keyHash: string, now: Millis): Promise<void> {
    await this.transaction(async (c) => {
      await c.query("DELETE FROM api_keys WHERE account_id = $1 AND mode = $2 AND kind = 'secret'", [accountId, mode]);
      await c.query(
        `INSERT INTO api_keys (key_hash, account_id, mode, created, kind) VALUES ($1, $2, $3, $4, 'secret')
         ON CONFLICT (key_hash) DO UPDATE SET account_id = EXCLUDED.account_id, mode = EXCLUDED.mode, created = EXCLUDED.created, kind = 'secret'`,
        [keyHash, accountId, mode, now],
      );
    });
  }

  async setDefaultApiVersion(accountId: string, version: string): Promise<boolean> {
    const result = await this.pool.query('UPDATE accounts SET default_api_version = $1 WHERE id = $2', [version, accountId]);
    return result.rowCount === 1;
  }

  async addRestrictedApiKey(accountId: string, mode: Mode, keyHash: string, now: Millis): Promise<void> {
    await this.pool.query("INSERT INTO api_keys (key_hash, account_id, mode, created, kind) VALUES ($1, $2, $3, $4, 'restricted')", [keyHash, accountId, mode, now]);
  }

  async findApiKeyOwner(keyHash: string): Promise<ApiKeyOwner | null> {
    const { rows } = await this.pool.query('SELECT account_id, mode, kind FROM api_keys WHERE key_hash = $1', [keyHash]);
    return rows[0] ? { accountId: rows[0].account_id, mode: rows[0].mode, kind: rows[0].kind === 'restricted' ? 'restricted' : 'secret' } : null;
  }

  // Connected accounts -----------------------------------------------------------------------

  async ensureConnectedAccount(account: ConnectedAccount): Promise<{ account: ConnectedAccount; created: boolean }> {
    // One statement: two processes registering the same id at once both end with the one row.
    const inserted = await this.pool.query(
      `INSERT INTO connected_accounts (platform_account_id, id, name, email, created) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (platform_account_id, id) DO NOTHING RETURNING *`,
      [account.platformAccountId, account.id, account.name, account.email, account.created],
    );
    if (inserted.rows[0]) return { account: toConnectedAccount(inserted.rows[0]), created: true };
    return { account: (await this.getConnectedAccount(account.platformAccountId, account.id))!, created: false };
  }

  async getConnectedAccount(platformAccountId: string, id: string): Promise<ConnectedAccount | null> {
    const { rows } = await this.pool.query('SELECT * FROM connected_accounts WHERE platform_account_id = $1 AND id = $2', [platformAccountId, id]);
    return rows[0] ? toConnectedAccount(rows[0]) : null;
  }

  async listConnectedAccounts(platformAccountId: string, page: PageRequest): Promise<Page<ConnectedAccount>> {
    return this.paginate('connected_accounts', '*', 'platform_account_id = $1', [platformAccountId], page, toConnectedAccount);
  }

  // Signing secrets at rest ------------------------------------------------------------------

  /**
   * After a rewrite that changed rows, the secret tables are rewritten (VACUUM FULL: small tables, a
   * brief exclusive lock) so the replaced values do not linger in dead row versions. The kept
   * responses' table (up to a day of idempotent requests) only gets a plain VACUUM, which does not
   * block requests: its replaced bodies stay in free space until reused, and expire within 24 h.
   */
  async rewriteSecrets(rewrite: (stored: string, ownerId: string) => string, options: { responses?: 'all' | 'sealed' | 'plaintext' } = {}): Promise<number> {
    const changed = await this.rewriteSecretRows(rewrite, options.responses ?? 'all');
    if (changed > 0) {
      await this.pool.query('VACUUM FULL endpoint_secrets, listen_sessions');
      await this.pool.query('VACUUM idempotency_keys');
    }
    return changed;
  }

  private async rewriteSecretRows(rewrite: (stored: string, ownerId: string) => string, responses: 'all' | 'sealed' | 'plaintext'): Promise<number> {
    return this.transaction(async (c) => {
      // Locked for the whole rewrite: a secret rolled meanwhile cannot slip past it unconverted.
      await c.query('LOCK TABLE endpoint_secrets, listen_sessions IN SHARE ROW EXCLUSIVE MODE');
      let changed = 0;
      for (const row of (await c.query('SELECT seq, endpoint_id, secret FROM endpoint_secrets')).rows) {
        const next = rewrite(row.secret, row.endpoint_id);
        if (next !== row.secret) changed += (await c.query('UPDATE endpoint_secrets SET secret = $1 WHERE seq = $2', [next, row.seq])).rowCount ?? 0;
      }
      for (const row of (await c.query('SELECT id, aws_credentials FROM endpoints WHERE aws_credentials IS NOT NULL FOR UPDATE')).rows) {
        const next = rewriteStoredAwsCredentials(row.aws_credentials, row.id, rewrite);
        if (next !== row.aws_credentials) changed += (await c.query('UPDATE endpoints SET aws_credentials = $1 WHERE id = $2', [next, row.id])).rowCount ?? 0;
      }
      for (const row of (await c.query('SELECT id, secret FROM listen_sessions')).rows) {
        const next = rewrite(row.secret, row.id);
        if (next !== row.secret) changed += (await c.query('UPDATE listen_sessions SET secret = $1 WHERE id = $2', [next, row.id])).rowCount ?? 0;
      }
      const sealed = { all: '', sealed: ' AND starts_with(body, $1)', plaintext: ' AND NOT starts_with(body, $1)' }[responses];
      const kept = await c.query(`SELECT account_id, mode, key, body FROM idempotency_keys WHERE body IS NOT NULL${sealed} FOR UPDATE`, sealed ? [SEALED_PREFIX] : []);
      for (const row of kept.rows) {
        const next = rewrite(row.body, idempotencyOwner(row.account_id, row.mode, row.key));
        if (next !== row.body) {
          changed += (await c.query('UPDATE idempotency_keys SET body = $1 WHERE account_id = $2 AND mode = $3 AND key = $4', [next, row.account_id, row.mode, row.key])).rowCount ?? 0;
        }
      }
      return changed;
    });
  }

  // Endpoints --------------------------------------------------------------------------------

  async createEndpoint(endpoint: WebhookEndpoint, secret: EndpointSecret, max: number): Promise<'created' | 'limit_reached'> {
    return this.transaction(async (c) => {
      // Counting and inserting must not interleave with another process doing the same for this
      // account and mode, or both could pass the limit check.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE_ENDPOINT_LIMIT, `${endpoint.accountId}/${endpoint.mode}`]);
      const { rows } = await c.query("SELECT COUNT(*) AS n FROM endpoints WHERE account_id = $1 AND mode = $2 AND status != 'deleted'", [endpoint.accountId, endpoint.mode]);
      if ((rows[0].n as number) >= max) return 'limit_reached' as const;
      await c.query(
        `INSERT INTO endpoints (id, account_id, mode, url, enabled_events, api_version, connect, description, metadata, status,
           disabled_reason, disabled_at, failing_since, last_success_at, created, signature_schemes,
           type, name, event_payload, events_from, aws_account_id, aws_region, aws_event_bus, aws_credentials, updated)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
        [
          endpoint.id, endpoint.accountId, endpoint.mode, endpoint.url, endpoint.enabledEvents, endpoint.apiVersion, endpoint.connect,
          endpoint.description, JSON.stringify(endpoint.metadata), endpoint.status, endpoint.disabledReason, endpoint.disabledAt,
          endpoint.failingSince, endpoint.lastSuccessAt, endpoint.created, endpoint.signatureSchemes.join(','),
          ...destinationValues(endpoint),
        ],
      );
      await c.query('INSERT INTO endpoint_secrets (endpoint_id, secret, created, expires_at) VALUES ($1, $2, $3, $4)', [endpoint.id, secret.secret, secret.created, secret.expiresAt]);
      return 'created' as const;
    });
  }

  async getEndpoint(accountId: string, mode: Mode, id: string): Promise<WebhookEndpoint | null> {
    const { rows } = await this.pool.query("SELECT * FROM endpoints WHERE id = $1 AND account_id = $2 AND mode = $3 AND status != 'deleted'", [id, accountId, mode]);
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  async findEndpointMode(accountId: string, id: string): Promise<Mode | null> {
    const { rows } = await this.pool.query("SELECT mode FROM endpoints WHERE id = $1 AND account_id = $2 AND status != 'deleted'", [id, accountId]);
    return (rows[0]?.mode as Mode | undefined) ?? null;
  }

  async updateEndpoint(endpoint: WebhookEndpoint): Promise<boolean> {
    const d = destinationParams(endpoint);
    const result = await this.pool.query(
      `UPDATE endpoints SET url = $4, enabled_events = $5, description = $6, metadata = $7, status = $8, disabled_reason = $9,
         disabled_at = $10, failing_since = $11, signature_schemes = $12, name = $13, aws_account_id = $14, aws_region = $15,
         aws_event_bus = $16, aws_credentials = $17, updated = $18
       WHERE id = $1 AND account_id = $2 AND mode = $3 AND status != 'deleted'`,
      [
        endpoint.id, endpoint.accountId, endpoint.mode, endpoint.url, endpoint.enabledEvents, endpoint.description,
        JSON.stringify(endpoint.metadata), endpoint.status, endpoint.disabledReason, endpoint.disabledAt, endpoint.failingSince,
        endpoint.signatureSchemes.join(','),
        d.name, d.aws_account_id, d.aws_region, d.aws_event_bus, d.aws_credentials, d.updated,
      ],
    );
    return result.rowCount === 1;
  }

  async deleteEndpoint(accountId: string, mode: Mode, id: string, now: Millis): Promise<boolean> {
    return this.transaction(async (c) => {
      const result = await c.query(
        "UPDATE endpoints SET status = 'deleted', disabled_at = $1 WHERE id = $2 AND account_id = $3 AND mode = $4 AND status != 'deleted'",
        [now, id, accountId, mode],
      );
      if (result.rowCount === 0) return false;
      // Pending work for a deleted endpoint is dropped; what is in flight finishes and is recorded.
      await c.query(CANCEL_WAITING_SQL, [id]);
      await c.query('DELETE FROM endpoint_secrets WHERE endpoint_id = $1', [id]);
      return true;
    });
  }

  async listEndpoints(accountId: string, mode: Mode, page: PageRequest, filter: EndpointFilter = {}): Promise<Page<WebhookEndpoint>> {
    if (filter.type) {
      return this.paginate('endpoints', '*', "account_id = $1 AND mode = $2 AND status != 'deleted' AND type = $3", [accountId, mode, filter.type], page, toEndpoint);
    }
    return this.paginate('endpoints', '*', "account_id = $1 AND mode = $2 AND status != 'deleted'", [accountId, mode], page, toEndpoint);
  }

  async activeSecrets(endpointId: string, now: Millis): Promise<EndpointSecret[]> {
    const { rows } = await this.pool.query(
      'SELECT secret, created, expires_at FROM endpoint_secrets WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created DESC, seq DESC',
      [endpointId, now],
    );
    return rows.map((r: Row) => ({ secret: r.secret, created: r.created, expiresAt: r.expires_at ?? null }));
  }

  async rollSecret(endpointId: string, secret: EndpointSecret, oldExpiresAt: Millis): Promise<void> {
    await this.transaction(async (c) => {
      // Two rolls at once must not both see the same current secret: the endpoint row serializes them.
      await c.query('SELECT 1 FROM endpoints WHERE id = $1 FOR UPDATE', [endpointId]);
      // Only the current secret gets the new expiry; an older secret keeps its own (earlier) one.
      await c.query('UPDATE endpoint_secrets SET expires_at = $1 WHERE endpoint_id = $2 AND expires_at IS NULL', [oldExpiresAt, endpointId]);
      await c.query('DELETE FROM endpoint_secrets WHERE endpoint_id = $1 AND expires_at <= $2', [endpointId, secret.created]);
      await c.query('INSERT INTO endpoint_secrets (endpoint_id, secret, created, expires_at) VALUES ($1, $2, $3, NULL)', [endpointId, secret.secret, secret.created]);
    });
  }

  // Events -----------------------------------------------------------------------------------

  async publishEvents(events: PublishedEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    const owners = [...new Set(events.map((e) => `${e.accountId}/${e.mode}`))].sort();
    const endpointsByOwner = new Map<string, { id: string; enabledEvents: string[]; connect: boolean; eventsFrom: string[] }[]>();
    for (const owner of owners) {
      const [accountId, mode] = [owner.slice(0, owner.lastIndexOf('/')), owner.slice(owner.lastIndexOf('/') + 1)];
      const { rows } = await this.runHot(this.pool, PUBLISH_TARGETS, [accountId, mode]);
      endpointsByOwner.set(owner, rows.map((r: Row) => ({ id: r.id as string, enabledEvents: r.enabled_events as string[], connect: r.connect as boolean, eventsFrom: (r.events_from as string).split(',') })));
    }
    const stored: StoredEvent[] = [];
    const dataJsons: string[] = [];
    const deliveries: { id: string; eventId: string; endpointId: string; accountId: string; mode: Mode; created: Millis }[] = [];
    for (const event of events) {
      const endpoints = endpointsByOwner.get(`${event.accountId}/${event.mode}`) ?? [];
      const targets = event.onlyEndpointId !== undefined ? endpoints.filter((e) => e.id === event.onlyEndpointId) : endpoints.filter((e) => destinationWants(e, event));
      for (const target of targets) {
        deliveries.push({ id: newId.delivery(), eventId: event.id, endpointId: target.id, accountId: event.accountId, mode: event.mode, created: event.created });
      }
      const { onlyEndpointId: _only, dataJson, ...rest } = event;
      dataJsons.push(dataJson ?? JSON.stringify(event.data));
      stored.push({ ...rest, accountApiVersion: event.accountApiVersion ?? event.apiVersion, relatedObject: relatedObjectOf(event), pendingWebhooks: targets.length });
    }
    // One statement, so one implicit transaction and one round trip; publishers in several
    // processes run side by side. A seq is taken at insert and becomes visible at commit, so events
    // may become visible slightly out of seq order: the listen hub, which follows the log by seq,
    // keeps its cursor behind young events for that reason (src/listen/hub.ts). Announced even
    // without deliveries: listen streams want every new event.
    await this.runHot(
      this.pool,
      PUBLISH_EVENTS,
      [
        stored.map((e) => e.id), stored.map((e) => e.accountId), stored.map((e) => e.mode), stored.map((e) => e.type), stored.map((e) => e.account),
        stored.map((e) => e.apiVersion), stored.map((e) => e.created), dataJsons, stored.map((e) => e.request.id),
        stored.map((e) => e.request.idempotency_key),
        deliveries.map((d) => d.id), deliveries.map((d) => d.eventId), deliveries.map((d) => d.endpointId), deliveries.map((d) => d.accountId),
        deliveries.map((d) => d.mode), deliveries.map((d) => d.created),
        stored.map((e) => e.accountApiVersion), stored.map((e) => e.relatedObject?.id ?? null), stored.map((e) => e.relatedObject?.type ?? null),
        stored.map((e) => e.relatedObject?.url ?? null),
      ],
    );
    this.announceWork();
    return stored;
  }

  async getEvent(accountId: string, mode: Mode, id: string): Promise<StoredEvent | null> {
    const { rows } = await this.pool.query(`SELECT ${eventColumns('events')} FROM events WHERE id = $1 AND account_id = $2 AND mode = $3`, [id, accountId, mode]);
    return rows[0] ? toEvent(rows[0]) : null;
  }

  async latestEventAbout(accountId: string, mode: Mode, object: { type: string; id: string }): Promise<StoredEvent | null> {
    const { rows } = await this.pool.query(
      `SELECT ${eventColumns('events')} FROM events WHERE account_id = $1 AND mode = $2 AND object_id = $3 AND object_type = $4 ORDER BY seq DESC LIMIT 1`,
      [accountId, mode, object.id, object.type],
    );
    return rows[0] ? toEvent(rows[0]) : null;
  }

  async findEventMode(accountId: string, id: string): Promise<Mode | null> {
    const { rows } = await this.pool.query('SELECT mode FROM events WHERE id = $1 AND account_id = $2', [id, accountId]);
    return (rows[0]?.mode as Mode | undefined) ?? null;
  }

  async listEvents(accountId: string, mode: Mode, filter: EventFilter, page: PageRequest): Promise<Page<StoredEvent>> {
    const params: unknown[] = [accountId, mode, filter.notBefore];
    const where = ['account_id = $1', 'mode = $2', 'created >= $3'];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (filter.type !== undefined) {
      if (filter.type.includes('*')) {
        where.push(`type LIKE ${param(filter.type.replace(/[\\%_]/g, (ch) => `\\${ch}`).replaceAll('*', '%'))} ESCAPE '\\'`);
      } else {
        where.push(`type = ${param(filter.type)}`);
      }
    }
    if (filter.types !== undefined) where.push(`type = ANY(${param(filter.types)}::text[])`);
    if (filter.objectId !== undefined) where.push(`object_id = ${param(filter.objectId)}`);
    if (filter.createdGte !== undefined) where.push(`created >= ${param(filter.createdGte)}`);
    if (filter.createdLt !== undefined) where.push(`created < ${param(filter.createdLt)}`);
    if (filter.deliverySuccess !== undefined) where.push(`${filter.deliverySuccess ? 'NOT ' : ''}EXISTS (${undeliveredOf('events')})`);
    if (filter.connectedAccount !== undefined) where.push(`connected_account = ${param(filter.connectedAccount)}`);
    return this.paginate('events', eventColumns('events'), where.join(' AND '), params, page, toEvent);
  }

  // Deliveries -------------------------------------------------------------------------------

  async claimDueDeliveries(now: Millis, limit: number, leaseMs: number, fairness?: ClaimFairness): Promise<ClaimedDelivery[]> {
    const leaseToken = randomBytes(12).toString('hex');
    // One statement, committed on its own: the rows are locked only while it runs. SKIP LOCKED:
    // workers claiming at the same moment take disjoint batches instead of queueing behind each
    // other. An in-flight row whose lease ran out is due again (its worker died).
    const claimed = fairnessBinds(fairness, limit)
      ? await this.pool.query(CLAIM_FAIR_SQL, [now, limit, now + leaseMs, leaseToken, [...fairness.inFlight.keys()], [...fairness.inFlight.values()], fairness.perEndpoint])
      : await this.pool.query(CLAIM_DUE_SQL, [now, limit, now + leaseMs, leaseToken]);
    if (claimed.rows.length === 0) return [];
    this.queueRowsDied(claimed.rows.length);
    const endpointIds = [...new Set(claimed.rows.map((r: Row) => r.endpoint_id as string))];
    const endpointRows = await this.pool.query("SELECT * FROM endpoints WHERE id = ANY($1) AND status = 'enabled'", [endpointIds]);
    const secretRows = await this.runHot(this.pool, CLAIMED_SECRETS, [endpointIds, now]);
    const secrets = new Map<string, string[]>();
    for (const r of secretRows.rows) secrets.set(r.endpoint_id, [...(secrets.get(r.endpoint_id) ?? []), r.secret]);
    const endpoints = new Map<string, WebhookEndpoint>(endpointRows.rows.map((r: Row) => [r.id as string, toEndpoint(r)]));

    const claims: ClaimedDelivery[] = [];
    const cancelled: string[] = [];
    // Claims of one event share one object, so the worker serialises its body once (see worker.ts).
    const events = new Map<string, ClaimedDelivery['event']>();
    for (const row of claimed.rows) {
      const endpoint = endpoints.get(row.endpoint_id);
      // The endpoint was disabled or deleted (or the event pruned) before this attempt fell due:
      // the attempt is dropped, as Stripe drops retries for disabled endpoints.
      if (!endpoint || row.id === null) {
        cancelled.push(row.delivery_id);
        continue;
      }
      claims.push({
        deliveryId: row.delivery_id,
        leaseToken,
        kind: row.kind,
        attemptNumber: row.attempt_count,
        scheduleStep: row.schedule_step,
        event: events.get(row.id) ?? events.set(row.id, toClaimedEvent(row)).get(row.id)!,
        endpoint,
        secrets: secrets.get(endpoint.id) ?? [],
      });
    }
    if (cancelled.length > 0) await this.pool.query(CANCEL_CLAIMED_SQL, [cancelled, leaseToken]);
    return claims;
  }

  async recordAttempts(results: AttemptResult[], policy: HealthPolicy): Promise<RecordOutcome> {
    if (results.length === 0) return { disabled: [] };
    const attempts = results.map((r) => r.attempt);
    // Most batches change no endpoint's health state (healthy endpoints succeeding again, failing
    // ones failing again): they are recorded without waiting on any endpoint row, so workers never
    // queue behind each other. Moving `lastSuccessAt` forward commutes, so it is done on the rows
    // nobody else holds at this moment (SKIP LOCKED); whoever holds one is writing a success too.
    const endpointIds = [...new Set(attempts.map((a) => a.endpointId))].sort();
    const seen = await this.runHot(this.pool, ENDPOINT_HEALTH, [endpointIds]);
    const preview = replayHealth(seen.rows, results, policy);
    if (!preview.transitions) {
      await this.recordResults(this.pool, results);
      if (preview.changed.length > 0) {
        await this.pool.query(
          `UPDATE endpoints e SET last_success_at = GREATEST(COALESCE(e.last_success_at, 0), u.at)
           FROM unnest($1::text[], $2::bigint[]) AS u(id, at)
           WHERE e.id = ANY(ARRAY(SELECT id FROM endpoints WHERE id = ANY($1) FOR UPDATE SKIP LOCKED)) AND e.id = u.id`,
          [preview.changed.map((h) => h.id), preview.changed.map((h) => h.last_success_at)],
        );
      }
      return { disabled: [] };
    }
    return this.transaction(async (c) => {
      const locked = await c.query(`SELECT ${HEALTH_COLUMNS} FROM endpoints WHERE id = ANY($1) ORDER BY id FOR UPDATE`, [endpointIds]);
      const { changed, disabled } = replayHealth(locked.rows, results, policy);
      await this.recordResults(c, results);
      // This transaction changes an endpoint's health (a disabling is reported, and alerted): it
      // waits for the disk, whatever the recording statement set.
      await c.query('SET LOCAL synchronous_commit = on');
      if (changed.length > 0) {
        await c.query(
          `UPDATE endpoints e SET status = u.status, failing_since = u.failing_since, last_success_at = u.last_success_at,
             disabled_reason = u.disabled_reason, disabled_at = u.disabled_at
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[])
             AS u(id, status, failing_since, last_success_at, disabled_reason, disabled_at)
           WHERE e.id = ANY($1) AND e.id = u.id`,
          [changed.map((h) => h.id), changed.map((h) => h.status), changed.map((h) => h.failing_since), changed.map((h) => h.last_success_at), changed.map((h) => h.disabled_reason), changed.map((h) => h.disabled_at)],
        );
      }
      return { disabled };
    });
  }

  /**
   * Logs the attempts and moves their deliveries on, in one statement. Every attempt is logged,
   * even one whose lease was lost (the request was really sent), but the lease token fences: a
   * worker whose lease expired and was re-claimed moves nothing. Batch statements join an unnest()
   * of the batch with `= ANY(ids)` as well: without it the planner, blind to unnest(), may hash the
   * whole table, and each batch would cost time proportional to the queue's size.
   */
  private async recordResults(db: Queryable, results: AttemptResult[]): Promise<void> {
    this.queueRowsDied(results.length);
    const attempts = results.map((r) => r.attempt);
    const moved = await this.runHot(
      db,
      RECORD_RESULTS,
      [
        ...attemptColumns(attempts),
        results.map((r) => r.claim.deliveryId), results.map((r) => r.claim.leaseToken), results.map((r) => r.next.state),
        results.map((r) => (r.next.state === 'pending' ? r.next.at : null)),
        results.map((r) => (r.next.state === 'pending' ? r.next.scheduleStep : r.claim.scheduleStep)),
        attempts.map((a) => a.outcome === 'succeeded'), attempts.map((a) => a.created),
      ],
    );
    // A success by a resend, or by a worker that lost its lease, still delivered the event to the
    // endpoint: it marks the pair's automatic delivery as delivered.
    const movedAutomatic = new Set(moved.rows.filter((r: Row) => r.kind === 'automatic').map((r: Row) => r.id as string));
    const others = results.filter((r) => r.attempt.outcome === 'succeeded' && !movedAutomatic.has(r.claim.deliveryId)).map((r) => r.attempt);
    if (others.length > 0) {
      const eventIds = others.map((a) => a.eventId);
      const endpointIds = others.map((a) => a.endpointId);
      // The queue first, as claims lock it first: the pair no longer counts in pending_webhooks.
      await db.query(MARK_QUEUED_DELIVERED_SQL, [eventIds, endpointIds]);
      await db.query(
        `UPDATE deliveries d SET delivered_at = u.at
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(event_id, endpoint_id, at)
         WHERE d.event_id = ANY($1) AND d.event_id = u.event_id AND d.endpoint_id = u.endpoint_id AND d.kind = 'automatic' AND d.delivered_at IS NULL`,
        [eventIds, endpointIds, others.map((a) => a.created)],
      );
    }
  }

  async releaseDeliveries(claims: { deliveryId: string; leaseToken: string }[], now: Millis): Promise<void> {
    if (claims.length === 0) return;
    this.queueRowsDied(claims.length);
    await this.transaction(async (c) => {
      await c.query(
        `WITH released AS (
           UPDATE delivery_queue q SET next_attempt_at = $3, lease_token = NULL
           FROM unnest($1::text[], $2::text[]) AS u(id, token)
           WHERE q.delivery_id = ANY($1) AND q.delivery_id = u.id AND q.lease_token = u.token
           RETURNING q.delivery_id
         )
         UPDATE deliveries SET state = 'pending', next_attempt_at = $3, attempt_count = attempt_count - 1
         WHERE id = ANY(ARRAY(SELECT delivery_id FROM released))`,
        [claims.map((cl) => cl.deliveryId), claims.map((cl) => cl.leaseToken), now],
      );
    });
    this.announceWork();
  }

  async nextDueTime(): Promise<Millis | null> {
    const { rows } = await this.runHot(this.pool, NEXT_DUE, []);
    return (rows[0]?.due as number | null) ?? null;
  }

  async enqueueManualDelivery(eventId: string, endpoint: WebhookEndpoint, now: Millis): Promise<void> {
    await this.transaction(async (c) => {
      const id = newId.delivery();
      await c.query(
        `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, next_attempt_at, created)
         VALUES ($1, $2, $3, $4, $5, 'manual', 'pending', $6, $6)`,
        [id, eventId, endpoint.id, endpoint.accountId, endpoint.mode, now],
      );
      await c.query('INSERT INTO delivery_queue (delivery_id, event_id, endpoint_id, next_attempt_at, undelivered) VALUES ($1, $2, $3, $4, FALSE)', [id, eventId, endpoint.id, now]);
    });
    this.announceWork();
  }

  async recoverEvents(endpoint: WebhookEndpoint, window: { since: Millis; until: Millis }, now: Millis, dryRun: boolean): Promise<number> {
    const recovered = await this.transaction(async (c) => {
      // Two recoveries of one endpoint at once would queue the same events twice.
      if (!dryRun) await c.query('SELECT 1 FROM endpoints WHERE id = $1 FOR UPDATE', [endpoint.id]);
      const { rows } = await c.query(
        `SELECT e.id, e.type, e.connected_account, d.id AS delivery_id
         FROM events e LEFT JOIN deliveries d ON d.event_id = e.id AND d.endpoint_id = $1 AND d.kind = 'automatic'
         WHERE e.account_id = $2 AND e.mode = $3 AND e.created >= $4 AND e.created < $5
           AND (d.id IS NULL OR (d.delivered_at IS NULL AND d.state != 'in_flight'))`,
        [endpoint.id, endpoint.accountId, endpoint.mode, window.since, window.until],
      );
      const wanted = rows.filter((r: Row) => destinationWants(endpoint, { type: r.type as string, account: (r.connected_account as string | null) ?? null }));
      if (dryRun || wanted.length === 0) return wanted.length;
      const rearm = wanted.filter((r: Row) => r.delivery_id);
      const rearmIds = rearm.map((r: Row) => r.delivery_id as string);
      const fresh = wanted.filter((r: Row) => !r.delivery_id).map((r: Row) => r.id as string);
      if (rearm.length > 0) {
        // Its queue row is there (an undelivered automatic delivery keeps one), unless in flight
        // since the look above: a lease is left alone.
        await c.query(
          `INSERT INTO delivery_queue (delivery_id, event_id, endpoint_id, next_attempt_at, undelivered)
           SELECT id, event_id, $3, $4, TRUE FROM unnest($1::text[], $2::text[]) AS r(id, event_id)
           ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at WHERE delivery_queue.lease_token IS NULL`,
          [rearmIds, rearm.map((r: Row) => r.id as string), endpoint.id, now],
        );
        await c.query("UPDATE deliveries SET state = 'pending', next_attempt_at = $1, schedule_step = 0 WHERE id = ANY($2) AND state != 'in_flight'", [now, rearmIds]);
      }
      if (fresh.length > 0) {
        await c.query(
          `WITH fresh AS (
             INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, next_attempt_at, created)
             SELECT id, event_id, $3, $4, $5, 'automatic', 'pending', $6, $6 FROM unnest($1::text[], $2::text[]) AS n(id, event_id)
             ON CONFLICT DO NOTHING
             RETURNING id, event_id
           )
           INSERT INTO delivery_queue (delivery_id, event_id, endpoint_id, next_attempt_at, undelivered) SELECT id, event_id, $3, $6, TRUE FROM fresh`,
          [fresh.map(() => newId.delivery()), fresh, endpoint.id, endpoint.accountId, endpoint.mode, now],
        );
      }
      return wanted.length;
    });
    if (!dryRun && recovered > 0) this.announceWork();
    return recovered;
  }

  async listAttempts(scope: AttemptScope, page: PageRequest): Promise<Page<DeliveryAttempt>> {
    const [column, value] = 'endpointId' in scope ? ['endpoint_id', scope.endpointId] : ['event_id', scope.eventId];
    const listed = await this.paginate('attempts', '*', `${column} = $1 AND account_id = $2 AND mode = $3`, [value, scope.accountId, scope.mode], page, toAttempt);
    return { ...listed, data: await withRequestBodies(listed.data, this.loadEvents) };
  }

  /** Events by id, as claims carry them (for request bodies rendered again: attempt-bodies.ts). */
  private readonly loadEvents = async (ids: string[]): Promise<Map<string, ClaimedDelivery['event']>> => {
    const { rows } = await this.pool.query(`SELECT ${eventColumns('events')} FROM events WHERE id = ANY($1)`, [ids]);
    return new Map(rows.map((row: Row) => [row.id as string, toClaimedEvent(row)]));
  };

  async getAttempt(accountId: string, mode: Mode, id: string): Promise<DeliveryAttempt | null> {
    const { rows } = await this.pool.query('SELECT * FROM attempts WHERE id = $1 AND account_id = $2 AND mode = $3', [id, accountId, mode]);
    return rows[0] ? (await withRequestBodies([toAttempt(rows[0])], this.loadEvents))[0]! : null;
  }

  async listDeliveries(scope: AttemptScope, filter: DeliveryFilter, page: PageRequest): Promise<Page<DeliverySummary>> {
    const [column, value] = 'endpointId' in scope ? ['d.endpoint_id', scope.endpointId] : ['d.event_id', scope.eventId];
    const params: unknown[] = [value, scope.accountId, scope.mode];
    const scopeWhere = `${column} = $1 AND d.account_id = $2 AND d.mode = $3`;
    const where = [scopeWhere];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (filter.status !== undefined) where.push(DELIVERY_STATUS_SQL[filter.status]);
    if (filter.eventType !== undefined) where.push(`e.type = ${param(filter.eventType)}`);
    if (filter.createdGte !== undefined) where.push(`d.created >= ${param(filter.createdGte)}`);
    if (filter.createdLt !== undefined) where.push(`d.created < ${param(filter.createdLt)}`);
    const cursorId = page.startingAfter ?? page.endingBefore;
    if (cursorId !== undefined) {
      // The cursor must be a delivery in the same scope (not necessarily matching the filters).
      const { rows } = await this.pool.query(`SELECT d.seq FROM deliveries d WHERE d.id = $4 AND ${scopeWhere}`, [value, scope.accountId, scope.mode, cursorId]);
      if (!rows[0]) return { data: [], hasMore: false, missingCursor: true };
      where.push(`d.seq ${page.startingAfter !== undefined ? '<' : '>'} ${param(rows[0].seq)}`);
    }
    const order = page.endingBefore !== undefined ? 'ASC' : 'DESC';
    const { rows } = await this.pool.query(
      `SELECT d.id, d.event_id, d.endpoint_id, d.mode, d.kind, d.state, d.attempt_count, d.next_attempt_at, d.created, e.type AS event_type,
         a.id AS a_id, a.created AS a_created, a.outcome AS a_outcome, a.http_status AS a_http_status, a.failure_kind AS a_failure_kind,
         a.duration_ms AS a_duration_ms
       FROM deliveries d JOIN events e ON e.id = d.event_id
         LEFT JOIN LATERAL (SELECT * FROM attempts WHERE delivery_id = d.id ORDER BY seq DESC LIMIT 1) a ON TRUE
       WHERE ${where.join(' AND ')} ORDER BY d.seq ${order} LIMIT ${param(page.limit + 1)}`,
      params,
    );
    const hasMore = rows.length > page.limit;
    const kept = rows.slice(0, page.limit);
    if (order === 'ASC') kept.reverse();
    return { data: kept.map(toDeliverySummary), hasMore };
  }

  async attemptCounts(
    scope: { accountId: string; mode: Mode; endpointId: string },
    window: { since: Millis; until: Millis; bucketMs: number },
  ): Promise<AttemptCountBucket[]> {
    const { rows } = await this.pool.query(
      `SELECT (created - $4) / $6 AS bucket, COUNT(*) FILTER (WHERE outcome = 'succeeded')::int AS succeeded,
         COUNT(*) FILTER (WHERE outcome = 'failed')::int AS failed
       FROM attempts WHERE endpoint_id = $1 AND account_id = $2 AND mode = $3 AND created >= $4 AND created < $5
       GROUP BY bucket ORDER BY bucket`,
      [scope.endpointId, scope.accountId, scope.mode, window.since, window.until, window.bucketMs],
    );
    return rows.map((r: Row) => ({ start: window.since + (r.bucket as number) * window.bucketMs, succeeded: r.succeeded, failed: r.failed }));
  }

  // Listen sessions ------------------------------------------------------------------------------

  async openListenSession(init: Omit<ListenSession, 'cursor'>): Promise<ListenSession> {
    // One statement, so two processes opening the account's session at once get the same one. A
    // new session starts at the newest event: it receives what is published from now on; an
    // existing one keeps its id, secret and cursor and takes the new filter.
    const { rows } = await this.pool.query(
      `INSERT INTO listen_sessions (id, account_id, mode, secret, enabled_events, cursor_seq, created)
       VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(seq), 0) FROM events WHERE account_id = $2 AND mode = $3), $6)
       ON CONFLICT (account_id, mode) DO UPDATE SET enabled_events = EXCLUDED.enabled_events
       RETURNING *`,
      [init.id, init.accountId, init.mode, init.secret, init.enabledEvents, init.created],
    );
    return toListenSession(rows[0]);
  }

  async getListenSession(accountId: string, mode: Mode, id: string): Promise<ListenSession | null> {
    const { rows } = await this.pool.query('SELECT * FROM listen_sessions WHERE id = $1 AND account_id = $2 AND mode = $3', [id, accountId, mode]);
    return rows[0] ? toListenSession(rows[0]) : null;
  }

  async listenBacklog(sessionId: string, afterSeq: number, limit: number): Promise<ListenEvent[]> {
    const { rows } = await this.pool.query(
      `SELECT e.seq, ${eventColumns('e')}
       FROM listen_sessions s JOIN events e ON e.account_id = s.account_id AND e.mode = s.mode AND e.seq > $1
       WHERE s.id = $2 AND NOT EXISTS (SELECT 1 FROM listen_acks a WHERE a.session_id = s.id AND a.event_id = e.id)
       ORDER BY e.seq LIMIT $3`,
      [afterSeq, sessionId, limit],
    );
    return rows.map((row: Row) => ({ ...toClaimedEvent(row), seq: row.seq as number }));
  }

  async listenUnacknowledged(sessionId: string, eventIds: string[]): Promise<string[]> {
    if (eventIds.length === 0) return [];
    const { rows } = await this.pool.query('SELECT event_id FROM listen_acks WHERE session_id = $1 AND event_id = ANY($2)', [sessionId, eventIds]);
    const acked = new Set(rows.map((r: Row) => r.event_id as string));
    return eventIds.filter((id) => !acked.has(id));
  }

  async recordListenAttempts(sessionId: string, eventId: string, attempts: DeliveryAttempt[]): Promise<void> {
    await this.transaction(async (c) => {
      if (attempts.length > 0) {
        const { rows } = await c.query(LISTEN_DELIVERY_UPSERT_SQL, listenDeliveryValues(sessionId, eventId, attempts));
        const deliveryId = rows[0].id as string;
        await c.query(INSERT_ATTEMPTS_SQL, attemptColumns(attempts.map((a) => ({ ...a, deliveryId }))));
      }
      await c.query(
        `INSERT INTO listen_acks (session_id, event_id, event_seq)
         SELECT s.id, e.id, e.seq FROM listen_sessions s JOIN events e ON e.id = $1 AND e.account_id = s.account_id AND e.mode = s.mode
         WHERE s.id = $2
         ON CONFLICT DO NOTHING`,
        [eventId, sessionId],
      );
    });
  }

  async advanceListenCursor(sessionId: string, seq: number): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('UPDATE listen_sessions SET cursor_seq = $1 WHERE id = $2 AND cursor_seq < $1', [seq, sessionId]);
      await c.query('DELETE FROM listen_acks WHERE session_id = $1 AND event_seq <= (SELECT cursor_seq FROM listen_sessions WHERE id = $1)', [sessionId]);
    });
  }

  // Idempotency ------------------------------------------------------------------------------

  async beginIdempotentRequest(req: IdempotentRequest): Promise<IdempotencyVerdict> {
    return this.transaction(async (c): Promise<IdempotencyVerdict> => {
      const lockedUntil = req.now + req.lockMs;
      const expiresAt = req.now + (req.reserve?.forMs ?? req.lockMs);
      // Of two first requests racing with one key, the insert lets exactly one proceed; the other
      // waits for its commit and then finds the row.
      const inserted = await c.query(
        `INSERT INTO idempotency_keys (account_id, mode, key, request_hash, status, body, locked_until, expires_at, reserved_id)
         VALUES ($1, $2, $3, $4, NULL, NULL, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [req.accountId, req.mode, req.key, req.requestHash, lockedUntil, expiresAt, req.reserve?.id ?? null],
      );
      if (inserted.rowCount === 1) return proceedVerdict(req.reserve?.id ?? null, false);
      const { rows } = await c.query(
        'SELECT request_hash, status, body, locked_until, expires_at, reserved_id FROM idempotency_keys WHERE account_id = $1 AND mode = $2 AND key = $3 FOR UPDATE',
        [req.accountId, req.mode, req.key],
      );
      const judged = judgeStoredKey(rows[0] as StoredIdempotencyKey | undefined, req);
      if (judged.kind !== 'take_over') return judged;
      await c.query(
        `INSERT INTO idempotency_keys (account_id, mode, key, request_hash, status, body, locked_until, expires_at, reserved_id)
         VALUES ($1, $2, $3, $4, NULL, NULL, $5, $6, $7)
         ON CONFLICT (account_id, mode, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = NULL, body = NULL,
           locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at, reserved_id = EXCLUDED.reserved_id`,
        [req.accountId, req.mode, req.key, req.requestHash, lockedUntil, expiresAt, judged.reservedId],
      );
      return proceedVerdict(judged.reservedId, judged.resumed);
    });
  }

  async completeIdempotentRequest(req: IdempotentRequest, status: number, body: string, expiresAt: Millis): Promise<void> {
    await this.pool.query(
      'UPDATE idempotency_keys SET status = $1, body = $2, expires_at = $3 WHERE account_id = $4 AND mode = $5 AND key = $6 AND request_hash = $7',
      [status, body, expiresAt, req.accountId, req.mode, req.key, req.requestHash],
    );
  }

  async unlockIdempotentRequest(req: IdempotentRequest): Promise<void> {
    await this.pool.query(
      'UPDATE idempotency_keys SET locked_until = $1 WHERE account_id = $2 AND mode = $3 AND key = $4 AND request_hash = $5 AND status IS NULL',
      [req.now, req.accountId, req.mode, req.key, req.requestHash],
    );
  }

  async abandonIdempotentRequest(req: IdempotentRequest): Promise<void> {
    await this.pool.query('DELETE FROM idempotency_keys WHERE account_id = $1 AND mode = $2 AND key = $3 AND status IS NULL', [req.accountId, req.mode, req.key]);
  }

  // Failure alerts ---------------------------------------------------------------------------

  async alertCandidates(failingSinceBefore: Millis): Promise<AlertCandidate[]> {
    const { rows } = await this.pool.query(
      `SELECT e.*, s.state AS alert_state, s.failing_since AS alert_failing_since
       FROM endpoints e LEFT JOIN endpoint_alert_states s ON s.endpoint_id = e.id
       WHERE e.status != 'deleted' AND (
         s.state = 'warned'
         OR (s.state = 'disabled' AND e.status = 'enabled')
         OR (e.status = 'enabled' AND e.failing_since <= $1 AND COALESCE(s.state, 'ok') = 'ok')
         OR (e.status = 'disabled' AND e.disabled_reason IS NOT NULL AND COALESCE(s.state, 'ok') = 'ok'))`,
      [failingSinceBefore],
    );
    return rows.map((row: Row) => ({ endpoint: toEndpoint(row), alert: { state: (row.alert_state ?? 'ok') as AlertState, failingSince: row.alert_failing_since ?? null } }));
  }

  async transitionAlertState(endpointId: string, from: AlertStateRecord, to: AlertStateRecord, alert: EndpointAlert, now: Millis): Promise<boolean> {
    return this.transaction(async (c) => {
      // The row exists first, so that the compare-and-set below is one UPDATE: of processes racing
      // on it, the later ones re-check its WHERE against the committed row and change nothing.
      await c.query("INSERT INTO endpoint_alert_states (endpoint_id, state, failing_since, changed_at) VALUES ($1, 'ok', NULL, $2) ON CONFLICT (endpoint_id) DO NOTHING", [endpointId, now]);
      const moved = await c.query(
        `UPDATE endpoint_alert_states SET state = $2, failing_since = $3, changed_at = $4
         WHERE endpoint_id = $1 AND state = $5 AND failing_since IS NOT DISTINCT FROM $6::bigint`,
        [endpointId, to.state, to.failingSince, now, from.state, from.failingSince],
      );
      if (moved.rowCount !== 1) return false;
      await c.query(
        `INSERT INTO alerts (id, account_id, mode, endpoint_id, kind, created, subject, body, details, delivery, next_send_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)`,
        [alert.id, alert.accountId, alert.mode, alert.endpointId, alert.kind, alert.created, alert.subject, alert.body, JSON.stringify(alert.details), now],
      );
      return true;
    });
  }

  async claimDueAlerts(now: Millis, limit: number, leaseMs: number): Promise<ClaimedAlert[]> {
    const leaseToken = randomBytes(12).toString('hex');
    const { rows } = await this.pool.query(
      `UPDATE alerts a SET next_send_at = $1, lease_token = $2, send_attempts = a.send_attempts + 1
       WHERE a.seq IN (SELECT seq FROM alerts WHERE next_send_at IS NOT NULL AND next_send_at <= $3 ORDER BY next_send_at LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING a.*, (SELECT email FROM account_alert_settings s WHERE s.account_id = a.account_id) AS account_email`,
      [now + leaseMs, leaseToken, now, limit],
    );
    return rows.map((row: Row) => ({ alert: toAlert(row), leaseToken, accountEmail: row.account_email ?? null }));
  }

  async finishAlert(claim: ClaimedAlert, result: AlertSendResult): Promise<void> {
    if (result.delivery === 'pending') {
      await this.pool.query('UPDATE alerts SET next_send_at = $1, last_error = $2, lease_token = NULL WHERE id = $3 AND lease_token = $4', [result.retryAt, result.error, claim.alert.id, claim.leaseToken]);
    } else {
      await this.pool.query(
        'UPDATE alerts SET delivery = $1, recipient = $2, sent_at = $3, next_send_at = NULL, lease_token = NULL WHERE id = $4 AND lease_token = $5',
        [result.delivery, result.recipient, result.at, claim.alert.id, claim.leaseToken],
      );
    }
  }

  async listAlerts(accountId: string, mode: Mode, page: PageRequest): Promise<Page<EndpointAlert>> {
    return this.paginate('alerts', '*', 'account_id = $1 AND mode = $2', [accountId, mode], page, toAlert);
  }

  async getAlertEmail(accountId: string): Promise<string | null> {
    const { rows } = await this.pool.query('SELECT email FROM account_alert_settings WHERE account_id = $1', [accountId]);
    return rows[0]?.email ?? null;
  }

  async setAlertEmail(accountId: string, email: string | null, now: Millis): Promise<void> {
    await this.pool.query(
      `INSERT INTO account_alert_settings (account_id, email, updated) VALUES ($1, $2, $3)
       ON CONFLICT (account_id) DO UPDATE SET email = EXCLUDED.email, updated = EXCLUDED.updated`,
      [accountId, email, now],
    );
  }

  // Housekeeping -----------------------------------------------------------------------------

  /**
   * Deletes in transactions of at most PRUNE_BATCH rows, for at most PRUNE_BUDGET_MS per call, so
   * pruning a large backlog never holds locks long. Rows locked by a worker are skipped, not waited on.
   */
  async hitRateLimit(key: string, windowStart: Millis, limit: number): Promise<boolean> {
    // One atomic upsert: concurrent requests from every process count against the same row.
    const { rows } = await this.pool.query(
      `INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
       ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1 RETURNING count`,
      [key, windowStart],
    );
    return (rows[0].count as number) <= limit;
  }

  async prune(now: Millis, olderThan: Millis): Promise<{ events: number; attempts: number; idempotencyKeys: number }> {
    const deadline = Date.now() + PRUNE_BUDGET_MS;
    await this.pool.query('DELETE FROM rate_limits WHERE window_start < $1', [now - 60_000]);
    // Alerts are kept as long as events; one still to be sent is kept until it is.
    await this.pool.query('DELETE FROM alerts WHERE created < $1 AND next_send_at IS NULL', [olderThan]);
    const repeat = async (deleteBatch: () => Promise<number>) => {
      let total = 0;
      for (;;) {
        const n = await deleteBatch();
        total += n;
        if (n < PRUNE_BATCH || Date.now() >= deadline) return total;
      }
    };
    const idempotencyKeys = await repeat(async () =>
      (await this.pool.query(
        `DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [now, PRUNE_BATCH],
      )).rowCount ?? 0,
    );
    const attempts = await repeat(async () =>
      (await this.pool.query('DELETE FROM attempts WHERE seq IN (SELECT seq FROM attempts WHERE created < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)', [olderThan, PRUNE_BATCH])).rowCount ?? 0,
    );
    const events = await repeat(() =>
      this.transaction(async (c) => {
        // An old event still waiting for a delivery stays until that delivery is finished.
        const { rows } = await c.query(
          `SELECT id FROM events e WHERE created < $1
             AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.event_id = e.id AND q.next_attempt_at IS NOT NULL)
           LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [olderThan, PRUNE_BATCH],
        );
        if (rows.length === 0) return 0;
        const ids = rows.map((r: Row) => r.id as string);
        // Given-up deliveries leave the queue with their event; one planned meanwhile stays.
        await c.query('DELETE FROM delivery_queue WHERE event_id = ANY($1) AND next_attempt_at IS NULL', [ids]);
        await c.query('DELETE FROM deliveries d WHERE event_id = ANY($1) AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.delivery_id = d.id)', [ids]);
        const deleted = await c.query(
          'DELETE FROM events WHERE id = ANY($1) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)',
          [ids],
        );
        // Fewer deleted than selected only when a delivery appeared meanwhile; keep the batch count
        // so the loop goes on while there is more to do.
        return deleted.rowCount === rows.length ? rows.length : (deleted.rowCount ?? 0);
      }),
    );
    return { events, attempts, idempotencyKeys };
  }

  // Pagination -------------------------------------------------------------------------------

  /** Stripe's cursor pagination over a table ordered by insertion (`seq`), newest first. */
  private async paginate<T>(table: string, columns: string, where: string, params: unknown[], page: PageRequest, map: (row: Row) => T): Promise<Page<T>> {
    const cursorId = page.startingAfter ?? page.endingBefore;
    let cursorClause = '';
    const all = [...params];
    if (cursorId !== undefined) {
      const { rows } = await this.pool.query(`SELECT seq FROM ${table} WHERE id = $${params.length + 1} AND ${where}`, [...params, cursorId]);
      if (!rows[0]) return { data: [], hasMore: false, missingCursor: true };
      all.push(rows[0].seq);
      cursorClause = ` AND seq ${page.startingAfter !== undefined ? '<' : '>'} $${all.length}`;
    }
    const order = page.endingBefore !== undefined ? 'ASC' : 'DESC';
    all.push(page.limit + 1);
    const { rows } = await this.pool.query(`SELECT ${columns}, seq FROM ${table} WHERE ${where}${cursorClause} ORDER BY seq ${order} LIMIT $${all.length}`, all);
    const hasMore = rows.length > page.limit;
    const kept = rows.slice(0, page.limit);
    if (order === 'ASC') kept.reverse();
    return { data: kept.map(map), hasMore };
  }
}

/** Below this, a later success is not worth writing an endpoint row for. */
const LAST_SUCCESS_PRECISION_MS = 1000;

const HEALTH_COLUMNS = 'id, status, failing_since, last_success_at, disabled_reason, disabled_at';

/**
 * Replays outcomes, in order, on endpoint health rows: a success ends a run of failures; a failure
 * starts one, and disables the endpoint once it has lasted `disableAfterMs`. Answers the rows that
 * changed (as they are now), whether any change is more than `lastSuccessAt` moving forward, and
 * the endpoints disabled.
 */
function replayHealth(rows: Row[], results: AttemptResult[], policy: HealthPolicy): { changed: Row[]; transitions: boolean; disabled: RecordOutcome['disabled'] } {
  const health = new Map<string, Row>(rows.map((r) => [r.id as string, { ...r }]));
  const changed = new Set<Row>();
  const disabled: RecordOutcome['disabled'] = [];
  // A transition: a run of failures starts or ends, or an endpoint is disabled.
  let transitions = false;
  for (const { attempt: a, disableReason: requested } of results) {
    const h = health.get(a.endpointId);
    if (!h) continue;
    if (a.outcome === 'succeeded') {
      if (h.failing_since !== null) {
        changed.add(h);
        transitions = true;
      }
      h.failing_since = null;
      if (h.last_success_at === null || a.created - h.last_success_at >= LAST_SUCCESS_PRECISION_MS) changed.add(h);
      h.last_success_at = Math.max(h.last_success_at ?? 0, a.created);
      continue;
    }
    if (h.failing_since === null) {
      h.failing_since = a.created;
      changed.add(h);
      transitions = true;
    }
    if (h.status === 'enabled' && (requested || a.created - h.failing_since >= policy.disableAfterMs)) {
      const reason = requested ?? disableReason(h.failing_since, a.created);
      Object.assign(h, { status: 'disabled', disabled_reason: reason, disabled_at: a.created });
      changed.add(h);
      transitions = true;
      disabled.push({ endpointId: a.endpointId, reason });
    }
  }
  return { changed: [...changed], transitions, disabled };
}

/**
 * A condition that is always true, in a statement of the delivery loop's bookkeeping (claims,
 * results): its transaction commits without waiting for its WAL to reach the disk, as `SET LOCAL
 * synchronous_commit = off` would, but inside the one statement (no extra round trip; transaction
 * pooling keeps working). The same trade as on SQLite (store-thread.ts): a claim or result lost with
 * the database server's last moments (a crash of PostgreSQL or its machine, not of Herald) leaves
 * the delivery due again, so it is sent again, never lost. Publishes still wait for the disk; the
 * flushes they wait for no longer include two per delivery for the workers' claims and results.
 */
const UNSYNCED_COMMIT = "set_config('synchronous_commit', 'off', true) <> ''";

/**
 * Leases the due deliveries `due` chooses ($1 now, $2 limit) until $3 under the lease token $4,
 * and answers each with its event (NULL columns when the event was pruned).
 */
function claimSql(due: { ctes: string; ids: string }): string {
  return `WITH ${due.ctes} leased AS (
     UPDATE delivery_queue SET next_attempt_at = $3, lease_token = $4
     WHERE delivery_id = ANY(ARRAY(${due.ids})) AND ${UNSYNCED_COMMIT}
     RETURNING delivery_id
   ),
   claimed AS (
     UPDATE deliveries SET state = 'in_flight', next_attempt_at = $3, attempt_count = attempt_count + 1
     WHERE id = ANY(ARRAY(SELECT delivery_id FROM leased))
     RETURNING id AS delivery_id, event_id, endpoint_id, kind, attempt_count, schedule_step
   )
   SELECT claimed.*, ${eventColumns('events')}
   FROM claimed LEFT JOIN events ON events.id = claimed.event_id`;
}

/** The earliest `limit` due deliveries. */
const DUE_SEQS_SQL = {
  ctes: '',
  ids: `SELECT delivery_id FROM delivery_queue
         WHERE next_attempt_at <= $1
         ORDER BY next_attempt_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED`,
};

/**
 * The earliest `limit` due deliveries, none beyond an endpoint's allowance: $7 (most in flight per
 * endpoint) less the claimer's attempts in flight there ($5 endpoint ids, $6 counts).
 *
 * A look without locks at the earliest due rows decides the path. Usually no endpoint there
 * exceeds its allowance: the earliest rows are locked and taken as without fairness (`fast`; still
 * capped per endpoint, as other workers may have taken rows in between). Otherwise (a backlog at
 * an endpoint near its bound) the endpoints with waiting work are found by hopping from one
 * endpoint id to the next through delivery_queue_endpoint_due (one index seek each), each gives at most
 * its allowance of its earliest due rows (LATERAL, SKIP LOCKED), and the earliest of those are
 * taken: the cost grows with the number of endpoints with work, never with the length of a backlog.
 * Only the chosen path's scans run (their conditions on `skewed` are evaluated once, first).
 */
const FAIR_DUE_SEQS_SQL = {
  ctes: `RECURSIVE
   allowances AS (
     SELECT endpoint_id, GREATEST(0, $7 - in_flight) AS allowance FROM unnest($5::text[], $6::int[]) AS f(endpoint_id, in_flight)
   ),
   earliest AS MATERIALIZED (
     SELECT endpoint_id FROM delivery_queue
     WHERE next_attempt_at <= $1
     ORDER BY next_attempt_at
     LIMIT $2
   ),
   skewed AS (
     SELECT EXISTS (
       SELECT 1 FROM earliest e LEFT JOIN allowances a USING (endpoint_id)
       GROUP BY e.endpoint_id, a.allowance
       HAVING count(*) > COALESCE(a.allowance, $7)
     ) AS yes
   ),
   fast AS (
     SELECT delivery_id, endpoint_id, next_attempt_at FROM delivery_queue
     WHERE NOT (SELECT yes FROM skewed) AND next_attempt_at <= $1
     ORDER BY next_attempt_at
     LIMIT $2
     FOR UPDATE SKIP LOCKED
   ),
   fast_within AS (
     SELECT delivery_id FROM (
       SELECT delivery_id, endpoint_id, row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at) AS n FROM fast
     ) ranked LEFT JOIN allowances a USING (endpoint_id)
     WHERE n <= COALESCE(a.allowance, $7)
   ),
   busy(endpoint_id) AS (
     (SELECT endpoint_id FROM delivery_queue
      WHERE (SELECT yes FROM skewed) AND next_attempt_at IS NOT NULL
      ORDER BY endpoint_id LIMIT 1)
     UNION ALL
     SELECT (SELECT q.endpoint_id FROM delivery_queue q
             WHERE q.next_attempt_at IS NOT NULL AND q.endpoint_id > busy.endpoint_id
             ORDER BY q.endpoint_id LIMIT 1)
     FROM busy WHERE busy.endpoint_id IS NOT NULL
   ),
   fair AS (
     SELECT due.delivery_id FROM busy
     LEFT JOIN allowances a USING (endpoint_id)
     CROSS JOIN LATERAL (
       SELECT q.delivery_id, q.next_attempt_at FROM delivery_queue q
       WHERE q.endpoint_id = busy.endpoint_id AND q.next_attempt_at <= $1
       ORDER BY q.next_attempt_at
       LIMIT LEAST($2, COALESCE(a.allowance, $7))
       FOR UPDATE SKIP LOCKED
     ) due
     WHERE busy.endpoint_id IS NOT NULL
     ORDER BY due.next_attempt_at
     LIMIT $2
   ),`,
  ids: 'SELECT delivery_id FROM fast_within UNION ALL SELECT delivery_id FROM fair',
};

/** The two claim statements, built once: a worker claims many times a second. */
const CLAIM_DUE_SQL = claimSql(DUE_SEQS_SQL);
const CLAIM_FAIR_SQL = claimSql(FAIR_DUE_SEQS_SQL);

const INSERT_ATTEMPTS_SQL = `INSERT INTO attempts (id, delivery_id, event_id, endpoint_id, account_id, mode, kind, attempt_number, url, created,
    duration_ms, outcome, failure_kind, failure_message, http_status, request_headers, response_headers, response_body, next_retry_at, request_body,
    request_body_pending_webhooks)
  SELECT id, delivery_id, event_id, endpoint_id, account_id, mode, kind, attempt_number, url, created,
    duration_ms, outcome, failure_kind, failure_message, http_status, request_headers::json, response_headers::json, response_body, next_retry_at, request_body,
    request_body_pending_webhooks
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::bigint[],
    $11::int[], $12::text[], $13::text[], $14::text[], $15::int[], $16::text[], $17::text[], $18::text[], $19::bigint[], $20::text[], $21::int[])
    AS a(id, delivery_id, event_id, endpoint_id, account_id, mode, kind, attempt_number, url, created,
    duration_ms, outcome, failure_kind, failure_message, http_status, request_headers, response_headers, response_body, next_retry_at, request_body,
    request_body_pending_webhooks)`;

const PUBLISH_TARGETS: HotStatement = {
  name: 'herald_publish_targets',
  text: "SELECT id, enabled_events, connect, events_from FROM endpoints WHERE account_id = $1 AND mode = $2 AND status = 'enabled'",
};

const PUBLISH_EVENTS: HotStatement = {
  name: 'herald_publish_events',
  text: `WITH new_events AS (
      INSERT INTO events (id, account_id, mode, type, connected_account, api_version, created, data, request_id, request_idempotency_key,
        account_api_version, object_id, object_type, related_object_url)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[],
        $17::text[], $18::text[], $19::text[], $20::text[])
    ),
    new_deliveries AS (
      INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, next_attempt_at, created)
      SELECT id, event_id, endpoint_id, account_id, mode, 'automatic', 'pending', created, created
      FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bigint[]) AS d(id, event_id, endpoint_id, account_id, mode, created)
    )
    INSERT INTO delivery_queue (delivery_id, event_id, endpoint_id, next_attempt_at, undelivered)
    SELECT id, event_id, endpoint_id, created, TRUE FROM unnest($11::text[], $12::text[], $13::text[], $16::bigint[]) AS q(id, event_id, endpoint_id, created)`,
};

/** A NOTIFY in a transaction of its own that does not wait for the disk (see announceWork). */
const ANNOUNCE_WORK: HotStatement = {
  name: 'herald_announce_work',
  text: `SELECT pg_notify('${WORK_CHANNEL}', '') WHERE ${UNSYNCED_COMMIT}`,
};

const ENDPOINT_HEALTH: HotStatement = { name: 'herald_endpoint_health', text: `SELECT ${HEALTH_COLUMNS} FROM endpoints WHERE id = ANY($1)` };

const RECORD_RESULTS: HotStatement = {
  name: 'herald_record_results',
  text: `WITH logged AS (${INSERT_ATTEMPTS_SQL} RETURNING 1),
    u AS (
      SELECT * FROM unnest($22::text[], $23::text[], $24::text[], $25::bigint[], $26::int[], $27::boolean[], $28::bigint[])
        AS u(id, token, state, next_at, step, success, at)
      WHERE ${UNSYNCED_COMMIT}
    ),
    kept AS (
      UPDATE delivery_queue q SET next_attempt_at = u.next_at, lease_token = NULL
      FROM u WHERE q.delivery_id = ANY($22) AND q.delivery_id = u.id AND q.lease_token = u.token AND (u.state = 'pending' OR (q.undelivered AND NOT u.success))
      RETURNING q.delivery_id
    ),
    finished AS (
      DELETE FROM delivery_queue q
      USING u WHERE q.delivery_id = ANY($22) AND q.delivery_id = u.id AND q.lease_token = u.token AND NOT (u.state = 'pending' OR (q.undelivered AND NOT u.success))
      RETURNING q.delivery_id
    )
    UPDATE deliveries d SET state = u.state, next_attempt_at = u.next_at, schedule_step = u.step,
      delivered_at = CASE WHEN u.success AND d.kind = 'automatic' THEN COALESCE(d.delivered_at, u.at) ELSE d.delivered_at END
    FROM u
    WHERE d.id = ANY(ARRAY(SELECT delivery_id FROM kept UNION ALL SELECT delivery_id FROM finished)) AND d.id = u.id
    RETURNING d.id, d.kind`,
};

const NEXT_DUE: HotStatement = { name: 'herald_next_due', text: 'SELECT MIN(next_attempt_at) AS due FROM delivery_queue WHERE next_attempt_at IS NOT NULL' };

/**
 * Cancels the queued deliveries `which` selects (a condition on `delivery_queue`): an automatic one
 * not delivered keeps its queue row, with no due time, to count as undelivered; the others leave.
 */
function cancelQueuedSql(which: string, deliveriesSet: string): string {
  return `WITH kept AS (
    UPDATE delivery_queue SET next_attempt_at = NULL, lease_token = NULL WHERE ${which} AND undelivered
    RETURNING delivery_id
  ),
  dropped AS (
    DELETE FROM delivery_queue WHERE ${which} AND NOT undelivered
    RETURNING delivery_id
  )
  UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL${deliveriesSet}
  WHERE id = ANY(ARRAY(SELECT delivery_id FROM kept UNION ALL SELECT delivery_id FROM dropped))`;
}

/** Claims dropped ($1 delivery ids, $2 their lease token) because their endpoint is gone or their event pruned. */
const CANCEL_CLAIMED_SQL = cancelQueuedSql('delivery_id = ANY($1) AND lease_token = $2', ', attempt_count = attempt_count - 1');

/** An endpoint's waiting deliveries ($1), cancelled when it is deleted; what is in flight finishes. */
const CANCEL_WAITING_SQL = cancelQueuedSql('endpoint_id = $1 AND lease_token IS NULL AND next_attempt_at IS NOT NULL', '');

/**
 * Automatic deliveries of ($1 event, $2 endpoint) pairs that another attempt delivered: no longer
 * undelivered, and out of the queue unless an attempt is still planned.
 */
const MARK_QUEUED_DELIVERED_SQL = `WITH pairs AS (
    SELECT d.id FROM unnest($1::text[], $2::text[]) AS u(event_id, endpoint_id)
    JOIN deliveries d ON d.event_id = u.event_id AND d.endpoint_id = u.endpoint_id AND d.kind = 'automatic'
    WHERE d.event_id = ANY($1)
  ),
  planned AS (
    UPDATE delivery_queue SET undelivered = FALSE WHERE delivery_id = ANY(ARRAY(SELECT id FROM pairs)) AND undelivered AND next_attempt_at IS NOT NULL
  )
  DELETE FROM delivery_queue WHERE delivery_id = ANY(ARRAY(SELECT id FROM pairs)) AND next_attempt_at IS NULL`;

const CLAIMED_SECRETS: HotStatement = {
  name: 'herald_claimed_secrets',
  text: 'SELECT endpoint_id, secret FROM endpoint_secrets WHERE endpoint_id = ANY($1) AND (expires_at IS NULL OR expires_at > $2) ORDER BY created DESC, seq DESC',
};

/** The 21 column arrays (parameters $1 to $21) of INSERT_ATTEMPTS_SQL. */
function attemptColumns(attempts: DeliveryAttempt[]): unknown[] {
  return [
    attempts.map((a) => a.id), attempts.map((a) => a.deliveryId), attempts.map((a) => a.eventId), attempts.map((a) => a.endpointId),
    attempts.map((a) => a.accountId), attempts.map((a) => a.mode), attempts.map((a) => a.kind), attempts.map((a) => a.attemptNumber),
    attempts.map((a) => a.url), attempts.map((a) => a.created), attempts.map((a) => a.durationMs), attempts.map((a) => a.outcome),
    attempts.map((a) => a.failureKind), attempts.map((a) => a.failureMessage), attempts.map((a) => a.httpStatus),
    attempts.map((a) => JSON.stringify(a.requestHeaders)), attempts.map((a) => (a.responseHeaders ? JSON.stringify(a.responseHeaders) : null)),
    attempts.map((a) => a.responseBody), attempts.map((a) => a.nextRetryAt), attempts.map((a) => a.requestBody ?? null),
    attempts.map((a) => a.publishedBody?.pendingWebhooks ?? null),
  ];
}

async function insertAccount(db: Queryable, account: Account, isDefault: boolean): Promise<void> {
  await db.query('INSERT INTO accounts (id, name, application_id, default_api_version, is_default, created) VALUES ($1, $2, $3, $4, $5, $6)', [
    account.id, account.name, account.applicationId, account.defaultApiVersion, isDefault, account.created,
  ]);
}

/**
 * An event's automatic deliveries to endpoints not delivered yet: the queue keeps a row for each
 * (migration 013), due or not, so no index of the delivery log names `delivered_at`.
 * `pending_webhooks` is counted from these rather than kept as a counter on the event: a counter
 * would be a row every worker delivering that event must lock, serializing their transactions.
 */
function undeliveredOf(eventAlias: string): string {
  return `SELECT 1 FROM delivery_queue pq WHERE pq.event_id = ${eventAlias}.id AND pq.undelivered`;
}

function eventColumns(alias: string): string {
  const columns = ['id', 'account_id', 'mode', 'type', 'connected_account', 'api_version', 'created', 'data', 'request_id', 'request_idempotency_key', 'account_api_version', 'object_id', 'object_type', 'related_object_url'];
  return `${columns.map((c) => `${alias}.${c}`).join(', ')}, (SELECT count(*)::int FROM (${undeliveredOf(alias)}) u) AS pending_webhooks`;
}

function toAccount(row: Row): Account {
  return { id: row.id, name: row.name, applicationId: row.application_id, defaultApiVersion: row.default_api_version, created: row.created };
}

function toConnectedAccount(row: Row): ConnectedAccount {
  return { id: row.id, platformAccountId: row.platform_account_id, name: row.name ?? null, email: row.email ?? null, created: row.created };
}

function toEndpoint(row: Row): WebhookEndpoint {
  return {
    id: row.id,
    accountId: row.account_id,
    mode: row.mode,
    url: row.url,
    enabledEvents: row.enabled_events,
    apiVersion: row.api_version ?? null,
    connect: row.connect,
    description: row.description ?? null,
    metadata: row.metadata,
    signatureSchemes: typeof row.signature_schemes === 'string' && row.signature_schemes ? (row.signature_schemes.split(',') as WebhookEndpoint['signatureSchemes']) : ['stripe'],
    status: row.status === 'disabled' ? 'disabled' : 'enabled',
    disabledReason: row.disabled_reason ?? null,
    disabledAt: row.disabled_at ?? null,
    failingSince: row.failing_since ?? null,
    lastSuccessAt: row.last_success_at ?? null,
    created: row.created,
    ...destinationOfRow(row),
  };
}

/** The destination columns, in the insert's order ($17…$25). */
function destinationValues(endpoint: WebhookEndpoint): (string | number | null)[] {
  const p = destinationParams(endpoint);
  return [p.type!, p.name!, p.event_payload!, p.events_from!, p.aws_account_id!, p.aws_region!, p.aws_event_bus!, p.aws_credentials!, p.updated!];
}

function toEvent(row: Row): StoredEvent {
  return {
    ...toEventHeader(row),
    accountId: row.account_id,
    data: JSON.parse(row.data) as StoredEvent['data'],
  };
}

function toClaimedEvent(row: Row): ClaimedDelivery['event'] {
  return { ...toEventHeader(row), dataJson: row.data };
}

function toEventHeader(row: Row): Omit<StoredEvent, 'data' | 'accountId'> {
  return {
    id: row.id,
    mode: row.mode,
    type: row.type,
    account: row.connected_account ?? null,
    apiVersion: row.api_version,
    created: row.created,
    request: { id: row.request_id ?? null, idempotency_key: row.request_idempotency_key ?? null },
    pendingWebhooks: row.pending_webhooks,
    ...eventSubjectOfRow(row),
  };
}

function toAttempt(row: Row): DeliveryAttempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    eventId: row.event_id,
    endpointId: row.endpoint_id,
    accountId: row.account_id,
    mode: row.mode,
    kind: row.kind,
    attemptNumber: row.attempt_number,
    url: row.url,
    created: row.created,
    durationMs: row.duration_ms,
    outcome: row.outcome,
    failureKind: row.failure_kind ?? null,
    failureMessage: row.failure_message ?? null,
    httpStatus: row.http_status ?? null,
    requestHeaders: row.request_headers,
    responseHeaders: row.response_headers ?? null,
    responseBody: row.response_body ?? null,
    requestBody: row.request_body ?? null,
    ...(row.request_body_pending_webhooks != null ? { publishedBody: { pendingWebhooks: row.request_body_pending_webhooks as number } } : {}),
    nextRetryAt: row.next_retry_at ?? null,
  };
}

function toDeliverySummary(row: Row): DeliverySummary {
  const state = row.state as string;
  const attemptCount = row.attempt_count as number;
  return {
    id: row.id,
    eventId: row.event_id,
    eventType: row.event_type,
    endpointId: row.endpoint_id,
    mode: row.mode,
    kind: row.kind,
    status: deliveryStatus(state, attemptCount),
    attemptCount,
    nextAttemptAt: state === 'pending' ? (row.next_attempt_at ?? null) : null,
    created: row.created,
    lastAttempt:
      row.a_id === null
        ? null
        : { id: row.a_id, created: row.a_created, outcome: row.a_outcome, httpStatus: row.a_http_status ?? null, failureKind: row.a_failure_kind ?? null, durationMs: row.a_duration_ms },
  };
}

function toAlert(row: Row): EndpointAlert {
  return {
    id: row.id,
    accountId: row.account_id,
    mode: row.mode,
    endpointId: row.endpoint_id,
    kind: row.kind,
    created: row.created,
    subject: row.subject,
    body: row.body,
    details: JSON.parse(row.details) as EndpointAlert['details'],
    delivery: row.delivery,
    recipient: row.recipient ?? null,
    sendAttempts: row.send_attempts,
    lastError: row.last_error ?? null,
    sentAt: row.sent_at ?? null,
  };
}

function toListenSession(row: Row): ListenSession {
  return {
    id: row.id,
    accountId: row.account_id,
    mode: row.mode,
    secret: row.secret,
    enabledEvents: row.enabled_events,
    cursor: row.cursor_seq,
    created: row.created,
  };
}
