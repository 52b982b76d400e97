import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { defaultConfig } from '../../src/config/config.js';
import { hashApiKey } from '../../src/domain/ids.js';
import { silentLogger } from '../../src/domain/logger.js';
import { startHerald, type RunningHerald } from '../../src/server/herald.js';
import { runCli } from '../cli/cli-process.js';
import { waitFor } from '../helpers/herald.js';
import { API_KEY_CACHE_TTL_MS } from '../../src/api/api-key-cache.js';
import { testTempDir } from '../helpers/temp-dir.js';

/**
 * The operator commands on a real database, as an operator runs them (child processes), and the
 * keys they print used through stripe-node: `herald accounts create|list`, `herald keys
 * create-restricted|roll --account`.
 */
describe('herald accounts and herald keys', () => {
  const dir = testTempDir('herald-accounts-');
  const dbPath = join(dir, 'herald.db');
  const env = { HERALD_DATABASE_URL: `sqlite:${dbPath}` };
  let acme: { id: string; name: string; keys: { test: string; live: string } };
  let herald: RunningHerald;
  const client = (key: string) => new Stripe(key, { host: '127.0.0.1', port: Number(new URL(herald.url!).port), protocol: 'http', maxNetworkRetries: 0 });

  before(async () => {
    const created = await runCli(['accounts', 'create', '--name', 'Acme', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    acme = JSON.parse(created.stdout);
    herald = await startHerald(defaultConfig({ port: 0, database: { kind: 'sqlite', path: dbPath }, logLevel: 'silent' }), { logger: silentLogger });
  });
  after(() => herald?.stop());

  test('accounts create prints an account and its two keys once; only their hashes are stored', async () => {
    assert.match(acme.id, /^acct_/);
    assert.equal(acme.name, 'Acme');
    assert.match(acme.keys.test, /^sk_test_[A-Za-z0-9]{48}$/);
    assert.match(acme.keys.live, /^sk_live_[A-Za-z0-9]{48}$/);
    const account = await client(acme.keys.test).accounts.retrieveCurrent();
    assert.equal(account.id, acme.id);
    assert.equal(account.settings?.dashboard?.display_name, 'Acme');
    assert.equal(((await client(acme.keys.live).accounts.retrieveCurrent()) as unknown as { livemode: boolean }).livemode, true);
    const file = readFileSync(dbPath).toString('latin1') + readFileSync(`${dbPath}-wal`).toString('latin1');
    assert.ok(!file.includes(acme.keys.test) && !file.includes(acme.keys.live), 'keys are not stored');
    assert.ok(file.includes(hashApiKey(acme.keys.test)), 'their SHA-256 is');

    const human = await runCli(['accounts', 'create'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^Account acct_\w+ \(Account\)\n {2}Secret keys \(stored hashed: copy them now, they are not shown again\):\n {4}test: sk_test_\w+\n {4}live: sk_live_\w+$/);
  });

  test('accounts create --platform makes a connected account the platform sees; accounts list shows both', async () => {
    const made = await runCli(['accounts', 'create', '--platform', acme.id, '--name', 'Driver', '--email', 'd@example.com', '--json'], env);
    assert.equal(made.code, 0, made.stderr);
    const connected = JSON.parse(made.stdout) as { id: string; platform: string };
    assert.equal(connected.platform, acme.id);
    const seen = await client(acme.keys.test).accounts.retrieve(connected.id);
    assert.equal(seen.email, 'd@example.com');
    assert.equal(seen.business_profile?.name, 'Driver');

    const list = await runCli(['accounts', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    const accounts = JSON.parse(list.stdout) as { id: string; name: string; connected_accounts: string[] }[];
    const row = accounts.find((a) => a.id === acme.id)!;
    assert.deepEqual(row.connected_accounts, [connected.id]);
    assert.ok(accounts.length >= 3, 'Acme, the account made without a name, and the default account Herald made on start');
    const text = await runCli(['accounts', 'list'], env);
    assert.match(text.stdout, new RegExp(`${acme.id} {2}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d {2}Acme\\n {2}└ ${connected.id} {2}Driver {2}\\(connected\\)`));

    const missing = await runCli(['accounts', 'create', '--platform', 'acct_NoSuchPlatform'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /herald: no account 'acct_NoSuchPlatform' in this database/);
  });

  test('a restricted key reads everything and changes nothing (StripePermissionError)', async () => {
    const endpoint = await client(acme.keys.test).webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] });
    const made = await runCli(['keys', 'create-restricted', '--account', acme.id, '--mode', 'test'], env);
    assert.equal(made.code, 0, made.stderr);
    const rk = made.stdout.trim();
    assert.match(rk, /^rk_test_[A-Za-z0-9]{48}$/);
    const restricted = client(rk);
    assert.deepEqual((await restricted.webhookEndpoints.list()).data.map((e) => e.id), [endpoint.id]);
    assert.equal((await restricted.webhookEndpoints.retrieve(endpoint.id)).url, 'http://127.0.0.1:9/hook');
    assert.equal((await restricted.accounts.retrieveCurrent()).id, acme.id);
    await restricted.events.list();

    const refusals: [string, () => Promise<unknown>][] = [
      ['create', () => restricted.webhookEndpoints.create({ url: 'http://127.0.0.1:9/x', enabled_events: ['*'] })],
      ['update', () => restricted.webhookEndpoints.update(endpoint.id, { description: 'x' })],
      ['delete', () => restricted.webhookEndpoints.del(endpoint.id)],
      ['publish', () => restricted.rawRequest('POST', '/v1/events', { type: 'customer.created', data: { object: { id: 'cus_1' } } })],
      ['connected account', () => restricted.accounts.create({})],
      ['reveal secret', () => restricted.rawRequest('GET', `/v1/webhook_endpoints/${endpoint.id}/secret`, {})],
    ];
    for (const [name, call] of refusals) {
      await assert.rejects(call(), (err: any) => {
        assert.equal(err.type, 'StripePermissionError', name);
        assert.equal(err.statusCode, 403, name);
        assert.match(err.message, new RegExp(`^The provided key 'rk_test_\\*{4}${rk.slice(-4)}' does not have the required permissions for this endpoint on account '${acme.id}'\\.`), name);
        return true;
      });
    }
    assert.equal((await client(acme.keys.test).webhookEndpoints.retrieve(endpoint.id)).description, null, 'nothing changed');
    // An unknown restricted key is refused like an unknown secret key, redacted.
    await assert.rejects(client(rk.replace('rk_test_', 'rk_live_')).webhookEndpoints.list(), (err: any) => {
      assert.equal(err.type, 'StripeAuthenticationError');
      assert.equal(err.message, `Invalid API Key provided: rk_live_****${rk.slice(-4)}`);
      return true;
    });
  });

  test('keys roll --account replaces only that account’s secret keys; restricted keys stay', async () => {
    const made = await runCli(['keys', 'create-restricted', '--account', acme.id, '--mode', 'live'], env);
    const rk = made.stdout.trim();
    const rolled = await runCli(['keys', 'roll', '--account', acme.id, '--mode', 'live'], env);
    assert.equal(rolled.code, 0, rolled.stderr);
    const newKey = /^live: (sk_live_\w+)$/.exec(rolled.stdout)![1]!;
    // Rolled by another process: the running Herald stops accepting the old key once its key
    // cache's entry expires.
    const refused = (key: string) => client(key).accounts.retrieveCurrent().then(() => false, (err: { type?: string }) => err.type === 'StripeAuthenticationError');
    await waitFor(() => refused(acme.keys.live), { timeoutMs: API_KEY_CACHE_TTL_MS + 5000 });
    await assert.rejects(client(acme.keys.live).accounts.retrieveCurrent(), { type: 'StripeAuthenticationError' });
    assert.equal((await client(newKey).accounts.retrieveCurrent()).id, acme.id);
    assert.equal((await client(rk).accounts.retrieveCurrent()).id, acme.id);
    assert.equal((await client(acme.keys.test).accounts.retrieveCurrent()).id, acme.id, 'the test key is untouched');

    const usage = await runCli(['keys', 'create-restricted', '--account', acme.id], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /needs --mode test or --mode live/);
  });
});
