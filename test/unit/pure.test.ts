import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseForm } from '../../src/api/form.js';
import { resolveConfig, ConfigError } from '../../src/config/config.js';
import { classify, failureKindOfError } from '../../src/delivery/outcome.js';
import { claimShape, fairnessBinds } from '../../src/store/claim-fairness.js';
import { retryDelay, RETRY_SCHEDULES } from '../../src/delivery/retry-policy.js';
import { formatDuration, parseDuration } from '../../src/domain/duration.js';
import { endpointWantsType, typePatternMatcher } from '../../src/domain/event-types.js';
import { renderEventPayload } from '../../src/domain/objects.js';

describe('form parsing (stripe-node and curl styles)', () => {
  const cases: [string, unknown][] = [
    ['url=https%3A%2F%2Fex.com%2Fh&enabled_events[0]=a.b&enabled_events[1]=c.d', { url: 'https://ex.com/h', enabled_events: ['a.b', 'c.d'] }],
    ['enabled_events[]=a.b&enabled_events[]=c.d', { enabled_events: ['a.b', 'c.d'] }],
    ['enabled_events%5B%5D=a.b', { enabled_events: ['a.b'] }],
    ['metadata[k]=v&metadata[gone]=&description=', { metadata: { k: 'v', gone: '' }, description: '' }],
    ['description=two+words%20here', { description: 'two words here' }],
    ['data[object][id]=pi_1&data[object][items][0][id]=x&data[object][items][1][id]=y', { data: { object: { id: 'pi_1', items: [{ id: 'x' }, { id: 'y' }] } } }],
    ['a[10]=ten&a[2]=two', { a: ['two', 'ten'] }],
    ['expand[0]=x', { expand: ['x'] }],
    ['', {}],
  ];
  for (const [input, expected] of cases) {
    it(input || '(empty)', () => assert.deepEqual(parseForm(input), expected));
  }
  it('refuses what it cannot represent, with a clear error', () => {
    for (const bad of ['a]=1', 'a[b=1', '%E0%A4%A=1', '__proto__[x]=1', 'a[__proto__]=1']) {
      assert.throws(() => parseForm(bad), (err: any) => err.status === 400 && err.type === 'invalid_request_error', bad);
    }
  });
});

describe('retry policy', () => {
  it('follows the live schedule over about three days, with ±10 % jitter', () => {
    const total = RETRY_SCHEDULES.live.reduce((a, b) => a + b, 0);
    assert.ok(total > 3 * 86_400_000 && total < 3.2 * 86_400_000);
    assert.equal(retryDelay({ mode: 'live', step: 0, override: null, random: 0.5 }), 5000);
    assert.equal(retryDelay({ mode: 'live', step: 0, override: null, random: 0 }), 4500);
    assert.equal(retryDelay({ mode: 'live', step: 8, override: null, random: 0.999999 }), Math.round(24 * 3600_000 * 1.099999800000));
    assert.equal(retryDelay({ mode: 'live', step: 9, override: null, random: 0.5 }), null);
  });
  it('retries three times over a few hours in test mode', () => {
    assert.equal(RETRY_SCHEDULES.test.length, 3);
    assert.equal(retryDelay({ mode: 'test', step: 3, override: null, random: 0.5 }), null);
  });
  it('uses an override exactly, for both modes', () => {
    for (const mode of ['test', 'live'] as const) {
      assert.deepEqual([0, 1, 2].map((step) => retryDelay({ mode, step, override: [1000, 2000], random: 0.9 })), [1000, 2000, null]);
    }
  });
});

describe('outcome classification', () => {
  const response = (status: number, headers: Record<string, string> = {}) => ({ kind: 'response' as const, status, headers, body: '', durationMs: 1 });
  it('counts only 2xx as success', () => {
    for (const status of [200, 201, 204, 299]) assert.equal(classify(response(status)).outcome, 'succeeded');
    for (const status of [100, 301, 302, 307, 400, 404, 410, 429, 500, 503]) assert.equal(classify(response(status)).outcome, 'failed');
  });
  it('names redirects and errors', () => {
    assert.deepEqual(classify(response(302, { location: '/x' })), { outcome: 'failed', failureKind: 'redirect', message: 'Redirect (302) to /x; redirects are not followed' });
    assert.equal((classify(response(500)) as any).failureKind, 'http_error');
    assert.equal(failureKindOfError('ECONNREFUSED', 'Error'), 'connection_refused');
    assert.equal(failureKindOfError('ENOTFOUND', 'Error'), 'dns_error');
    assert.equal(failureKindOfError('DEPTH_ZERO_SELF_SIGNED_CERT', 'Error'), 'tls_error');
    assert.equal(failureKindOfError('ERR_TLS_CERT_ALTNAME_INVALID', 'Error'), 'tls_error');
    assert.equal(failureKindOfError(undefined, 'AbortError'), 'timeout');
    assert.equal(failureKindOfError('ECONNRESET', 'Error'), 'connection_error');
  });
});

describe('durations and configuration', () => {
  it('parses and prints durations', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('3d'), 259_200_000);
    assert.equal(parseDuration('5'), null);
    assert.equal(parseDuration('soon'), null);
    assert.equal(formatDuration(90_000), '1m30s');
  });
  it('names the setting when configuration is invalid', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ HERALD_PORT: 'eighty' }, /HERALD_PORT: expected a whole number/],
      [{ HERALD_PORT: '70000' }, /HERALD_PORT: must be between 0 and 65535/],
      [{ HERALD_DATABASE_URL: 'mysql://x' }, /HERALD_DATABASE_URL: expected sqlite:<path> or postgres/],
      [{ HERALD_RETRY_SCHEDULE: '1s,soon' }, /HERALD_RETRY_SCHEDULE: expected a duration/],
      [{ HERALD_DISABLE_AFTER: '3' }, /HERALD_DISABLE_AFTER/],
      [{ HERALD_TEST_SECRET_KEY: 'sk_live_abcdefghijkl' }, /HERALD_TEST_SECRET_KEY: expected a test secret key/],
      [{ HERALD_MAX_ENDPOINTS: '0' }, /HERALD_MAX_ENDPOINTS/],
      [{ HERALD_ENDPOINT_CONCURRENCY: '0' }, /HERALD_ENDPOINT_CONCURRENCY/],
      [{ HERALD_EVENT_TYPES: 'Order Shipped' }, /HERALD_EVENT_TYPES/],
      [{ HERALD_PROT: '1' }, /HERALD_PROT: unknown setting/],
    ];
    for (const [env, message] of bad) assert.throws(() => resolveConfig(env), (err: unknown) => err instanceof ConfigError && message.test((err as Error).message), JSON.stringify(env));
    assert.throws(() => resolveConfig({}, { '--prot': '1' }), /--prot: unknown flag/);
    const config = resolveConfig({ HERALD_PORT: '9000', HERALD_RETRY_SCHEDULE: '1s, 2s,500ms' }, { '--port': '9001' });
    assert.equal(config.port, 9001);
    assert.deepEqual(config.retrySchedule, [1000, 2000, 500]);
    assert.deepEqual(config.database, { kind: 'sqlite', path: './herald-data/herald.db' });
    assert.equal(config.maxEndpoints, 16);
    assert.equal(config.disableAfterMs, 3 * 86_400_000);
    assert.equal(config.deliveryTimeoutMs, 30_000);
    assert.equal(config.endpointConcurrency, 128);
    assert.equal(resolveConfig({}, { '--endpoint-concurrency': '8' }).endpointConcurrency, 8);
  });
});

describe('event types and payloads', () => {
  it('matches enabled events and list patterns', () => {
    assert.equal(endpointWantsType(['*'], 'charge.succeeded'), true);
    assert.equal(endpointWantsType(['*'], 'issuing_authorization.request'), false);
    assert.equal(endpointWantsType(['issuing_authorization.request'], 'issuing_authorization.request'), true);
    assert.equal(endpointWantsType(['charge.failed'], 'charge.succeeded'), false);
    assert.equal(typePatternMatcher('charge.*')('charge.dispute.created'), true);
    assert.equal(typePatternMatcher('*.succeeded')('payment_intent.succeeded'), true);
    assert.equal(typePatternMatcher('charge.*')('customer.created'), false);
  });
  it('renders the Event object with Stripe\'s field order, data spliced in as stored', () => {
    const payload = renderEventPayload({
      id: 'evt_1', account: 'acct_1', apiVersion: '2026-10-28.endive', created: 1_795_000_000_999, dataJson: '{"object":{"id":"ch_1","amount":2000}}',
      mode: 'live', pendingWebhooks: 2, request: { id: null, idempotency_key: 'k' }, type: 'charge.succeeded',
    });
    assert.equal(payload, '{"id":"evt_1","object":"event","account":"acct_1","api_version":"2026-10-28.endive","created":1795000000,"data":{"object":{"id":"ch_1","amount":2000}},"livemode":true,"pending_webhooks":2,"request":{"id":null,"idempotency_key":"k"},"type":"charge.succeeded"}');
    assert.deepEqual(Object.keys(JSON.parse(payload)), ['id', 'object', 'account', 'api_version', 'created', 'data', 'livemode', 'pending_webhooks', 'request', 'type']);
  });
});

describe('claims under the per-endpoint bound', () => {
  const fairness = (perEndpoint: number, inFlight: Record<string, number>) => ({ perEndpoint, inFlight: new Map(Object.entries(inFlight)) });

  it('a claim within every endpoint\'s allowance goes without the bound', () => {
    assert.deepEqual(claimShape(fairness(128, {}), 200), { limit: 128 });
    assert.deepEqual(claimShape(fairness(128, { we_a: 3, we_b: 20 }), 200), { limit: 108 });
    assert.deepEqual(claimShape(fairness(500, { we_a: 3 }), 200), { limit: 200 });
  });

  it('near the bound, the claim keeps its size and carries the bound', () => {
    const nearBound = fairness(128, { we_a: 120, we_b: 2 });
    assert.deepEqual(claimShape(nearBound, 200), { limit: 200, fairness: nearBound });
    const atBound = fairness(4, { we_a: 4 });
    assert.deepEqual(claimShape(atBound, 16), { limit: 16, fairness: atBound });
  });

  it('the stores bind a claim only when an endpoint could pass its bound', () => {
    assert.equal(fairnessBinds(undefined, 200), false);
    assert.equal(fairnessBinds(fairness(128, { we_a: 28 }), 100), false);
    assert.equal(fairnessBinds(fairness(128, { we_a: 29 }), 100), true);
  });
});
