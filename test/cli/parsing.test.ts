import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dataPairs, encodeForm, toFormPairs } from '../../src/cli/client.js';
import { parseFlags } from '../../src/cli/flags.js';
import { parseForwardUrl, parseHeaderList, routesFor } from '../../src/cli/forward.js';
import { localTimestamp, Palette } from '../../src/cli/output.js';

test('--forward-to as stripe-cli reads it', () => {
  assert.equal(parseForwardUrl('4242'), 'http://localhost:4242');
  assert.equal(parseForwardUrl('/webhook'), 'http://localhost/webhook');
  assert.equal(parseForwardUrl('localhost:4242/webhook'), 'http://localhost:4242/webhook');
  assert.equal(parseForwardUrl('https://example.test:8443/hook?x=1'), 'https://example.test:8443/hook?x=1');
  assert.throws(() => parseForwardUrl('ftp://example.test/'), /only http and https/);
});

test('--headers "K: V, K2: V2": first colon splits, whitespace and control characters trimmed', () => {
  assert.deepEqual(parseHeaderList('X-Env: dev, X-Token:a:b ,Host: api.local'), { 'x-env': 'dev', 'x-token': 'a:b', host: 'api.local' });
  assert.deepEqual(parseHeaderList('X-Bad: a\u0007b'), { 'x-bad': 'ab' });
  assert.throws(() => parseHeaderList('novalue'), /is not 'Name: value'/);
});

test('Connect events go to Connect routes only, by enabled events', () => {
  const routes = [
    { url: 'a', connect: false, events: ['*'], headers: {}, payload: 'snapshot' as const },
    { url: 'b', connect: true, events: ['customer.created'], headers: {}, payload: 'snapshot' as const },
  ];
  assert.deepEqual(routesFor(routes, { type: 'customer.created', account: null }).map((r) => r.url), ['a']);
  assert.deepEqual(routesFor(routes, { type: 'customer.created', account: 'acct_1' }).map((r) => r.url), ['b']);
  assert.deepEqual(routesFor(routes, { type: 'charge.succeeded', account: 'acct_1' }), []);
});

test('flags: short and long names, =, repeated lists, unknown flags refused', () => {
  const specs = [
    { name: '--data', short: '-d', kind: 'list' as const, description: '' },
    { name: '--forward-to', short: '-f', kind: 'string' as const, description: '' },
    { name: '--json', kind: 'boolean' as const, description: '' },
  ];
  const parsed = parseFlags(['list', '-d', 'a=1', '--data=b=2', '-f', '4242', '--json'], specs);
  assert.deepEqual(parsed.positionals, ['list']);
  assert.deepEqual(parsed.lists['--data'], ['a=1', 'b=2']);
  assert.equal(parsed.strings['--forward-to'], '4242');
  assert.ok(parsed.booleans.has('--json'));
  assert.throws(() => parseFlags(['--nope'], specs), /unknown flag --nope/);
  assert.throws(() => parseFlags(['-f'], specs), /--forward-to needs a value/);
});

test('-d pairs and form encoding use Stripe brackets', () => {
  assert.deepEqual(dataPairs(['enabled_events[]=a', 'enabled_events[]=b', 'url=https://x.test/?q=1']), [
    ['enabled_events[0]', 'a'],
    ['enabled_events[1]', 'b'],
    ['url', 'https://x.test/?q=1'],
  ]);
  assert.equal(encodeForm(toFormPairs({ created: { gte: 1 }, types: ['a.b'] })), 'created[gte]=1&types[0]=a.b');
});

test('colour only on a terminal, and stripe-cli status colours', () => {
  assert.equal(Palette.for({ isTTY: false }, {}).status(200), '200');
  const tty = Palette.for({ isTTY: true }, {});
  assert.equal(tty.status(200), '\x1b[32m200\x1b[0m');
  assert.equal(tty.status(404), '\x1b[33m404\x1b[0m');
  assert.equal(tty.status(503), '\x1b[31m503\x1b[0m');
  assert.equal(Palette.for({ isTTY: true }, { NO_COLOR: '1' }).enabled, false);
  assert.match(localTimestamp(new Date(2024, 0, 2, 3, 4, 5)), /^2024-01-02 03:04:05$/);
});
