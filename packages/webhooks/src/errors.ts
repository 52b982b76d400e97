/**
 * Every way a webhook request can fail verification, one stable code each. Codes never change
 * meaning; messages may be reworded. Programming errors (a missing secret, a tolerance of 0) are
 * thrown as TypeError/RangeError instead: they are bugs in the receiver, not bad requests.
 */
export type WebhookErrorCode =
  | 'missing_header'
  | 'malformed_header'
  | 'no_signature'
  | 'signature_mismatch'
  | 'timestamp_outside_tolerance'
  | 'payload_not_raw'
  | 'invalid_json';

const RAW_BODY_HELP =
  'Verify the exact bytes received (the adapters of @herald/webhooks do). By hand: Express `express.raw({ type: "application/json" })` then `req.body`; ' +
  'Fastify a `parseAs: "buffer"` content-type parser (or `fastifyWebhook`); Next.js, Hono, Workers `await request.text()`; ' +
  'node:http the concatenated request chunks.';

/** Fix-it messages, one per code, so every call site says the same thing. */
export const WEBHOOK_ERROR_HELP: Record<WebhookErrorCode, string> = {
  missing_header: 'The request carries no signature header. Is this request really from Herald (or Stripe)? Read the header `Stripe-Signature` (or `webhook-id`, `webhook-timestamp`, `webhook-signature` for Standard Webhooks).',
  malformed_header: 'The signature header is not in the expected format (`t=<unix seconds>,v1=<hex>` or `webhook-signature: v1,<base64>`). Pass the header value unchanged.',
  no_signature: 'The signature header holds no `v1` signature. Only `v1` is accepted (other schemes are ignored to prevent downgrade attacks).',
  signature_mismatch: `No signature matches the payload. Check that the secret is this endpoint's \`whsec_…\` secret (no surrounding whitespace), and that you verify the raw request body, not JSON parsed and re-serialized by your framework. ${RAW_BODY_HELP}`,
  timestamp_outside_tolerance: 'The signature is genuine but its timestamp is too far from now: a replayed or delayed request, or a wrong clock. Check the receiver\'s clock (NTP); raise `tolerance` only if you must.',
  payload_not_raw: `The payload was given as a parsed object (or nothing), so its exact bytes are lost and cannot be verified. ${RAW_BODY_HELP}`,
  invalid_json: 'The signature is valid but the body is not JSON, so it cannot be an event.',
};

/** The one error the verifiers throw for a request that must be refused (answer it with 400). */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, detail?: string) {
    super(detail ? `${detail} ${WEBHOOK_ERROR_HELP[code]}` : WEBHOOK_ERROR_HELP[code]);
    this.code = code;
  }
}

export function isWebhookVerificationError(error: unknown): error is WebhookVerificationError {
  return error instanceof WebhookVerificationError;
}
