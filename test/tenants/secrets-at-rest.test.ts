import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Stripe from 'stripe';
import { ConfigError, defaultConfig, type HeraldConfig } from '../../src/config/config.js';
import { newApiKey } from '../../src/domain/ids.js';
import { silentLogger } from '../../src/domain/logger.js';
import { startHerald, type RunningHerald } from '../../src/server/herald.js';
import { newEncryptionKey, parseEncryptionKey } from '../../src/store/secret-encryption.js';
import { runCli } from '../cli/cli-process.js';
import { samplePaymentIntent, waitFor } from '../helpers/herald.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { TestReceiver } from '../helpers/receiver.js';
import { testTempDir } from '../helpers/temp-dir.js';

/**
 * HERALD_ENCRYPTION_KEY end to end, on one database restarted under different keys: plaintext
 * secrets are encrypted at start, nothing stored shows a `whsec_` any more, deliveries still verify
 * with stripe-node, a wrong or missing key fails the start, and `herald secrets
 * rotate-encryption-key` moves every secret to a new key. TEST_STORE=postgres runs it on PostgreSQL.
 */
const onPostgres = process.env.TEST_STORE === 'postgres';
let postgres: TestPostgres | null = null;
after(async () => postgres?.stop());

describe(`signing secrets at rest (${onPostgres ? 'PostgreSQL' : 'SQLite'})`, () => {
  const verifier = new Stripe('sk_test_verifier');
  const keys = { test: newApiKey('test'), live: newApiKey('live') };
  const K1 = newEncryptionKey();
  const K2 = newEncryptionKey();
  let database: HeraldConfig['database'];
  let databaseUrl: string;
  let sqlitePath: string | null = null;
  const receiver = new TestReceiver();
  after(() => receiver.stop());

  const start = (encryptionKey: string | null) =>
    startHerald(
      defaultConfig({
        port: 0,
        database,
        testSecretKey: keys.test,
        liveSecretKey: keys.live,
        logLevel: 'silent',
        encryptionKeys: encryptionKey === null ? null : encryptionKey.split(',').map(parseEncryptionKey),
      }),
      { logger: silentLogger },
    );
  const stripeOf = (h: RunningHerald) => new Stripe(keys.test, { host: '127.0.0.1', port: Number(new URL(h.url!).port), protocol: 'http', maxNetworkRetries: 0 });
  /** Every stored signing secret exactly as stored (the rewrite hook answers each unchanged); `all` adds kept idempotent responses. */
  const storedSecrets = async (h: RunningHerald, all = false) => {
    const values: string[] = [];
    await h.store.rewriteSecrets((stored, owner) => {
      if (all || !owner.startsWith('idempotency:')) values.push(stored);
      return stored;
    });
    return values;
  };
  /** The SQLite file and its WAL, as bytes on disk. */
  const fileText = () => [sqlitePath!, `${sqlitePath}-wal`].filter(existsSync).map((p) => readFileSync(p).toString('latin1')).join('');

  let first: { endpoint: string; secret: string };
  let listenSecret: string;

  test('a database with plaintext secrets is encrypted on the first start with a key', async () => {
    await receiver.start();
    if (onPostgres) {
      postgres = await startTestPostgres();
      databaseUrl = await postgres.createDatabase();
      database = { kind: 'postgres', url: databaseUrl };
    } else {
      sqlitePath = join(testTempDir('herald-secrets-'), 'herald.db');
      databaseUrl = `sqlite:${sqlitePath}`;
      database = { kind: 'sqlite', path: sqlitePath };
    }
    const plain = await start(null);
    const we = await stripeOf(plain).webhookEndpoints.create({ url: `${receiver.url}/first`, enabled_events: ['*'] });
    first = { endpoint: we.id, secret: we.secret! };
    const session = await fetch(`${plain.url}/v1/listen/sessions`, { method: 'POST', headers: { authorization: `Bearer ${keys.test}` } });
    listenSecret = ((await session.json()) as { secret: string }).secret;
    assert.ok((await storedSecrets(plain)).some((s) => s === first.secret), 'without a key, stored as given');
    await plain.stop();

    const h = await start(K1);
    try {
      const stored = await storedSecrets(h, true);
      assert.equal(stored.length, 3, 'the endpoint, the listen session, and the create response stripe-node made idempotent');
      for (const value of stored) assert.match(value, /^herald:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);
      assert.ok(!stored.join().includes('whsec_'));
      if (sqlitePath) assert.ok(!fileText().includes('whsec_'), 'no plaintext secret left anywhere in the SQLite file or WAL');
      // The listen session keeps its secret (now sealed) across the change.
      const session = await fetch(`${h.url}/v1/listen/sessions`, { method: 'POST', headers: { authorization: `Bearer ${keys.test}` } });
      assert.equal(((await session.json()) as { secret: string }).secret, listenSecret);
    } finally {
      await h.stop();
    }
  });

  test('with the key set: new and rolled secrets are stored sealed and deliveries verify with stripe-node', async () => {
    const h = await start(K1);
    try {
      const stripe = stripeOf(h);
      const second = await stripe.webhookEndpoints.create({ url: `${receiver.url}/second`, enabled_events: ['payment_intent.succeeded'] });
      const rolled = (await h.store.activeSecrets(first.endpoint, Date.now())).length;
      assert.equal(rolled, 1);
      const response = await fetch(`${h.url}/v1/webhook_endpoints/${first.endpoint}/roll_secret`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.test}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'expires_in=3600',
      });
      const newSecret = ((await response.json()) as { secret: string }).secret;
      assert.match(newSecret, /^whsec_/);
      const revealed = await fetch(`${h.url}/v1/webhook_endpoints/${first.endpoint}/secret`, { headers: { authorization: `Bearer ${keys.test}` } });
      const body = (await revealed.json()) as { secret: string; expiring: { secret: string }[] };
      assert.equal(body.secret, newSecret);
      assert.deepEqual(body.expiring.map((s) => s.secret), [first.secret]);

      const before = receiver.requests.length;
      const published = await fetch(`${h.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.test}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent('pi_sealed') } }),
      });
      const event = (await published.json()) as { id: string };
      await receiver.waitForRequests(before + 2);
      const deliveries = receiver.requests.slice(before);
      const to = (path: string) => deliveries.find((r) => r.path === path)!;
      // The first endpoint signs with its new secret and, during the overlap, the rolled one.
      for (const secret of [newSecret, first.secret]) assert.equal(verifier.webhooks.constructEvent(to('/first').body, to('/first').headers['stripe-signature'] as string, secret).id, event.id);
      assert.equal(verifier.webhooks.constructEvent(to('/second').body, to('/second').headers['stripe-signature'] as string, second.secret!).id, event.id);

      assert.equal((await storedSecrets(h)).length, 4, 'two for the rolled endpoint, one for the new one, the listen session');
      const stored = await storedSecrets(h, true);
      assert.ok(stored.every((s) => s.startsWith('herald:v1:')) && !stored.join().includes('whsec_'));
      await waitFor(async () => ((await stripe.events.retrieve(event.id)).pending_webhooks === 0 ? true : null));
    } finally {
      await h.stop();
    }
    if (sqlitePath) assert.ok(!fileText().includes('whsec_'), 'no whsec_ in the SQLite file or WAL');
  });

  test('a wrong key, or none, fails the start with a clear message', async () => {
    await assert.rejects(start(K2), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /HERALD_ENCRYPTION_KEY: a signing secret is encrypted with key [0-9a-f]{8}, which is not among HERALD_ENCRYPTION_KEY's keys/);
      return true;
    });
    await assert.rejects(start(null), /HERALD_ENCRYPTION_KEY: signing secrets are stored encrypted \(key [0-9a-f]{8}\) but HERALD_ENCRYPTION_KEY is not set/);
    // `herald serve` says the same and exits 2.
    const serve = await runCli(['serve', '--port', '0'], { HERALD_DATABASE_URL: databaseUrl, HERALD_ENCRYPTION_KEY: K2, HERALD_LOG_LEVEL: 'silent' });
    assert.equal(serve.code, 2);
    assert.match(serve.stderr, /herald: Invalid configuration: HERALD_ENCRYPTION_KEY: a signing secret is encrypted with key/);
  });

  test('herald secrets rotate-encryption-key moves every secret to the new key in one go', async () => {
    const refused = await runCli(['secrets', 'rotate-encryption-key'], { HERALD_DATABASE_URL: databaseUrl, HERALD_ENCRYPTION_KEY: `${K2}` });
    assert.equal(refused.code, 2, 'without the old key it cannot decrypt: nothing changes');
    assert.match(refused.stderr, /not among HERALD_ENCRYPTION_KEY's keys.*nothing was changed/);

    const rotated = await runCli(['secrets', 'rotate-encryption-key'], { HERALD_DATABASE_URL: databaseUrl, HERALD_ENCRYPTION_KEY: `${K2},${K1}` });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /^Re-encrypted 6 stored values \(signing secrets and kept API responses that show one\) with key [0-9a-f]{8}\.$/);

    await assert.rejects(start(K1), /not among HERALD_ENCRYPTION_KEY's keys/);
    const h = await start(K2);
    try {
      const before = receiver.requests.length;
      const published = await fetch(`${h.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.test}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'customer.created', data: { object: { id: 'cus_rotated', object: 'customer' } } }),
      });
      const event = (await published.json()) as { id: string };
      const [delivery] = await receiver.waitForRequests(before + 1).then((all) => all.slice(before));
      assert.equal(verifier.webhooks.constructEvent(delivery!.body, delivery!.headers['stripe-signature'] as string, first.secret).id, event.id);
      const session = await fetch(`${h.url}/v1/listen/sessions`, { method: 'POST', headers: { authorization: `Bearer ${keys.test}` } });
      assert.equal(((await session.json()) as { secret: string }).secret, listenSecret);
    } finally {
      await h.stop();
    }

    const decrypted = await runCli(['secrets', 'decrypt'], { HERALD_DATABASE_URL: databaseUrl, HERALD_ENCRYPTION_KEY: K2 });
    assert.equal(decrypted.code, 0, decrypted.stderr);
    const plain = await start(null);
    try {
      assert.ok((await storedSecrets(plain)).every((s) => s.startsWith('whsec_')));
    } finally {
      await plain.stop();
    }
  });

  test('the key format is checked when the setting is read', async () => {
    const bad = await runCli(['secrets', 'rotate-encryption-key'], { HERALD_DATABASE_URL: databaseUrl, HERALD_ENCRYPTION_KEY: 'too-short' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /HERALD_ENCRYPTION_KEY: key 1: expected 32 random bytes as 64 hex digits or 44 base64 characters/);
    const key = await runCli(['secrets', 'new-key'], {});
    assert.equal(key.code, 0);
    assert.equal(parseEncryptionKey(key.stdout.trim()).length, 32);
  });
});
