import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { TRIGGERS } from '../../src/cli/fixtures/catalog.js';
import { STRIPE_EVENT_TYPES } from '../../src/domain/stripe-event-types.js';
import { startTestHerald, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { runCli, runInProcess, startListen } from './cli-process.js';
import { testTempDir } from '../helpers/temp-dir.js';

/** The object kind an event type is about (`charge.dispute.created` → dispute). */
function objectOf(type: string): string {
  const special: [string, string][] = [
    ['charge.dispute.', 'dispute'],
    ['charge.refund.', 'refund'],
    ['customer.subscription.', 'subscription'],
    ['account.application.', 'application'],
    ['checkout.session.', 'checkout.session'],
    ['radar.early_fraud_warning.', 'radar.early_fraud_warning'],
  ];
  return special.find(([prefix]) => type.startsWith(prefix))?.[1] ?? type.split('.')[0]!;
}

const ID_PREFIX: Record<string, RegExp> = {
  customer: /^cus_/,
  payment_intent: /^pi_\w+$/,
  charge: /^ch_/,
  refund: /^re_/,
  dispute: /^dp_/,
  setup_intent: /^seti_/,
  subscription: /^sub_/,
  invoice: /^in_/,
  invoiceitem: /^ii_/,
  'checkout.session': /^cs_test_/,
  payout: /^po_/,
  payment_method: /^pm_/,
  product: /^prod_/,
  price: /^price_/,
  plan: /^price_/,
  account: /^acct_/,
  application: /^ca_/,
  mandate: /^mandate_/,
  'radar.early_fraud_warning': /^issfr_/,
  payment_link: /^plink_/,
};

const declaredTypes = (type: string) => TRIGGERS[type]!.fixtures.flatMap((step) => (step.events ?? []).map((e) => (typeof e === 'string' ? e : e.type)));

describe('herald trigger', () => {
  let h: TestHerald;
  let env: Record<string, string>;
  before(async () => {
    h = await startTestHerald();
    env = { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url };
  });
  after(() => h.stop());

  test('at least 40 scenarios, every event type known, covering every area of the issue', () => {
    const types = Object.keys(TRIGGERS);
    assert.ok(types.length >= 40, `${types.length} scenarios`);
    for (const type of [...types, ...types.flatMap(declaredTypes)]) assert.ok(STRIPE_EVENT_TYPES.includes(type), `${type} is a Stripe event type`);
    for (const area of ['payment_intent.', 'charge.', 'refund.', 'charge.dispute.', 'customer.', 'customer.subscription.', 'invoice.', 'checkout.session.', 'product.', 'price.', 'payout.', 'setup_intent.', 'payment_method.', 'account.']) {
      assert.ok(types.some((t) => t.startsWith(area)), `a scenario for ${area}*`);
    }
    for (const type of types) assert.ok(declaredTypes(type).includes(type), `${type}'s scenario publishes ${type}`);
  });

  test('every scenario publishes its events through the API, and a listener receives exactly those', async () => {
    const local = await new TestReceiver().start();
    const { cli, secret } = await startListen(['--forward-to', local.url], env);
    const verifier = new Stripe('sk_test_unused');
    try {
      const published: { id: string; type: string }[] = [];
      for (const type of Object.keys(TRIGGERS)) {
        const result = await runInProcess(['trigger', type, '--json'], env);
        assert.equal(result.code, 0, `${type}: ${result.stderr}`);
        const report = JSON.parse(result.stdout) as { fixture: string; events: { id: string; type: string }[] };
        assert.equal(report.fixture, type);
        assert.deepEqual(report.events.map((e) => e.type), declaredTypes(type), type);
        published.push(...report.events);
      }
      await local.waitForRequests(published.length, 120_000);
      const received = local.requests.map((r) => verifier.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, secret));
      assert.deepEqual(received.map((e) => e.id).sort(), published.map((e) => e.id).sort());
      for (const event of received) {
        const object = event.data.object as unknown as { object: string; id?: string | null; livemode?: boolean };
        assert.equal(object.object, objectOf(event.type), `${event.type} carries a ${objectOf(event.type)}`);
        const prefix = ID_PREFIX[object.object];
        if (prefix && !(event.type === 'invoice.upcoming')) assert.match(String(object.id), prefix, `${event.type} id`);
        if (object.livemode !== undefined) assert.equal(object.livemode, false);
        if (event.type.endsWith('.updated') && event.type !== 'customer.subscription.updated') assert.ok(event.data.previous_attributes, `${event.type} has previous_attributes`);
      }
      const accountEvent = received.find((e) => e.type === 'account.updated')!;
      assert.match(accountEvent.account!, /^acct_/);
    } finally {
      await cli.kill();
      await local.stop();
    }
  });

  test('a subscription scenario relates its objects as Stripe does', async () => {
    const result = await runInProcess(['trigger', 'customer.subscription.created', '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    const ids = (JSON.parse(result.stdout) as { events: { id: string }[] }).events.map((e) => e.id);
    const events = await Promise.all(ids.map((id) => h.stripe().events.retrieve(id)));
    const byType = (type: string) => events.find((e) => e.type === type)!.data.object as any;
    const customer = byType('customer.created');
    const price = byType('price.created');
    const subscription = byType('customer.subscription.created');
    const invoice = byType('invoice.paid');
    assert.deepEqual(
      events.map((e) => e.type),
      ['customer.created', 'payment_method.attached', 'customer.updated', 'product.created', 'price.created', 'customer.subscription.created', 'invoice.created', 'invoice.finalized', 'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.paid', 'invoice.payment_succeeded', 'customer.subscription.updated'],
    );
    assert.equal(subscription.customer, customer.id);
    assert.equal(subscription.items.data[0].price.id, price.id);
    assert.equal(subscription.items.data[0].subscription, subscription.id);
    assert.equal(invoice.subscription, subscription.id);
    assert.equal(invoice.status, 'paid');
    assert.equal(invoice.amount_paid, 2000);
    const updated = events.find((e) => e.type === 'customer.subscription.updated')!;
    assert.deepEqual(updated.data.previous_attributes, { latest_invoice: null, status: 'incomplete' });
    assert.equal((updated.data.object as any).latest_invoice, invoice.id);
  });

  test('--override, --add, --remove, --skip, --stripe-account and --api-version', async () => {
    const result = await runCli(
      [
        'trigger', 'payment_intent.succeeded', '--json',
        '--override', 'payment_intent:amount=4999',
        '--override', 'payment_intent:currency=eur',
        '--add', 'payment_intent:metadata[order_id]=6735',
        '--remove', 'payment_intent:shipping',
        '--stripe-account', 'acct_1032D82eZvKYlo2C',
        '--api-version', '2024-06-20',
      ],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    const { events } = JSON.parse(result.stdout) as { events: { id: string; account: string }[] };
    const stored = await Promise.all(events.map((e) => h.stripe().events.retrieve(e.id)));
    for (const event of stored) {
      assert.equal(event.account, 'acct_1032D82eZvKYlo2C');
      assert.equal(event.api_version, '2024-06-20');
    }
    const intent = stored.find((e) => e.type === 'payment_intent.succeeded')!.data.object as any;
    assert.equal(intent.amount, 4999);
    assert.equal(intent.currency, 'eur');
    assert.deepEqual(intent.metadata, { order_id: '6735' }, 'metadata values stay strings');
    assert.equal('shipping' in intent, false);
    const charge = stored.find((e) => e.type === 'charge.succeeded')!.data.object as any;
    assert.equal(charge.amount, 4999, 'later steps see the overridden value');

    const skipped = await runCli(['trigger', 'customer.updated', '--json', '--skip', 'customer_updated'], env);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.deepEqual((JSON.parse(skipped.stdout) as { events: { type: string }[] }).events.map((e) => e.type), ['customer.created']);

    const badStep = await runCli(['trigger', 'customer.created', '--override', 'nope:amount=1'], env);
    assert.equal(badStep.code, 2);
    assert.match(badStep.stderr, /^herald: --override\/--add\/--remove: no fixture step named 'nope'/);
  });

  test('herald fixtures runs a user-written file with references to earlier steps', async () => {
    const dir = testTempDir('herald-fixture-');
    const file = join(dir, 'my-flow.json');
    writeFileSync(
      file,
      JSON.stringify({
        _meta: { template_version: 0 },
        fixtures: [
          { name: 'customer', object: 'customer', params: { email: '${.env:FLOW_EMAIL}' }, events: ['customer.created'] },
          { name: 'order_payment', object: 'payment_intent', params: { customer: '${customer:id}', amount: 4200, metadata: { email: '${customer:email}' } }, events: ['payment_intent.created'] },
          { name: 'paid', update: 'order_payment', params: { status: 'succeeded', amount_received: '${order_payment:amount}' }, events: ['payment_intent.succeeded'] },
          { name: 'vip', update: 'customer', params: { metadata: { tier: 'vip' } }, events: ['customer.updated', { type: 'customer.updated', account: 'acct_ConnectedOne' }] },
        ],
      }),
    );
    const result = await runCli(['fixtures', file], { ...env, FLOW_EMAIL: 'ada@example.com' });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 8), [
      'Setting up fixture for: customer',
      'Running fixture for: customer',
      'Setting up fixture for: order_payment',
      'Running fixture for: order_payment',
      'Setting up fixture for: paid',
      'Running fixture for: paid',
      'Setting up fixture for: vip',
      'Running fixture for: vip',
    ]);
    assert.equal(lines[8], 'Trigger succeeded! Published 5 events:');
    const ids = lines.slice(9).map((l) => /(evt_\w+)/.exec(l)?.[1]).filter(Boolean) as string[];
    assert.equal(ids.length, 5);
    const events = await Promise.all(ids.map((id) => h.stripe().events.retrieve(id)));
    const customer = events[0]!.data.object as any;
    assert.equal(customer.email, 'ada@example.com');
    const paid = events[2]!.data.object as any;
    assert.equal(paid.customer, customer.id);
    assert.equal(paid.amount_received, 4200);
    assert.deepEqual(paid.metadata, { email: 'ada@example.com' });
    assert.deepEqual(events[3]!.data.previous_attributes, { metadata: {} });
    assert.equal(events[4]!.account, 'acct_ConnectedOne');

    writeFileSync(file, JSON.stringify({ fixtures: [{ name: 'x', object: 'spaceship' }] }));
    const invalid = await runCli(['fixtures', file], env);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /fixture step 'x': unknown object 'spaceship'/);

    writeFileSync(file, JSON.stringify({ _meta: { template_version: 0 }, fixtures: [{ name: 'customer', path: '/v1/customers', method: 'post', params: {} }] }));
    const stripeCliFixture = await runInProcess(['fixtures', file], env);
    assert.equal(stripeCliFixture.code, 2);
    assert.match(stripeCliFixture.stderr, /looks like a stripe-cli fixture/);
  });

  test('--show prints a scenario as a fixture file that herald fixtures runs', async () => {
    const shown = await runInProcess(['trigger', 'refund.created', '--show'], env);
    assert.equal(shown.code, 0);
    const dir = testTempDir('herald-fixture-');
    writeFileSync(join(dir, 'refund.json'), shown.stdout);
    const result = await runInProcess(['fixtures', join(dir, 'refund.json'), '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      (JSON.parse(result.stdout) as { events: { type: string }[] }).events.map((e) => e.type),
      ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'refund.created', 'charge.refunded'],
    );
  });

  test('unknown event types and missing scenarios are one-line errors', async () => {
    const unknown = await runInProcess(['trigger', 'foo.bar'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^herald: unknown event type 'foo\.bar' \(herald trigger --list shows the \d+ supported\)$/);
    const list = await runInProcess(['trigger', '--list', '--json'], env);
    assert.deepEqual(JSON.parse(list.stdout), Object.keys(TRIGGERS).sort());
  });
});
