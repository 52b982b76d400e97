// Signing with node:crypto: what Herald's delivery worker calls for every attempt, and what tests
// use to forge valid requests. The WebCrypto twins live in web-crypto.ts.
import { createHmac } from 'node:crypto';
import { standardWebhooksKey, testHeaderDefaults, type StandardWebhooksHeaders, type TestHeaderOptions } from './common.js';

/**
 * The `Stripe-Signature` scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]`.
 * The HMAC key is the UTF-8 bytes of the whole secret string, `whsec_` included, and the signed
 * content is `${t}.${rawBody}`. One `v1` per active secret, so receivers verify during a roll.
 */
export function computeStripeSignature(secret: string, timestamp: number, payload: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
}

/** The `Stripe-Signature` header value for one delivery attempt. */
export function stripeSignatureHeader(payload: string, secrets: readonly string[], timestamp: number): string {
  const t = Math.floor(timestamp);
  let header = `t=${t}`;
  for (const secret of secrets) header += `,v1=${computeStripeSignature(secret, t, payload)}`;
  return header;
}

/** Byte-for-byte stripe-node's `generateTestHeaderString`: `t=<seconds>,<scheme>=<signature>`. */
export function generateTestHeaderString(options: TestHeaderOptions): string {
  const { timestamp, scheme, signature } = testHeaderDefaults(options);
  return `t=${timestamp},${scheme}=${signature ?? computeStripeSignature(options.secret, timestamp, options.payload)}`;
}

/** The base64 `v1` signature of the Standard Webhooks scheme over `${id}.${timestamp}.${payload}`. */
export function computeStandardSignature(secret: string, id: string, timestamp: number, payload: string): string {
  return createHmac('sha256', standardWebhooksKey(secret)).update(`${id}.${timestamp}.${payload}`, 'utf8').digest('base64');
}

/**
 * The three Standard Webhooks headers for one attempt. `id` should be the event id (stable across
 * retries, so receivers can dedupe); one `v1,<base64>` per active secret, space-separated.
 */
export function standardWebhooksHeaders(payload: string, secrets: readonly string[], id: string, timestamp: number): StandardWebhooksHeaders {
  const t = Math.floor(timestamp);
  if (id.includes('.')) throw new TypeError('A Standard Webhooks message id must not contain "." (it separates the signed fields).');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(t),
    'webhook-signature': secrets.map((secret) => `v1,${computeStandardSignature(secret, id, t, payload)}`).join(' '),
  };
}

export interface DeliverySigningInput {
  /** The endpoint's active secrets (several during a roll); one signature each per scheme. */
  secrets: readonly string[];
  /** The event id: Standard Webhooks' `webhook-id`, stable across retries. */
  eventId: string;
  /** Unix seconds of this attempt. */
  timestamp: number;
  /** Which schemes the endpoint asked for; default `['stripe']`. */
  schemes?: readonly ('stripe' | 'standard')[];
}

/**
 * Every signature header one delivery attempt carries, for the schemes its endpoint chose:
 * `stripe-signature` and/or `webhook-id`, `webhook-timestamp`, `webhook-signature`.
 */
export function deliverySignatureHeaders(payload: string, input: DeliverySigningInput): Record<string, string> {
  const schemes = input.schemes ?? ['stripe'];
  const headers: Record<string, string> = {};
  if (schemes.includes('stripe')) headers['stripe-signature'] = stripeSignatureHeader(payload, input.secrets, input.timestamp);
  if (schemes.includes('standard')) Object.assign(headers, standardWebhooksHeaders(payload, input.secrets, input.eventId, input.timestamp));
  return headers;
}
