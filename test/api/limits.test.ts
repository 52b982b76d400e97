import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';

/** Stripe's limits on sizes and counts, each a 400 in Stripe's shape that names the parameter. */
describe('input limits', () => {
  let h: TestHerald;
  let small: TestHerald;
  before(async () => {
    h = await startTestHerald();
    small = await startTestHerald({ maxEventBytes: 4096 });
  });
  after(async () => {
    await h.stop();
    await small.stop();
  });

  const json = (herald: TestHerald, path: string, body: unknown) => herald.request('POST', path, { body: JSON.stringify(body), contentType: 'application/json' });
  const expect400 = (res: { status: number; body: any }, param: string, message?: RegExp) => {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.type, 'invalid_request_error');
    assert.equal(res.body.error.param, param);
    if (message) assert.match(res.body.error.message, message);
  };
  const eventOf = (bytes: number) => ({ type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', object: 'payment_intent', blob: 'x'.repeat(bytes) } } });

  test('event data up to 256 KB by default; larger is a 400 naming data; HERALD_MAX_EVENT_BYTES changes it', async () => {
    assert.equal((await json(h, '/v1/events', eventOf(250 * 1024))).status, 200);
    expect400(await json(h, '/v1/events', eventOf(257 * 1024)), 'data', /more than the limit of 262144 bytes per event \(HERALD_MAX_EVENT_BYTES\)/);
    expect400(await json(small, '/v1/events', eventOf(5000)), 'data', /limit of 4096 bytes/);
    assert.equal((await json(small, '/v1/events', eventOf(3000))).status, 200);
    // Form-encoded, the same limit applies to the data, not to the encoding's overhead.
    const form = `type=payment_intent.succeeded&data[object][id]=pi_1&data[object][blob]=${'%C3%A9'.repeat(100 * 1024)}`;
    assert.equal((await h.request('POST', '/v1/events', { body: form })).status, 200);
  });

  test('bodies beyond the overall limit are refused with 413 before they are read whole', async () => {
    const res = await json(h, '/v1/events', eventOf(1100 * 1024));
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'request_too_large');
    const bigger = await startTestHerald({ maxEventBytes: 1024 * 1024 });
    try {
      assert.equal((await json(bigger, '/v1/events', eventOf(1000 * 1024))).status, 200, 'the body limit grows with the event limit');
    } finally {
      await bigger.stop();
    }
  });

  test('bodies nested beyond 100 levels (JSON) or 16 (form keys) are a 400, and nothing is stored', async () => {
    const nestedIn = (levels: number) => {
      let value: unknown = 'deep';
      for (let i = 0; i < levels; i++) value = { n: value };
      return value;
    };
    // The body, data and data[object] are three levels: 97 more make 100, the most accepted.
    const deepest = { type: 'payment_intent.succeeded', data: { object: { id: 'pi_deep', object: 'payment_intent', n: nestedIn(97) } } };
    assert.equal((await json(h, '/v1/events', deepest)).status, 200);
    const before = (await h.request('GET', '/v1/events?limit=100')).body.data.length;
    for (const body of [
      JSON.stringify({ type: 'payment_intent.succeeded', data: { object: { id: 'pi_deeper', object: 'payment_intent', n: nestedIn(98) } } }),
      `{"type":"payment_intent.succeeded","data":{"object":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`,
    ]) {
      const res = await h.request('POST', '/v1/events', { body, contentType: 'application/json' });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.type, 'invalid_request_error');
      assert.match(res.body.error.message, /nested more than 100 levels deep/);
    }
    const form = `type=payment_intent.succeeded&data[object][id]=pi_form&data[object]${'[n]'.repeat(20)}=1`;
    const res = await h.request('POST', '/v1/events', { body: form });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /nested more than 16 levels deep/);
    assert.equal((await h.request('GET', '/v1/events?limit=100')).body.data.length, before, 'no event stored');
  });

  test("metadata as Stripe's: 50 keys, keys of 40 characters, values of 500", async () => {
    const base = 'url=https%3A%2F%2Fexample.com%2Fh&enabled_events[]=*';
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `metadata[k${i}]=v`).join('&');
    assert.equal((await h.request('POST', '/v1/webhook_endpoints', { body: `${base}&${keys(50)}` })).status, 200);
    expect400(await h.request('POST', '/v1/webhook_endpoints', { body: `${base}&${keys(51)}` }), 'metadata', /at most 50/);
    expect400(await h.request('POST', '/v1/webhook_endpoints', { body: `${base}&metadata[${'k'.repeat(41)}]=v` }), `metadata[${'k'.repeat(41)}]`, /40 characters/);
    expect400(await h.request('POST', '/v1/webhook_endpoints', { body: `${base}&metadata[k]=${'v'.repeat(501)}` }), 'metadata[k]', /500 characters/);
    expect400(await h.request('POST', '/v1/webhook_endpoints', { body: `${base}&description=${'d'.repeat(5001)}` }), 'description', /5000 characters/);
    expect400(await h.request('POST', '/v1/webhook_endpoints', { body: `url=https%3A%2F%2Fexample.com%2F${'p'.repeat(2100)}&enabled_events[]=*` }), 'url', /2048 characters/);
    const many = Array.from({ length: 501 }, () => 'enabled_events[]=charge.succeeded').join('&');
    expect400(await h.request('POST', '/v1/webhook_endpoints', { body: `url=https%3A%2F%2Fexample.com%2Fh&${many}` }), 'enabled_events', /at most 500/);
  });

  test('lists: limit 1-100, at most 20 types, cursors of bounded length', async () => {
    expect400(await h.request('GET', '/v1/events?limit=101'), 'limit', /less than or equal to 100/);
    expect400(await h.request('GET', '/v1/events?limit=0'), 'limit');
    const types = Array.from({ length: 21 }, (_, i) => `types[${i}]=charge.succeeded`).join('&');
    expect400(await h.request('GET', `/v1/events?${types}`), 'types', /at most 20/);
    expect400(await h.request('GET', `/v1/events?starting_after=evt_${'a'.repeat(300)}`), 'starting_after');
    expect400(await h.request('GET', `/v1/events?type=${'a'.repeat(201)}`), 'type');
  });
});
