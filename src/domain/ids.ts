import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyKind, Mode } from './types.js';

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Random bytes drawn from a pool refilled 4 KB at a time: ids are made for every event, delivery
 * and attempt, and one `randomBytes` call per id cost more than the rest of making it.
 */
const randomPool = { bytes: Buffer.alloc(0), next: 0 };
function randomByte(): number {
  if (randomPool.next >= randomPool.bytes.length) {
    randomPool.bytes = randomBytes(4096);
    randomPool.next = 0;
  }
  return randomPool.bytes[randomPool.next++]!;
}

/** `length` random alphanumerics, without modulo bias. */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    // 62 * 4 = 248: bytes at or above it would skew the distribution.
    if (byte < 248) out += ALPHANUMERIC[byte % 62];
  }
  return out;
}

/** `value` in base 62, left-padded to `width` digits (sorts as text in numeric order). */
function base62(value: number, width: number): string {
  let out = '';
  for (let v = Math.floor(value); out.length < width; v = Math.floor(v / 62)) out = ALPHANUMERIC[v % 62] + out;
  return out;
}

/**
 * 24 alphanumerics that sort by creation time, like Stripe's: 8 characters of milliseconds since
 * 1970 (enough until the year 8,900), then 16 random ones (95 bits). Rows of high-volume tables
 * (events, deliveries, attempts) are indexed by these ids: ids made in time order land at the end
 * of the indexes instead of on a random page each, which keeps inserts cheap as tables grow.
 */
function timeOrdered(): string {
  return base62(Date.now(), 8) + randomAlphanumeric(16);
}

/** Stripe-style object ids: a prefix and 24 alphanumerics (`we_1Mr5jULkdIwHu7ix1ibLTM0x`). */
export const newId = {
  account: () => `acct_${randomAlphanumeric(16)}`,
  application: () => `ca_${randomAlphanumeric(24)}`,
  endpoint: () => `we_${randomAlphanumeric(24)}`,
  /** Event destinations that are not webhook endpoints (EventBridge); webhook destinations keep `we_`. */
  destination: () => `ed_${randomAlphanumeric(24)}`,
  event: () => `evt_${timeOrdered()}`,
  delivery: () => `whdel_${timeOrdered()}`,
  attempt: () => `whatt_${timeOrdered()}`,
  request: () => `req_${randomAlphanumeric(14)}`,
};

/**
 * A signing secret that serves both schemes: Stripe's HMAC keys on the whole string, Standard
 * Webhooks on the base64-decoded part after `whsec_`.
 */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function newApiKey(mode: Mode): string {
  return `sk_${mode}_${randomAlphanumeric(48)}`;
}

/** A restricted (read-only) key: `rk_test_…` / `rk_live_…`. */
export function newRestrictedApiKey(mode: Mode): string {
  return `rk_${mode}_${randomAlphanumeric(48)}`;
}

/** API keys are stored as this hash only. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The mode an API key (secret or restricted) belongs to, or null when it is neither. */
export function modeOfApiKey(key: string): Mode | null {
  if (key.startsWith('sk_test_') || key.startsWith('rk_test_')) return 'test';
  if (key.startsWith('sk_live_') || key.startsWith('rk_live_')) return 'live';
  return null;
}

export function kindOfApiKey(key: string): ApiKeyKind | null {
  if (key.startsWith('sk_')) return 'secret';
  if (key.startsWith('rk_')) return 'restricted';
  return null;
}

/** An API version: a date, optionally named (`2026-10-28.endive`). */
export function isApiVersion(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(text);
}
