/**
 * The body of the delivery thread (see startDeliveryThread in loop.ts): the delivery loop, with the
 * store reached through a port to the SQLite store's thread, or its own PostgreSQL pool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../domain/clock.js';
import type { Logger } from '../domain/logger.js';
import { openStore } from '../store/index.js';
import { SecretCipher, withSecretEncryption } from '../store/secret-encryption.js';
import { storeOverPort } from '../store/sqlite/threaded-store.js';
import type { Store } from '../store/store.js';
import { startDeliveryLoop, type DeliveryLoop, type DeliveryThreadData, type DeliveryThreadMessage } from './loop.js';
import { loadApiVersions } from './versions.js';

const post = (message: DeliveryThreadMessage) => parentPort!.postMessage(message);
const logAt = (level: keyof Logger) => (message: string, fields?: Record<string, unknown>) => post({ log: { level, message, ...(fields ? { fields } : {}) } });
const logger: Logger = { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') };

const { config, storePort } = workerData as DeliveryThreadData;
let store: Store | null = null;
let loop: DeliveryLoop | null = null;
try {
  store = storePort ? storeOverPort(storePort) : await openStore(config.database);
  // Keys arrive as plain byte arrays (a Buffer crosses threads as a Uint8Array).
  const keys = config.encryptionKeys?.map((key) => Buffer.from(key));
  const secured = keys ? withSecretEncryption(store, new SecretCipher(keys)) : store;
  const versions = await loadApiVersions(config, logger);
  loop = startDeliveryLoop(config, { store: secured, clock: systemClock, logger, versions, onEndpointsDisabled: () => post({ endpointsDisabled: true }) });
  post({ ready: true });
} catch (err) {
  await store?.close().catch(() => {});
  post({ failed: (err as Error).message });
  parentPort!.close();
}

parentPort!.on('message', (message: 'wake' | 'stop') => {
  if (message === 'wake') loop?.wake();
  else
    void (async () => {
      await loop?.stop();
      await store?.close();
      post({ stopped: true });
      parentPort!.close();
    })();
});
