import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import Stripe from 'stripe';
import { resolveConfig, ConfigError } from '../../src/config/config.js';
import { loadVersionsDirectory } from '../../src/delivery/versions.js';
import { API_KEY_CACHE_TTL_MS } from '../../src/api/api-key-cache.js';
import { spawnCli } from '../cli/cli-process.js';
import { startTestHerald, waitFor } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

const verifier = new Stripe('sk_test_unused');
const EXAMPLES = fileURLToPath(new URL('../../examples/api-versions/', import.meta.url));
const COUNTING = fileURLToPath(new URL('../fixtures/counting-versions/', import.meta.url));
const onPostgres = process.env.TEST_STORE === 'postgres';

/** Calls of the example change modules so far (test/fixtures/counting-versions wraps them). */
function calls(): Record<string, { downgrade: number; upgrade: number }> {
  return structuredClone((globalThis as { heraldVersionCalls?: Record<string, { downgrade: number; upgrade: number }> }).heraldVersionCalls ?? {});
}

const charge = { id: 'ch_1', object: 'charge', amount: 2000, currency: 'eur' };

describe('API versions declared in a folder (HERALD_API_VERSIONS_DIR)', () => {
  it('delivers one event to endpoints on three versions, each in its own shape and signed, translating once per version', async () => {
    // The translations are counted in this thread's globals: the delivery loop runs here.
    const h = await startTestHerald({ apiVersionsDir: COUNTING, retrySchedule: [300] }, { deliverOnThisThread: true });
    const receiver: TestReceiver = await new TestReceiver((req) => (req.path.startsWith('/flaky') && receiver.requests.filter((r) => r.path === req.path).length < 2 ? { status: 500 } : { status: 200 })).start();
    const stripe = h.stripe();
    const endpoints: Record<string, Stripe.WebhookEndpoint> = {};
    const create = async (name: string, apiVersion?: string) => {
      endpoints[name] = await stripe.webhookEndpoints.create({
        url: `${receiver.url}/${name}`,
        enabled_events: ['charge.succeeded'],
        ...(apiVersion ? { api_version: apiVersion as Stripe.WebhookEndpointCreateParams['api_version'] } : {}),
      });
    };
    // three endpoints pinned to basil (one failing once, so it is retried), two on clover, one following the account (endive)
    await create('basil-1', '2025-03-31.basil');
    await create('basil-2', '2025-03-31.basil');
    await create('flaky-basil', '2025-03-31.basil');
    await create('clover-1', '2025-09-30.clover');
    await create('clover-2', '2025-09-30.clover');
    await create('account');
    assert.equal(endpoints['account']!.api_version, null);

    const before = calls();
    const published = await h.publish({ type: 'charge.succeeded', data: { object: charge } });
    assert.equal(published.api_version, '2026-10-28.endive', 'published in the account default');
    await receiver.waitForRequests(7, 20_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify((await h.request('GET', `/v1/events/${published.id}/delivery_attempts`)).body)}`);
    }); // six endpoints + one retry

    const received = (name: string) => {
      const requests = receiver.requests.filter((r) => r.path === `/${name}`);
      const last = requests[requests.length - 1]!;
      return verifier.webhooks.constructEvent(last.body, last.headers['stripe-signature'] as string, endpoints[name]!.secret!) as unknown as { id: string; api_version: string; data: { object: Record<string, unknown> } };
    };
    for (const name of ['basil-1', 'basil-2', 'flaky-basil']) {
      const event = received(name);
      assert.equal(event.api_version, '2025-03-31.basil');
      assert.deepEqual(event.data.object, { id: 'ch_1', object: 'charge', amount_cents: 2000, currency: 'eur' }, `${name}: amount was amount_cents before endive`);
      assert.equal(event.id, published.id);
    }
    for (const name of ['clover-1', 'clover-2']) {
      assert.equal(received(name).api_version, '2025-09-30.clover');
      assert.deepEqual(received(name).data.object, { id: 'ch_1', object: 'charge', amount_cents: 2000, currency: 'eur' });
    }
    assert.equal(received('account').api_version, '2026-10-28.endive');
    assert.deepEqual(received('account').data.object, charge);

    const after = calls();
    const delta = (version: string) => after[version]!.downgrade - (before[version]?.downgrade ?? 0);
    // endive→clover is one step (endive's downgrade); endive→basil is two (endive's, then clover's).
    // Translated once per target version: endive's downgrade twice (clover, basil), clover's once (basil),
    // however many endpoints share a version and however many attempts they take.
    assert.equal(delta('2026-10-28.endive'), 2);
    assert.equal(delta('2025-09-30.clover'), 0, "clover's step concerns customer events only: a charge skips it");

    // the event itself never changes: as created, whatever the endpoints received
    const stored = await stripe.events.retrieve(published.id);
    assert.equal(stored.api_version, '2026-10-28.endive');
    assert.deepEqual(stored.data.object, charge);
    await h.stop();
    await receiver.stop();
  });

  it('applies a step only to the event types it concerns, and upgrades events published in an older version', async () => {
    const h = await startTestHerald({ apiVersionsDir: EXAMPLES });
    const receiver = await new TestReceiver().start();
    const stripe = h.stripe();
    const current = await stripe.webhookEndpoints.create({ url: `${receiver.url}/endive`, enabled_events: ['customer.updated'] });
    const old = await stripe.webhookEndpoints.create({ url: `${receiver.url}/basil`, enabled_events: ['customer.updated'], api_version: '2025-03-31.basil' as Stripe.WebhookEndpointCreateParams['api_version'] });
    // published in basil (flat address) through the Stripe-Version header
    const response = await h.request('POST', '/v1/events', {
      headers: { 'stripe-version': '2025-03-31.basil' },
      contentType: 'application/json',
      body: JSON.stringify({
        type: 'customer.updated',
        data: { object: { id: 'cus_1', object: 'customer', address_line1: '1 Main St', address_city: 'Paris', address_country: 'FR' }, previous_attributes: { address_city: 'Lyon' } },
      }),
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.api_version, '2025-03-31.basil');
    await receiver.waitForRequests(2);
    const byPath = (path: string) => {
      const req = receiver.requests.find((r) => r.path === path)!;
      return verifier.webhooks.constructEvent(req.body, req.headers['stripe-signature'] as string, (path === '/endive' ? current : old).secret!) as unknown as { api_version: string; data: Record<string, unknown> };
    };
    assert.equal(byPath('/endive').api_version, '2026-10-28.endive');
    assert.deepEqual(byPath('/endive').data, {
      object: { id: 'cus_1', object: 'customer', address: { line1: '1 Main St', city: 'Paris', country: 'FR' } },
      previous_attributes: { address: { line1: null, city: 'Lyon', country: null } },
    });
    assert.equal(byPath('/basil').api_version, '2025-03-31.basil');
    assert.deepEqual((byPath('/basil').data as { object: unknown }).object, { id: 'cus_1', object: 'customer', address_line1: '1 Main St', address_city: 'Paris', address_country: 'FR' });
    // only declared versions are accepted, with the list in the error
    const unknown = await h.request('POST', '/v1/events', { headers: { 'stripe-version': '2024-01-01.nope' }, contentType: 'application/json', body: JSON.stringify({ type: 'customer.updated', data: { object: { id: 'cus_2' } } }) });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.param, 'Stripe-Version');
    assert.match(unknown.body.error.message, /2025-03-31\.basil, 2025-09-30\.clover, 2026-10-28\.endive/);
    await assert.rejects(stripe.webhookEndpoints.create({ url: `${receiver.url}/x`, enabled_events: ['*'], api_version: '2024-01-01' as Stripe.WebhookEndpointCreateParams['api_version'] }), (err: any) => err.statusCode === 400 && err.param === 'api_version');
    await h.stop();
    await receiver.stop();
  });

  it('a new account default applies to events created after the change only; endpoints pinned to a version keep it', async () => {
    const h = await startTestHerald({ apiVersionsDir: EXAMPLES });
    const receiver = await new TestReceiver().start();
    const stripe = h.stripe();
    const following = await stripe.webhookEndpoints.create({ url: `${receiver.url}/following`, enabled_events: ['charge.succeeded'] });
    const pinned = await stripe.webhookEndpoints.create({ url: `${receiver.url}/pinned`, enabled_events: ['charge.succeeded'], api_version: '2026-10-28.endive' as Stripe.WebhookEndpointCreateParams['api_version'] });
    // The publisher uses stripe-node, which sends its pinned Stripe-Version (endive) on every request.
    const publish = async (id: string) => (await stripe.rawRequest('POST', '/v1/events', { type: 'charge.succeeded', data: { object: { ...charge, id } } })) as unknown as { id: string; api_version: string };
    const first = await publish('ch_before');
    assert.equal(first.api_version, '2026-10-28.endive');
    await receiver.waitForRequests(2);

    if (onPostgres) {
      const answer = await h.request('POST', '/v1/account', { body: 'default_api_version=2025-03-31.basil' });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.default_api_version, '2025-03-31.basil');
    } else {
      // the CLI, on the same database, while Herald runs
      const cli = spawnCli(['accounts', 'set-default-version', '2025-03-31.basil', '--database', `sqlite:${h.dbPath}`], { HERALD_API_VERSIONS_DIR: EXAMPLES });
      assert.equal(await cli.exited, 0, cli.stderr.join('\n'));
      assert.match(cli.stdout.join('\n'), /2026-10-28\.endive -> 2025-03-31\.basil/);
      // Another process's change: the running Herald sees it once its key cache's entry expires.
      await waitFor(async () => (await h.request('GET', '/v1/account')).body.default_api_version === '2025-03-31.basil', { timeoutMs: API_KEY_CACHE_TTL_MS + 5000 });
    }
    assert.equal((await h.request('GET', '/v1/account')).body.default_api_version, '2025-03-31.basil');

    const second = await publish('ch_after');
    assert.equal(second.api_version, '2026-10-28.endive', 'still published in the Stripe-Version it was sent with');
    await receiver.waitForRequests(4);
    // a resend of the first event after the change still renders it as it was for that endpoint
    await stripe.rawRequest('POST', `/v1/events/${first.id}/retry`, { webhook_endpoint: following.id });
    await receiver.waitForRequests(5);

    const deliveries = (path: string, secret: string) =>
      receiver.requests.filter((r) => r.path === path).map((r) => verifier.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, secret) as unknown as { id: string; api_version: string; data: { object: Record<string, unknown> } });
    const toFollowing = deliveries('/following', following.secret!);
    const versionOf = (list: typeof toFollowing, id: string) => list.filter((e) => e.id === id).map((e) => e.api_version);
    assert.deepEqual(versionOf(toFollowing, first.id), ['2026-10-28.endive', '2026-10-28.endive'], 'created before the change: endive, also when resent');
    assert.deepEqual(versionOf(toFollowing, second.id), ['2025-03-31.basil'], 'created after the change: the new default');
    // (stripe-node form-encodes the publish, so numbers arrive as strings)
    assert.deepEqual(toFollowing.find((e) => e.id === second.id)!.data.object, { id: 'ch_after', object: 'charge', amount_cents: '2000', currency: 'eur' });
    const toPinned = deliveries('/pinned', pinned.secret!);
    assert.deepEqual(toPinned.map((e) => e.api_version), ['2026-10-28.endive', '2026-10-28.endive']);

    // without Stripe-Version, an event is published in the account's (new) default
    const bare = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_bare', object: 'charge', amount_cents: 5, currency: 'eur' } } });
    assert.equal(bare.api_version, '2025-03-31.basil');
    await waitFor(() => receiver.requests.length >= 7);
    const upgraded = deliveries('/pinned', pinned.secret!).find((e) => e.id === bare.id)!;
    assert.deepEqual(upgraded.data.object, { id: 'ch_bare', object: 'charge', amount: 5, currency: 'eur' }, 'upgraded for the endpoint pinned to endive');
    const rejected = await h.request('POST', '/v1/account', { body: 'default_api_version=2030-01-01.future' });
    assert.equal(rejected.status, 400);
    await h.stop();
    await receiver.stop();
  });

  it('validates the folder at start, naming the setting', async () => {
    assert.throws(() => resolveConfig({ HERALD_API_VERSIONS_DIR: '/nonexistent/versions' }), (err: unknown) => err instanceof ConfigError && /HERALD_API_VERSIONS_DIR: no such folder/.test((err as Error).message));
    const { versions, changes } = await loadVersionsDirectory(EXAMPLES);
    assert.deepEqual(versions, ['2025-03-31.basil', '2025-09-30.clover', '2026-10-28.endive']);
    assert.deepEqual(changes.map((c) => c.version), ['2025-09-30.clover', '2026-10-28.endive']);
    await assert.rejects(startTestHerald({ apiVersionsDir: EXAMPLES, apiVersion: '2024-06-20' }), /HERALD_API_VERSION: '2024-06-20' is not one of the versions/);
  });
});
