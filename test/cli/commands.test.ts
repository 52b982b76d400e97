import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';
import { freePort, runCli, runInProcess } from './cli-process.js';

describe('herald API commands', () => {
  let h: TestHerald;
  let env: Record<string, string>;
  before(async () => {
    h = await startTestHerald();
    env = { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url };
  });
  after(() => h.stop());

  const json = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const result = await runInProcess([...args, '--json'], { ...env, ...extraEnv });
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  test('webhook_endpoints create|list|retrieve|update|roll_secret|recover|delete, with flags and -d', async () => {
    const created = await json(['webhook_endpoints', 'create', '--url', 'http://127.0.0.1:9/hook', '--enabled-events', 'charge.succeeded,charge.refunded', '--description', 'from the CLI', '--metadata', 'team=billing']);
    assert.match(created.id, /^we_/);
    assert.match(created.secret, /^whsec_/);
    assert.deepEqual(created.enabled_events, ['charge.succeeded', 'charge.refunded']);
    assert.deepEqual(created.metadata, { team: 'billing' });

    const viaData = await json(['webhook_endpoints', 'create', '-d', 'url=http://127.0.0.1:9/other', '-d', 'enabled_events[]=customer.created', '-d', 'enabled_events[]=customer.deleted', '-d', 'connect=true']);
    assert.deepEqual(viaData.enabled_events, ['customer.created', 'customer.deleted']);
    assert.match(viaData.application, /^ca_/);

    const list = await json(['webhook_endpoints', 'list', '--limit', '1']);
    assert.equal(list.object, 'list');
    assert.equal(list.data.length, 1);
    assert.equal(list.has_more, true);

    const table = await runCli(['webhook_endpoints', 'list'], env);
    assert.equal(table.code, 0);
    const [header, ...rows] = table.stdout.split('\n');
    assert.match(header!, /^ID\s+URL\s+STATUS\s+EVENTS\s+CONNECT$/);
    assert.ok(rows.some((r) => r.startsWith(created.id) && r.includes('http://127.0.0.1:9/hook') && r.includes('enabled')));

    const updated = await json(['webhook_endpoints', 'update', created.id, '--disabled', 'true', '--enabled-events', '*']);
    assert.equal(updated.status, 'disabled');
    assert.deepEqual(updated.enabled_events, ['*']);
    assert.equal((await json(['webhook_endpoints', 'retrieve', created.id])).status, 'disabled');

    const rolled = await json(['webhook_endpoints', 'roll_secret', created.id, '--expires-in', '3600']);
    assert.notEqual(rolled.secret, created.secret);
    const human = await runInProcess(['webhook_endpoints', 'roll_secret', created.id], env);
    assert.match(human.stdout, new RegExp(`^New signing secret for ${created.id}: whsec_`));

    await json(['webhook_endpoints', 'update', created.id, '--disabled', 'false']);
    const recovered = await json(['webhook_endpoints', 'recover', created.id, '--since', '0', '--dry-run']);
    assert.equal(recovered.object, 'webhook_endpoint_recovery');
    assert.equal(recovered.dry_run, true);

    for (const id of [created.id, viaData.id]) assert.equal((await json(['webhook_endpoints', 'delete', id])).deleted, true);
  });

  test('events list|retrieve and delivery_attempts list', async () => {
    const endpoint = await h.stripe().webhookEndpoints.create({ url: 'http://127.0.0.1:9/dead', enabled_events: ['invoice.created'] });
    const published = await h.publish({ type: 'invoice.created', data: { object: { id: 'in_cli', object: 'invoice' } } });
    await h.publish({ type: 'customer.created', data: { object: { id: 'cus_cli', object: 'customer' } } });

    const list = await json(['events', 'list', '--type', 'invoice.*', '--limit', '5']);
    assert.deepEqual(list.data.map((e: { id: string }) => e.id), [published.id]);
    const byTypes = await json(['events', 'list', '--types', 'invoice.created,customer.created']);
    assert.equal(byTypes.data.length, 2);
    const viaData = await json(['events', 'list', '-d', `created[gte]=${published.created}`, '-d', 'types[]=customer.created']);
    assert.deepEqual(viaData.data.map((e: { type: string }) => e.type), ['customer.created']);

    const retrieved = await json(['events', 'retrieve', published.id]);
    assert.equal(retrieved.id, published.id);
    assert.equal(retrieved.data.object.id, 'in_cli');

    const table = await runInProcess(['events', 'list'], env);
    assert.match(table.stdout.split('\n')[0]!, /^ID\s+TYPE\s+CREATED\s+PENDING\s+ACCOUNT$/);
    assert.match(table.stdout, new RegExp(`^${published.id}\\s+invoice\\.created\\s+\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\s+\\d`, 'm'));

    // The receiver is down: the attempt fails and shows up in both logs.
    const attempts = await (async () => {
      for (;;) {
        const result = await json(['delivery_attempts', 'list', '--event', published.id]);
        if (result.data.length > 0) return result;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    assert.equal(attempts.data[0].webhook_endpoint, endpoint.id);
    assert.equal(attempts.data[0].outcome, 'failed');
    const perEndpoint = await json(['delivery_attempts', 'list', '--webhook-endpoint', endpoint.id]);
    assert.equal(perEndpoint.data[0].event, published.id);

    const resent = await json(['events', 'resend', published.id, '--webhook-endpoint', endpoint.id]);
    assert.equal(resent.id, published.id);
    await h.stripe().webhookEndpoints.del(endpoint.id);
  });

  test('errors are one line naming the cause, with a non-zero exit code', async () => {
    const port = await freePort();
    const unreachable = await runCli(['events', 'list'], { ...env, HERALD_API_BASE: `http://127.0.0.1:${port}` });
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.stderr, `herald: cannot reach Herald at http://127.0.0.1:${port} (connection refused; is \`herald serve\` running?)`);

    const badKey = await runCli(['webhook_endpoints', 'list', '--api-key', 'sk_test_wrongwrongwrong'], env);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /^herald: the API key was rejected: Invalid API Key provided: sk_test_\*+rong$/);

    const noKey = await runCli(['events', 'list'], { HERALD_API_BASE: h.url });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /^herald: no API key: pass --api-key/);

    const missing = await runInProcess(['events', 'retrieve', 'evt_doesnotexist'], env);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "herald: No such event: 'evt_doesnotexist'");

    const unknownType = await runCli(['trigger', 'payment_intent.exploded'], env);
    assert.equal(unknownType.code, 2);
    assert.match(unknownType.stderr, /^herald: unknown event type 'payment_intent\.exploded'/);

    const unknownFlag = await runInProcess(['events', 'list', '--colour'], env);
    assert.equal(unknownFlag.code, 2);
    assert.equal(unknownFlag.stderr, 'herald: unknown flag --colour (see --help)');

    const noListener = await runInProcess(['events', 'resend', (await h.publish({ type: 'customer.created', data: { object: { id: 'cus_x' } } })).id], env);
    assert.equal(noListener.code, 1);
    assert.match(noListener.stderr, /^herald: No herald listen session is connected for this account in test mode/);

    const liveWithTestKey = await runInProcess(['listen', '--live'], env);
    assert.equal(liveWithTestKey.code, 2);
    assert.equal(liveWithTestKey.stderr, 'herald: --live needs a live secret key (sk_live_…) in --api-key');

    for (const output of [unreachable, badKey, noKey, missing, unknownType, unknownFlag, noListener, liveWithTestKey]) {
      assert.equal(output.stderr.split('\n').length, 1, 'one line');
      assert.equal(output.stdout, '');
    }
  });

  test('--help on every command, with examples', async () => {
    const commands = [['listen'], ['trigger'], ['fixtures'], ['events', 'list'], ['events', 'retrieve'], ['events', 'resend'], ['webhook_endpoints', 'create'], ['webhook_endpoints', 'update'], ['webhook_endpoints', 'delete'], ['webhook_endpoints', 'roll_secret'], ['webhook_endpoints', 'recover'], ['webhook_endpoints', 'list'], ['delivery_attempts', 'list']];
    const results = await Promise.all(commands.map((c) => runInProcess([...c, '--help'], {})));
    results.forEach((result, i) => {
      assert.equal(result.code, 0, commands[i]!.join(' '));
      assert.match(result.stdout, /^Usage: herald /);
      assert.match(result.stdout, /Examples:\n {2}herald /, commands[i]!.join(' '));
      assert.match(result.stdout, /--api-key/);
    });
    const top = await runCli(['--help'], {});
    for (const name of ['listen', 'trigger', 'fixtures', 'events', 'webhook_endpoints', 'delivery_attempts']) assert.match(top.stdout, new RegExp(`^ {2}${name} `, 'm'));
  });
});
