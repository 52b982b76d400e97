import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { newEncryptionKey, parseEncryptionKey } from '../../src/store/secret-encryption.js';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

/**
 * The v2 event destinations API and thin events, driven by the official stripe-node client:
 * `stripe.v2.core.eventDestinations`, `parseEventNotification`, `fetchEvent()`, `fetchRelatedObject()`.
 */
describe('event destinations (v2) and thin events through stripe-node', () => {
  let h: TestHerald;
  let receiver: TestReceiver;
  let stripe: Stripe;
  before(async () => {
    h = await startTestHerald({ retrySchedule: [300] });
    receiver = await new TestReceiver().start();
    stripe = h.stripe();
  });
  after(async () => {
    await h.stop();
    await receiver.stop();
  });

  const requestsTo = (path: string) => receiver.requests.filter((r) => r.path === path);

  it('creates, retrieves, updates, lists, disables, enables and deletes; webhook destinations are v1 webhook endpoints', async () => {
    const created = await stripe.v2.core.eventDestinations.create({
      name: 'Orders',
      type: 'webhook_endpoint',
      event_payload: 'snapshot',
      snapshot_api_version: '2026-10-28.endive',
      enabled_events: ['charge.succeeded', 'v1.charge.failed'],
      description: 'order events',
      metadata: { team: 'payments' },
      webhook_endpoint: { url: `${receiver.url}/orders` },
      include: ['webhook_endpoint.signing_secret', 'webhook_endpoint.url'],
    });
    assert.equal(created.object, 'v2.core.event_destination');
    assert.match(created.id, /^we_/);
    assert.equal(created.type, 'webhook_endpoint');
    assert.equal(created.status, 'enabled');
    assert.equal(created.event_payload, 'snapshot');
    assert.equal(created.snapshot_api_version, '2026-10-28.endive');
    assert.deepEqual(created.events_from, ['self']);
    assert.equal(created.livemode, false);
    assert.match(created.created, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(created.webhook_endpoint!.url, `${receiver.url}/orders`);
    assert.match(created.webhook_endpoint!.signing_secret!, /^whsec_/);

    const retrieved = await stripe.v2.core.eventDestinations.retrieve(created.id);
    assert.equal(retrieved.name, 'Orders');
    assert.deepEqual(retrieved.webhook_endpoint, {}, 'url and secret are redacted unless included');
    assert.equal((await stripe.v2.core.eventDestinations.retrieve(created.id, { include: ['webhook_endpoint.url'] })).webhook_endpoint!.url, `${receiver.url}/orders`);

    // the same object through v1
    const v1 = await stripe.webhookEndpoints.retrieve(created.id);
    assert.equal(v1.url, `${receiver.url}/orders`);
    assert.deepEqual(v1.enabled_events, ['charge.succeeded', 'v1.charge.failed']);
    assert.equal(v1.api_version, '2026-10-28.endive');
    assert.equal(v1.description, 'order events');

    const updated = await stripe.v2.core.eventDestinations.update(created.id, { name: 'Orders (EU)', enabled_events: ['charge.succeeded'], webhook_endpoint: { url: `${receiver.url}/orders-eu` }, include: ['webhook_endpoint.url'] });
    assert.equal(updated.name, 'Orders (EU)');
    assert.equal(updated.webhook_endpoint!.url, `${receiver.url}/orders-eu`);
    assert.ok(updated.updated >= created.updated);
    assert.equal((await stripe.webhookEndpoints.retrieve(created.id)).url, `${receiver.url}/orders-eu`);

    const disabled = await stripe.v2.core.eventDestinations.disable(created.id);
    assert.equal(disabled.status, 'disabled');
    assert.equal((await stripe.webhookEndpoints.retrieve(created.id)).status, 'disabled');
    assert.equal((await stripe.v2.core.eventDestinations.enable(created.id)).status, 'enabled');

    // a snapshot destination receives v1 Events, signed
    const event = await h.publish({ type: 'charge.succeeded', data: { object: { id: 'ch_v2', object: 'charge', amount: 100 } } });
    await waitFor(() => requestsTo('/orders-eu').length >= 1);
    const req = requestsTo('/orders-eu')[0]!;
    const delivered = stripe.webhooks.constructEvent(req.body, req.headers['stripe-signature'] as string, created.webhook_endpoint!.signing_secret!);
    assert.equal(delivered.id, event.id);

    const deleted = await stripe.v2.core.eventDestinations.del(created.id);
    assert.equal(deleted.id, created.id);
    await assert.rejects(stripe.v2.core.eventDestinations.retrieve(created.id), (err: any) => err.statusCode === 404 && err.code === 'resource_missing');
    await assert.rejects(stripe.webhookEndpoints.retrieve(created.id), (err: any) => err.statusCode === 404);
  });

  it('lists every destination page by page with next_page_url (stripe-node auto-pagination); v1 lists webhook endpoints only', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await stripe.v2.core.eventDestinations.create({ name: `hook ${i}`, type: 'webhook_endpoint', event_payload: 'thin', enabled_events: ['*'], webhook_endpoint: { url: `${receiver.url}/list-${i}` } });
      ids.push(d.id);
    }
    const bus = await stripe.v2.core.eventDestinations.create({
      name: 'Bus',
      type: 'amazon_eventbridge',
      event_payload: 'snapshot',
      enabled_events: ['customer.created'],
      events_from: ['@self', '@accounts'],
      amazon_eventbridge: { aws_account_id: '123456789012', aws_region: 'eu-west-1', event_bus_name: 'orders', credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'never-shown' } } as Stripe.V2.Core.EventDestinationCreateParams.AmazonEventbridge,
    });
    ids.push(bus.id);
    assert.match(bus.id, /^ed_/);
    assert.equal(bus.type, 'amazon_eventbridge');
    assert.deepEqual(bus.events_from, ['@self', '@accounts']);
    assert.deepEqual(bus.amazon_eventbridge as unknown, {
      aws_account_id: '123456789012',
      aws_region: 'eu-west-1',
      event_bus_name: 'orders',
      event_bus_arn: 'arn:aws:events:eu-west-1:123456789012:event-bus/orders',
      credentials_source: 'destination',
    });
    assert.doesNotMatch(JSON.stringify(await stripe.v2.core.eventDestinations.retrieve(bus.id)), /never-shown|AKIAIOSFODNN7EXAMPLE/);

    const firstPage = await stripe.v2.core.eventDestinations.list({ limit: 2 });
    assert.equal(firstPage.data.length, 2);
    assert.match(firstPage.next_page_url!, /^\/v2\/core\/event_destinations\?limit=2&page=/, "the next page keeps the parameters");
    const all: string[] = [];
    for await (const d of stripe.v2.core.eventDestinations.list({ limit: 2 })) all.push(d.id);
    for (const id of ids) assert.ok(all.includes(id), `${id} listed`);
    assert.equal(new Set(all).size, all.length, 'no destination listed twice');

    const v1 = (await stripe.webhookEndpoints.list({ limit: 100 })).data.map((e) => e.id);
    assert.equal(v1.includes(bus.id), false, 'an EventBridge destination is not a webhook endpoint');
    for (const id of ids.slice(0, 3)) assert.ok(v1.includes(id));
    await assert.rejects(stripe.webhookEndpoints.retrieve(bus.id), (err: any) => err.statusCode === 404);
    for (const id of ids) await stripe.v2.core.eventDestinations.del(id);
  });

  it('rejects bad input with errors stripe-node raises, naming the parameter', async () => {
    const base = { name: 'x', type: 'webhook_endpoint', event_payload: 'thin', enabled_events: ['*'], webhook_endpoint: { url: `${receiver.url}/x` } } as Stripe.V2.Core.EventDestinationCreateParams;
    const expectParam = async (params: Record<string, unknown>, param: string) =>
      assert.rejects(stripe.v2.core.eventDestinations.create({ ...base, ...params } as Stripe.V2.Core.EventDestinationCreateParams), (err: any) => err.statusCode === 400 && err.param === param);
    await expectParam({ name: undefined }, 'name');
    await expectParam({ snapshot_api_version: '2026-10-28.endive' }, 'snapshot_api_version');
    await expectParam({ event_payload: 'fat' }, 'event_payload');
    await expectParam({ type: 'azure_event_grid' }, 'type');
    await expectParam({ enabled_events: ['no.such_event'] }, 'enabled_events[0]');
    await expectParam({ events_from: ['everyone'] }, 'events_from[0]');
    await expectParam({ type: 'amazon_eventbridge', webhook_endpoint: undefined, amazon_eventbridge: { aws_account_id: '12', aws_region: 'eu-west-1' } }, 'amazon_eventbridge[aws_account_id]');
    await expectParam({ type: 'amazon_eventbridge', webhook_endpoint: undefined, amazon_eventbridge: { aws_account_id: '123456789012', aws_region: 'eu-west-1', event_bus_name: 'arn:aws:events:us-east-1:123456789012:event-bus/x' } }, 'amazon_eventbridge[event_bus_name]');
    await expectParam({ type: 'amazon_eventbridge', webhook_endpoint: undefined, amazon_eventbridge: { aws_account_id: '123456789012', aws_region: 'eu-west-1', credentials: { access_key_id: 'not a key', secret_access_key: 's' } } }, 'amazon_eventbridge[credentials][access_key_id]');
    const list = await h.request('GET', '/v2/core/event_destinations?page=garbage');
    assert.equal(list.status, 400);
    assert.equal(list.body.error.param, 'page');
  });

  it('delivers thin events that parseEventNotification accepts; fetchEvent and fetchRelatedObject work against Herald', async () => {
    const destination = await stripe.v2.core.eventDestinations.create({
      name: 'Thin customers',
      type: 'webhook_endpoint',
      event_payload: 'thin',
      enabled_events: ['v1.customer.created', 'customer.updated'],
      webhook_endpoint: { url: `${receiver.url}/thin` },
      include: ['webhook_endpoint.signing_secret'],
    });
    const secret = destination.webhook_endpoint!.signing_secret!;
    const created = await h.publish({
      type: 'customer.created',
      data: { object: { id: 'cus_thin', object: 'customer', email: 'first@example.com' } },
      request: { id: 'req_abc', idempotency_key: 'idem-1' },
    });
    await waitFor(() => requestsTo('/thin').length >= 1);
    const first = requestsTo('/thin')[0]!;
    const notification = stripe.parseEventNotification(first.body, first.headers['stripe-signature'] as string, secret) as any;
    const body = JSON.parse(first.body);
    assert.equal(Math.floor(Date.parse(body.created) / 1000), created.created, 'the same instant, in v2\'s ISO form');
    assert.deepEqual(body, {
      id: created.id,
      object: 'v2.core.event',
      type: 'v1.customer.created',
      created: body.created,
      livemode: false,
      related_object: { id: 'cus_thin', type: 'customer', url: '/v1/objects/customer/cus_thin' },
      reason: { type: 'request', request: { id: 'req_abc', idempotency_key: 'idem-1' } },
      context: null,
    });
    assert.equal(notification.id, created.id);
    assert.equal(notification.type, 'v1.customer.created');
    // a thin body is no v1 webhook: stripe-node's constructEvent refuses it, as with Stripe's
    assert.throws(() => stripe.webhooks.constructEvent(first.body, first.headers['stripe-signature'] as string, secret), /thin event notification/);

    // a newer snapshot of the same customer is published before the receiver fetches
    await h.publish({ type: 'customer.updated', data: { object: { id: 'cus_thin', object: 'customer', email: 'second@example.com' }, previous_attributes: { email: 'first@example.com' } } });
    const full = await notification.fetchEvent();
    assert.equal(full.id, created.id);
    assert.equal(full.object, 'v2.core.event');
    assert.deepEqual(full.data, { object: { id: 'cus_thin', object: 'customer', email: 'first@example.com' } }, 'the event as created');
    const latest = await notification.fetchRelatedObject();
    assert.deepEqual(latest, { id: 'cus_thin', object: 'customer', email: 'second@example.com' }, 'the latest published snapshot');
    const pulled = await stripe.v2.core.events.retrieve(created.id);
    assert.equal(pulled.type, 'v1.customer.created');
    assert.deepEqual(await (pulled as any).fetchRelatedObject(), latest);
    await assert.rejects(stripe.v2.core.events.retrieve('evt_missing'), (err: any) => err.statusCode === 404);
    // listed by subject and type, with fetchRelatedObject on each
    const listed: any[] = [];
    for await (const e of stripe.v2.core.events.list({ object_id: 'cus_thin', limit: 1 })) listed.push(e);
    assert.deepEqual(listed.map((e) => e.type), ['v1.customer.updated', 'v1.customer.created'], 'newest first, across pages');
    assert.deepEqual(await listed[1].fetchRelatedObject(), latest);
    const onlyCreated = await stripe.v2.core.events.list({ types: ['v1.customer.created'], object_id: 'cus_thin' });
    assert.deepEqual(onlyCreated.data.map((e) => e.id), [created.id]);
    const none = await stripe.v2.core.events.list({ object_id: 'cus_thin', created: { gt: Math.floor(Date.now() / 1000) + 60 } });
    assert.deepEqual(none.data, []);
    await stripe.v2.core.eventDestinations.del(destination.id);
  });

  it('keeps a publisher\'s own related object URL, and thin v1 endpoints (Herald extension) get the same notifications', async () => {
    const endpoint = (await h.request('POST', '/v1/webhook_endpoints', {
      body: new URLSearchParams({ url: `${receiver.url}/thin-v1`, 'enabled_events[0]': 'invoice.paid', event_payload: 'thin' }).toString(),
    })).body;
    assert.equal(endpoint.event_payload, 'thin');
    const connected = await h.publish({
      type: 'invoice.paid',
      account: 'acct_connected1',
      data: { object: { id: 'in_1', object: 'invoice' } },
      related_object: { url: 'https://shop.example/invoices/in_1' },
    });
    assert.equal(connected.pending_webhooks, 0, 'a v1 endpoint without connect does not receive connected accounts\' events');
    const own = await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_2', object: 'invoice' } }, related_object: { url: 'https://shop.example/invoices/in_2' } });
    await waitFor(() => requestsTo('/thin-v1').length >= 1);
    const req = requestsTo('/thin-v1')[0]!;
    const notification = stripe.parseEventNotification(req.body, req.headers['stripe-signature'] as string, endpoint.secret) as any;
    assert.equal(notification.id, own.id);
    assert.deepEqual(notification.related_object, { id: 'in_2', type: 'invoice', url: 'https://shop.example/invoices/in_2' });
    assert.equal(notification.reason, null);
  });

  it('pings one destination with a v2.core.event_destination.ping whose related object is the destination', async () => {
    const target = await stripe.v2.core.eventDestinations.create({ name: 'Ping me', type: 'webhook_endpoint', event_payload: 'thin', enabled_events: ['charge.refunded'], webhook_endpoint: { url: `${receiver.url}/ping` }, include: ['webhook_endpoint.signing_secret'] });
    const bystander = await stripe.v2.core.eventDestinations.create({ name: 'Everything', type: 'webhook_endpoint', event_payload: 'snapshot', enabled_events: ['*'], webhook_endpoint: { url: `${receiver.url}/bystander` } });
    const ping = await stripe.v2.core.eventDestinations.ping(target.id);
    assert.equal(ping.type, 'v2.core.event_destination.ping');
    await waitFor(() => requestsTo('/ping').length >= 1);
    const req = requestsTo('/ping')[0]!;
    const notification = stripe.parseEventNotification(req.body, req.headers['stripe-signature'] as string, target.webhook_endpoint!.signing_secret!) as any;
    assert.equal(notification.id, ping.id);
    const destination = await notification.fetchRelatedObject();
    assert.equal(destination.id, target.id);
    assert.equal(destination.object, 'v2.core.event_destination');
    assert.equal(requestsTo('/bystander').length, 0, 'only the pinged destination receives a ping');
    await stripe.v2.core.eventDestinations.disable(target.id);
    await assert.rejects(stripe.v2.core.eventDestinations.ping(target.id), (err: any) => err.statusCode === 400);
    await stripe.v2.core.eventDestinations.del(target.id);
    await stripe.v2.core.eventDestinations.del(bystander.id);
  });

  it('seals per-destination AWS credentials at rest with HERALD_ENCRYPTION_KEY, like signing secrets', async () => {
    const sealed = await startTestHerald({ encryptionKeys: [parseEncryptionKey(newEncryptionKey())] });
    try {
      const client = sealed.stripe();
      const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
      const bus = await client.v2.core.eventDestinations.create({
        name: 'Sealed bus',
        type: 'amazon_eventbridge',
        event_payload: 'thin',
        enabled_events: ['*'],
        amazon_eventbridge: { aws_account_id: '123456789012', aws_region: 'eu-west-1', credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: secretAccessKey, session_token: 'token-secret' } } as Stripe.V2.Core.EventDestinationCreateParams.AmazonEventbridge,
      });
      // every stored secret value of the destination, exactly as stored (the rewrite hook answers each unchanged)
      const stored: string[] = [];
      await sealed.herald.store.rewriteSecrets((value, owner) => {
        if (owner === bus.id) stored.push(value);
        return value;
      });
      assert.equal(stored.length, 3, 'the signing secret, the secret key and the session token');
      for (const value of stored) assert.match(value, /^herald:v1:/);
      assert.doesNotMatch(stored.join(' '), /wJalrXUtnFEMI|token-secret/);
      // Herald itself (the delivery worker's transport) reads them in plaintext; an update keeps them sealed
      const read = await sealed.herald.store.getEndpoint(sealed.herald.accountId, 'test', bus.id);
      assert.deepEqual(read!.amazonEventbridge!.credentials, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey, sessionToken: 'token-secret' });
      await client.v2.core.eventDestinations.update(bus.id, { name: 'Renamed' });
      const again: string[] = [];
      await sealed.herald.store.rewriteSecrets((value, owner) => {
        if (owner === bus.id) again.push(value);
        return value;
      });
      assert.doesNotMatch(again.join(' '), /wJalrXUtnFEMI|token-secret/);
      assert.equal((await sealed.herald.store.getEndpoint(sealed.herald.accountId, 'test', bus.id))!.amazonEventbridge!.credentials!.secretAccessKey, secretAccessKey);
    } finally {
      await sealed.stop();
    }
  });
});

