import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { Webhook as SvixWebhook } from 'svix';
import {
  constructEvent,
  constructEventAsync,
  generateTestHeaderString,
  standardWebhooksHeaders,
  standardWebhooksHeadersAsync,
  stripeSignatureHeader,
  verifyStandardWebhook,
  verifyStandardWebhookAsync,
} from '../src/index.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const now = () => Math.floor(Date.now() / 1000);

/** Event-like JSON bodies with arbitrary (including non-ASCII) strings, compact or pretty. */
const arbitraryBody = fc
  .record({ id: fc.stringMatching(/^evt_[A-Za-z0-9]{1,24}$/), type: fc.constantFrom('payment_intent.succeeded', 'charge.failed', 'customer.updated'), note: fc.string({ unit: 'binary' }), amount: fc.integer() })
  .chain((fields) => fc.constantFrom(JSON.stringify({ ...fields, object: 'event' }), JSON.stringify({ ...fields, object: 'event' }, null, 2)));

describe('interop with stripe-node', () => {
  it('Herald\'s headers verify with stripe.webhooks.constructEvent (one and two secrets)', () => {
    fc.assert(
      fc.property(arbitraryBody, (body) => {
        const [a, b] = [newSecret(), newSecret()];
        const header = stripeSignatureHeader(body, [a, b], now());
        assert.deepEqual(Stripe.webhooks.constructEvent(body, header, a), JSON.parse(body));
        assert.deepEqual(Stripe.webhooks.constructEvent(Buffer.from(body), header, b), JSON.parse(body));
      }),
      { numRuns: 100 },
    );
  });

  it('stripe-node\'s generateTestHeaderString verifies with Herald, sync and async, and equals Herald\'s byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryBody, fc.integer({ min: 1, max: 4_000_000_000 }), async (body, timestamp) => {
        const secret = newSecret();
        const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
        assert.equal(generateTestHeaderString({ payload: body, secret, timestamp }), header);
        assert.deepEqual(constructEvent(body, header, secret, { now: timestamp * 1000 }), JSON.parse(body));
        assert.deepEqual(await constructEventAsync(Buffer.from(body), header, secret, { now: timestamp * 1000 }), JSON.parse(body));
      }),
      { numRuns: 100 },
    );
  });

  it('generateTestHeaderString equals stripe-node\'s for the same custom scheme and precomputed signature', async () => {
    const options = { payload: '{"a":1}', secret: 'whsec_test', timestamp: 1700000000.7, scheme: 'v0', signature: 'deadbeef' };
    assert.equal(generateTestHeaderString(options), Stripe.webhooks.generateTestHeaderString(options));
    assert.equal(generateTestHeaderString({ ...options, signature: '' }), Stripe.webhooks.generateTestHeaderString({ ...options, signature: '' }));
    assert.equal(await Stripe.webhooks.generateTestHeaderStringAsync({ payload: '{}', secret: 'whsec_x', timestamp: 1 }), generateTestHeaderString({ payload: '{}', secret: 'whsec_x', timestamp: 1 }));
  });

  it('agrees with stripe-node on what is refused: wrong secret, changed body, stale (past) timestamp', () => {
    const secret = newSecret();
    const body = '{"id":"evt_1","object":"event","type":"x"}';
    const stale = stripeSignatureHeader(body, [secret], now() - 301);
    assert.throws(() => Stripe.webhooks.constructEvent(body, stale, secret), /Timestamp outside the tolerance zone/);
    assert.throws(() => constructEvent(body, stale, secret), { code: 'timestamp_outside_tolerance' });
    const fresh = stripeSignatureHeader(body, [secret], now());
    assert.throws(() => Stripe.webhooks.constructEvent(body, fresh, newSecret()), Stripe.errors.StripeSignatureVerificationError);
    assert.throws(() => constructEvent(body, fresh, newSecret()), { code: 'signature_mismatch' });
    assert.throws(() => Stripe.webhooks.constructEvent(body + ' ', fresh, secret), Stripe.errors.StripeSignatureVerificationError);
    assert.throws(() => constructEvent(body + ' ', fresh, secret), { code: 'signature_mismatch' });
    // Where Herald is stricter on purpose: stripe-node accepts a timestamp far in the future.
    const future = stripeSignatureHeader(body, [secret], now() + 10_000);
    assert.equal(Stripe.webhooks.constructEvent(body, future, secret).id, 'evt_1');
    assert.throws(() => constructEvent(body, future, secret), { code: 'timestamp_outside_tolerance' });
  });
});

describe('interop with standardwebhooks and svix', () => {
  it('Herald\'s Standard Webhooks headers verify with standardwebhooks and svix (one and two secrets)', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryBody, fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), async (body, id) => {
        const [a, b] = [newSecret(), newSecret()];
        const t = now();
        const headers = standardWebhooksHeaders(body, [a, b], id, t);
        assert.deepEqual(await standardWebhooksHeadersAsync(body, [a, b], id, t), headers);
        for (const secret of [a, b]) {
          assert.deepEqual(new StandardWebhook(secret).verify(body, { ...headers }), JSON.parse(body));
          assert.deepEqual(new SvixWebhook(secret).verify(body, { ...headers }), JSON.parse(body));
          const svixHeaders = { 'svix-id': headers['webhook-id'], 'svix-timestamp': headers['webhook-timestamp'], 'svix-signature': headers['webhook-signature'] };
          assert.deepEqual(new SvixWebhook(secret).verify(body, svixHeaders), JSON.parse(body));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('headers signed by standardwebhooks and svix verify with Herald, sync and async, and match Herald\'s signature', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryBody, fc.stringMatching(/^msg_[A-Za-z0-9]{1,30}$/), async (body, id) => {
        const secret = newSecret();
        const t = now();
        const signature = new StandardWebhook(secret).sign(id, new Date(t * 1000), body);
        assert.equal(new SvixWebhook(secret).sign(id, new Date(t * 1000), body), signature);
        assert.equal(standardWebhooksHeaders(body, [secret], id, t)['webhook-signature'], signature);
        const headers = { 'webhook-id': id, 'webhook-timestamp': String(t), 'webhook-signature': signature };
        assert.deepEqual(verifyStandardWebhook(body, headers, secret), JSON.parse(body));
        assert.deepEqual(await verifyStandardWebhookAsync(new TextEncoder().encode(body), new Headers(headers), secret), JSON.parse(body));
      }),
      { numRuns: 60 },
    );
  });

  it('one whsec_ secret serves both schemes for the same delivery', () => {
    const secret = newSecret();
    const body = '{"id":"evt_both","object":"event","type":"charge.succeeded"}';
    const t = now();
    assert.equal(Stripe.webhooks.constructEvent(body, stripeSignatureHeader(body, [secret], t), secret).id, 'evt_both');
    assert.deepEqual(new StandardWebhook(secret).verify(body, { ...standardWebhooksHeaders(body, [secret], 'evt_both', t) }), JSON.parse(body));
  });
});
