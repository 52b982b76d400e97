import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';

describe('listen session routes', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald();
  });
  after(() => h.stop());

  const json = (body: unknown) => ({ body: JSON.stringify(body), contentType: 'application/json' });

  test('a session belongs to one account and mode: other keys do not see it', async () => {
    const test = (await h.request('POST', '/v1/listen/sessions', json({ enabled_events: ['*'] }))).body;
    const live = (await h.request('POST', '/v1/listen/sessions', { ...json({}), key: h.keys.live })).body;
    assert.match(test.id, /^lsn_/);
    assert.equal(test.livemode, false);
    assert.equal(live.livemode, true);
    assert.notEqual(live.secret, test.secret);

    const stream = await h.request('GET', `${test.stream_url}`, { key: h.keys.live });
    assert.equal(stream.status, 404);
    assert.equal(stream.body.error.code, 'resource_missing');
    const event = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1' } } });
    const report = await h.request('POST', test.attempts_url, { ...json({ event: event.id, attempts: [] }), key: h.keys.live });
    assert.equal(report.status, 404);
    const otherModeEvent = await h.request('POST', live.attempts_url, { ...json({ event: event.id, attempts: [] }), key: h.keys.live });
    assert.equal(otherModeEvent.status, 404, "a test event cannot be acknowledged by the live session");
    assert.equal((await h.request('POST', '/v1/listen/sessions', { ...json({}), key: null })).status, 401);
  });

  test('attempt reports are validated with errors in Stripe’s shape', async () => {
    const session = (await h.request('POST', '/v1/listen/sessions', json({}))).body;
    const event = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_2' } } });
    const cases: [unknown, number, string, string?][] = [
      [{ attempts: [] }, 400, 'parameter_missing', 'event'],
      [{ event: 'evt_nope', attempts: [] }, 404, 'resource_missing', 'event'],
      [{ event: event.id, attempts: 'x' }, 400, 'parameter_invalid', 'attempts'],
      [{ event: event.id, attempts: [{ url: 'http://localhost:4242' }] }, 400, 'parameter_missing', 'status'],
      [{ event: event.id, attempts: [{ url: 'http://localhost:4242', failure_kind: 'exploded' }] }, 400, 'parameter_invalid', 'failure_kind'],
      [{ event: event.id, attempts: [{ url: 'http://localhost:4242', status: 200, extra: 1 }] }, 400, 'parameter_unknown', 'extra'],
      [{ event: event.id, surprise: true }, 400, 'parameter_unknown', 'surprise'],
    ];
    for (const [body, status, code, param] of cases) {
      const response = await h.request('POST', session.attempts_url, json(body));
      assert.equal(response.status, status, JSON.stringify(body));
      assert.equal(response.body.error.type, 'invalid_request_error');
      assert.equal(response.body.error.code, code, JSON.stringify(body));
      if (param) assert.equal(response.body.error.param, param);
    }
    const ok = await h.request('POST', session.attempts_url, json({ event: event.id, attempts: [{ url: 'http://localhost:4242/hook', status: 301, duration_ms: 4, response_body: 'moved' }] }));
    assert.equal(ok.status, 200);
    const [attempt] = (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data;
    assert.equal(attempt.failure_kind, 'redirect', '3xx is a failure, as for endpoints');
    assert.equal(attempt.response_body, 'moved');
    const byId = await h.request('GET', `/v1/webhook_delivery_attempts/${attempt.id}`);
    assert.equal(byId.status, 200);
    assert.equal(byId.body.webhook_endpoint, session.id);
  });

  test('unknown event types in the filter are reported, not refused', async () => {
    const session = await h.request('POST', '/v1/listen/sessions', json({ enabled_events: ['charge.succeeded', 'charge.exploded'] }));
    assert.equal(session.status, 200);
    assert.deepEqual(session.body.unknown_events, ['charge.exploded']);
    const invalid = await h.request('POST', '/v1/listen/sessions', json({ enabled_events: 'charge.succeeded' }));
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.param, 'enabled_events');
  });
});
