// Verification and signing with WebCrypto only (crypto.subtle): runs on Node >= 20, Deno, Bun,
// Cloudflare Workers, Vercel Edge and browsers. No Node module is imported here or below.
import {
  assertWithinTolerance,
  detectScheme,
  parseEventJson,
  parseStandardHeaders,
  parseStripeSignatureHeader,
  rawBodyBytes,
  readHeader,
  resolveSecrets,
  resolveTolerance,
  standardWebhooksKey,
  testHeaderDefaults,
  type HeaderSource,
  type StandardWebhooksHeaders,
  type TestHeaderOptions,
  type VerifyOptions,
  type WebhookEvent,
} from './common.js';
import { WebhookVerificationError } from './errors.js';
import { base64ToBytes, bytesToBase64, bytesToHex, concatBytes, constantTimeEqual, hexSignatureToBytes, utf8Encode } from './encoding.js';


function subtle(): SubtleCrypto {
  const crypto = (globalThis as { crypto?: Crypto }).crypto;
  if (!crypto?.subtle) throw new Error('WebCrypto (globalThis.crypto.subtle) is not available in this runtime. On Node, use the synchronous constructEvent from "@herald/webhooks".');
  return crypto.subtle;
}

// Importing a key costs more than the HMAC of a small body, so keys are kept per secret.
const keyCache = new Map<string, Promise<CryptoKey>>();
const KEY_CACHE_LIMIT = 64;

function hmacKey(scheme: 'stripe' | 'standard', secret: string): Promise<CryptoKey> {
  const cacheKey = `${scheme}:${secret}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    const raw = scheme === 'stripe' ? utf8Encode(secret) : standardWebhooksKey(secret);
    key = subtle().importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    keyCache.set(cacheKey, key);
  }
  return key;
}

async function hmac(scheme: 'stripe' | 'standard', secret: string, prefix: string, body: Uint8Array | string): Promise<Uint8Array> {
  const data = typeof body === 'string' ? utf8Encode(prefix + body) : concatBytes(utf8Encode(prefix), body);
  return new Uint8Array(await subtle().sign('HMAC', await hmacKey(scheme, secret), data as Uint8Array<ArrayBuffer>));
}

async function anySecretMatches(scheme: 'stripe' | 'standard', secrets: readonly string[], prefix: string, body: Uint8Array | string, candidates: readonly (Uint8Array | null)[]): Promise<boolean> {
  for (const secret of secrets) {
    const expected = await hmac(scheme, secret, prefix, body);
    let matched = false;
    for (const candidate of candidates) if (candidate && constantTimeEqual(expected, candidate)) matched = true;
    if (matched) return true;
  }
  return false;
}

/** `constructEvent` on WebCrypto: any runtime. Same checks, same errors. */
export async function constructEventAsync<T = WebhookEvent>(rawBody: unknown, signatureHeader: unknown, secret: string | readonly string[], options?: VerifyOptions): Promise<T> {
  const body = rawBodyBytes(rawBody);
  const secrets = resolveSecrets(secret);
  resolveTolerance(options);
  const { timestamp, signatures } = parseStripeSignatureHeader(signatureHeader);
  if (!(await anySecretMatches('stripe', secrets, `${timestamp}.`, body, signatures.map(hexSignatureToBytes)))) throw new WebhookVerificationError('signature_mismatch');
  assertWithinTolerance(timestamp, options);
  return parseEventJson<T>(body);
}

/** `verifyStandardWebhook` on WebCrypto: any runtime. */
export async function verifyStandardWebhookAsync<T = WebhookEvent>(rawBody: unknown, headers: HeaderSource, secret: string | readonly string[], options?: VerifyOptions): Promise<T> {
  const body = rawBodyBytes(rawBody);
  const secrets = resolveSecrets(secret);
  resolveTolerance(options);
  const { id, timestamp, signatures } = parseStandardHeaders(headers);
  if (!(await anySecretMatches('standard', secrets, `${id}.${timestamp}.`, body, signatures.map(base64ToBytes)))) throw new WebhookVerificationError('signature_mismatch');
  assertWithinTolerance(timestamp, options);
  return parseEventJson<T>(body);
}

/** Verifies whichever scheme signed the request, on WebCrypto. */
export function verifyWebhookAsync<T = WebhookEvent>(rawBody: unknown, headers: HeaderSource, secret: string | readonly string[], options?: VerifyOptions): Promise<T> {
  try {
    return detectScheme(headers) === 'stripe'
      ? constructEventAsync<T>(rawBody, readHeader(headers, 'stripe-signature'), secret, options)
      : verifyStandardWebhookAsync<T>(rawBody, headers, secret, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `generateTestHeaderString` on WebCrypto (stripe-node's `generateTestHeaderStringAsync`). */
export async function generateTestHeaderStringAsync(options: TestHeaderOptions): Promise<string> {
  const { timestamp, scheme, signature } = testHeaderDefaults(options);
  return `t=${timestamp},${scheme}=${signature ?? bytesToHex(await hmac('stripe', options.secret, `${timestamp}.`, String(options.payload)))}`;
}

/** `stripeSignatureHeader` on WebCrypto. */
export async function stripeSignatureHeaderAsync(payload: string, secrets: readonly string[], timestamp: number): Promise<string> {
  const t = Math.floor(timestamp);
  let header = `t=${t}`;
  for (const secret of secrets) header += `,v1=${bytesToHex(await hmac('stripe', secret, `${t}.`, payload))}`;
  return header;
}

/** `standardWebhooksHeaders` on WebCrypto. */
export async function standardWebhooksHeadersAsync(payload: string, secrets: readonly string[], id: string, timestamp: number): Promise<StandardWebhooksHeaders> {
  const t = Math.floor(timestamp);
  if (id.includes('.')) throw new TypeError('A Standard Webhooks message id must not contain "." (it separates the signed fields).');
  const signatures: string[] = [];
  for (const secret of secrets) signatures.push(`v1,${bytesToBase64(await hmac('standard', secret, `${id}.${t}.`, payload))}`);
  return { 'webhook-id': id, 'webhook-timestamp': String(t), 'webhook-signature': signatures.join(' ') };
}
