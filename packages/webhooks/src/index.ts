export { computeStripeSignature, stripeSignatureHeader } from './signing.js';
