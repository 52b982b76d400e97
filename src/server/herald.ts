import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiHandler } from '../api/app.js';
import { EventPublisher } from '../api/publisher.js';
import { createDashboardHandler } from '../dashboard/server.js';
import { ListenHub } from '../listen/hub.js';
import { ConfigError, type HeraldConfig } from '../config/config.js';
import { loadVersionChanges, VersionTranslator } from '../delivery/versions.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { EventTypeCatalog } from '../domain/event-types.js';
import { hashApiKey, newApiKey, newId } from '../domain/ids.js';
import { consoleLogger, type Logger } from '../domain/logger.js';
import type { Mode } from '../domain/types.js';
import { AddressPolicy } from '../delivery/address-policy.js';
import { HttpSender } from '../delivery/sender.js';
import { DeliveryWorker } from '../delivery/worker.js';
import { openStore, type Store } from '../store/index.js';

export interface HeraldOptions {
  clock?: Clock;
  logger?: Logger;
  /** Use this store instead of opening `config.database` (tests). */
  store?: Store;
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

/** Starts Herald: the store, the default account, the API server and the delivery workers. */
export async function startHerald(config: HeraldConfig, options: HeraldOptions = {}): Promise<RunningHerald> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? consoleLogger(config.logLevel);
  const store = options.store ?? (await openStore(config.database));

  const { account, newKeys } = await bootstrapAccount(store, config, clock);

  let versions: VersionTranslator | undefined;
  if (config.versionTransforms) {
    try {
      versions = new VersionTranslator(await loadVersionChanges(config.versionTransforms), logger);
    } catch (err) {
      throw new ConfigError('HERALD_VERSION_TRANSFORMS', (err as Error).message);
    }
  }
  const sender = new HttpSender({
    policy: new AddressPolicy({ blockInTestMode: config.blockPrivateNetworks, allowedNetworks: config.allowedNetworks }),
    extraCa: config.caCertificates,
    proxy: config.egressProxy,
    localAddress: config.egressLocalAddress,
  });
  const worker =
    config.role === 'api'
      ? null
      : new DeliveryWorker({
          store,
          clock,
          sender,
          logger,
          concurrency: config.deliveryConcurrency,
          timeoutMs: config.deliveryTimeoutMs,
          retryOverride: config.retrySchedule,
          disableAfterMs: config.disableAfterMs,
          retryAfterMaxMs: config.retryAfterMaxMs,
          versions,
          defaultApiVersion: config.apiVersion,
        });
  worker?.start();

  let server: Server | null = null;
  let listen: ListenHub | null = null;
  let url: string | null = null;
  if (config.role !== 'worker') {
    listen = new ListenHub({ store, logger, clock });
    const publisher = new EventPublisher(store, () => {
      worker?.wake();
      listen?.notify();
    });
    const handler = createApiHandler({
      store,
      clock,
      config,
      catalog: new EventTypeCatalog(config.extraEventTypes),
      publisher,
      logger,
      wakeWorkers: () => worker?.wake(),
      listen,
    });
    // The dashboard shares the port and reaches the data only through `handler`, the public API.
    const dashboard = createDashboardHandler({ api: handler, clock, logger });
    server = createServer({ keepAliveTimeout: 5000 }, (req, res) => void (dashboard.handles(req.url) ? dashboard.handle(req, res) : handler(req, res)));
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
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

  // Work committed by other processes (PostgreSQL NOTIFY) wakes this process's idle worker and
  // listen streams at once; their polling stays the fallback.
  const stopWatching = store.watchForWork?.(() => {
    worker?.wake();
    listen?.notify();
  });

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
      await sender.close();
      await store.close();
    })());

  return { url, accountId: account.id, newKeys, store, stop };
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
