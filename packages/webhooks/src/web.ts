/**
 * `@herald/webhooks/web`: everything that runs without Node modules (WebCrypto, Fetch API) for
 * Deno, Bun, Cloudflare Workers, Vercel Edge, browsers, and Node too.
 */
export { WebhookVerificationError, WEBHOOK_ERROR_HELP, isWebhookVerificationError, type WebhookErrorCode } from './errors.js';
export {
  DEFAULT_TOLERANCE_SECONDS,
  parseStripeSignatureHeader,
  parseStandardHeaders,
  type HeaderSource,
  type RawBody,
  type SignatureScheme,
  type StandardSignatureParts,
  type StandardWebhooksHeaders,
  type StripeSignatureParts,
  type TestHeaderOptions,
  type VerifyOptions,
  type WebhookEvent,
} from './common.js';
export {
  constructEventAsync,
  generateTestHeaderStringAsync,
  standardWebhooksHeadersAsync,
  stripeSignatureHeaderAsync,
  verifyStandardWebhookAsync,
  verifyWebhookAsync,
} from './web-crypto.js';
export { MemoryDedupeStore, type DedupeStore, type MemoryDedupeOptions } from './dedupe.js';
export { formatIpAddress, formatIpRange, IpRangeList, parseIpAddress, parseIpRange, rangeContains, unmapIpv4, type IpAddress, type IpRange } from './ip.js';
export { fetchEgressAddresses } from './sources.js';
export {
  honoWebhook,
  nextWebhook,
  type AfterResponse,
  type EventHandler,
  type HandledWebhook,
  type WebhookHandler,
  type WebhookHandlerOptions,
  type WebhookLogger,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookVerifier,
} from './handler.js';

import type { WebhookEvent } from './common.js';
import { createWebhookHandlerWith, type WebhookHandler, type WebhookHandlerOptions } from './handler.js';
import { verifyWebhookAsync } from './web-crypto.js';

/** Builds a webhook receiver verifying with WebCrypto (see the main entry for the node:crypto one). */
export function createWebhookHandler<E extends WebhookEvent = WebhookEvent>(options: WebhookHandlerOptions<E>): WebhookHandler<E> {
  return createWebhookHandlerWith(verifyWebhookAsync, options);
}
