// The EventBridge transport against a local PutEvents server: the official SDK's real
// serialisation and SigV4 signing, batching by count and size, partial failures, throttling.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventBridgeTransport, entrySize, MAX_REQUEST_BYTES, planBatches, type EventBridgeEntry, type EventBridgeTarget } from '../../src/delivery/eventbridge.js';
import { eventBridgeBusArn } from '../../src/domain/destinations.js';
import { TestEventBridge } from '../helpers/eventbridge-server.js';

const KEY = { accessKeyId: 'AKIAHERALDTEST000001', secretAccessKey: 'herald/test/secret/key/000000000000000001' };
const target = (over: Partial<EventBridgeTarget> = {}): EventBridgeTarget => ({ awsAccountId: '123456789012', awsRegion: 'eu-west-3', eventBus: 'orders', credentials: KEY, ...over });
const entry = (i: number, detail: Record<string, unknown> = {}): EventBridgeEntry => ({
  source: 'herald.acct_1',
  detailType: 'payment_intent.succeeded',
  detail: JSON.stringify({ id: `evt_${i}`, object: 'event', type: 'payment_intent.succeeded', ...detail }),
  time: 1_790_000_000_000 + i * 1000,
});

describe('PutEvents entry size and batching (pure)', () => {
  it('counts Time as 14 bytes and the UTF-8 bytes of Source, DetailType, Detail, EventBusName and Resources', () => {
    assert.equal(entrySize({ Source: 'ab', DetailType: 'c', Detail: '{"é":1}', EventBusName: 'bus' }), 2 + 1 + 8 + 3);
    assert.equal(entrySize({ Time: new Date(), Source: 'ab', DetailType: 'c', Resources: ['r1', 'r22'] }), 14 + 3 + 5);
  });

  it('packs at most 10 entries and MAX_REQUEST_BYTES per call, in order, and sets apart entries too large for any call', () => {
    assert.deepEqual(planBatches(Array(25).fill(100)).batches.map((b) => b.length), [10, 10, 5]);
    const big = MAX_REQUEST_BYTES / 2 - 10;
    assert.deepEqual(planBatches([big, big, big, 30, MAX_REQUEST_BYTES + 1, big]), { batches: [[0, 1], [2, 3], [5]], tooLarge: [4] });
    assert.deepEqual(planBatches([MAX_REQUEST_BYTES, 1]).batches, [[0], [1]]);
    assert.deepEqual(planBatches([]), { batches: [], tooLarge: [] });
  });

  it('sends a bus name as its ARN in the destination account and region; an ARN as given', () => {
    assert.equal(eventBridgeBusArn(target()), 'arn:aws:events:eu-west-3:123456789012:event-bus/orders');
    assert.equal(eventBridgeBusArn(target({ awsRegion: 'cn-north-1' })), 'arn:aws-cn:events:cn-north-1:123456789012:event-bus/orders');
    assert.equal(eventBridgeBusArn(target({ awsRegion: 'us-gov-west-1' })), 'arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/orders');
    const arn = 'arn:aws:events:us-east-1:210987654321:event-bus/shared';
    assert.equal(eventBridgeBusArn(target({ eventBus: arn })), arn);
  });
});

describe('EventBridgeTransport against a local PutEvents server', () => {
  let server: TestEventBridge;
  let transport: EventBridgeTransport;

  before(async () => {
    server = await new TestEventBridge({ [KEY.accessKeyId]: KEY.secretAccessKey, ASIAHERALDSESSION001: 'session-secret' }).start();
    transport = new EventBridgeTransport({ timeoutMs: 5000, endpoint: server.url });
  });
  after(async () => {
    await transport.close();
    await server.stop();
  });
  beforeEach(() => {
    server.calls.length = 0;
    server.accepted.length = 0;
    server.rejected.length = 0;
    server.callFaults.length = 0;
    server.entryFault = null;
  });

  it('puts entries with Source, DetailType, Detail, EventBusName and Time, signed with SigV4 for the region', async () => {
    const outcomes = await transport.put(target(), [entry(1), entry(2)]);
    assert.deepEqual(server.rejected, []);
    assert.equal(server.calls.length, 1);
    const call = server.calls[0]!;
    assert.equal(call.accessKeyId, KEY.accessKeyId);
    assert.equal(call.region, 'eu-west-3');
    assert.equal(call.service, 'events');
    assert.deepEqual(call.entries[0], {
      Source: 'herald.acct_1',
      DetailType: 'payment_intent.succeeded',
      Detail: entry(1).detail,
      EventBusName: 'arn:aws:events:eu-west-3:123456789012:event-bus/orders',
      Time: 1_790_000_001,
    });
    assert.deepEqual(outcomes.map((o) => [o.outcome, o.httpStatus]), [['succeeded', 200], ['succeeded', 200]]);
    assert.ok(outcomes.every((o) => o.outcome === 'succeeded' && o.eventId && o.requestId));
  });

  it('sends 25 entries in 3 calls of at most 10, each entry once, in order', async () => {
    const outcomes = await transport.put(target(), Array.from({ length: 25 }, (_, i) => entry(i)));
    assert.deepEqual(server.calls.map((c) => c.entries.length).sort((a, b) => b - a), [10, 10, 5]);
    assert.deepEqual(server.details().map((d) => d.id).sort(), Array.from({ length: 25 }, (_, i) => `evt_${i}`).sort());
    assert.ok(outcomes.every((o) => o.outcome === 'succeeded'));
  });

  it('splits large entries by size so no call goes over 256 KB, and fails an entry too large for any call without sending it', async () => {
    const padding = 'x'.repeat(100 * 1024);
    const entries = [entry(1, { padding }), entry(2, { padding }), entry(3, { padding }), entry(4, { padding: 'y'.repeat(MAX_REQUEST_BYTES) }), entry(5)];
    const outcomes = await transport.put(target(), entries);
    assert.deepEqual(server.calls.map((c) => c.entries.length), [2, 2]);
    for (const call of server.calls) {
      const bytes = call.entries.reduce((sum, e) => sum + entrySize({ ...e, Time: e.Time ? new Date(e.Time * 1000) : undefined }), 0);
      assert.ok(bytes <= MAX_REQUEST_BYTES, `a call of ${bytes} bytes`);
    }
    assert.deepEqual(server.details().map((d) => d.id).sort(), ['evt_1', 'evt_2', 'evt_3', 'evt_5']);
    const tooLarge = outcomes[3]!;
    assert.equal(tooLarge.outcome, 'failed');
    assert.ok(tooLarge.outcome === 'failed' && tooLarge.failureKind === 'entry_too_large' && tooLarge.permanent);
    assert.match(tooLarge.outcome === 'failed' ? tooLarge.message : '', /too large for EventBridge: its PutEvents entry is \d+ bytes .* over the 262144-byte limit/);
  });

  it('fails an entry whose DetailType is over 128 characters without sending it, and sends the others', async () => {
    const long = { ...entry(1), detailType: `order.${'x'.repeat(130)}` };
    const outcomes = await transport.put(target(), [long, entry(2)]);
    assert.ok(outcomes[0]!.outcome === 'failed' && outcomes[0]!.permanent && /DetailType is at most 128 characters, this one has 136/.test(outcomes[0]!.message), JSON.stringify(outcomes[0]));
    assert.equal(outcomes[1]!.outcome, 'succeeded');
    assert.deepEqual(server.calls.map((c) => c.entries.length), [1]);
  });

  it('reports a partially failed call entry by entry: ErrorCode and ErrorMessage for the failed, EventId for the rest', async () => {
    server.entryFault = (e) => {
      const id = JSON.parse(e.Detail).id;
      if (id === 'evt_1') return { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service error' };
      if (id === 'evt_3') return { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded for the bus' };
      if (id === 'evt_4') return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed' };
      return null;
    };
    const outcomes = await transport.put(target(), [entry(0), entry(1), entry(2), entry(3), entry(4)]);
    assert.equal(server.calls.length, 1);
    assert.deepEqual(
      outcomes.map((o) => (o.outcome === 'succeeded' ? 'ok' : `${o.failureKind} ${o.permanent ? 'permanent' : 'retry'} ${o.message}`)),
      ['ok', 'aws_error retry InternalFailure: Internal service error', 'ok', 'throttled retry ThrottlingException: Rate exceeded for the bus', 'aws_error permanent MalformedDetail: Detail is malformed'],
    );
    assert.equal(JSON.parse(outcomes[1]!.response!).ErrorCode, 'InternalFailure');
    assert.equal(outcomes[1]!.httpStatus, null, 'a refused entry does not show its call\'s 200');
    assert.equal(outcomes[0]!.httpStatus, 200);
  });

  it('fails every entry of a throttled call once, with status 400 and the error text: the SDK does not retry on its own', async () => {
    server.callFaults.push({ kind: 'throttle' });
    const outcomes = await transport.put(target(), [entry(1), entry(2)]);
    assert.equal(server.calls.length, 1);
    assert.equal(server.accepted.length, 0);
    for (const o of outcomes) {
      assert.equal(o.outcome, 'failed');
      assert.ok(o.outcome === 'failed' && o.failureKind === 'throttled' && !o.permanent);
      assert.equal(o.httpStatus, 400);
      assert.equal(o.outcome === 'failed' && o.message, 'ThrottlingException: Rate exceeded');
    }
  });

  it('reports a 5xx and an authorisation error with their status and message, once each', async () => {
    server.callFaults.push({ kind: 'server_error' }, { kind: 'access_denied' });
    const [five] = await transport.put(target(), [entry(1)]);
    const [denied] = await transport.put(target(), [entry(2)]);
    assert.equal(server.calls.length, 2);
    assert.ok(five?.outcome === 'failed' && five.failureKind === 'aws_error' && five.httpStatus === 500 && /^InternalException: /.test(five.message));
    assert.ok(denied?.outcome === 'failed' && denied.failureKind === 'aws_error' && denied.httpStatus === 400 && /^AccessDeniedException: User is not authorized/.test(denied.message));
  });

  it('signs with the destination credentials: a wrong secret is refused by the signature check, a session token is signed too', async () => {
    const [wrong] = await transport.put(target({ credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: 'not-the-secret' } }), [entry(1)]);
    assert.ok(wrong?.outcome === 'failed' && wrong.httpStatus === 400 && /^InvalidSignatureException: /.test(wrong.message), JSON.stringify(wrong));
    const [session] = await transport.put(target({ credentials: { accessKeyId: 'ASIAHERALDSESSION001', secretAccessKey: 'session-secret', sessionToken: 'token-1' } }), [entry(2)]);
    assert.equal(session?.outcome, 'succeeded');
    assert.equal(server.calls.at(-1)?.accessKeyId, 'ASIAHERALDSESSION001');
  });

  it('uses the standard AWS credential chain when the destination has no credentials', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = KEY.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = KEY.secretAccessKey;
    try {
      const [outcome] = await transport.put(target({ credentials: null }), [entry(1)]);
      assert.equal(outcome?.outcome, 'succeeded', JSON.stringify(outcome));
      assert.equal(server.calls.at(-1)?.accessKeyId, KEY.accessKeyId);
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

  it('records a connection failure as such when no server answers', async () => {
    const closed = new TestEventBridge({});
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const offline = new EventBridgeTransport({ timeoutMs: 2000, endpoint: url });
    try {
      const [outcome] = await offline.put(target(), [entry(1)]);
      assert.ok(outcome?.outcome === 'failed' && outcome.failureKind === 'connection_refused' && outcome.httpStatus === null, JSON.stringify(outcome));
    } finally {
      await offline.close();
    }
  });
});
