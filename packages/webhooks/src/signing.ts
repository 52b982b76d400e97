import { createHmac } from 'node:crypto';

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
