import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { newApiKey } from '../../src/domain/ids.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { freePort, RECEIVED_LINE, RESPONSE_LINE, runCli, runInProcess, spawnServe, startListen, type CliProcess } from './cli-process.js';
import { testTempDir } from '../helpers/temp-dir.js';

const verifier = new Stripe('sk_test_unused');

/** Every request verifies with stripe-node and the listen secret; returns the parsed events. */
function verifiedEvents(receiver: TestReceiver, secret: string): Stripe.Event[] {
  return receiver.requests.map((r) => verifier.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, secret));
}

describe('herald listen', () => {
  let h: TestHerald;
  let env: Record<string, string>;
  const running: CliProcess[] = [];
  const receivers: TestReceiver[] = [];

  before(async () => {
    h = await startTestHerald();
    env = { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url };
  });
  after(async () => {
    for (const cli of running) await cli.kill('SIGKILL');
    for (const r of receivers) await r.stop();
    await h.stop();
  });
  const receiver = async () => {
    const r = await new TestReceiver().start();
    receivers.push(r);
    return r;
  };
  const listen = async (args: string[]) => {
    const started = await startListen(args, env);
    running.push(started.cli);
    return started;
  };

  test('listen + trigger: signed requests stripe-node accepts, stripe-cli line formats, the delivery log', async () => {
    const local = await receiver();
    const { cli, secret } = await listen(['--forward-to', `${local.url}/webhook`]);
    assert.match(secret, /^whsec_/);

    const trigger = await runCli(['trigger', 'payment_intent.succeeded'], env);
    assert.equal(trigger.code, 0, trigger.stderr);
    assert.match(trigger.stdout, /^Setting up fixture for: payment_intent$/m);
    assert.match(trigger.stdout, /^Running fixture for: charge$/m);
    assert.match(trigger.stdout, /^Trigger succeeded! Published 3 events:$/m);
    const triggered = [...trigger.stdout.matchAll(/^ {2}(\S+)\s+(evt_\w+)$/gm)].map((m) => ({ type: m[1]!, id: m[2]! }));
    assert.deepEqual(triggered.map((e) => e.type), ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);

    await local.waitForRequests(3, 30_000);
    const events = verifiedEvents(local, secret);
    assert.deepEqual(events.map((e) => e.id).sort(), triggered.map((e) => e.id).sort());
    for (const request of local.requests) {
      assert.equal(request.path, '/webhook');
      assert.equal(request.headers['content-type'], 'application/json; charset=utf-8');
      assert.match(request.headers['user-agent'] as string, /^Stripe\/1\.0/);
    }
    const intent = events.find((e) => e.type === 'payment_intent.succeeded')!.data.object as Stripe.PaymentIntent;
    const charge = events.find((e) => e.type === 'charge.succeeded')!.data.object as Stripe.Charge;
    assert.match(intent.id, /^pi_/);
    assert.equal(charge.payment_intent, intent.id);
    assert.equal(intent.latest_charge, charge.id);

    // Two lines per event on stdout, no colour off a terminal.
    await waitFor(() => cli.stdout.filter((l) => RESPONSE_LINE.test(l)).length === 3, { timeoutMs: 30_000 });
    for (const { id, type } of triggered) {
      const received = cli.stdout.find((l) => l.includes(id) && RECEIVED_LINE.test(l))!;
      assert.equal(RECEIVED_LINE.exec(received)![2], type);
      const response = RESPONSE_LINE.exec(cli.stdout.find((l) => l.includes(id) && RESPONSE_LINE.test(l))!)!;
      assert.equal(response[1], '200');
      assert.equal(response[2], `${local.url}/webhook`);
    }
    assert.ok(cli.stdout.every((l) => !l.includes('\x1b[')), 'no ANSI colour when stdout is not a TTY');

    // Each forwarded attempt is in the delivery log like any other attempt.
    const attempts = await waitFor(async () => {
      const res = await h.request('GET', `/v1/events/${triggered[0]!.id}/delivery_attempts`);
      return res.body.data.length === 1 ? res.body.data : null;
    });
    assert.equal(attempts[0].http_status, 200);
    assert.equal(attempts[0].outcome, 'succeeded');
    assert.equal(attempts[0].url, `${local.url}/webhook`);
    assert.match(attempts[0].webhook_endpoint, /^lsn_/);
    const deliveries = (await h.request('GET', `/v1/events/${triggered[0]!.id}/deliveries`)).body.data;
    assert.equal(deliveries.length, 1, 'shown with the deliveries, like an endpoint’s');
    assert.equal(deliveries[0].webhook_endpoint, attempts[0].webhook_endpoint);
    assert.equal(deliveries[0].status, 'succeeded');
    assert.equal(deliveries[0].last_attempt.id, attempts[0].id);

    // `herald events resend evt_…` without an endpoint replays to this listener.
    const resend = await runCli(['events', 'resend', triggered[2]!.id], env);
    assert.equal(resend.code, 0, resend.stderr);
    await local.waitForRequests(4, 30_000);
    assert.equal(verifiedEvents(local, secret)[3]!.id, triggered[2]!.id);
    await cli.kill();
  });

  test('a failing local handler: the status line and the error line, recorded as failed attempts', async () => {
    const failing = await receiver();
    failing.respond = () => ({ status: 500, body: 'boom' });
    const { cli } = await listen(['--forward-to', failing.url, '--events', 'customer.created']);
    const event = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
    const line = await cli.waitForLine(RESPONSE_LINE);
    assert.equal(RESPONSE_LINE.exec(line)![1], '500');
    const attempts = await waitFor(async () => (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data[0]);
    assert.equal(attempts.outcome, 'failed');
    assert.equal(attempts.response_body, 'boom');
    await cli.kill();

    const closedPort = await freePort();
    const unreachable = await listen(['--forward-to', `http://127.0.0.1:${closedPort}/hook`, '--events', 'customer.created']);
    const second = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_2', object: 'customer' } } });
    await unreachable.cli.waitForLine(new RegExp(`^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} {12}\\[ERROR\\] Failed to POST: connection refused`));
    const failed = await waitFor(async () => (await h.request('GET', `/v1/events/${second.id}/delivery_attempts`)).body.data[0]);
    assert.equal(failed.failure_kind, 'connection_refused');
    await unreachable.cli.kill();
  });

  test('--events filters the stream and reports unknown types', async () => {
    const local = await receiver();
    const { cli } = await listen(['-f', local.url, '-e', 'charge.succeeded,foo.bar']);
    assert.ok(cli.stderr.some((l) => l === `You're attempting to listen for "foo.bar", which isn't a valid event`), cli.stderr.join('\n'));
    const trigger = await runCli(['trigger', 'payment_intent.succeeded'], env);
    assert.equal(trigger.code, 0, trigger.stderr);
    // A later matching event: the stream is in log order, so once it is forwarded the trigger's are past.
    const sentinel = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_sentinel', object: 'charge' } } });
    await waitFor(() => local.events().some((e) => e.id === sentinel.id), { timeoutMs: 30_000 });
    await waitFor(() => cli.stdout.filter((l) => RESPONSE_LINE.test(l)).length === 2, { timeoutMs: 30_000 });
    assert.deepEqual(local.events().map((e) => e.type), ['charge.succeeded', 'charge.succeeded']);
    await cli.kill();
  });

  test('Connect events go to --forward-connect-to, with "connect" in the line', async () => {
    const platform = await receiver();
    const connected = await receiver();
    const { cli, secret } = await listen(['--forward-to', platform.url, '--forward-connect-to', `${connected.url}/connect`, '--events', 'customer.created']);
    const viaConnect = await runCli(['trigger', 'customer.created', '--stripe-account', 'acct_1032D82eZvKYlo2C'], env);
    assert.equal(viaConnect.code, 0, viaConnect.stderr);
    const own = await runCli(['trigger', 'customer.created'], env);
    assert.equal(own.code, 0, own.stderr);
    await connected.waitForRequests(1, 30_000);
    await platform.waitForRequests(1, 30_000);
    const [connectEvent] = verifiedEvents(connected, secret);
    assert.equal(connectEvent!.account, 'acct_1032D82eZvKYlo2C');
    assert.equal(connected.requests[0]!.path, '/connect');
    assert.equal(verifiedEvents(platform, secret)[0]!.account, undefined);
    await cli.waitForLine(/ {3}--> connect customer\.created \[evt_/);
    await cli.kill();
  });

  test('--forward-thin-to: thin notifications of --thin-events beside the snapshots, both signed with the session secret', async () => {
    const snapshots = await receiver();
    const thin = await receiver();
    const { cli, secret } = await listen(['--forward-to', `${snapshots.url}/snapshot`, '--events', 'customer.created,charge.succeeded', '--forward-thin-to', `${thin.url}/thin`, '--thin-events', 'v1.customer.created']);
    const customer = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_thin', object: 'customer' } } });
    const charge = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_thin', object: 'charge' } } });
    await snapshots.waitForRequests(2, 30_000);
    await thin.waitForRequests(1, 30_000);
    assert.deepEqual(verifiedEvents(snapshots, secret).map((e) => e.id), [customer.id, charge.id]);

    const [request] = thin.requests;
    assert.equal(request!.path, '/thin');
    const notification = verifier.parseEventNotification(request!.body, request!.headers['stripe-signature'] as string, secret) as unknown as Record<string, any>;
    assert.equal(notification.id, customer.id);
    assert.equal(notification.type, 'v1.customer.created');
    assert.deepEqual(JSON.parse(request!.body).related_object, { id: 'cus_thin', type: 'customer', url: '/v1/objects/customer/cus_thin' });
    // Each event once on stdout, with a response line per local URL it went to.
    await waitFor(() => cli.stdout.filter((l) => RESPONSE_LINE.test(l)).length === 3, { timeoutMs: 30_000 });
    assert.equal(cli.stdout.filter((l) => RESPONSE_LINE.test(l) && l.includes(`${thin.url}/thin`)).length, 1);
    assert.equal(thin.requests.length, 1, 'charge.succeeded is not among --thin-events');
    await cli.kill();

    const refused = await runCli(['listen', '--thin-events', 'v1.customer.created'], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--thin-events needs --forward-thin-to/);
  });

  test('--load-from-webhooks-api forwards each enabled endpoint’s events to its path on the local host', async () => {
    const stripe = h.stripe();
    // Endpoint URLs on a closed local port: Herald's own deliveries to them fail harmlessly.
    const payments = await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hooks/payments', enabled_events: ['payment_intent.succeeded'] });
    const customers = await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hooks/customers?source=herald', enabled_events: ['customer.created'] });
    const disabled = await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hooks/disabled', enabled_events: ['*'] });
    await stripe.webhookEndpoints.update(disabled.id, { disabled: true });
    try {
      const local = await receiver();
      const { cli, secret } = await listen(['--forward-to', `${local.url}/local`, '--load-from-webhooks-api']);
      assert.equal((await runCli(['trigger', 'payment_intent.succeeded'], env)).code, 0);
      assert.equal((await runCli(['trigger', 'customer.created'], env)).code, 0);
      await local.waitForRequests(2, 30_000);
      const byPath = Object.fromEntries(local.requests.map((r) => [r.path, JSON.parse(r.body).type]));
      assert.deepEqual(byPath, { '/local/hooks/payments': 'payment_intent.succeeded', '/local/hooks/customers?source=herald': 'customer.created' });
      verifiedEvents(local, secret);
      // The other events of the scenarios matched no endpoint: acknowledged, not forwarded.
      const sentinel = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_s', object: 'customer' } } });
      await waitFor(() => local.events().some((e) => e.id === sentinel.id), { timeoutMs: 30_000 });
      assert.equal(local.requests.length, 3);
      await cli.kill();
    } finally {
      for (const e of [payments, customers, disabled]) await stripe.webhookEndpoints.del(e.id);
    }
  });

  test('a listener killed and restarted keeps its secret and gets what was published meanwhile, once', async () => {
    const local = await receiver();
    const first = await listen(['--forward-to', local.url, '--events', 'product.created']);
    const before = await h.publish({ type: 'product.created', data: { object: { id: 'prod_1', object: 'product' } } });
    await local.waitForRequests(1, 30_000);
    await waitFor(async () => (await h.request('GET', `/v1/events/${before.id}/delivery_attempts`)).body.data.length === 1);
    assert.equal(await first.cli.kill('SIGKILL'), null);

    // More than the stream keeps in flight at once: the backlog flows as acknowledgements come back.
    const whileAway: Record<string, any>[] = [];
    for (let i = 0; i < 75; i++) whileAway.push(await h.publish({ type: 'product.created', data: { object: { id: `prod_away_${i}`, object: 'product' } } }));
    const second = await listen(['--forward-to', local.url, '--events', 'product.created']);
    assert.equal(second.secret, first.secret);
    const printed = await runInProcess(['listen', '--print-secret'], env);
    assert.equal(printed.stdout, first.secret);
    await local.waitForRequests(76, 30_000);
    const ids = verifiedEvents(local, second.secret).map((e) => e.id);
    assert.deepEqual([...ids].sort(), [before.id, ...whileAway.map((e) => e.id)].sort());
    const sentinel = await h.publish({ type: 'product.created', data: { object: { id: 'prod_last', object: 'product' } } });
    await waitFor(() => local.events().some((e) => e.id === sentinel.id), { timeoutMs: 30_000 });
    assert.equal(local.requests.length, 77, 'nothing forwarded twice');
    await second.cli.kill();
  });
});

describe('herald listen across a server crash', () => {
  test('the server is killed and restarted while listen runs: every event forwarded exactly once', async () => {
    const dir = testTempDir('herald-listen-');
    const dbPath = join(dir, 'herald.db');
    const key = newApiKey('test');
    const port = await freePort();
    const serverEnv = { HERALD_PORT: String(port), HERALD_DATABASE_URL: `sqlite:${dbPath}`, HERALD_TEST_SECRET_KEY: key };
    const env = { HERALD_API_KEY: key, HERALD_API_BASE: `http://127.0.0.1:${port}` };
    const local = await new TestReceiver().start();
    let server = await spawnServe(serverEnv);
    const { cli, secret } = await startListen(['--forward-to', local.url], env);
    const publish = async (n: number) => {
      const response = await fetch(`${env.HERALD_API_BASE}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'invoice.created', data: { object: { id: `in_${n}`, object: 'invoice' } } }),
      });
      assert.equal(response.status, 200);
      return ((await response.json()) as { id: string }).id;
    };
    try {
      const expected: string[] = [];
      for (let i = 0; i < 3; i++) expected.push(await publish(i));
      await local.waitForRequests(3, 30_000);

      await server.kill('SIGKILL');
      await cli.waitForLine(/Lost connection to Herald/, { stream: 'stderr' });
      // Published during the outage: written to the same database while no server runs.
      const store = new SqliteStore(dbPath);
      const account = (await store.findApiKeyOwner((await import('../../src/domain/ids.js')).hashApiKey(key)))!;
      const outage = Array.from({ length: 5 }, (_, i) => ({
        id: `evt_outage${i}${'x'.repeat(14)}`,
        accountId: account.accountId,
        mode: 'test' as const,
        type: 'invoice.created',
        account: null,
        apiVersion: '2026-10-28.endive',
        created: Date.now(),
        data: { object: { id: `in_outage_${i}`, object: 'invoice' } },
        request: { id: null, idempotency_key: null },
      }));
      await store.publishEvents(outage);
      await store.close();
      expected.push(...outage.map((e) => e.id));

      server = await spawnServe(serverEnv);
      await cli.waitForLine(/Reconnected to /, { stream: 'stderr', timeoutMs: 30_000 });
      for (let i = 10; i < 13; i++) expected.push(await publish(i));

      await local.waitForRequests(expected.length, 30_000);
      const sentinel = await publish(99);
      await waitFor(() => local.events().some((e) => e.id === sentinel), { timeoutMs: 20_000 });
      const ids = verifiedEvents(local, secret).map((e) => e.id);
      assert.deepEqual([...ids].sort(), [...expected, sentinel].sort(), 'every event exactly once');
      assert.equal(new Set(ids).size, ids.length);
    } finally {
      await cli.kill('SIGKILL');
      await server.kill('SIGTERM');
      await local.stop();
    }
  });
});
