// DNS rebinding: a host name whose answers change between connections (or mix allowed and blocked
// addresses) is checked on every connection, on the addresses actually connected to. A scripted
// resolver stands in for the attacker's DNS server; the sockets and servers are real, on loopback.
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { after, before, describe, it } from 'node:test';
import { AddressPolicy } from '../../src/delivery/address-policy.js';
import type { Resolver } from '../../src/delivery/egress.js';
import { HttpSender } from '../../src/delivery/sender.js';
import { TestReceiver } from '../helpers/receiver.js';

describe('DNS rebinding', () => {
  let receiver: TestReceiver;
  /** Listens on 127.0.0.2 at the receiver's port: any connection it gets went to a blocked address. */
  let trap: TestReceiver;
  let answers: LookupAddress[][] = [];
  const lookups: string[] = [];
  const resolve: Resolver = (hostname, _options, callback) => {
    lookups.push(hostname);
    const next = answers.shift();
    setImmediate(() => (next ? callback(null, next) : callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), [])));
  };
  const v4 = (address: string): LookupAddress => ({ address, family: 4 });
  const senders: HttpSender[] = [];
  const sender = (policy: AddressPolicy) => {
    const s = new HttpSender({ policy, resolve });
    senders.push(s);
    return s;
  };
  // Only 127.0.0.1 is allowed: it plays the public receiver, 127.0.0.2 the internal service.
  const policy = new AddressPolicy({ blockInTestMode: false, allowedNetworks: ['127.0.0.1/32'] });

  before(async () => {
    // `connection: close`: every attempt opens a new connection, so every attempt resolves again.
    receiver = await new TestReceiver(() => ({ status: 200, headers: { connection: 'close' } })).start();
    trap = new TestReceiver(() => ({ status: 200, headers: { connection: 'close' } }));
    await trap.start(receiver.port, '127.0.0.2');
  });
  after(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await receiver.stop();
    await trap.stop();
  });

  const send = (s: HttpSender, mode: 'test' | 'live' = 'live') => s.send({ url: `http://rebind.example:${receiver.port}/hook`, headers: {}, body: '{}', timeoutMs: 5000, mode });

  it('the trap works: without the guard, a rebound name reaches the internal address', async () => {
    answers = [[v4('127.0.0.2')]];
    const result = await send(sender(policy), 'test');
    assert.equal(result.kind, 'response');
    assert.equal(trap.connections, 1);
  });

  it('a name that first resolves to an allowed address and then rebinds to a blocked one is blocked on the second connection', async () => {
    const trapped = trap.connections;
    const resolvedBefore = lookups.length;
    const s = sender(policy);
    answers = [[v4('127.0.0.1')], [v4('127.0.0.2')]];
    const first = await send(s);
    assert.equal(first.kind, 'response', JSON.stringify(first));
    const second = await send(s);
    assert.equal(second.kind, 'error');
    assert.equal(second.kind === 'error' && second.error, 'blocked_address');
    assert.match(second.kind === 'error' ? second.message : '', /^Blocked: rebind\.example resolves only to addresses deliveries may not reach \(127\.0\.0\.2 is a loopback address\)/);
    assert.equal(trap.connections, trapped, 'nothing reached the internal address');
    assert.equal(lookups.length - resolvedBefore, 2, 'each connection resolved the name again');
  });

  it('an answer that mixes allowed and blocked addresses connects only to the allowed ones, whatever their order', async () => {
    const trapped = trap.connections;
    const delivered = receiver.requests.length;
    const s = sender(policy);
    answers = [[v4('127.0.0.2'), v4('127.0.0.1')], [v4('127.0.0.1'), v4('127.0.0.2')]];
    for (let i = 0; i < 2; i++) assert.equal((await send(s)).kind, 'response');
    assert.equal(receiver.requests.length, delivered + 2);
    assert.equal(trap.connections, trapped);
  });

  it('literal addresses skip DNS and are checked as they are (IPv4, IPv6, IPv4-mapped)', async () => {
    const s = sender(policy);
    const resolvedBefore = lookups.length;
    const trapped = trap.connections;
    for (const host of ['127.0.0.2', '[::1]', '[::ffff:127.0.0.2]', '[::ffff:7f00:2]']) {
      const result = await s.send({ url: `http://${host}:${receiver.port}/`, headers: {}, body: '{}', timeoutMs: 5000, mode: 'live' });
      assert.equal(result.kind === 'error' && result.error, 'blocked_address', host);
    }
    const allowed = await s.send({ url: `http://127.0.0.1:${receiver.port}/`, headers: {}, body: '{}', timeoutMs: 5000, mode: 'live' });
    assert.equal(allowed.kind, 'response');
    assert.equal(lookups.length, resolvedBefore, 'no DNS for literals');
    assert.equal(trap.connections, trapped);
  });
});
