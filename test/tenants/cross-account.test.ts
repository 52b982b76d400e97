import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiRouter } from '../../src/api/app.js';
import { hashApiKey, newApiKey, newId, randomAlphanumeric } from '../../src/domain/ids.js';
import type { Mode } from '../../src/domain/types.js';
import { samplePaymentIntent, startTestHerald, type TestHerald } from '../helpers/herald.js';

/**
 * Cross-account probes of every route: account A's keys, given account B's real ids (in the path,
 * in id parameters, as list cursors, as the Stripe-Account header), get exactly the answer a random
 * missing id gets. The routes come from the router itself, so a new route fails this file until it
 * is given a probe.
 */

type Kind = 'endpoint' | 'event' | 'attempt' | 'session' | 'connected' | 'alert';

/** Which kind of id a route's `:id` is, from the path segment before it. */
const KIND_OF_COLLECTION: Record<string, Kind> = {
  webhook_endpoints: 'endpoint',
  events: 'event',
  webhook_delivery_attempts: 'attempt',
  sessions: 'session',
  accounts: 'connected',
  event_destinations: 'endpoint',
};

/** Routes without an id in the path, and how their id parameters are probed below (or why none). */
const ROUTES_WITHOUT_PATH_IDS: Record<string, string> = {
  'POST /v1/webhook_endpoints': 'creates; takes no ids',
  'GET /v1/webhook_endpoints': 'probed: starting_after / ending_before cursors, and the list never shows B',
  'POST /v1/events': 'probed: account parameter and Stripe-Account header with B connected account',
  'GET /v1/events': 'probed: cursors, Stripe-Account header, and the list never shows B',
  'POST /v1/listen/sessions': "opens the key's own session; takes no ids",
  'GET /v1/account': "the key's own account; takes no ids",
  'GET /v1/event_types': 'the catalog; takes no ids',
  'POST /v1/accounts': 'creates; takes no ids',
  'GET /v1/accounts': 'probed: cursors, and the list never shows B',
  'POST /v1/account': "changes the key's own account (its default API version); takes no ids",
  'POST /v2/core/event_destinations': 'creates; takes no ids',
  'GET /v2/core/event_destinations': 'lists the key\'s own destinations (the store lists by account and mode); takes no ids',
  'GET /v2/core/events': 'probed: object_id filter with B\'s object, and the list never shows B',
  'GET /v1/objects/:type/:id': "probed: B's object id answers as a missing one",
  'GET /v1/webhook_alerts': 'probed: cursors, and the list never shows B',
  'GET /v1/alert_settings': "the key's own account settings; takes no ids",
  'POST /v1/alert_settings': "the key's own account settings; takes no ids",
};

const PREFIX: Record<Kind, string> = { endpoint: 'we_', event: 'evt_', attempt: 'whatt_', session: 'lsn_', connected: 'acct_', alert: 'walrt_' };
const missingId = (kind: Kind) => `${PREFIX[kind]}${randomAlphanumeric(kind === 'connected' ? 16 : 24)}`;

interface Objects {
  endpoint: string;
  event: string;
  attempt: string;
  session: string;
  connected: string;
  /** The payment intent its event is about (GET /v1/objects/payment_intent/:id). */
  object: string;
  alert: string;
}

describe('cross-account probes of every route', () => {
  let h: TestHerald;
  const keysA = { test: '', live: '' };
  const keysB = { test: '', live: '' };
  const objectsA = {} as Record<Mode, Objects>;
  const objectsB = {} as Record<Mode, Objects>;

  before(async () => {
    h = await startTestHerald({ retrySchedule: [3_600_000] });
    const now = Date.now();
    for (const [keys, name] of [[keysA, 'A'], [keysB, 'B']] as const) {
      const id = newId.account();
      await h.herald.store.createAccount({ id, name, applicationId: newId.application(), defaultApiVersion: '2026-10-28.endive', created: now });
      for (const mode of ['test', 'live'] as const) {
        keys[mode] = newApiKey(mode);
        await h.herald.store.setApiKey(id, mode, hashApiKey(keys[mode]), now);
      }
    }
    for (const mode of ['test', 'live'] as const) {
      objectsA[mode] = await makeObjects(keysA[mode], mode);
      objectsB[mode] = await makeObjects(keysB[mode], mode);
    }
  });
  after(() => h?.stop());

  /** One of everything an id can name, made through the API with `key`. */
  async function makeObjects(key: string, mode: Mode): Promise<Objects> {
    const ok = async (method: string, path: string, body?: string, contentType?: string) => {
      const r = await h.request(method, path, { key, ...(body !== undefined ? { body, contentType } : {}) });
      assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const endpoint = await ok('POST', '/v1/webhook_endpoints', `url=${encodeURIComponent('https://example.invalid/hook')}&enabled_events[]=*&connect=false`);
    await ok('POST', `/v1/webhook_endpoints/${endpoint.id}`, 'disabled=true'); // no delivery attempts to example.invalid
    const connected = await ok('POST', '/v1/accounts', 'email=driver%40example.com');
    const objectId = `pi_${randomAlphanumeric(14)}`;
    const event = await ok('POST', '/v1/events', JSON.stringify({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent(objectId) } }), 'application/json');
    const session = await ok('POST', '/v1/listen/sessions', '');
    const ack = await ok(
      'POST',
      `/v1/listen/sessions/${session.id}/attempts`,
      JSON.stringify({ event: event.id, attempts: [{ url: 'http://localhost:4242/hook', status: 200, duration_ms: 3 }] }),
      'application/json',
    );
    assert.equal(ack.attempts.length, 1);
    // A failure alert about the endpoint, queued as the alert monitor does.
    const owner = (await h.herald.store.findApiKeyOwner(hashApiKey(key)))!;
    const alert = {
      id: missingId('alert'),
      accountId: owner.accountId,
      mode,
      endpointId: endpoint.id,
      kind: 'failing' as const,
      created: Date.now(),
      subject: 'failing',
      body: 'failing',
      details: { url: endpoint.url, failingSince: Date.now(), disableAt: null, disabledAt: null, disabledReason: null, recoveredAt: null, failures: [], example: null },
      delivery: 'logged' as const,
      recipient: null,
      sendAttempts: 0,
      lastError: null,
      sentAt: null,
    };
    assert.ok(await h.herald.store.transitionAlertState(endpoint.id, { state: 'ok', failingSince: null }, { state: 'warned', failingSince: Date.now() }, alert, Date.now()));
    return { endpoint: endpoint.id, event: event.id, attempt: ack.attempts[0], session: session.id, connected: connected.id, alert: alert.id, object: objectId };
  }

  /** Status and body, with the probed id written as <id> so a foreign and a missing id compare equal. */
  async function answer(key: string, method: string, path: string, id: string, extra: { body?: string; contentType?: string; headers?: Record<string, string> } = {}) {
    const r = await h.request(method, path.replaceAll('{id}', encodeURIComponent(id)), { key, ...extra });
    return { status: r.status, body: JSON.parse(JSON.stringify(r.body).replaceAll(id, '<id>')) as unknown };
  }

  /** Parameters that get a request past validation to the id lookup, per route. */
  function bodyFor(route: string, mode: Mode): { body?: string; contentType?: string } {
    const own = objectsA[mode];
    switch (route) {
      case 'POST /v2/core/event_destinations/:id':
        return { body: JSON.stringify({ description: 'probe' }), contentType: 'application/json' };
      case 'POST /v1/webhook_endpoints/:id':
        return { body: 'description=probe' };
      case 'POST /v1/webhook_endpoints/:id/recover':
        return { body: 'since=0&dry_run=true' };
      case 'POST /v1/events/:id/retry':
        return { body: `webhook_endpoint=${own.endpoint}` };
      case 'POST /v1/listen/sessions/:id/attempts':
        return { body: JSON.stringify({ event: own.event, attempts: [] }), contentType: 'application/json' };
      default:
        return {};
    }
  }

  test('every route is known to this file', () => {
    for (const route of createApiRouter().list()) {
      const name = `${route.method} ${route.path}`;
      const ids = route.path.match(/:[a-z_]+/g) ?? [];
      if (ids.length === 0 || ROUTES_WITHOUT_PATH_IDS[name]) {
        assert.ok(ROUTES_WITHOUT_PATH_IDS[name], `${name} has no cross-account probe: add it to ROUTES_WITHOUT_PATH_IDS with its probe`);
        continue;
      }
      assert.deepEqual(ids, [':id'], `${name}: one :id per path is what this file knows how to probe`);
      const collection = route.path.split('/').at(route.path.split('/').indexOf(':id') - 1)!;
      assert.ok(KIND_OF_COLLECTION[collection], `${name}: which kind of id is ':id'? (add '${collection}' to KIND_OF_COLLECTION)`);
    }
  });

  for (const mode of ['test', 'live'] as const) {
    for (const objectMode of ['test', 'live'] as const) {
      test(`${mode} key of A on every route with an id of B's ${objectMode} objects answers as for a missing id`, async () => {
        let probed = 0;
        for (const route of createApiRouter().list()) {
          const name = `${route.method} ${route.path}`;
          if (!route.path.includes(':id') || ROUTES_WITHOUT_PATH_IDS[name]) continue;
          const segments = route.path.split('/');
          const kind = KIND_OF_COLLECTION[segments[segments.indexOf(':id') - 1]!]!;
          const path = route.path.replace(':id', '{id}');
          const extra = bodyFor(name, mode);
          const foreign = await answer(keysA[mode], route.method, path, objectsB[objectMode][kind], extra);
          const missing = await answer(keysA[mode], route.method, path, missingId(kind), extra);
          assert.equal(missing.status, 404, `${name} with a missing id: ${JSON.stringify(missing.body)}`);
          assert.equal((missing.body as { error: { code: string } }).error.code, 'resource_missing', name);
          assert.deepEqual(foreign, missing, `${name} with B's ${objectMode} ${kind}`);
          probed++;
        }
        assert.ok(probed >= 15, `probed ${probed} routes`);
      });
    }

    test(`${mode}: B's objects through /v1/objects and the v2 events list answer as missing ones`, async () => {
      const theirs = objectsB[mode];
      const foreign = await answer(keysA[mode], 'GET', '/v1/objects/payment_intent/{id}', theirs.object);
      const missing = await answer(keysA[mode], 'GET', '/v1/objects/payment_intent/{id}', `pi_${randomAlphanumeric(14)}`);
      assert.equal(missing.status, 404);
      assert.deepEqual(foreign, missing);
      const own = await h.request('GET', `/v1/objects/payment_intent/${objectsA[mode].object}`, { key: keysA[mode] });
      assert.equal(own.status, 200, 'the probe reaches a real object of its own');
      const listed = await h.request('GET', `/v2/core/events?object_id=${theirs.object}`, { key: keysA[mode] });
      assert.equal(listed.status, 200);
      assert.deepEqual((listed.body as { data: unknown[] }).data, []);
    });

    test(`${mode}: B's ids in id parameters and as list cursors answer as missing ones`, async () => {
      const own = objectsA[mode];
      const theirs = objectsB[mode];
      const probes: { method: string; path: string; id: string; kind: Kind; extra: (id: string) => { body?: string; contentType?: string } }[] = [
        { method: 'POST', path: `/v1/events/${own.event}/retry`, id: theirs.endpoint, kind: 'endpoint', extra: (id) => ({ body: `webhook_endpoint=${id}` }) },
        {
          method: 'POST',
          path: `/v1/listen/sessions/${own.session}/attempts`,
          id: theirs.event,
          kind: 'event',
          extra: (id) => ({ body: JSON.stringify({ event: id, attempts: [] }), contentType: 'application/json' }),
        },
      ];
      const cursors: [string, Kind, string][] = [
        ['/v1/webhook_endpoints', 'endpoint', theirs.endpoint],
        ['/v1/events', 'event', theirs.event],
        ['/v1/accounts', 'connected', theirs.connected],
        ['/v1/webhook_alerts', 'alert', theirs.alert],
        [`/v1/events/${own.event}/delivery_attempts`, 'attempt', theirs.attempt],
        [`/v1/webhook_endpoints/${own.endpoint}/delivery_attempts`, 'attempt', theirs.attempt],
      ];
      for (const [path, kind, id] of cursors) {
        for (const cursor of ['starting_after', 'ending_before']) {
          probes.push({ method: 'GET', path: `${path}?${cursor}={id}`, id, kind, extra: () => ({}) });
        }
      }
      for (const probe of probes) {
        const missingValue = missingId(probe.kind);
        const foreign = await answer(keysA[mode], probe.method, probe.path, probe.id, probe.extra(probe.id));
        const missing = await answer(keysA[mode], probe.method, probe.path, missingValue, probe.extra(missingValue));
        assert.equal(missing.status, 404, `${probe.method} ${probe.path}: ${JSON.stringify(missing.body)}`);
        assert.deepEqual(foreign, missing, `${probe.method} ${probe.path} with B's ${probe.kind}`);
      }
    });

    test(`${mode}: lists never show B's objects`, async () => {
      const theirs = Object.values(objectsB.test).concat(Object.values(objectsB.live));
      for (const path of ['/v1/webhook_endpoints?limit=100', '/v1/events?limit=100', '/v1/accounts?limit=100', '/v1/webhook_alerts?limit=100', `/v1/events/${objectsA[mode].event}/deliveries`]) {
        const r = await h.request('GET', path, { key: keysA[mode] });
        assert.equal(r.status, 200, path);
        const text = JSON.stringify(r.body);
        for (const id of theirs) assert.ok(!text.includes(id), `${path} shows ${id}`);
        assert.ok(r.body.data.length >= 1 || path.includes('deliveries'), `${path} shows A's own objects`);
      }
    });

    test(`${mode}: B's connected account is not A's: Stripe-Account and account answer as for an unknown id`, async () => {
      const theirs = objectsB[mode].connected;
      const publish = (key: string, id: string, how: 'header' | 'param') =>
        answer(key, 'POST', '/v1/events', id, {
          body: JSON.stringify({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } }, ...(how === 'param' ? { account: id } : {}) }),
          contentType: 'application/json',
          headers: how === 'header' ? { 'stripe-account': id } : {},
        });
      for (const how of ['header', 'param'] as const) {
        const foreign = await publish(keysA[mode], theirs, how);
        const unknown = await publish(keysA[mode], missingId('connected'), how);
        if (mode === 'live') {
          // Live mode publishes only for registered connected accounts: B's is not one of A's.
          assert.equal(unknown.status, 403);
          assert.deepEqual(foreign, unknown);
        } else {
          // Test mode takes an unregistered id as a label on A's own events: B's account and events see
          // nothing of it, and A does not gain B's connected account.
          assert.equal(foreign.status, 200);
          assert.equal(unknown.status, 200);
          const b = await h.request('GET', `/v1/accounts/${theirs}`, { key: keysB[mode] });
          assert.equal(b.status, 200);
          assert.equal((await h.request('GET', `/v1/accounts/${theirs}`, { key: keysA[mode] })).status, 404);
          const bEvents = await h.request('GET', '/v1/events?limit=100', { key: keysB[mode] });
          assert.ok(!JSON.stringify(bEvents.body).includes('cus_1'), "A's event never reaches B");
        }
      }
      const listForeign = await answer(keysA[mode], 'GET', '/v1/events', theirs, { headers: { 'stripe-account': theirs } });
      const listUnknown = await answer(keysA[mode], 'GET', '/v1/events', 'acct_Unknown0000000000', { headers: { 'stripe-account': 'acct_Unknown0000000000' } });
      assert.equal(listUnknown.status, 200);
      if (mode === 'live') assert.deepEqual(listForeign, listUnknown);
      const retrieve = await answer(keysA[mode], 'GET', `/v1/events/${objectsB[mode].event}`, theirs, { headers: { 'stripe-account': theirs } });
      assert.equal(retrieve.status, 404);
    });
  }

  test("through the dashboard (signed in as A, both modes) every route with B's ids answers as for missing ones", async () => {
    const signIn = async (key: string, cookie?: string, csrf?: string) => {
      const r = await fetch(`${h.url}/dashboard/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}), ...(csrf ? { 'x-csrf-token': csrf } : {}) },
        body: JSON.stringify({ key }),
      });
      assert.equal(r.status, 200);
      return { cookie: cookie ?? r.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await r.json()) as { csrf_token: string }).csrf_token };
    };
    const session = await signIn(keysA.test);
    await signIn(keysA.live, session.cookie, session.csrf);
    const viaDashboard = async (mode: Mode, method: string, path: string, id: string, extra: { body?: string; contentType?: string }) => {
      const r = await fetch(`${h.url}/dashboard/api/${mode}${path.replaceAll('{id}', encodeURIComponent(id))}`, {
        method,
        headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, ...(extra.body !== undefined ? { 'content-type': extra.contentType ?? 'application/x-www-form-urlencoded' } : {}) },
        body: extra.body,
      });
      const text = await r.text();
      return { status: r.status, body: JSON.parse(text.replaceAll(id, '<id>')) as unknown };
    };
    for (const mode of ['test', 'live'] as const) {
      for (const route of createApiRouter().list()) {
        if (!route.path.includes(':id')) continue;
        const segments = route.path.split('/');
        const kind = KIND_OF_COLLECTION[segments[segments.indexOf(':id') - 1]!]!;
        const path = route.path.replace(':id', '{id}');
        const extra = bodyFor(`${route.method} ${route.path}`, mode);
        const foreign = await viaDashboard(mode, route.method, path, objectsB[mode][kind], extra);
        const missing = await viaDashboard(mode, route.method, path, missingId(kind), extra);
        assert.equal(missing.status, 404, `${mode} ${route.method} ${route.path} via the dashboard`);
        assert.deepEqual(foreign, missing, `${mode} ${route.method} ${route.path} via the dashboard`);
      }
    }
  });

  test("a restricted key of A gets the same answers as A's secret key on reads, and 403 on every write whatever the id", async () => {
    const { addRestricted } = await restrictedKeyFor(h, keysA);
    const rk = await addRestricted('test');
    for (const route of createApiRouter().list()) {
      if (!route.path.includes(':id')) continue;
      const segments = route.path.split('/');
      const kind = KIND_OF_COLLECTION[segments[segments.indexOf(':id') - 1]!]!;
      const path = route.path.replace(':id', '{id}');
      const extra = bodyFor(`${route.method} ${route.path}`, 'test');
      const foreign = await answer(rk, route.method, path, objectsB.test[kind], extra);
      const missing = await answer(rk, route.method, path, missingId(kind), extra);
      assert.deepEqual(foreign, missing, `${route.method} ${route.path}`);
      assert.equal(missing.status, route.method === 'GET' ? 404 : 403, `${route.method} ${route.path}`);
    }
  });
});

/** A restricted key for account A, added straight to the store as `herald keys create-restricted` does. */
async function restrictedKeyFor(h: TestHerald, keys: { test: string }) {
  const owner = await h.herald.store.findApiKeyOwner(hashApiKey(keys.test));
  return {
    async addRestricted(mode: Mode) {
      const key = `rk_${mode}_${randomAlphanumeric(48)}`;
      await h.herald.store.addRestrictedApiKey(owner!.accountId, mode, hashApiKey(key), Date.now());
      return key;
    },
  };
}
