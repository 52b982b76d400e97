import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyKind, Mode } from './types.js';

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` random alphanumerics, without modulo bias. */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 62 * 4 = 248: bytes at or above it would skew the distribution.
      if (byte < 248) out += ALPHANUMERIC[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Stripe-style object ids: a prefix and 24 alphanumerics (`we_1Mr5jULkdIwHu7ix1ibLTM0x`). */
export const newId = {
  account: () => `acct_${randomAlphanumeric(16)}`,
  application: () => `ca_${randomAlphanumeric(24)}`,
  endpoint: () => `we_${randomAlphanumeric(24)}`,
  event: () => `evt_${randomAlphanumeric(24)}`,
  delivery: () => `whdel_${randomAlphanumeric(24)}`,
  attempt: () => `whatt_${randomAlphanumeric(24)}`,
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
