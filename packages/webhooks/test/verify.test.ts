import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  constructEvent,
  constructEventAsync,
  deliverySignatureHeaders,
  generateTestHeaderString,
  generateTestHeaderStringAsync,
  standardWebhooksHeaders,
  standardWebhooksHeadersAsync,
  stripeSignatureHeader,
  stripeSignatureHeaderAsync,
  verifyStandardWebhook,
  verifyStandardWebhookAsync,
  verifyWebhook,
  verifyWebhookAsync,
  WebhookVerificationError,
  type WebhookErrorCode,
} from '../src/index.js';
import { PRIMARY_SECRET, ROLL_VECTOR, ROLLED_SECRET, SIGNING_VECTORS } from './vectors.js';

const [vector] = SIGNING_VECTORS;
const at = (seconds: number) => ({ now: seconds * 1000 });

/** Runs the sync and the async verifier on the same input; both must agree. */
async function bothPaths(body: unknown, header: unknown, secret: string | string[], options?: Parameters<typeof constructEvent>[3]) {
  let syncResult: unknown, asyncResult: unknown;
  try {
    syncResult = { ok: constructEvent(body, header, secret, options) };
  } catch (error) {
    syncResult = { error };
  }
  try {
    asyncResult = { ok: await constructEventAsync(body, header, secret, options) };
  } catch (error) {
    asyncResult = { error };
  }
  return [syncResult, asyncResult] as [{ ok?: any; error?: any }, { ok?: any; error?: any }];
}

async function assertRefused(code: WebhookErrorCode, body: unknown, header: unknown, secret: string | string[] = vector!.secret, options: Parameters<typeof constructEvent>[3] = at(vector!.timestamp)) {
  for (const result of await bothPaths(body, header, secret, options)) {
    assert.ok(result.error instanceof WebhookVerificationError, `expected ${code}, got ${result.error ?? 'success'}`);
    assert.equal(result.error.code, code);
    assert.ok(result.error.message.length > 40, 'the message explains how to fix it');
  }
}

describe('shared signing vectors', () => {
  for (const v of SIGNING_VECTORS) {
    it(`signs "${v.name}" exactly as stripe-node and standardwebhooks do`, async () => {
      assert.equal(stripeSignatureHeader(v.body, [v.secret], v.timestamp), v.expectedStripeSignature);
      assert.equal(await stripeSignatureHeaderAsync(v.body, [v.secret], v.timestamp), v.expectedStripeSignature);
      assert.equal(generateTestHeaderString({ payload: v.body, secret: v.secret, timestamp: v.timestamp }), v.expectedStripeSignature);
      assert.equal(await generateTestHeaderStringAsync({ payload: v.body, secret: v.secret, timestamp: v.timestamp }), v.expectedStripeSignature);
      const standard = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.expectedStandardSignature };
      assert.deepEqual(standardWebhooksHeaders(v.body, [v.secret], v.id, v.timestamp), standard);
      assert.deepEqual(await standardWebhooksHeadersAsync(v.body, [v.secret], v.id, v.timestamp), standard);
    });

    it(`verifies "${v.name}" on every path, from a string and from bytes`, async () => {
      const expected = JSON.parse(v.body);
      for (const body of [v.body, Buffer.from(v.body), new TextEncoder().encode(v.body), new TextEncoder().encode(v.body).buffer]) {
        for (const result of await bothPaths(body, v.expectedStripeSignature, v.secret, at(v.timestamp))) assert.deepEqual(result.ok, expected);
        const headers = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.expectedStandardSignature };
        assert.deepEqual(verifyStandardWebhook(body, headers, v.secret, at(v.timestamp)), expected);
        assert.deepEqual(await verifyStandardWebhookAsync(body, new Headers(headers), v.secret, at(v.timestamp)), expected);
      }
    });
  }

  it('signs with every secret of a roll, in order, and each secret verifies alone', async () => {
    const v = ROLL_VECTOR;
    assert.equal(stripeSignatureHeader(v.body, v.secrets, v.timestamp), v.expectedStripeSignature);
    assert.equal(standardWebhooksHeaders(v.body, v.secrets, v.id, v.timestamp)['webhook-signature'], v.expectedStandardSignature);
    for (const secret of v.secrets) {
      for (const result of await bothPaths(v.body, v.expectedStripeSignature, secret, at(v.timestamp))) assert.equal(result.ok?.id, v.id);
      const headers = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.expectedStandardSignature };
      assert.equal(verifyStandardWebhook(v.body, headers, secret, at(v.timestamp)).id, v.id);
    }
  });
});

describe('deliverySignatureHeaders (what the delivery worker sends per endpoint scheme)', () => {
  const v = ROLL_VECTOR;
  const input = { secrets: v.secrets, eventId: v.id, timestamp: v.timestamp };
  it('signs with Stripe-Signature by default, Standard Webhooks or both on request', () => {
    assert.deepEqual(deliverySignatureHeaders(v.body, input), { 'stripe-signature': v.expectedStripeSignature });
    const standard = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.expectedStandardSignature };
    assert.deepEqual(deliverySignatureHeaders(v.body, { ...input, schemes: ['standard'] }), standard);
    const both = deliverySignatureHeaders(v.body, { ...input, schemes: ['stripe', 'standard'] });
    assert.deepEqual(both, { 'stripe-signature': v.expectedStripeSignature, ...standard });
    // A receiver of both sets of headers verifies with either scheme.
    assert.equal(verifyWebhook(v.body, both, v.secrets[1], at(v.timestamp)).id, v.id);
    assert.equal(verifyStandardWebhook(v.body, both, v.secrets[0], at(v.timestamp)).id, v.id);
  });
});

describe('constructEvent and constructEventAsync', () => {
  const v = vector!;
  const sign = (body: string, t = v.timestamp, secret = v.secret) => stripeSignatureHeader(body, [secret], t);

  it('accepts a list of secrets when any one of them signed', async () => {
    for (const result of await bothPaths(v.body, v.expectedStripeSignature, ['whsec_other', v.secret], at(v.timestamp))) assert.equal(result.ok?.id, v.id);
    await assertRefused('signature_mismatch', v.body, v.expectedStripeSignature, ['whsec_other', ROLLED_SECRET]);
  });

  it('accepts any matching v1 among several, in any order, ignores v0 and unknown schemes', async () => {
    const good = v.expectedStripeSignature.split(',')[1]!;
    for (const header of [`t=${v.timestamp},v1=${'0'.repeat(64)},${good}`, `${good},t=${v.timestamp}`, `t=${v.timestamp},${good},v0=abc,v9=zz`, `t=${v.timestamp}, ${good}`]) {
      for (const result of await bothPaths(v.body, header, v.secret, at(v.timestamp))) assert.equal(result.ok?.id, v.id, header);
    }
  });

  it('refuses a missing header, a malformed one, and one without v1', async () => {
    for (const header of [undefined, null, '', []]) await assertRefused('missing_header', v.body, header);
    for (const header of ['garbage', `v1=${'a'.repeat(64)}`, `t=abc,v1=${'a'.repeat(64)}`, `t=${v.timestamp}.5,v1=x`, `t=1,t=2,v1=x`, `t=-5,v1=x`, `=x,t=1`, ['a', 'b'], 42, { t: 1 }, 'x'.repeat(20_000)]) {
      await assertRefused('malformed_header', v.body, header);
    }
    const v0Only = v.expectedStripeSignature.replace('v1=', 'v0=');
    await assertRefused('no_signature', v.body, v0Only);
    await assertRefused('no_signature', v.body, `t=${v.timestamp}`);
  });

  it('refuses a wrong secret, a changed body, a changed timestamp, an empty or truncated signature', async () => {
    await assertRefused('signature_mismatch', v.body, v.expectedStripeSignature, ROLLED_SECRET);
    await assertRefused('signature_mismatch', v.body.replace('2000', '2001'), v.expectedStripeSignature);
    await assertRefused('signature_mismatch', v.body, v.expectedStripeSignature.replace(`t=${v.timestamp}`, `t=${v.timestamp + 1}`));
    await assertRefused('signature_mismatch', v.body, `t=${v.timestamp},v1=`);
    await assertRefused('signature_mismatch', v.body, v.expectedStripeSignature.slice(0, -2));
    // Re-serialized JSON (what `express.json()` then `JSON.stringify` gives) no longer matches.
    await assertRefused('signature_mismatch', JSON.stringify(JSON.parse(v.body)), v.expectedStripeSignature);
  });

  it('refuses a parsed object or no body with payload_not_raw, saying how to get the raw body', async () => {
    for (const body of [JSON.parse(v.body), undefined, null, 42, [1]]) await assertRefused('payload_not_raw', body, v.expectedStripeSignature);
    const [result] = await bothPaths(JSON.parse(v.body), v.expectedStripeSignature, v.secret, at(v.timestamp));
    assert.match(result.error.message, /express\.raw/);
  });

  it('refuses a validly signed body that is not JSON with invalid_json', async () => {
    await assertRefused('invalid_json', 'not json', sign('not json'));
  });

  it('allows 300 s either way by default and refuses beyond, past and future', async () => {
    for (const drift of [-300, -1, 0, 1, 300]) {
      for (const result of await bothPaths(v.body, v.expectedStripeSignature, v.secret, at(v.timestamp + drift))) assert.equal(result.ok?.id, v.id, `drift ${drift}`);
    }
    await assertRefused('timestamp_outside_tolerance', v.body, v.expectedStripeSignature, v.secret, at(v.timestamp + 301));
    await assertRefused('timestamp_outside_tolerance', v.body, v.expectedStripeSignature, v.secret, at(v.timestamp - 301));
    await assertRefused('timestamp_outside_tolerance', v.body, v.expectedStripeSignature, v.secret, { tolerance: 10, now: new Date((v.timestamp + 11) * 1000) });
    for (const result of await bothPaths(v.body, v.expectedStripeSignature, v.secret, { tolerance: 3600, now: (v.timestamp + 3000) * 1000 })) assert.equal(result.ok?.id, v.id);
  });

  it('checks the signature before the time, so a forged old request reads as a forgery', async () => {
    await assertRefused('signature_mismatch', v.body, v.expectedStripeSignature, ROLLED_SECRET, at(v.timestamp + 10_000));
  });

  it('refuses a tolerance of 0, negative or not a number, and an empty secret, as programming errors', async () => {
    for (const tolerance of [0, -1, Number.NaN, Infinity]) {
      assert.throws(() => constructEvent(v.body, v.expectedStripeSignature, v.secret, { tolerance }), (e: Error) => e instanceof RangeError && /positive number of seconds/.test(e.message));
      await assert.rejects(constructEventAsync(v.body, v.expectedStripeSignature, v.secret, { tolerance }), RangeError);
    }
    for (const secret of ['', '  ', [], [''], undefined as unknown as string]) {
      assert.throws(() => constructEvent(v.body, v.expectedStripeSignature, secret), (e: Error) => e instanceof TypeError && /whsec_/.test(e.message));
      await assert.rejects(constructEventAsync(v.body, v.expectedStripeSignature, secret), TypeError);
    }
  });

  it('matches stripe-node\'s generateTestHeaderString defaults: now when no timestamp, floors, custom scheme and signature', async () => {
    const before = Math.floor(Date.now() / 1000);
    const header = generateTestHeaderString({ payload: v.body, secret: v.secret });
    const t = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(header)![1]);
    assert.ok(t >= before && t <= before + 2);
    assert.equal(generateTestHeaderString({ payload: 'x', secret: 's', timestamp: 12.9 }), generateTestHeaderString({ payload: 'x', secret: 's', timestamp: 12 }));
    assert.equal(generateTestHeaderString({ payload: 'x', secret: 's', timestamp: 5, scheme: 'v0', signature: 'abc' }), 't=5,v0=abc');
    assert.equal(await generateTestHeaderStringAsync({ payload: 'x', secret: 's', timestamp: 5, scheme: 'v0', signature: 'abc' }), 't=5,v0=abc');
    assert.throws(() => generateTestHeaderString(undefined as never), /Options are required/);
  });
});

describe('Standard Webhooks verification', () => {
  const v = vector!;
  const headers = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.expectedStandardSignature };

  async function refusedStandard(code: WebhookErrorCode, h: Record<string, string | undefined>, secret = v.secret, now = v.timestamp, body: unknown = v.body) {
    assert.throws(() => verifyStandardWebhook(body, h, secret, at(now)), (e: unknown) => e instanceof WebhookVerificationError && e.code === code);
    await assert.rejects(verifyStandardWebhookAsync(body, h, secret, at(now)), (e: unknown) => e instanceof WebhookVerificationError && e.code === code);
  }

  it('accepts svix- aliases, mixed-case names, unknown versions next to v1 (v1a), several signatures', () => {
    const svix = { 'svix-id': v.id, 'svix-timestamp': String(v.timestamp), 'svix-signature': `v1a,abc ${v.expectedStandardSignature}` };
    assert.equal(verifyStandardWebhook(v.body, svix, v.secret, at(v.timestamp)).id, v.id);
    assert.equal(verifyStandardWebhook(v.body, { 'Webhook-Id': v.id, 'Webhook-Timestamp': String(v.timestamp), 'Webhook-Signature': `v1,AAAA ${v.expectedStandardSignature}` }, v.secret, at(v.timestamp)).id, v.id);
  });

  it('refuses each failure with its code', async () => {
    await refusedStandard('missing_header', { ...headers, 'webhook-id': undefined });
    await refusedStandard('missing_header', {});
    await refusedStandard('malformed_header', { ...headers, 'webhook-timestamp': '12.5' });
    await refusedStandard('malformed_header', { ...headers, 'webhook-signature': 'nocomma' });
    await refusedStandard('no_signature', { ...headers, 'webhook-signature': 'v2,abc' });
    await refusedStandard('signature_mismatch', headers, ROLLED_SECRET);
    await refusedStandard('signature_mismatch', { ...headers, 'webhook-id': 'evt_other' });
    await refusedStandard('signature_mismatch', { ...headers, 'webhook-signature': 'v1,!!!notbase64' });
    await refusedStandard('timestamp_outside_tolerance', headers, v.secret, v.timestamp + 301);
    await refusedStandard('timestamp_outside_tolerance', headers, v.secret, v.timestamp - 301);
    await refusedStandard('payload_not_raw', headers, v.secret, v.timestamp, JSON.parse(v.body));
  });

  it('refuses a secret whose key part is not base64 with a clear TypeError', () => {
    assert.throws(() => verifyStandardWebhook(v.body, headers, 'whsec_not base64!', at(v.timestamp)), /must be base64/);
    assert.throws(() => standardWebhooksHeaders(v.body, [v.secret], 'evt.with.dots', v.timestamp), /must not contain "\."/);
  });

  it('verifyWebhook picks the scheme from the headers', async () => {
    const stripeHeaders = { 'stripe-signature': v.expectedStripeSignature };
    assert.equal(verifyWebhook(v.body, stripeHeaders, v.secret, at(v.timestamp)).id, v.id);
    assert.equal((await verifyWebhookAsync(v.body, new Headers(stripeHeaders), v.secret, at(v.timestamp))).id, v.id);
    assert.equal(verifyWebhook(v.body, headers, v.secret, at(v.timestamp)).id, v.id);
    assert.equal((await verifyWebhookAsync(v.body, new Headers(headers), v.secret, at(v.timestamp))).id, v.id);
    assert.throws(() => verifyWebhook(v.body, {}, v.secret), (e: unknown) => e instanceof WebhookVerificationError && e.code === 'missing_header');
    await assert.rejects(verifyWebhookAsync(v.body, {}, v.secret), (e: unknown) => e instanceof WebhookVerificationError && e.code === 'missing_header');
  });
});

describe('the web entry', () => {
  it('imports no Node module, directly or through its imports', () => {
    const srcDir = new URL('../src/', import.meta.url).pathname;
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(srcDir, file), 'utf8');
      for (const match of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
        const [, , typeOnly, specifier] = match;
        if (typeOnly) continue;
        assert.ok(specifier!.startsWith('./'), `${file} imports ${specifier} (the web entry must stay runtime-neutral)`);
        visit(specifier!.slice(2).replace(/\.js$/, '.ts'));
      }
    };
    visit('web.ts');
    assert.ok(seen.has('web-crypto.ts') && seen.has('handler.ts'));
    assert.ok(!seen.has('verify.ts') && !seen.has('signing.ts') && !seen.has('node-adapters.ts'));
    assert.ok(readdirSync(srcDir).includes('web.ts'));
  });

  it('is exported as @herald/webhooks/web', async () => {
    const web = await import('@herald/webhooks/web');
    assert.equal(typeof web.constructEventAsync, 'function');
    assert.equal('constructEvent' in web, false);
    const v = vector!;
    assert.equal((await web.constructEventAsync(v.body, v.expectedStripeSignature, PRIMARY_SECRET, at(v.timestamp))).id, v.id);
  });
});
