/**
 * `@herald/webhooks`: verify (and sign) Herald and Stripe webhooks, `Stripe-Signature` and
 * Standard Webhooks. This entry adds the node:crypto fast path and the Node framework adapters to
 * everything in `@herald/webhooks/web`.
 */
export * from './web.js';
export {
  computeStandardSignature,
  computeStripeSignature,
  deliverySignatureHeaders,
  generateTestHeaderString,
  standardWebhooksHeaders,
  stripeSignatureHeader,
  type DeliverySigningInput,
} from './signing.js';
export { constructEvent, verifyStandardWebhook, verifyWebhook } from './verify.js';
export { DEFAULT_MAX_BODY_BYTES, expressWebhook, fastifyWebhook, nodeWebhook, type NodeAdapterOptions } from './node-adapters.js';

import type { WebhookEvent } from './common.js';
import { createWebhookHandlerWith, type WebhookHandler, type WebhookHandlerOptions } from './handler.js';
import { verifyWebhook } from './verify.js';

/** Builds a webhook receiver verifying with node:crypto, the fastest path on Node. */
export function createWebhookHandler<E extends WebhookEvent = WebhookEvent>(options: WebhookHandlerOptions<E>): WebhookHandler<E> {
  return createWebhookHandlerWith(verifyWebhook, options);
}
