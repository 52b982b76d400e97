import type { MessagePort, Worker } from 'node:worker_threads';
import type { HeraldConfig } from '../config/config.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../domain/logger.js';
import { startThread } from '../domain/thread.js';
import type { Store } from '../store/store.js';
import { AddressPolicy } from './address-policy.js';
import { EventBridgeTransport } from './eventbridge.js';
import { HttpSender } from './sender.js';
import type { VersionTranslator } from './versions.js';
import { DeliveryWorker } from './worker.js';

/** What the server needs of its delivery loop, on this thread or on a thread of its own. */
export interface DeliveryLoop {
  /** New work may be due: look at the queue now. */
  wake(): void;
  /** Stops claiming, finishes the attempts in flight and records them. */
  stop(): Promise<void>;
}

export interface DeliveryLoopDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  versions: VersionTranslator | undefined;
  /** Recorded results disabled endpoints (the alert monitor looks at once). */
  onEndpointsDisabled: () => void;
}

/** The delivery loop on this thread: the worker, its HTTP sender and its EventBridge transport. */
export function startDeliveryLoop(config: HeraldConfig, deps: DeliveryLoopDeps): DeliveryLoop {
  // A connection for every attempt the worker may have in flight: an attempt queued behind busy
  // connections would spend its timeout waiting, and be recorded as a timeout it never was.
  const sender = new HttpSender({
    connectionsPerOrigin: config.deliveryConcurrency,
    policy: new AddressPolicy({ blockInTestMode: config.blockPrivateNetworks, allowedNetworks: config.allowedNetworks }),
    extraCa: config.caCertificates,
    proxy: config.egressProxy,
    localAddress: config.egressLocalAddress,
  });
  // SDK clients are made on first use, so a Herald without EventBridge destinations never loads AWS credentials.
  const eventBridge = new EventBridgeTransport({ timeoutMs: config.deliveryTimeoutMs, endpoint: config.eventBridgeEndpoint });
  // A store shared by several workers wakes one idle worker of them all for new work.
  const wakeUpDuty = deps.store.watchForWorkOnCall?.(() => worker.wake());
  const worker = new DeliveryWorker({
    store: deps.store,
    clock: deps.clock,
    sender,
    logger: deps.logger,
    concurrency: config.deliveryConcurrency,
    endpointConcurrency: config.endpointConcurrency,
    timeoutMs: config.deliveryTimeoutMs,
    retryOverride: config.retrySchedule,
    disableAfterMs: config.disableAfterMs,
    retryAfterMaxMs: config.retryAfterMaxMs,
    versions: deps.versions,
    defaultApiVersion: config.apiVersion,
    transports: { amazon_eventbridge: eventBridge },
    onEndpointsDisabled: deps.onEndpointsDisabled,
    ...(wakeUpDuty ? { wakeUpDuty } : {}),
  });
  worker.start();
  return {
    wake: () => worker.wake(),
    stop: async () => {
      wakeUpDuty?.stop();
      await worker.stop();
      await sender.close();
      await eventBridge.close();
    },
  };
}

/** What the delivery thread is started with (see delivery-thread.ts). */
export interface DeliveryThreadData {
  config: HeraldConfig;
  /** A port to the SQLite store's thread; null: the thread opens `config.database` itself (PostgreSQL). */
  storePort: MessagePort | null;
}

/** Messages from the delivery thread to the thread that started it. */
export type DeliveryThreadMessage =
  | { ready: true }
  | { failed: string }
  | { log: { level: keyof Logger; message: string; fields?: Record<string, unknown> } }
  | { endpointsDisabled: true }
  | { stopped: true };

/**
 * The delivery loop on a thread of its own. On one thread, the HTTP work of deliveries (undici,
 * signing, socket writes) and of the API (parsing publishes, answering them) took turns on one core:
 * at 2,000 events/s that thread was busy all the time and events queued behind each other. Here the
 * API's thread only publishes and wakes this one. Its log lines go through `logger`.
 */
export async function startDeliveryThread(data: DeliveryThreadData, deps: Pick<DeliveryLoopDeps, 'logger' | 'onEndpointsDisabled'>): Promise<DeliveryLoop> {
  const thread: Worker = startThread(import.meta.url, 'delivery-thread', data, data.storePort ? [data.storePort] : []);
  let stopped: (() => void) | null = null;
  let started = false;
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    thread.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    thread.on('message', (message: DeliveryThreadMessage) => {
      if ('ready' in message) {
        started = true;
        resolve();
      } else if ('failed' in message) reject(new Error(message.failed));
      else if ('log' in message) deps.logger[message.log.level](message.log.message, message.log.fields);
      else if ('endpointsDisabled' in message) deps.onEndpointsDisabled();
      else if ('stopped' in message) stopped?.();
    });
    thread.on('error', (err) => {
      if (!started) return reject(err);
      // A bug, as an uncaught exception of the loop on the main thread would be: the process fails
      // the same way, so its supervisor restarts it rather than leave an API that never delivers.
      // Deliveries in flight are taken up again when their leases expire; none is lost.
      deps.logger.error('the delivery thread failed', { error: String(err) });
      setImmediate(() => {
        throw err;
      });
    });
    void exit.then(() => reject(new Error('the delivery thread exited while starting')));
  });
  return {
    wake: () => {
      if (!exited) thread.postMessage('wake');
    },
    stop: async () => {
      if (exited) return;
      const done = new Promise<void>((resolve) => (stopped = resolve));
      thread.postMessage('stop');
      await Promise.race([done, exit]);
      await exit;
    },
  };
}
