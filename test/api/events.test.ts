import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import Stripe from 'stripe';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

describe('events API', () => {
  let h: TestHerald;
  let stripe: Stripe;
  const ids: string[] = [];
  before(async () => {
    h = await startTestHerald();
    stripe = h.stripe();
    const types = ['charge.succeeded', 'charge.failed', 'customer.created', 'invoice.paid'];
    for (let i = 0; i < 23; i++) {
      const e = await h.publish({ type: types[i % 4], data: { object: { id: `obj_${i}`, object: 'thing', n: i } } });
      ids.push(e.id);
    }
  });
  after(() => h.stop());

  it('publishes with JSON or a form, answering the stored Event', async () => {
    const viaForm = await h.request('POST', '/v1/events', {
      body: 'type=customer.updated&data[object][id]=cus_9&data[object][object]=customer&data[previous_attributes][email]=old%40example.com&request[id]=req_abc',
    });
    assert.equal(viaForm.status, 200);
    const e = viaForm.body;
    assert.deepEqual(Object.keys(e).sort(), ['api_version', 'created', 'data', 'id', 'livemode', 'object', 'pending_webhooks', 'request', 'type']);
    assert.match(e.id, /^evt_[A-Za-z0-9]{24}$/);
    assert.deepEqual(e.data, { object: { id: 'cus_9', object: 'customer' }, previous_attributes: { email: 'old@example.com' } });
    assert.deepEqual(e.request, { id: 'req_abc', idempotency_key: null });
    assert.equal(e.api_version, '2026-10-28.endive');
    const retrieved = await stripe.events.retrieve(e.id);
    assert.deepEqual(retrieved, e);
  });

  it('lists newest first and auto-paginates every item exactly once, both ways', async () => {
    const forward: string[] = [];
    for await (const e of stripe.events.list({ limit: 4, types: ['charge.succeeded', 'charge.failed', 'customer.created', 'invoice.paid'] })) forward.push(e.id);
    assert.deepEqual(forward, [...ids].reverse());
    const backward: string[] = [];
    for await (const e of stripe.events.list({ limit: 5, ending_before: ids[0], types: ['charge.succeeded', 'charge.failed', 'customer.created', 'invoice.paid'] })) backward.push(e.id);
    assert.deepEqual(backward, ids.slice(1)); // oldest to newest after ids[0]
    const page = await stripe.events.list({ limit: 3, starting_after: ids[10] });
    assert.deepEqual(page.data.map((e) => e.id), [ids[9], ids[8], ids[7]]);
    assert.equal(page.has_more, true);
    assert.equal(page.url, '/v1/events');
    const last = await stripe.events.list({ limit: 3, starting_after: ids[1], types: ['charge.succeeded', 'charge.failed', 'customer.created', 'invoice.paid'] });
    assert.deepEqual(last.data.map((e) => e.id), [ids[0]]);
    assert.equal(last.has_more, false);
  });

  it('filters by type (with *), types[], created and delivery_success', async () => {
    const charges = await stripe.events.list({ type: 'charge.*', limit: 100 });
    assert.ok(charges.data.length >= 12);
    assert.ok(charges.data.every((e) => e.type.startsWith('charge.')));
    const exact = await stripe.events.list({ type: 'invoice.paid', limit: 100 });
    assert.equal(exact.data.length, 5);
    const two = await stripe.events.list({ types: ['invoice.paid', 'customer.created'], limit: 100 });
    assert.equal(two.data.length, 11);
    const now = Math.floor(Date.now() / 1000);
    assert.ok((await stripe.events.list({ created: { gte: now - 60 }, limit: 100 })).data.length >= 23);
    assert.equal((await stripe.events.list({ created: { lt: now - 60 }, limit: 100 })).data.length, 0);
    assert.equal((await stripe.events.list({ delivery_success: false, limit: 100 })).data.length, 0); // no endpoints: nothing pending
    await assert.rejects(stripe.events.list({ type: 'a.b', types: ['c.d'] } as any), { statusCode: 400, code: 'parameters_exclusive' });
  });

  it('validates list parameters', async () => {
    await assert.rejects(stripe.events.list({ limit: 101 }), (err: any) => err.code === 'parameter_invalid_integer' && err.param === 'limit');
    await assert.rejects(stripe.events.list({ limit: 0 }), (err: any) => err.param === 'limit');
    await assert.rejects(stripe.events.list({ starting_after: 'evt_missing' }), (err: any) => err.statusCode === 404 && err.param === 'starting_after');
    await assert.rejects(stripe.events.list({ bogus: 1 } as any), (err: any) => err.code === 'parameter_unknown');
    await assert.rejects(stripe.events.retrieve('evt_nope'), (err: any) => err.statusCode === 404 && err.code === 'resource_missing' && /No such event: 'evt_nope'/.test(err.message));
  });

  it('rejects malformed publishes with clear 400s and stores nothing', async () => {
    const before = (await stripe.events.list({ limit: 100 })).data.length;
    const cases: [string, string, string | undefined, string][] = [
      ['{"type": "charge.succeeded", "data": ', 'application/json', undefined, 'invalid JSON'],
      ['[1,2]', 'application/json', undefined, 'must be an object'],
      ['{"data": {"object": {}}}', 'application/json', 'type', 'Missing required param: type'],
      ['{"type": "charge.exploded", "data": {"object": {}}}', 'application/json', 'type', 'not a known event type'],
      ['{"type": "charge.succeeded"}', 'application/json', 'data', 'Missing required param: data'],
      ['{"type": "charge.succeeded", "data": {"object": 5}}', 'application/json', 'data[object]', 'must be an object'],
      ['{"type": "charge.succeeded", "data": {"object": {}, "extra": 1}}', 'application/json', 'data[extra]', 'unknown parameter'],
      ['{"type": "charge.succeeded", "data": {"object": {}}, "account": "bob"}', 'application/json', 'account', 'connected account'],
      ['{"type": "charge.succeeded", "data": {"object": {}}, "livemode": true}', 'application/json', 'livemode', 'unknown parameter'],
      ['type=charge.succeeded&data[object][a]=%E0%A4%A', 'application/x-www-form-urlencoded', undefined, 'percent-encoding'],
      ['type=charge.succeeded&data[object]]=1', 'application/x-www-form-urlencoded', undefined, 'brackets'],
      ['<xml/>', 'application/xml', undefined, 'Unsupported Content-Type'],
    ];
    for (const [body, contentType, param, message] of cases) {
      const r = await h.request('POST', '/v1/events', { body, contentType });
      assert.equal(r.status, 400, body);
      assert.equal(r.body.error.type, 'invalid_request_error', body);
      if (param) assert.equal(r.body.error.param, param, body);
      assert.ok(r.body.error.message.includes(message), `${body}: ${r.body.error.message}`);
    }
    const huge = await h.request('POST', '/v1/events', { body: JSON.stringify({ type: 'charge.succeeded', data: { object: { blob: 'x'.repeat(1_100_000) } } }), contentType: 'application/json' });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'request_too_large');
    assert.equal((await stripe.events.list({ limit: 100 })).data.length, before);
  });

  it('answers JSON for unknown routes and authentication problems', async () => {
    const unknown = await h.request('GET', '/v1/nothing');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /Unrecognized request URL \(GET: \/v1\/nothing\)/);
    assert.ok(unknown.headers.get('request-id')?.startsWith('req_'));
    const noKey = await h.request('GET', '/v1/events', { key: null });
    assert.equal(noKey.status, 401);
    assert.match(noKey.body.error.message, /You did not provide an API key/);
    const badKey = await h.request('GET', '/v1/events', { key: 'sk_test_wrongwrongwrong1234' });
    assert.equal(badKey.status, 401);
    assert.equal(badKey.body.error.message, 'Invalid API Key provided: sk_test_****1234');
    const basic = await fetch(`${h.url}/v1/events?limit=1`, { headers: { authorization: `Basic ${Buffer.from(`${h.keys.test}:`).toString('base64')}` } });
    assert.equal(basic.status, 200);
    await assert.rejects(new Stripe('sk_test_nope', { host: '127.0.0.1', port: h.port, protocol: 'http' }).events.list(), { type: 'StripeAuthenticationError' });
  });
});

describe('idempotency', () => {
  it('replays the same request, rejects a different one, and survives stripe-node retries', async () => {
    const h = await startTestHerald();
    const body = JSON.stringify({ type: 'charge.succeeded', data: { object: { id: 'ch_1', object: 'charge' } } });
    const first = await h.request('POST', '/v1/events', { body, contentType: 'application/json', headers: { 'idempotency-key': 'key-1' } });
    const second = await h.request('POST', '/v1/events', { body, contentType: 'application/json', headers: { 'idempotency-key': 'key-1' } });
    assert.equal(first.status, 200);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const other = await h.request('POST', '/v1/events', { body: body.replace('ch_1', 'ch_2'), contentType: 'application/json', headers: { 'idempotency-key': 'key-1' } });
    assert.equal(other.status, 400);
    assert.equal(other.body.error.type, 'idempotency_error');
    assert.match(other.body.error.message, /Keys for idempotent requests can only be used with the same parameters/);
    const list = await h.stripe().events.list({ limit: 100 });
    assert.equal(list.data.length, 1);

    // stripe-node: an explicit key, called twice (as its retries do), creates one endpoint
    const stripe = h.stripe();
    const a = await stripe.webhookEndpoints.create({ url: 'http://localhost:1/x', enabled_events: ['*'] }, { idempotencyKey: 'create-1' });
    const b = await stripe.webhookEndpoints.create({ url: 'http://localhost:1/x', enabled_events: ['*'] }, { idempotencyKey: 'create-1' });
    assert.equal(a.id, b.id);
    assert.equal(b.secret, a.secret);
    assert.equal((await stripe.webhookEndpoints.list()).data.length, 1);
    await assert.rejects(stripe.webhookEndpoints.create({ url: 'http://localhost:1/y', enabled_events: ['*'] }, { idempotencyKey: 'create-1' }), { type: 'StripeIdempotencyError' });

    // a request that failed validation is not kept: the same key works once the input is fixed
    const invalid = await h.request('POST', '/v1/events', { body: '{"type":"nope.nope","data":{"object":{}}}', contentType: 'application/json', headers: { 'idempotency-key': 'key-2' } });
    assert.equal(invalid.status, 400);
    const fixed = await h.request('POST', '/v1/events', { body: '{"type":"charge.failed","data":{"object":{}}}', contentType: 'application/json', headers: { 'idempotency-key': 'key-2' } });
    assert.equal(fixed.status, 200);
    // keys are per mode: the same key in live mode is a new request
    const live = await h.request('POST', '/v1/events', { key: h.keys.live, body, contentType: 'application/json', headers: { 'idempotency-key': 'key-1' } });
    assert.equal(live.status, 200);
    assert.notEqual(live.body.id, first.body.id);
    assert.equal(live.body.livemode, true);
    await h.stop();
  });

  /** Runs SQL on the Herald's own database, as the state a crash leaves is made by hand. */
  async function onDatabase(h: TestHerald, sql: string): Promise<void> {
    if (h.config.database.kind === 'postgres') {
      const client = new pg.Client({ connectionString: h.config.database.url });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    } else {
      const db = new Database(h.dbPath);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    }
  }

  it('a publish whose process died before answering is not published twice when retried with its key', async () => {
    const h = await startTestHerald();
    const receiver = await new TestReceiver().start();
    try {
      await h.stripe().webhookEndpoints.create({ url: `${receiver.url}/hook`, enabled_events: ['*'] });
      const body = JSON.stringify({ type: 'charge.succeeded', data: { object: { id: 'ch_crash', object: 'charge' } } });
      const publish = (key: string) => h.request('POST', '/v1/events', { body, contentType: 'application/json', headers: { 'idempotency-key': key } });

      // Died after the event's commit, before the key recorded the answer: the key is left in
      // progress (here, with its lock already run out) and the event is stored.
      const first = await publish('crash-after-commit');
      assert.equal(first.status, 200);
      await receiver.waitForRequests(1);
      await onDatabase(h, "UPDATE idempotency_keys SET status = NULL, body = NULL, locked_until = 0 WHERE key = 'crash-after-commit'");
      const retried = await publish('crash-after-commit');
      assert.equal(retried.status, 200);
      assert.equal(retried.body.id, first.body.id, 'the retry answers with the event the first run stored');
      assert.equal(retried.headers.get('idempotent-replayed'), null);
      const replayed = await publish('crash-after-commit');
      assert.equal(replayed.headers.get('idempotent-replayed'), 'true', 'the key now holds that answer');
      assert.equal(replayed.body.id, first.body.id);

      // Died before the event's commit: the retry publishes it, under the id the key reserved.
      const second = await publish('crash-before-commit');
      await receiver.waitForRequests(2);
      await onDatabase(
        h,
        `DELETE FROM attempts WHERE event_id = '${second.body.id}';
         DELETE FROM deliveries WHERE event_id = '${second.body.id}';
         DELETE FROM events WHERE id = '${second.body.id}';
         UPDATE idempotency_keys SET status = NULL, body = NULL, locked_until = 0 WHERE key = 'crash-before-commit';`,
      );
      const republished = await publish('crash-before-commit');
      assert.equal(republished.status, 200);
      assert.equal(republished.body.id, second.body.id, 'published under the reserved id');
      await receiver.waitForRequests(3);

      const events = await h.stripe().events.list({ limit: 100 });
      assert.deepEqual(events.data.map((e) => e.id).sort(), [first.body.id, second.body.id].sort(), 'one event per key');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(
        receiver.requests.map((r) => JSON.parse(r.body).id as string),
        [first.body.id, second.body.id, second.body.id],
        'the first event was delivered once; the second again only because it was published again',
      );
    } finally {
      await receiver.stop();
      await h.stop();
    }
  });

  // One server per SQLite file: what was in progress when it started belonged to a server that died.
  if (process.env.TEST_STORE !== 'postgres')
  it('on SQLite, a restarted server lets a retry of a request cut off by the crash run at once', async () => {
    const h = await startTestHerald();
    const body = JSON.stringify({ type: 'charge.succeeded', data: { object: { id: 'ch_restart', object: 'charge' } } });
    const publish = (server: TestHerald) => server.request('POST', '/v1/events', { key: h.keys.test, body, contentType: 'application/json', headers: { 'idempotency-key': 'cut-off' } });
    const first = await publish(h);
    await h.stop();
    // As the crash left it: the event stored, the key in progress and locked for the coming minute.
    await onDatabase(h, `UPDATE idempotency_keys SET status = NULL, body = NULL, locked_until = ${Date.now() + 60_000} WHERE key = 'cut-off'`);
    const restarted = await startTestHerald({ database: h.config.database, testSecretKey: h.keys.test, liveSecretKey: h.keys.live });
    try {
      const retried = await publish(restarted);
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      assert.equal(retried.body.id, first.body.id);
      const events = await restarted.request('GET', '/v1/events', { key: h.keys.test });
      assert.deepEqual(events.body.data.map((e: { id: string }) => e.id), [first.body.id]);
    } finally {
      await restarted.stop();
    }
  });
});

describe('isolation', () => {
  it('an account never sees another account\'s objects, and a test key never sees live ones', async () => {
    const h = await startTestHerald();
    const { hashApiKey, newApiKey } = await import('../../src/domain/ids.js');
    const store = h.herald.store;
    await store.createAccount({ id: 'acct_other', name: 'Other', applicationId: 'ca_other', defaultApiVersion: '2026-10-28.endive', created: Date.now() });
    const otherKey = newApiKey('test');
    await store.setApiKey('acct_other', 'test', hashApiKey(otherKey), Date.now());
    const other = new Stripe(otherKey, { host: '127.0.0.1', port: h.port, protocol: 'http' });
    const mine = await h.stripe().webhookEndpoints.create({ url: 'http://localhost:1/mine', enabled_events: ['*'] });
    const event = await h.publish({ type: 'charge.succeeded', data: { object: {} } });
    const liveEvent = await h.publish({ type: 'charge.succeeded', data: { object: {} } }, { mode: 'live' });
    assert.equal((await other.webhookEndpoints.list()).data.length, 0);
    assert.equal((await other.events.list()).data.length, 0);
    await assert.rejects(other.webhookEndpoints.retrieve(mine.id), (err: any) => err.statusCode === 404 && !/exists in/.test(err.message));
    await assert.rejects(other.events.retrieve(event.id), { statusCode: 404 });
    await assert.rejects(other.webhookEndpoints.update(mine.id, { description: 'x' }), { statusCode: 404 });
    const attempts = await fetch(`${h.url}/v1/events/${event.id}/delivery_attempts`, { headers: { authorization: `Bearer ${otherKey}` } });
    assert.equal(attempts.status, 404);
    // the other account's events do not reach my endpoints
    const theirs = await other.webhookEndpoints.create({ url: 'http://localhost:1/theirs', enabled_events: ['*'] });
    const published = await fetch(`${h.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${otherKey}`, 'content-type': 'application/json' }, body: '{"type":"charge.succeeded","data":{"object":{}}}' });
    assert.equal(((await published.json()) as any).pending_webhooks, 1);
    assert.ok(theirs.id);
    // modes
    assert.ok(!(await h.stripe().events.list({ limit: 100 })).data.some((e) => e.id === liveEvent.id));
    await assert.rejects(h.stripe().events.retrieve(liveEvent.id), (err: any) => /exists in live mode/.test(err.message));
    await h.stop();
  });
});
