import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  constructEvent,
  constructEventAsync,
  parseStandardHeaders,
  parseStripeSignatureHeader,
  stripeSignatureHeader,
  verifyStandardWebhook,
  verifyStandardWebhookAsync,
  WebhookVerificationError,
} from '../src/index.js';
import { PRIMARY_SECRET, ROLLED_SECRET, SIGNING_VECTORS } from './vectors.js';

const v = SIGNING_VECTORS[0]!;
const options = { now: v.timestamp * 1000 };
const isOwnError = (error: unknown) => error instanceof WebhookVerificationError;

/** Strings built from the header's own alphabet, so the parser's branches are reached often. */
const headerish = fc
  .array(
    fc.oneof(
      fc.constantFrom('t=', 'v1=', 'v0=', ',', '=', ' ', 't', 'v1', String(v.timestamp), '-', '.', 'NaN', '\u0000', '\u2028', '🚀'),
      fc.stringMatching(/^[0-9a-f]{0,64}$/),
      fc.string({ unit: 'binary', maxLength: 8 }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));

const anyHeaderValue = fc.oneof(headerish, fc.string({ unit: 'binary' }), fc.anything());

describe('the Stripe-Signature parser under arbitrary input', () => {
  it('only ever throws WebhookVerificationError, never crashes', () => {
    fc.assert(
      fc.property(anyHeaderValue, (header) => {
        try {
          const parsed = parseStripeSignatureHeader(header);
          assert.ok(Number.isSafeInteger(parsed.timestamp) && parsed.timestamp >= 0);
          assert.ok(parsed.signatures.length > 0);
        } catch (error) {
          assert.ok(isOwnError(error), `threw ${String(error)}`);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('constructEvent and constructEventAsync refuse every header made without the secret, with the library\'s error', async () => {
    await fc.assert(
      fc.asyncProperty(anyHeaderValue, fc.oneof(fc.constant(v.body), fc.string()), async (header, body) => {
        assert.throws(() => constructEvent(body, header, PRIMARY_SECRET, options), isOwnError);
        await assert.rejects(constructEventAsync(body, header, PRIMARY_SECRET, options), isOwnError);
      }),
      { numRuns: 1500 },
    );
  });

  it('a header signed with another secret is refused however it is rearranged', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 5 }), fc.array(fc.constantFrom('v0=abc', 'x=1', ' ', ''), { maxLength: 3 }), (body, copies, noise) => {
        const forged = stripeSignatureHeader(body, Array(copies + 1).fill(ROLLED_SECRET), v.timestamp);
        const header = [...forged.split(','), ...noise].sort().join(',');
        assert.throws(() => constructEvent(body, header, PRIMARY_SECRET, options), (e: unknown) => isOwnError(e));
      }),
      { numRuns: 500 },
    );
  });

  it('a genuine header still verifies with noise elements added around it', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('v0=abc', 'x=1', 'v2=zz', `v1=${'0'.repeat(64)}`), { maxLength: 4 }), fc.boolean(), (noise, reverse) => {
        const parts = [...v.expectedStripeSignature.split(','), ...noise];
        if (reverse) parts.reverse();
        assert.equal(constructEvent(v.body, parts.join(','), v.secret, options).id, v.id);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the Standard Webhooks parser under arbitrary input', () => {
  const headerRecord = fc.record(
    { 'webhook-id': fc.oneof(fc.string(), fc.constant(v.id)), 'webhook-timestamp': fc.oneof(fc.string(), fc.constant(String(v.timestamp))), 'webhook-signature': fc.oneof(fc.string(), headerish.map((s) => s.replaceAll('=', ',')), fc.anything()) },
    { requiredKeys: [] },
  );

  it('only ever throws WebhookVerificationError, and never accepts a signature made without the secret', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(headerRecord, fc.anything()), async (headers) => {
        try {
          parseStandardHeaders(headers as never);
        } catch (error) {
          assert.ok(isOwnError(error), `threw ${String(error)}`);
        }
        assert.throws(() => verifyStandardWebhook(v.body, headers as never, PRIMARY_SECRET, options), isOwnError);
        await assert.rejects(verifyStandardWebhookAsync(v.body, headers as never, PRIMARY_SECRET, options), isOwnError);
      }),
      { numRuns: 1500 },
    );
  });
});
