// The scheme rules shared by the sync (node:crypto) and async (WebCrypto) verifiers: parsing,
// options, secrets and payloads. Pure code with no Node module, so the `web` entry can use it.
import { WebhookVerificationError } from './errors.js';
import { base64ToBytes, utf8Decode } from './encoding.js';

/** Seconds a signature stays valid around its timestamp, in both directions. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export interface VerifyOptions {
  /** Seconds of allowed clock difference, past and future. Default 300. Must be > 0. */
  tolerance?: number;
  /** The current time in milliseconds (or a Date); default `Date.now()`. Inject it in tests. */
  now?: number | Date;
}

/** A webhook event as Herald (and Stripe) send it; handlers narrow `data.object` themselves. */
export interface WebhookEvent {
  id: string;
  object: 'event';
  type: string;
  created: number;
  api_version: string | null;
  livemode: boolean;
  data: { object: Record<string, any>; previous_attributes?: Record<string, any> };
  account?: string;
  pending_webhooks?: number;
  request?: { id: string | null; idempotency_key: string | null } | null;
  [field: string]: unknown;
}

/** What a raw body may be: the exact text or bytes received. */
export type RawBody = string | Uint8Array | ArrayBuffer;

/** Request headers as Node (lower-cased record) or the Fetch API (`Headers`) give them. */
export type HeaderSource = Headers | { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export function resolveTolerance(options: VerifyOptions | undefined): number {
  const tolerance = options?.tolerance ?? DEFAULT_TOLERANCE_SECONDS;
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance <= 0) {
    throw new RangeError(
      `tolerance must be a positive number of seconds (got ${String(tolerance)}). A tolerance of 0 or less would accept a captured request replayed at any time later; keep the default ${DEFAULT_TOLERANCE_SECONDS}.`,
    );
  }
  return tolerance;
}

export function nowInSeconds(options: VerifyOptions | undefined): number {
  const now = options?.now;
  const ms = now === undefined ? Date.now() : now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new TypeError('now must be milliseconds since the epoch or a Date.');
  return Math.floor(ms / 1000);
}

/** Several secrets are tried in turn: several endpoints, or both sides of a secret roll. */
export function resolveSecrets(secret: string | readonly string[]): readonly string[] {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError('No webhook secret was given. Pass the endpoint\'s signing secret (`whsec_…`), e.g. from process.env.HERALD_WEBHOOK_SECRET.');
  }
  for (const s of secrets) {
    if (typeof s !== 'string' || s.trim() === '') {
      throw new TypeError('A webhook secret is empty or not a string. Pass the endpoint\'s signing secret (`whsec_…`); is the environment variable set?');
    }
  }
  return secrets;
}

export function assertWithinTolerance(timestamp: number, options: VerifyOptions | undefined): void {
  const tolerance = resolveTolerance(options);
  const age = nowInSeconds(options) - timestamp;
  if (age > tolerance) throw new WebhookVerificationError('timestamp_outside_tolerance', `The signature was made ${age} s ago, more than the tolerance of ${tolerance} s.`);
  if (-age > tolerance) throw new WebhookVerificationError('timestamp_outside_tolerance', `The signature's timestamp is ${-age} s in the future, more than the tolerance of ${tolerance} s.`);
}

/** The raw body as bytes, refusing anything a framework already parsed. */
export function rawBodyBytes(payload: unknown): Uint8Array | string {
  if (typeof payload === 'string') return payload;
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  const what = payload === undefined || payload === null ? 'no body at all' : `a ${Array.isArray(payload) ? 'array' : typeof payload}`;
  throw new WebhookVerificationError('payload_not_raw', `Got ${what} instead of the raw body string or bytes.`);
}

export function parseEventJson<T>(body: Uint8Array | string): T {
  const text = typeof body === 'string' ? body : utf8Decode(body);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError('invalid_json');
  }
}

const MAX_HEADER_LENGTH = 16_384;
/** A plain base-10 integer, as Herald and Stripe write `t`; anything else is refused, not guessed. */
const UNIX_SECONDS = /^\d{1,12}$/;

function singleHeaderValue(value: unknown, name: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (Array.isArray(value)) {
    if (value.length === 0) return null;
    if (value.length > 1) throw new WebhookVerificationError('malformed_header', `The request has ${value.length} \`${name}\` headers; it must have one.`);
    return singleHeaderValue(value[0], name);
  }
  if (typeof value !== 'string') throw new WebhookVerificationError('malformed_header', `The \`${name}\` header is not a string.`);
  if (value.length > MAX_HEADER_LENGTH) throw new WebhookVerificationError('malformed_header', `The \`${name}\` header is longer than ${MAX_HEADER_LENGTH} characters.`);
  return value;
}

export interface StripeSignatureParts {
  timestamp: number;
  /** Every `v1` value, in order; other schemes (`v0`, …) are dropped to prevent downgrades. */
  signatures: string[];
}

/** Parses `t=<seconds>,v1=<hex>[,v1=<hex>…]`. Throws only WebhookVerificationError. */
export function parseStripeSignatureHeader(header: unknown): StripeSignatureParts {
  const value = singleHeaderValue(header, 'Stripe-Signature');
  if (value === null) throw new WebhookVerificationError('missing_header', 'No `Stripe-Signature` header value was given.');
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const rawElement of value.split(',')) {
    const element = rawElement.trim();
    if (element === '') continue;
    const equals = element.indexOf('=');
    if (equals <= 0) throw new WebhookVerificationError('malformed_header', 'An element of `Stripe-Signature` is not `key=value`.');
    const key = element.slice(0, equals);
    const item = element.slice(equals + 1);
    if (key === 't') {
      if (timestamp !== null) throw new WebhookVerificationError('malformed_header', '`Stripe-Signature` has more than one `t=`.');
      if (!UNIX_SECONDS.test(item)) throw new WebhookVerificationError('malformed_header', '`t=` in `Stripe-Signature` is not a Unix time in whole seconds.');
      timestamp = Number(item);
    } else if (key === 'v1') {
      signatures.push(item);
    }
  }
  if (timestamp === null) throw new WebhookVerificationError('malformed_header', '`Stripe-Signature` has no `t=` timestamp.');
  if (signatures.length === 0) throw new WebhookVerificationError('no_signature', '`Stripe-Signature` has no `v1=` signature.');
  return { timestamp, signatures };
}

export function readHeader(headers: HeaderSource | null | undefined, name: string): unknown {
  if (!headers || typeof headers !== 'object') return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(name: string): string | null }).get(name);
  const record = headers as Record<string, unknown>;
  if (name in record) return record[name];
  // Node lower-cases header names; plain objects written by hand may not.
  const lower = name.toLowerCase();
  for (const key of Object.keys(record)) if (key.toLowerCase() === lower) return record[key];
  return undefined;
}

export interface StandardSignatureParts {
  id: string;
  timestamp: number;
  /** The base64 of every `v1,` entry; other versions (e.g. `v1a` asymmetric) are ignored. */
  signatures: string[];
}

/** Reads `webhook-id`/`-timestamp`/`-signature` (or their `svix-` aliases). Throws only WebhookVerificationError. */
export function parseStandardHeaders(headers: HeaderSource | null | undefined): StandardSignatureParts {
  const pick = (suffix: string) =>
    singleHeaderValue(readHeader(headers, `webhook-${suffix}`), `webhook-${suffix}`) ?? singleHeaderValue(readHeader(headers, `svix-${suffix}`), `svix-${suffix}`);
  const id = pick('id');
  const timestampText = pick('timestamp');
  const signatureText = pick('signature');
  const missing = [id === null && 'webhook-id', timestampText === null && 'webhook-timestamp', signatureText === null && 'webhook-signature'].filter(Boolean);
  if (missing.length > 0) throw new WebhookVerificationError('missing_header', `Missing header${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}.`);
  if (!UNIX_SECONDS.test(timestampText!)) throw new WebhookVerificationError('malformed_header', '`webhook-timestamp` is not a Unix time in whole seconds.');
  const signatures: string[] = [];
  for (const entry of signatureText!.split(' ')) {
    if (entry === '') continue;
    const comma = entry.indexOf(',');
    if (comma <= 0) throw new WebhookVerificationError('malformed_header', 'An entry of `webhook-signature` is not `<version>,<signature>`.');
    if (entry.slice(0, comma) === 'v1') signatures.push(entry.slice(comma + 1));
  }
  if (signatures.length === 0) throw new WebhookVerificationError('no_signature', '`webhook-signature` has no `v1,` signature.');
  return { id: id!, timestamp: Number(timestampText), signatures };
}

const standardKeyCache = new Map<string, Uint8Array>();

/** Standard Webhooks keys on the bytes base64-encoded after `whsec_` (the prefix is optional). */
export function standardWebhooksKey(secret: string): Uint8Array {
  const cached = standardKeyCache.get(secret);
  if (cached) return cached;
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = base64ToBytes(encoded);
  if (!key || key.length === 0) {
    throw new TypeError('This secret cannot sign Standard Webhooks: the part after `whsec_` must be base64 (Herald secrets are `whsec_` + base64 of 32 bytes).');
  }
  if (standardKeyCache.size >= 64) standardKeyCache.clear();
  standardKeyCache.set(secret, key);
  return key;
}

export type SignatureScheme = 'stripe' | 'standard';

/** Which scheme signed a request: `Stripe-Signature` wins when both are present. */
export function detectScheme(headers: HeaderSource | null | undefined): SignatureScheme {
  const stripe = readHeader(headers, 'stripe-signature');
  if (stripe !== undefined && stripe !== null && stripe !== '') return 'stripe';
  const standard = readHeader(headers, 'webhook-signature') ?? readHeader(headers, 'svix-signature');
  if (standard !== undefined && standard !== null && standard !== '') return 'standard';
  throw new WebhookVerificationError('missing_header', 'Neither `Stripe-Signature` nor `webhook-signature` is present.');
}

export interface TestHeaderOptions {
  payload: string;
  secret: string;
  /** Unix seconds (floored); default now. */
  timestamp?: number;
  /** Default `v1`. */
  scheme?: string;
  /** A precomputed signature to put in the header instead of computing one. */
  signature?: string;
}

export function testHeaderDefaults(options: TestHeaderOptions): { timestamp: number; scheme: string; signature: string | undefined } {
  if (!options) throw new TypeError('Options are required');
  // stripe-node's exact rule: a timestamp that floors to 0 (or none) means "now".
  const timestamp = (options.timestamp && Math.floor(options.timestamp)) || Math.floor(Date.now() / 1000);
  return { timestamp, scheme: options.scheme || 'v1', signature: options.signature || undefined };
}

/** The headers of one Standard Webhooks attempt. */
export type StandardWebhooksHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};
