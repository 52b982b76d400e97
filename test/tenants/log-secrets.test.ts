import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Stripe from 'stripe';
import { defaultConfig } from '../../src/config/config.js';
import { hashApiKey, newApiKey, newRestrictedApiKey } from '../../src/domain/ids.js';
import { consoleLogger, redactSecrets } from '../../src/domain/logger.js';
import { startHerald } from '../../src/server/herald.js';
import { newEncryptionKey, parseEncryptionKey } from '../../src/store/secret-encryption.js';
import { samplePaymentIntent, waitFor } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { testTempDir } from '../helpers/temp-dir.js';

/**
 * Herald's whole log output, at debug level, over a run that creates endpoints, rolls and reveals
 * secrets, delivers (successes, 500s, refused connections, an endpoint disabled), opens a listen
 * session and fails authentication in every way: no API key, signing secret or encryption key
 * appears in it.
 */
test('no secret appears in the log', async () => {
  const lines: string[] = [];
  const keys = { test: newApiKey('test'), live: newApiKey('live') };
  const encryptionKey = newEncryptionKey();
  const ok = new TestReceiver();
  const failing = new TestReceiver(() => ({ status: 500, body: 'nope' }));
  await ok.start();
  await failing.start();
  const herald = await startHerald(
    defaultConfig({
      port: 0,
      database: { kind: 'sqlite', path: join(testTempDir('herald-logs-'), 'herald.db') },
      testSecretKey: keys.test,
      liveSecretKey: keys.live,
      retrySchedule: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100],
      disableAfterMs: 1000,
      encryptionKeys: [parseEncryptionKey(encryptionKey)],
      logLevel: 'debug',
    }),
    { logger: consoleLogger('debug', (line) => lines.push(line)) },
  );
  const secrets: string[] = [keys.test, keys.live, encryptionKey];
  const wrongSecret = newApiKey('test');
  try {
    const port = Number(new URL(herald.url!).port);
    const stripe = new Stripe(keys.test, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
    const good = await stripe.webhookEndpoints.create({ url: `${ok.url}/hook`, enabled_events: ['*'] });
    const bad = await stripe.webhookEndpoints.create({ url: `${failing.url}/hook`, enabled_events: ['*'] });
    const refused = await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] });
    secrets.push(good.secret!, bad.secret!, refused.secret!);
    const rolled = await stripe.rawRequest('POST', `/v1/webhook_endpoints/${good.id}/roll_secret`, { expires_in: 3600 });
    secrets.push(rolled.secret);
    const revealed = await stripe.rawRequest('GET', `/v1/webhook_endpoints/${good.id}/secret`, {});
    assert.equal(revealed.secret, rolled.secret);
    const session = await stripe.rawRequest('POST', '/v1/listen/sessions', {});
    secrets.push(session.secret);

    for (let i = 0; i < 3; i++) await stripe.rawRequest('POST', '/v1/events', { type: 'payment_intent.succeeded', data: { object: samplePaymentIntent(`pi_log${i}`) } });
    await ok.waitForRequests(3);
    await waitFor(() => lines.some((l) => l.includes('endpoint disabled')), { timeoutMs: 20_000, message: 'the failing endpoints disabled' });

    const restricted = newRestrictedApiKey('test');
    const owner = await herald.store.findApiKeyOwner(hashApiKey(keys.test));
    await herald.store.addRestrictedApiKey(owner!.accountId, 'test', hashApiKey(restricted), Date.now());
    const wrongRestricted = newRestrictedApiKey('live');
    const publishable = `pk_test_${'x'.repeat(40)}`;
    secrets.push(restricted, wrongSecret, wrongRestricted, publishable);
    const call = (path: string, authorization: string | null, method = 'GET') =>
      fetch(`${herald.url}${path}`, { method, headers: authorization ? { authorization } : {} }).then((r) => r.status);
    assert.equal(await call('/v1/webhook_endpoints', `Bearer ${wrongSecret}`), 401);
    assert.equal(await call('/v1/webhook_endpoints', `Bearer ${wrongRestricted}`), 401);
    assert.equal(await call('/v1/webhook_endpoints', `Bearer ${publishable}`), 401);
    assert.equal(await call('/v1/webhook_endpoints', `Basic ${Buffer.from(`${wrongSecret}:`).toString('base64')}`), 401);
    assert.equal(await call('/v1/webhook_endpoints', `Bearer ${restricted}`), 200);
    assert.equal(await call(`/v1/webhook_endpoints/${good.id}`, `Bearer ${restricted}`, 'DELETE'), 403);
    // A client that puts a key or a secret in the URL: the path is logged, the secrets are not.
    assert.equal(await call(`/v1/${wrongSecret}`, `Bearer ${keys.test}`), 404);
    assert.equal(await call(`/v1/webhook_endpoints/${encodeURIComponent(good.secret!)}`, `Bearer ${keys.test}`), 404);
    const signIn = await fetch(`${herald.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: wrongSecret }) });
    assert.equal(signIn.status, 401);
  } finally {
    await herald.stop();
    await ok.stop();
    await failing.stop();
  }

  const log = lines.join('\n');
  assert.ok(lines.length >= 20, `the run logged (${lines.length} lines)`);
  assert.ok(log.includes('endpoint disabled') && log.includes('status=401') && log.includes('status=403'), 'the log covers the run');
  assert.ok(log.includes(`path=/v1/sk_test_****${wrongSecret.slice(-4)}`), 'the key in the path is redacted, not dropped');
  for (const secret of secrets) {
    // Not the secret, nor any 10 characters of it in a row (raw or URL-encoded), anywhere.
    const body = secret.replace(/^(?:(?:sk|rk|pk)_(?:test|live)_|whsec_)/, '');
    for (let i = 0; i + 10 <= body.length; i++) {
      for (const piece of new Set([body.slice(i, i + 10), encodeURIComponent(body.slice(i, i + 10))])) {
        assert.ok(!log.includes(piece), `part of a secret (${secret.slice(0, 8)}…) appears in the log`);
      }
    }
  }
  for (const pattern of [/(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]{8}/, /whsec_[A-Za-z0-9+/]{8}/, /whsec_[A-Za-z0-9%]{8}/]) assert.doesNotMatch(log, pattern);
});

test('redactSecrets keeps the prefix and the last four characters', () => {
  assert.equal(redactSecrets('key=sk_test_abcdefgh1234 secret=whsec_Zm9vYmFyYmF6cXV4 path=/v1/rk_live_0123456789'), 'key=sk_test_****1234 secret=whsec_****cXV4 path=/v1/rk_live_****6789');
  assert.equal(redactSecrets('evt_123 we_abc sk_test_'), 'evt_123 we_abc sk_test_');
});
