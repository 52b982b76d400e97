import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { EndpointSecret, WebhookEndpoint } from '../domain/types.js';
import { rewriteAwsCredentials } from './destination-rows.js';
import type { ClaimedDelivery, ListenSession, Store } from './store.js';

/**
 * Signing secrets at rest, encrypted with AES-256-GCM under HERALD_ENCRYPTION_KEY.
 *
 * Stored form: `herald:v1:<key id>:<base64url of 12-byte IV, ciphertext, 16-byte tag>`. The key id
 * (8 hex digits of a hash of the key) says which key sealed a row, so rows under an old key, and
 * plaintext rows (`whsec_…`), are recognised rather than decrypted into garbage. The owner's id
 * (endpoint or listen session) is the additional authenticated data: a sealed secret copied onto
 * another row does not open there.
 */
export const SEALED_PREFIX = 'herald:v1:';
const PREFIX = SEALED_PREFIX;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class EncryptionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionKeyError';
  }
}

/** A 32-byte key from 64 hex digits or base64 (standard or url-safe) of 32 bytes. */
export function parseEncryptionKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  throw new EncryptionKeyError('expected 32 random bytes as 64 hex digits or 44 base64 characters (make one with `herald secrets new-key`)');
}

export function newEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('herald-secret-encryption-key\0').update(key).digest('hex').slice(0, 8);
}

/** The key id a stored value was sealed with, or null for a plaintext value. */
export function sealedKeyId(stored: string): string | null {
  if (!stored.startsWith(PREFIX)) return null;
  return stored.slice(PREFIX.length, PREFIX.length + 8);
}

/**
 * A keyring: the first key seals, every key opens. Several keys let processes keep working while
 * a rotation is rolled out (see the README's rotation procedure).
 */
export class SecretCipher {
  private readonly keys: Map<string, Buffer>;
  readonly sealingKeyId: string;

  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new EncryptionKeyError('no encryption key given');
    this.keys = new Map(keys.map((k) => [keyIdOf(k), k]));
    this.sealingKeyId = keyIdOf(keys[0]!);
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  seal(secret: string, ownerId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.sealingKeyId)!, iv);
    cipher.setAAD(Buffer.from(ownerId, 'utf8'));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.sealingKeyId}:${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** The plaintext of a sealed value; a plaintext value is answered as it is (not yet encrypted). */
  open(stored: string, ownerId: string): string {
    const keyId = sealedKeyId(stored);
    if (keyId === null) return stored;
    const key = this.keys.get(keyId);
    if (!key) throw new EncryptionKeyError(`a signing secret is encrypted with key ${keyId}, which is not among HERALD_ENCRYPTION_KEY's keys (${this.keyIds.join(', ')})`);
    const raw = Buffer.from(stored.slice(PREFIX.length + 9), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new EncryptionKeyError(`a signing secret of ${ownerId} is damaged (too short)`);
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(ownerId, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new EncryptionKeyError(`the signing secret of ${ownerId} does not decrypt with key ${keyId} (damaged, or copied from another row)`);
    }
  }

  /** The value as it should be stored: sealed with the sealing key (re-sealed if under another key). */
  reseal(stored: string, ownerId: string): string {
    if (sealedKeyId(stored) === this.sealingKeyId) {
      this.open(stored, ownerId); // proves it opens: a damaged row fails here, not at delivery time
      return stored;
    }
    return this.seal(this.open(stored, ownerId), ownerId);
  }
}

/**
 * Brings the stored secrets in line with the configuration at start, in one transaction:
 * - with a cipher, plaintext rows are encrypted and every sealed row must open with one of its
 *   keys (rows under an older key of the ring stay as they are until `herald secrets
 *   rotate-encryption-key`, so processes still on the older ring keep working during a rollout);
 * - without one, a sealed row fails the start: signing with ciphertext would send garbage signatures.
 * Answers how many rows were encrypted.
 */
export async function prepareSecretsAtRest(store: Store, cipher: SecretCipher | null): Promise<number> {
  // Kept responses may be many: only those that need a look are visited (sealed ones without a
  // key, plaintext ones with one); a response under a key no longer listed fails its replay alone.
  return store.rewriteSecrets(
    (stored, ownerId) => {
      const keyId = sealedKeyId(stored);
      if (!cipher) {
        if (keyId !== null) {
          throw new EncryptionKeyError(`signing secrets are stored encrypted (key ${keyId}) but HERALD_ENCRYPTION_KEY is not set; set it to the key they were encrypted with`);
        }
        return stored;
      }
      if (keyId === null) return cipher.seal(stored, ownerId);
      cipher.open(stored, ownerId);
      return stored;
    },
    { responses: cipher ? 'plaintext' : 'sealed' },
  );
}

/** Re-encrypts every stored secret with the cipher's sealing key, in one transaction; answers the rows changed. */
export function rotateSecretsAtRest(store: Store, cipher: SecretCipher): Promise<number> {
  return store.rewriteSecrets((stored, ownerId) => cipher.reseal(stored, ownerId));
}

/** The owner id (authenticated data) of an idempotent response body. */
export function idempotencyOwner(accountId: string, mode: string, key: string): string {
  return `idempotency:${accountId}:${mode}:${key}`;
}

/**
 * The store as the rest of Herald sees it when encryption is on: secrets (signing secrets, listen
 * session secrets, EventBridge destinations' AWS secret keys and session tokens), and the idempotent
 * responses that may show them (an endpoint's create or roll_secret response, replayed to a retry),
 * go in sealed and come out in plaintext; everything else passes through untouched.
 */
export function withSecretEncryption(store: Store, cipher: SecretCipher): Store {
  const openAll = (secrets: EndpointSecret[], endpointId: string) => secrets.map((s) => ({ ...s, secret: cipher.open(s.secret, endpointId) }));
  const openSession = (session: ListenSession): ListenSession => ({ ...session, secret: cipher.open(session.secret, session.id) });
  // Per-destination AWS credentials (EventBridge) are secrets too: sealed in the row, open in memory.
  const withCredentials = (endpoint: WebhookEndpoint, apply: (value: string, ownerId: string) => string): WebhookEndpoint => {
    const aws = endpoint.amazonEventbridge;
    if (!aws?.credentials) return endpoint;
    return { ...endpoint, amazonEventbridge: { ...aws, credentials: rewriteAwsCredentials(aws.credentials, endpoint.id, apply) } };
  };
  const sealDestination = (endpoint: WebhookEndpoint) => withCredentials(endpoint, (value, id) => cipher.seal(value, id));
  const openDestination = (endpoint: WebhookEndpoint) => withCredentials(endpoint, (value, id) => cipher.open(value, id));
  const overrides: Partial<Store> = {
    createEndpoint: (endpoint, secret, max) => store.createEndpoint(sealDestination(endpoint), { ...secret, secret: cipher.seal(secret.secret, endpoint.id) }, max),
    updateEndpoint: (endpoint) => store.updateEndpoint(sealDestination(endpoint)),
    getEndpoint: async (accountId, mode, id) => {
      const endpoint = await store.getEndpoint(accountId, mode, id);
      return endpoint && openDestination(endpoint);
    },
    listEndpoints: async (accountId, mode, page, filter) => {
      const listed = await store.listEndpoints(accountId, mode, page, filter);
      return { ...listed, data: listed.data.map(openDestination) };
    },
    activeSecrets: async (endpointId, now) => openAll(await store.activeSecrets(endpointId, now), endpointId),
    rollSecret: (endpointId, secret, oldExpiresAt) => store.rollSecret(endpointId, { ...secret, secret: cipher.seal(secret.secret, endpointId) }, oldExpiresAt),
    claimDueDeliveries: async (now, limit, leaseMs, fairness) =>
      (await store.claimDueDeliveries(now, limit, leaseMs, fairness)).map(
        (claim): ClaimedDelivery => ({ ...claim, endpoint: openDestination(claim.endpoint), secrets: claim.secrets.map((s) => cipher.open(s, claim.endpoint.id)) }),
      ),
    openListenSession: async (init) => openSession(await store.openListenSession({ ...init, secret: cipher.seal(init.secret, init.id) })),
    completeIdempotentRequest: (req, status, body, expiresAt) =>
      store.completeIdempotentRequest(req, status, cipher.seal(body, idempotencyOwner(req.accountId, req.mode, req.key)), expiresAt),
    beginIdempotentRequest: async (req) => {
      const verdict = await store.beginIdempotentRequest(req);
      return verdict.kind === 'replay' ? { ...verdict, body: cipher.open(verdict.body, idempotencyOwner(req.accountId, req.mode, req.key)) } : verdict;
    },
    getListenSession: async (accountId, mode, id) => {
      const session = await store.getListenSession(accountId, mode, id);
      return session && openSession(session);
    },
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof Store];
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
