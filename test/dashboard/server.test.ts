import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashApiKey, newApiKey } from '../../src/domain/ids.js';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';

/** The dashboard's server side over plain HTTP: sessions, CSRF, forwarding, static files. */
describe('dashboard server', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald();
  });
  after(() => h.stop());

  const signIn = async (key: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${h.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ key }) });
    return { status: response.status, body: (await response.json()) as any, cookie: response.headers.get('set-cookie') };
  };
  const cookieOf = (setCookie: string | null) => setCookie!.split(';')[0]!;
  const call = async (method: string, path: string, cookie: string, options: { csrf?: string; body?: string } = {}) => {
    const headers: Record<string, string> = { cookie };
    if (options.csrf) headers['x-csrf-token'] = options.csrf;
    if (options.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(`${h.url}${path}`, { method, headers, body: options.body });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('redirects / to the dashboard and serves the app with a strict Content-Security-Policy', async () => {
    const root = await fetch(`${h.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/dashboard/');
    for (const path of ['/dashboard/', '/dashboard/test/endpoints/we_123']) {
      const page = await fetch(`${h.url}${path}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type')!, /text\/html/);
      assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
      assert.match(await page.text(), /<script type="module" src="\/dashboard\/assets\/app.js">/);
    }
    const script = await fetch(`${h.url}/dashboard/assets/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type')!, /javascript/);
    const nested = await fetch(`${h.url}/dashboard/assets/pages/events.js`);
    assert.equal(nested.status, 200);
    for (const path of ['/dashboard/assets/../../package.json', '/dashboard/assets/%2e%2e%2fpackage.json', '/dashboard/assets/nope.js']) {
      const response = await fetch(`${h.url}${path}`);
      assert.notEqual(response.status, 200, path);
    }
  });

  it('signs in with a secret key only: wrong key 401, publishable key 400, form body 415', async () => {
    const wrong = await signIn(newApiKey('test'));
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error.message, /Invalid API Key provided: sk_test_\*\*\*\*/);
    assert.equal(wrong.cookie, null);
    assert.equal((await signIn('pk_test_abc')).status, 400);
    assert.equal((await signIn('')).status, 400);
    const form = await fetch(`${h.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${h.keys.test}` });
    assert.equal(form.status, 415);
    const garbage = await fetch(`${h.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(garbage.status, 400);
  });

  it('keeps the key server-side behind an HttpOnly, SameSite=Strict cookie and forwards with it', async () => {
    const session = await signIn(h.keys.test);
    assert.equal(session.status, 200);
    assert.deepEqual(session.body.modes, ['test']);
    assert.equal(session.body.account, h.herald.accountId);
    assert.match(session.cookie!, /HttpOnly/);
    assert.match(session.cookie!, /SameSite=Strict/);
    assert.match(session.cookie!, /Path=\/dashboard/);
    assert.ok(!session.cookie!.includes(h.keys.test));
    const cookie = cookieOf(session.cookie);
    const list = await call('GET', '/dashboard/api/test/v1/webhook_endpoints', cookie);
    assert.equal(list.status, 200);
    assert.equal(list.body.object, 'list');
    const locked = await call('GET', '/dashboard/api/live/v1/webhook_endpoints', cookie);
    assert.equal(locked.status, 403);
    assert.equal(locked.body.error.code, 'dashboard_mode_locked');
    const noCookie = await call('GET', '/dashboard/api/test/v1/webhook_endpoints', 'other=1');
    assert.equal(noCookie.status, 401);
  });

  it('requires the session\'s CSRF token on every mutating call', async () => {
    const session = await signIn(h.keys.test);
    const cookie = cookieOf(session.cookie);
    const body = 'url=https://example.com/hook&enabled_events[]=*';
    assert.equal((await call('POST', '/dashboard/api/test/v1/webhook_endpoints', cookie, { body })).status, 403);
    assert.equal((await call('POST', '/dashboard/api/test/v1/webhook_endpoints', cookie, { body, csrf: 'wrong' })).status, 403);
    const created = await call('POST', '/dashboard/api/test/v1/webhook_endpoints', cookie, { body, csrf: session.body.csrf_token });
    assert.equal(created.status, 200);
    assert.equal(created.body.url, 'https://example.com/hook');
    assert.equal((await call('DELETE', `/dashboard/api/test/v1/webhook_endpoints/${created.body.id}`, cookie)).status, 403);
    assert.equal((await call('DELETE', `/dashboard/api/test/v1/webhook_endpoints/${created.body.id}`, cookie, { csrf: session.body.csrf_token })).body.deleted, true);
    // API errors come back in Stripe's shape, unchanged.
    const invalid = await call('POST', '/dashboard/api/test/v1/webhook_endpoints', cookie, { body: 'url=nope', csrf: session.body.csrf_token });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.type, 'invalid_request_error');
  });

  it('adds the other mode\'s key of the same account to the session; another account\'s key starts a new session', async () => {
    const session = await signIn(h.keys.test);
    const cookie = cookieOf(session.cookie);
    const withoutCsrf = await signIn(h.keys.live, { cookie });
    assert.equal(withoutCsrf.status, 403);
    const both = await signIn(h.keys.live, { cookie, 'x-csrf-token': session.body.csrf_token });
    assert.deepEqual(both.body.modes, ['test', 'live']);
    assert.equal((await call('GET', '/dashboard/api/live/v1/webhook_endpoints', cookie)).status, 200);

    const otherKey = newApiKey('test');
    await h.herald.store.createAccount({ id: 'acct_other', name: 'Other', applicationId: 'ca_other', defaultApiVersion: '2026-10-28.endive', created: Date.now() });
    await h.herald.store.setApiKey('acct_other', 'test', hashApiKey(otherKey), Date.now());
    const other = await signIn(otherKey, { cookie });
    assert.equal(other.status, 200);
    assert.equal(other.body.account, 'acct_other');
    assert.deepEqual(other.body.modes, ['test']);
    assert.notEqual(cookieOf(other.cookie), cookie);
    // The old session is gone: its cookie no longer reaches either account's data.
    assert.equal((await call('GET', '/dashboard/api/live/v1/webhook_endpoints', cookie)).status, 401);
  });

  it('signs out', async () => {
    const session = await signIn(h.keys.test);
    const cookie = cookieOf(session.cookie);
    assert.equal((await call('DELETE', '/dashboard/session', cookie)).status, 403);
    const out = await fetch(`${h.url}/dashboard/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': session.body.csrf_token } });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie')!, /Max-Age=0/);
    assert.deepEqual((await call('GET', '/dashboard/session', cookie)).body, { signed_in: false });
    assert.equal((await call('GET', '/dashboard/api/test/v1/webhook_endpoints', cookie)).status, 401);
  });
});
