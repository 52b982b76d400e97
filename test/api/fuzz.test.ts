import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { createApiRouter } from '../../src/api/app.js';
import { EGRESS_ADDRESSES_PATH } from '../../src/api/routes/egress.js';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

/**
 * Random and malformed requests at every route of the API (the list comes from the router, so a
 * new route is probed without anyone adding it here) and at the dashboard's sign-in: never a 5xx,
 * errors always in Stripe's shape, the server keeps answering, and a rejected request changes
 * nothing stored (the SQLite file's durable state is fingerprinted before and after each one).
 *
 * HERALD_FUZZ_SEED=<n> replays a run (the seed is printed on failure); HERALD_FUZZ_RUNS sets the
 * requests per route (default sized for about a minute on a loaded 2-core machine).
 */
const SEED = process.env.HERALD_FUZZ_SEED ? Number(process.env.HERALD_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const RUNS = process.env.HERALD_FUZZ_RUNS ? Number(process.env.HERALD_FUZZ_RUNS) : 40;

/** Every parameter name some route reads, so that random requests often get past "unknown parameter". */
const KNOWN_PARAMS = [
  'url', 'enabled_events', 'api_version', 'connect', 'description', 'metadata', 'signature_schemes', 'disabled', 'expires_in',
  'since', 'until', 'dry_run', 'limit', 'starting_after', 'ending_before', 'type', 'types', 'created', 'delivery_success', 'data',
  'account', 'request', 'webhook_endpoint', 'for_stripecli', 'event', 'resend', 'attempts', 'device_name', 'status', 'bucket_seconds',
  'email', 'expand',
];
const KNOWN_VALUES = [
  'https://example.com/hook', 'http://127.0.0.1:9/x', 'charge.succeeded', '*', 'payment_intent.succeeded', 'true', 'false', '0', '1', '-1', '100', '101',
  '2026-10-28.endive', 'stripe', 'standard', 'ops@example.com', 'acct_123', '1700000000', 'failed', 'succeeded', '',
];

interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  body: string | Uint8Array | undefined;
  contentType: string | undefined;
  auth: 'test' | 'live' | 'none' | 'wrong' | 'publishable';
  idempotencyKey: string | undefined;
}

const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…(${s.length} chars)` : s);
const describeRequest = (r: FuzzRequest) =>
  JSON.stringify({ ...r, path: clip(r.path), query: clip(r.query), body: r.body instanceof Uint8Array ? `<${r.body.length} bytes>` : r.body && clip(r.body) });

describe('fuzzing every route with random and malformed requests', () => {
  let h: TestHerald;
  let receiver: TestReceiver;
  let db: Database.Database;
  const ids: Record<string, string[]> = {};

  before(async () => {
    receiver = await new TestReceiver().start();
    h = await startTestHerald({ maxEndpoints: 30 });
    const endpoint = await h.stripe().webhookEndpoints.create({ url: `${receiver.url}/a`, enabled_events: ['*'], metadata: { team: 'x' } });
    const liveEndpoint = await h.stripe('live').webhookEndpoints.create({ url: 'https://example.com/live', enabled_events: ['*'] });
    const event = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent() } });
    const liveEvent = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent() } }, { mode: 'live' });
    const session = (await h.request('POST', '/v1/listen/sessions', { body: 'enabled_events[]=*' })).body;
    const attempts = await waitFor(async () => (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data[0]);
    Object.assign(ids, {
      webhook_endpoints: [endpoint.id, liveEndpoint.id],
      events: [event.id, liveEvent.id],
      sessions: [session.id],
      webhook_delivery_attempts: [attempts.id],
    });
    db = new Database(h.dbPath, { readonly: true, fileMustExist: true });
  });
  after(async () => {
    db?.close();
    await h?.stop();
    await receiver?.stop();
  });

  /**
   * A digest of everything a request could change durably. Left out: what the delivery worker and
   * the alert monitor change on their own meanwhile (attempts, delivery states, endpoint health,
   * pending counts, alerts) and the listen cursor, which an open stream moves.
   */
  function fingerprint(): string {
    const hash = createHash('sha256');
    const queries = [
      'SELECT * FROM accounts ORDER BY id',
      'SELECT * FROM api_keys ORDER BY key_hash',
      `SELECT id, account_id, mode, url, enabled_events, api_version, connect, description, metadata, status, disabled_reason,
         disabled_at, created, signature_schemes FROM endpoints ORDER BY id`,
      'SELECT * FROM endpoint_secrets ORDER BY endpoint_id, secret',
      // Events are immutable once stored: their data's length stands for it (hashing it all each time would be slow).
      'SELECT id, account_id, mode, type, connected_account, api_version, created, length(data), request_id, request_idempotency_key FROM events ORDER BY id',
      'SELECT id, event_id, endpoint_id, kind FROM deliveries ORDER BY id',
      'SELECT * FROM idempotency_keys ORDER BY account_id, mode, key',
      'SELECT id, account_id, mode, secret, enabled_events, created FROM listen_sessions ORDER BY id',
      'SELECT * FROM account_alert_settings ORDER BY account_id',
    ];
    for (const sql of queries) hash.update(JSON.stringify(db.prepare(sql).all()));
    return hash.digest('hex');
  }

  // Arbitraries --------------------------------------------------------------------------------

  const hugeString = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(300, 5000) }, { weight: 1, arbitrary: fc.constantFrom(70_000, 300_000) }).map((n) => 'é'.repeat(n));
  const text = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...KNOWN_VALUES) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    { weight: 2, arbitrary: fc.constantFrom(...Object.values(ids).flat(), 'we_', 'evt_x', 'whatt_1', 'lsn_1', 'acct_1', '%', '%zz', '[', ']', '__proto__', 'constructor') },
    { weight: 1, arbitrary: hugeString },
  );
  type Tree = string | Tree[] | { [key: string]: Tree };
  /** Parameter trees whose names are mostly those `accepted` by the route, so requests get past the name check. */
  function paramArbs(accepted: string[]) {
    const name = fc.oneof(
      ...(accepted.length > 0 ? [{ weight: 8, arbitrary: fc.constantFrom(...accepted) }] : []),
      { weight: 3, arbitrary: fc.constantFrom(...KNOWN_PARAMS) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }) },
      { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '0', '') },
    );
    const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
      tree: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        text,
        fc.array(tie('tree'), { maxLength: 4 }),
        fc.dictionary(name, tie('tree'), { maxKeys: 5 }),
      ),
    }));
    return { name, tree, params: fc.dictionary(name, tree, { maxKeys: 6 }) };
  }

  /** Stripe's form encoding of a parameter tree, as stripe-node writes it. */
  function encodeForm(value: Tree, prefix: string, out: string[]): void {
    if (typeof value === 'string') out.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(value)}`);
    else if (Array.isArray(value)) value.forEach((v, i) => encodeForm(v, `${prefix}[${i}]`, out));
    else for (const [k, v] of Object.entries(value)) encodeForm(v, prefix ? `${prefix}[${k}]` : k, out);
  }
  const formOf = (p: Record<string, Tree>) => {
    const out: string[] = [];
    for (const [k, v] of Object.entries(p)) encodeForm(v, k, out);
    return out.join('&');
  };
  const jsonValue = fc.jsonValue({ maxDepth: 4 });
  const deepNesting = fc.integer({ min: 10, max: 3000 }).map((n) => `data${'[a]'.repeat(n)}=1`);
  const deepJson = fc.integer({ min: 10, max: 5000 }).map((n) => `{"data":${'['.repeat(n)}${']'.repeat(n)}}`);
  const brokenForm = fc.oneof(
    fc.constantFrom('%', '%zz', 'a=%E0%A4%A', 'a[b=1', 'a]b[=1', 'a[]]=1', '[a]=1', 'a[b]c=1', '=', '&&&', 'a[][b]=1', 'a[b][]=1&a[b][c]=2', 'a=1&a[b]=2', 'a[0]=1&a[x]=2', 'a[9999]=1', 'metadata[%5B%5D]=x'),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.array(fc.constantFrom('a', '[', ']', '=', '&', '%', '2', '0', 'data', 'metadata'), { maxLength: 60 }).map((parts) => parts.join('')),
  );
  const bodyArb = ({ name, tree, params }: ReturnType<typeof paramArbs>) => fc.oneof(
    { weight: 6, arbitrary: params.map((p) => ({ body: formOf(p), type: 'application/x-www-form-urlencoded' as string | undefined })) },
    { weight: 4, arbitrary: params.map((p) => ({ body: JSON.stringify(p), type: 'application/json' as string | undefined })) },
    { weight: 2, arbitrary: jsonValue.map((v) => ({ body: JSON.stringify(v), type: 'application/json' as string | undefined })) },
    // Known names with values of every JSON type (numbers, booleans, null where strings are expected).
    { weight: 3, arbitrary: fc.dictionary(name, fc.oneof(tree, jsonValue), { maxKeys: 6 }).map((p) => ({ body: JSON.stringify(p), type: 'application/json' as string | undefined })) },
    { weight: 2, arbitrary: brokenForm.map((b) => ({ body: b, type: 'application/x-www-form-urlencoded' as string | undefined })) },
    { weight: 1, arbitrary: deepNesting.map((b) => ({ body: b, type: undefined as string | undefined })) },
    { weight: 1, arbitrary: deepJson.map((b) => ({ body: b, type: 'application/json' as string | undefined })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map((b) => ({ body: b, type: 'application/json; charset=utf-8' as string | undefined })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', '', '*/*', 'application/json;;;', 'ü/ü')).map(([bytes, type]) => ({ body: bytes as string | Uint8Array, type: type as string | undefined })),
    },
    { weight: 1, arbitrary: fc.constant({ body: undefined, type: undefined }) },
  );
  const anyBody = bodyArb(paramArbs([]));

  function pathArb(path: string) {
    const kind = path.includes('/listen/sessions') ? 'sessions' : (Object.keys(ids).find((k) => path.startsWith(`/v1/${k}`)) ?? 'webhook_endpoints');
    const segment = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...ids[kind]!) },
      { weight: 2, arbitrary: fc.constantFrom(...Object.values(ids).flat()) }, // wrong prefix, other mode
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '%2F', 'we_%00', 'x'.repeat(5000), '%C0%AF') },
    );
    const names = path.split('/').filter((p) => p.startsWith(':'));
    return fc.tuple(...names.map(() => segment)).map((values) => {
      let i = 0;
      return path.replace(/:[a-z_]+/g, () => values[i++]!);
    });
  }

  function requestArb(route: { method: string; path: string }, accepted: string[]): fc.Arbitrary<FuzzRequest> {
    const arbs = paramArbs(accepted);
    const { params } = arbs;
    const body = bodyArb(arbs);
    return fc.record({
      method: fc.oneof({ weight: 8, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH') }),
      path: pathArb(route.path),
      query: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 3, arbitrary: params.map(formOf) }, { weight: 1, arbitrary: brokenForm.map((b) => encodeURI(b)) }),
      body,
      auth: fc.oneof({ weight: 12, arbitrary: fc.constant('test' as const) }, { weight: 1, arbitrary: fc.constantFrom('live' as const, 'none' as const, 'wrong' as const, 'publishable' as const) }),
      idempotencyKey: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('k1', 'k2', 'x'.repeat(300)), fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /^[\x21-\x7e]+$/.test(s))) }),
    }).map(({ body: b, ...rest }) => ({ ...rest, body: b.body, contentType: b.type }));
  }

  // The probe ----------------------------------------------------------------------------------

  let sent = 0;
  /** The first failed check, short: fast-check's own report repeats the whole (maybe huge) request. */
  let firstFailure: string | null = null;
  async function send(r: FuzzRequest): Promise<void> {
    try {
      await probe(r);
    } catch (err) {
      firstFailure ??= (err as Error).message.slice(0, 2000);
      throw err;
    }
  }

  async function probe(r: FuzzRequest): Promise<void> {
    const headers: Record<string, string> = {};
    const key = r.auth === 'test' ? h.keys.test : r.auth === 'live' ? h.keys.live : r.auth === 'wrong' ? 'sk_test_nope' : r.auth === 'publishable' ? 'pk_test_123' : null;
    if (key) headers.authorization = `Bearer ${key}`;
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
    const withBody = r.method !== 'GET' && r.body !== undefined;
    const before = fingerprint();
    const response = await fetch(`${h.url}${r.path}${r.query ? `?${r.query}` : ''}`, {
      method: r.method,
      headers,
      body: withBody ? r.body : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    let text = '';
    if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) await response.body?.cancel();
    else text = await response.text();
    const what = `${response.status} for ${describeRequest(r)}: ${text.slice(0, 400)}`;
    assert.ok(response.status < 500, `server error ${what}`);
    if (response.status >= 400) {
      let parsed: { error?: { type?: unknown; message?: unknown } } = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        assert.fail(`error body is not JSON: ${what}`);
      }
      assert.equal(typeof parsed.error?.type, 'string', `error not in Stripe's shape: ${what}`);
      assert.equal(typeof parsed.error?.message, 'string', `error without a message: ${what}`);
      assert.equal(fingerprint(), before, `a rejected request changed stored data: ${what}`);
    }
    if (++sent % 25 === 0) assert.equal((await fetch(`${h.url}/v1/account`, { headers: { authorization: `Bearer ${h.keys.test}` } })).status, 200, 'Herald stopped answering');
  }

  /**
   * The parameter names a route accepts, found by asking it: a name it does not know is refused as
   * `parameter_unknown` before anything else (the path's id is one that exists nowhere).
   */
  async function acceptedParams(route: { method: string; path: string }): Promise<string[]> {
    const path = route.path.replace(/:[a-z_]+/g, 'x_missing');
    const answers = await Promise.all(
      KNOWN_PARAMS.map(async (param) => {
        const encoded = `${param}=x`;
        const response = await fetch(`${h.url}${path}${route.method === 'POST' ? '' : `?${encoded}`}`, {
          method: route.method,
          headers: { authorization: `Bearer ${h.keys.test}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: route.method === 'POST' ? encoded : undefined,
        });
        const body = (await response.json().catch(() => null)) as { error?: { code?: string; param?: string } } | null;
        return body?.error?.code === 'parameter_unknown' && body.error.param === param ? null : param;
      }),
    );
    return answers.filter((p): p is string => p !== null);
  }

  test('every API route: never a 5xx, errors in Stripe shape, rejected requests change nothing', async () => {
    const routes = createApiRouter().list();
    assert.ok(routes.length >= 20, `the router lists its routes (${routes.length})`);
    const started = Date.now();
    for (const [i, route] of routes.entries()) {
      const seed = SEED + i;
      const routeStarted = Date.now();
      try {
        const accepted = await acceptedParams(route);
        if (process.env.HERALD_FUZZ_VERBOSE) process.stdout.write(`# ${route.method} ${route.path} accepts ${accepted.join(", ")}\n`);
        await fc.assert(fc.asyncProperty(requestArb(route, accepted), send), { seed, numRuns: RUNS, endOnFailure: true });
      } catch (err) {
        throw new Error(`${route.method} ${route.path} failed after ${Date.now() - routeStarted} ms; replay with HERALD_FUZZ_SEED=${SEED} (route seed ${seed})\n${firstFailure ?? (err as Error).message.slice(0, 2000)}`);
      }
      if (process.env.HERALD_FUZZ_VERBOSE) process.stdout.write(`# ${route.method} ${route.path}: ${Date.now() - routeStarted} ms\n`);
    }
    const health = await fetch(`${h.url}/v1/account`, { headers: { authorization: `Bearer ${h.keys.test}` } });
    assert.equal(health.status, 200);
    process.stdout.write(`# fuzz: ${sent} requests over ${routes.length} routes in ${Date.now() - started} ms (seed ${SEED})\n`);
  });

  test("the public routes outside the router (dashboard sign-in and proxy, egress addresses) take malformed requests without a 5xx", async () => {
    const requests = fc.record({
      path: fc.constantFrom(`${EGRESS_ADDRESSES_PATH}?x=%zz`, EGRESS_ADDRESSES_PATH, '/dashboard/session', '/dashboard/api/test/v1/webhook_endpoints', '/dashboard/api/live/v1/events', '/dashboard/api/x/v1/', '/dashboard/assets/%zz.js', '/dashboard/%E0%A4%A'),
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
      body: anyBody,
    });
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        const response = await fetch(`${h.url}${r.path}`, {
          method: r.method,
          headers: r.body.type ? { 'content-type': r.body.type } : {},
          body: r.method === 'GET' ? undefined : r.body.body,
          signal: AbortSignal.timeout(15_000),
        });
        await response.text();
        assert.ok(response.status < 500, `${response.status} for ${r.method} ${r.path}`);
      }),
      { seed: SEED, numRuns: RUNS * 2, endOnFailure: true },
    );
  });
});
