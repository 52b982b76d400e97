/**
 * `@herald/webhooks`: verify (and sign) Herald and Stripe webhooks, `Stripe-Signature` and
 * Standard Webhooks. This entry adds the node:crypto fast path and the Node framework adapters to
 * everything in `@herald/webhooks/web`.
 */
export * from './web.js';
export { computeStandardSignature, computeStripeSignature, generateTestHeaderString, standardWebhooksHeaders, stripeSignatureHeader } from './signing.js';
export { constructEvent, verifyStandardWebhook, verifyWebhook } from './verify.js';
export { DEFAULT_MAX_BODY_BYTES, expressWebhook, fastifyWebhook, nodeWebhook, type NodeAdapterOptions } from './node-adapters.js';
