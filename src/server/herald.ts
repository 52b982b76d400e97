import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiHandler } from '../api/app.js';
import { ApiKeyCache } from '../api/api-key-cache.js';
import { EventPublisher } from '../api/publisher.js';
import { createDashboardHandler } from '../dashboard/server.js';
import { ListenHub } from '../listen/hub.js';
import { ConfigError, type HeraldConfig } from '../config/config.js';
import { errors } from '../domain/errors.js';
import { loadApiVersions } from '../delivery/versions.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { EventTypeCatalog } from '../domain/event-types.js';
import { hashApiKey, newApiKey, newId } from '../domain/ids.js';
import { consoleLogger, type Logger } from '../domain/logger.js';
import type { Mode } from '../domain/types.js';
import { startDeliveryLoop, startDeliveryThread, type DeliveryLoop } from '../delivery/loop.js';
import { portToStoreThread } from '../store/sqlite/threaded-store.js';
import { openStore, type Store } from '../store/index.js';
import { smtpMailer } from '../alerts/mailer.js';
import { AlertMonitor } from '../alerts/monitor.js';
import { EncryptionKeyError, prepareSecretsAtRest, SecretCipher, withSecretEncryption } from '../store/secret-encryption.js';

export interface HeraldOptions {
  clock?: Clock;
  logger?: Logger;
  /** Use this store instead of opening `config.database` (tests). */
  store?: Store;
  /**
   * Run the delivery loop on this thread rather than a thread of its own (tests that watch it from
   * here). It always does with an injected clock or store, which a thread cannot share.
   */
  deliverOnThisThread?: boolean;
}

export interface RunningHerald {
  /** Base URL of the API, e.g. http://127.0.0.1:8420 (null for a worker-only process). */
  url: string | null;
  accountId: string;
  /** Keys created or replaced by this start; null for a key that was already stored. */
  newKeys: Record<Mode, string | null>;
  store: Store;
  /** Stops taking requests, finishes in-flight deliveries, closes the store. */
  stop(): Promise<void>;
}

const PRUNE_INTERVAL_MS = 60_000;

/**
 * Publish statements a PostgreSQL API process runs at once (EventPublisher). Measured on 2 cores,
 * API process alone, publishes at 2,000 events/s: p50 111 ms unbounded (a statement per event or
 * two, the server's CPU spent parsing and planning them), 17 ms with 2, 20 ms with 1, 19 ms with 4.
 */
const POSTGRES_PUBLISH_BATCHES = 2;

/** Starts Herald: the store, the default account, the API server and the delivery workers. */
export async function startHerald(config: HeraldConfig, options: HeraldOptions = {}): Promise<RunningHerald> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? consoleLogger(config.logLevel);
  const rawStore =
    options.store ?? (await openStore(config.database, { server: { onBackgroundError: (err) => logger.error('a SQLite thread failed', { error: err.message }) } }));
  const store = await secureSecretsAtRest(rawStore, config, logger);

  const { account, newKeys } = await bootstrapAccount(store, config, clock);

  const versions = await loadApiVersions(config, logger);
  // Failure alerts are watched where deliveries are made; with several workers, each alert is still
  // queued and sent once (see alerts/monitor.ts).
  const alerts =
    config.role === 'api'
      ? null
      : new AlertMonitor({
          store,
          clock,
          logger,
          mailer: config.smtpUrl ? smtpMailer(config.smtpUrl) : null,
          from: config.alertFrom,
          defaultRecipient: config.alertEmail,
          // Embedders that shorten disableAfterMs without alertAfterMs still get the warning first.
          alertAfterMs: config.alertAfterMs < config.disableAfterMs ? config.alertAfterMs : Math.floor(config.disableAfterMs / 2),
          disableAfterMs: config.disableAfterMs,
          checkIntervalMs: config.alertCheckIntervalMs,
        });
  const onEndpointsDisabled = () => alerts?.wake();
  let worker: DeliveryLoop | null = null;
  if (config.role !== 'api') {
    const onThisThread = options.deliverOnThisThread || options.clock !== undefined || options.store !== undefined;
    // The delivery thread reaches SQLite through a port to its store thread, or opens PostgreSQL itself.
    const storePort = !onThisThread && config.database.kind === 'sqlite' ? portToStoreThread(rawStore) : null;
    const ownThread = !onThisThread && (config.database.kind === 'postgres' || storePort !== null);
    worker = ownThread
      ? await startDeliveryThread({ config, storePort }, { logger, onEndpointsDisabled }).catch(async (err: unknown) => {
          await store.close();
          throw err;
        })
      : startDeliveryLoop(config, { store, clock, logger, versions, onEndpointsDisabled });
  }
  alerts?.start();
  // With a store that wakes one idle worker of all processes itself (PostgreSQL), this process's
  // worker is not woken directly: it may not be the one on call, and waking both would have both
  // claim the same work.
  const storeWakesWorkers = store.watchForWorkOnCall !== undefined;
  const wakeWorker = storeWakesWorkers ? () => {} : () => worker?.wake();

  let server: Server | null = null;
  let listen: ListenHub | null = null;
  let url: string | null = null;
  if (config.role !== 'worker') {
    listen = new ListenHub({ store, logger, clock });
    const publisher = new EventPublisher(store, (published) => {
      // Events no destination wants made no deliveries: nothing new for the worker to claim.
      if (published.some((event) => event.pendingWebhooks > 0)) wakeWorker();
      listen?.notify();
    }, { maxConcurrentBatches: config.database.kind === 'postgres' ? POSTGRES_PUBLISH_BATCHES : undefined });
    const handler = createApiHandler({
      store,
      clock,
      config,
      catalog: new EventTypeCatalog(config.extraEventTypes),
      publisher,
      logger,
      wakeWorkers: wakeWorker,
      listen,
      versions,
      apiKeys: new ApiKeyCache(store),
    });
    // The dashboard shares the port and reaches the data only through `handler`, the public API.
    const dashboard = createDashboardHandler({ api: handler, clock, logger });
    server = createServer({ keepAliveTimeout: 5000 }, (req, res) => void (dashboard.handles(req.url) ? dashboard.handle(req, res) : handler(req, res)));
    // Requests Node's parser refuses never reach the API; they still get an error in Stripe's shape.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return;
      const error = err.code === 'HPE_HEADER_OVERFLOW' ? errors.headersTooLarge() : errors.malformedHttp();
      const body = JSON.stringify(error.toJSON());
      const reason = error.status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
      socket.end(`HTTP/1.1 ${error.status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.port, config.host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    url = `http://${host}:${address.port}`;
  }

  const prune = async () => {
    try {
      const now = clock.now();
      const removed = await store.prune(now, now - config.retentionMs);
      if (removed.events + removed.attempts > 0) logger.debug('pruned old data', removed);
    } catch (err) {
      logger.warn('pruning old data failed', { error: String(err) });
    }
  };
  const pruneTimer = setInterval(() => void prune(), PRUNE_INTERVAL_MS);
  pruneTimer.unref();

  // Work committed by other processes (PostgreSQL NOTIFY) wakes this process's listen streams at
  // once (and its idle worker, unless the store wakes workers itself); their polling stays the fallback.
  const stopWatching =
    listen !== null || !storeWakesWorkers
      ? store.watchForWork?.(() => {
          wakeWorker();
          listen?.notify();
        })
      : undefined;

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(pruneTimer);
      stopWatching?.();
      listen?.closeAll(); // open `herald listen` streams end; the CLIs reconnect and catch up
      if (server) {
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server!.closeAllConnections(), 5000);
        await closed;
        clearTimeout(force);
      }
      await worker?.stop();
      await alerts?.stop();
      await store.close();
    })());

  return { url, accountId: account.id, newKeys, store, stop };
}

/**
 * HERALD_ENCRYPTION_KEY: plaintext secrets are encrypted now, in one transaction, and every stored
 * secret must open with the configured keys; otherwise the start fails (closing the store) rather
 * than sign deliveries with garbage.
 */
async function secureSecretsAtRest(store: Store, config: HeraldConfig, logger: Logger): Promise<Store> {
  const cipher = config.encryptionKeys ? new SecretCipher(config.encryptionKeys) : null;
  try {
    const encrypted = await prepareSecretsAtRest(store, cipher);
    if (encrypted > 0) logger.info('encrypted signing secrets at rest', { count: encrypted, keyId: cipher?.sealingKeyId });
  } catch (err) {
    await store.close();
    if (err instanceof EncryptionKeyError) throw new ConfigError('HERALD_ENCRYPTION_KEY', err.message);
    throw err;
  }
  return cipher ? withSecretEncryption(store, cipher) : store;
}

/**
 * The default account exists from the first start on. Its keys are generated then (or taken from
 * HERALD_TEST_SECRET_KEY / HERALD_LIVE_SECRET_KEY) and stored only as hashes.
 */
async function bootstrapAccount(store: Store, config: HeraldConfig, clock: Clock) {
  const now = clock.now();
  const { account, created } = await store.ensureDefaultAccount({
    id: newId.account(),
    name: 'Default account',
    applicationId: newId.application(),
    defaultApiVersion: config.apiVersion,
    created: now,
  });
  const newKeys: Record<Mode, string | null> = { test: null, live: null };
  for (const mode of ['test', 'live'] as const) {
    const configured = mode === 'test' ? config.testSecretKey : config.liveSecretKey;
    if (configured) {
      const owner = await store.findApiKeyOwner(hashApiKey(configured));
      if (owner?.accountId === account.id && owner.mode === mode) continue;
      await store.setApiKey(account.id, mode, hashApiKey(configured), now);
      newKeys[mode] = configured;
    } else if (created) {
      const key = newApiKey(mode);
      await store.setApiKey(account.id, mode, hashApiKey(key), now);
      newKeys[mode] = key;
    }
  }
  return { account, newKeys };
}
