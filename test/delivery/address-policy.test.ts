import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIpAddress, IpRangeList, parseIpAddress, parseIpRange } from '@herald/webhooks';
import { AddressPolicy, specialUseOf } from '../../src/delivery/address-policy.js';
import { failureKindOfError } from '../../src/delivery/outcome.js';
import { boundedRetryAfter, parseRetryAfter, remainingSchedule } from '../../src/delivery/retry-policy.js';

const classify = (text: string) => {
  const address = parseIpAddress(text);
  assert.ok(address, `${text} parses`);
  return specialUseOf(address);
};

describe('IP parsing', () => {
  it('reads IPv4 and IPv6 in their usual forms and prints them canonically', () => {
    const cases: [string, string][] = [
      ['192.0.2.1', '192.0.2.1'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      ['::', '::'],
      ['::1', '::1'],
      ['[::1]', '::1'],
      ['2001:DB8::1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
      ['::ffff:7f00:1', '::ffff:127.0.0.1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1::', '1::'],
      ['2001:db8::0:1', '2001:db8::1'],
      ['2001:0:0:1::1', '2001:0:0:1::1'],
    ];
    for (const [input, canonical] of cases) assert.equal(formatIpAddress(parseIpAddress(input)!), canonical, input);
  });

  it('refuses everything that is not exactly an address', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '0x7f.0.0.1', '127.1', '2130706433', '1.2.3.-4', ' ', 'localhost', '::1::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', 'g::1', '12345::', '::ffff:1.2.3', '1.2.3.4::', 'fe80::1%', ':1', '1:']) {
      assert.equal(parseIpAddress(bad), null, JSON.stringify(bad));
    }
  });

  it('reads CIDR ranges, normalizes their network, and matches addresses (IPv4-mapped too)', () => {
    assert.deepEqual(parseIpRange('10.1.2.3/8'), { family: 4, network: 10n << 24n, prefix: 8 });
    assert.equal(parseIpRange('10.0.0.0/33'), null);
    assert.equal(parseIpRange('::/129'), null);
    assert.equal(parseIpRange('10.0.0.0/08'), null);
    assert.equal(parseIpRange('nonsense/8'), null);
    const list = new IpRangeList(['203.0.113.0/24', '2001:db8:abcd::/48', '198.51.100.7']);
    assert.equal(list.has('203.0.113.200'), true);
    assert.equal(list.has('::ffff:203.0.113.200'), true, 'a dual-stack socket reports IPv4 peers mapped');
    assert.equal(list.has('203.0.114.1'), false);
    assert.equal(list.has('198.51.100.7'), true);
    assert.equal(list.has('198.51.100.8'), false);
    assert.equal(list.has('2001:db8:abcd:1::5'), true);
    assert.equal(list.has('2001:db8:abce::5'), false);
    assert.equal(list.has('not an address'), false);
    assert.deepEqual(list.toJSON(), ['203.0.113.0/24', '2001:db8:abcd::/48', '198.51.100.7/32']);
    assert.equal(new IpRangeList(['0.0.0.0/0']).has('8.8.8.8'), true);
    assert.equal(new IpRangeList(['0.0.0.0/0']).has('2001:4860::1'), false, 'an IPv4 range matches no IPv6 address');
    assert.throws(() => new IpRangeList(['10.0.0.0/8', 'oops']), /'oops' is not an IP address or CIDR range/);
  });
});

describe('address classification', () => {
  it('blocks every special-use IPv4 range, including cloud metadata', () => {
    const blocked: [string, RegExp][] = [
      ['127.0.0.1', /loopback/],
      ['127.255.255.254', /loopback/],
      ['10.0.0.1', /private/],
      ['172.16.0.1', /private/],
      ['172.31.255.255', /private/],
      ['192.168.1.1', /private/],
      ['100.64.0.1', /carrier-grade/],
      ['100.100.100.200', /carrier-grade/], // Alibaba Cloud metadata
      ['169.254.169.254', /metadata/],
      ['169.254.1.1', /link-local/],
      ['168.63.129.16', /Azure/],
      ['0.0.0.0', /unspecified/],
      ['0.1.2.3', /unspecified/],
      ['224.0.0.1', /multicast/],
      ['239.255.255.250', /multicast/],
      ['255.255.255.255', /broadcast/],
      ['240.0.0.1', /reserved/],
      ['192.0.2.10', /documentation/],
      ['198.18.0.1', /benchmarking/],
      ['192.0.0.8', /IETF/],
    ];
    for (const [address, why] of blocked) assert.match(classify(address) ?? 'allowed', why, address);
  });

  it('blocks IPv6 loopback, ULA, link-local, multicast, metadata and every embedding of a blocked IPv4 address', () => {
    const blocked: [string, RegExp][] = [
      ['::1', /loopback/],
      ['::', /unspecified/],
      ['fc00::1', /unique local/],
      ['fd12:3456::1', /unique local/],
      ['fd00:ec2::254', /metadata/],
      ['fe80::1', /link-local/],
      ['febf::1', /link-local/],
      ['fec0::1', /site-local/],
      ['ff02::1', /multicast/],
      ['::ffff:127.0.0.1', /IPv4-mapped address of a loopback/],
      ['::ffff:7f00:1', /IPv4-mapped address of a loopback/],
      ['::ffff:169.254.169.254', /IPv4-mapped address of the cloud metadata/],
      ['::ffff:10.0.0.1', /IPv4-mapped address of a private/],
      ['::127.0.0.1', /IPv4-compatible address of a loopback/],
      ['::8.8.8.8', /IPv4-compatible address \(deprecated\)/],
      ['64:ff9b::a9fe:a9fe', /NAT64 address of the cloud metadata/],
      ['64:ff9b::7f00:1', /NAT64 address of a loopback/],
      ['64:ff9b:1::1', /local-use NAT64/],
      ['2002:7f00:1::1', /6to4 address of a loopback/],
      ['2002:a9fe:a9fe::', /6to4 address of the cloud metadata/],
      ['2001::1', /Teredo/],
      ['2001:db8::1', /documentation/],
      ['100::1', /discard/],
      ['4000::1', /reserved/],
      ['::2:3:4', /reserved/],
    ];
    for (const [address, why] of blocked) assert.match(classify(address) ?? 'allowed', why, address);
  });

  it('lets public unicast addresses through, in every form', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '169.253.255.255', '223.255.255.255', '2606:4700:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
      assert.equal(classify(address), null, address);
    }
  });

  it('checks the host WHATWG URL parsing produces: hex, octal, short and integer IPv4 forms all become dotted quads', () => {
    const policy = new AddressPolicy({ blockInTestMode: true, allowedNetworks: [] });
    const hostOf = (url: string) => new URL(url).hostname.replace(/^\[|\]$/g, '');
    for (const url of ['http://0x7f.1/', 'http://0177.0.0.1/', 'http://127.1/', 'http://2130706433/', 'http://0x7f000001/', 'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:ffff:7f00:0001]/', 'http://0xa9.0xfe.0xa9.0xfe/', 'http://[::ffff:a9fe:a9fe]/']) {
      const host = hostOf(url);
      const verdict = policy.check(host);
      assert.equal(verdict.allowed, false, `${url} (${host})`);
    }
    assert.equal(hostOf('http://0x7f.1/'), '127.0.0.1');
    assert.equal(hostOf('http://[::ffff:127.0.0.1]/'), '::ffff:7f00:1');
  });

  it('applies in live mode always, in test mode on request, with HERALD_ALLOWED_NETWORKS as exceptions', () => {
    const byDefault = new AddressPolicy({ blockInTestMode: false, allowedNetworks: [] });
    assert.equal(byDefault.appliesTo('live'), true);
    assert.equal(byDefault.appliesTo('test'), false);
    assert.equal(new AddressPolicy({ blockInTestMode: true, allowedNetworks: [] }).appliesTo('test'), true);
    const allowing = new AddressPolicy({ blockInTestMode: false, allowedNetworks: ['127.0.0.1/32', '10.20.0.0/16', 'fd00:1::/32'] });
    assert.deepEqual(allowing.check('127.0.0.1'), { allowed: true });
    assert.deepEqual(allowing.check('::ffff:127.0.0.1'), { allowed: true }, 'the mapped form of an allowed address');
    assert.equal(allowing.check('127.0.0.2').allowed, false);
    assert.deepEqual(allowing.check('10.20.3.4'), { allowed: true });
    assert.equal(allowing.check('10.21.0.1').allowed, false);
    assert.deepEqual(allowing.check('fd00:1:2::3'), { allowed: true });
    assert.equal(allowing.check('169.254.169.254').allowed, false);
    const verdict = byDefault.check('::ffff:169.254.169.254');
    assert.deepEqual(verdict, { allowed: false, reason: '::ffff:169.254.169.254 is an IPv4-mapped address of the cloud metadata service' });
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:10:00 GMT', now), 600_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date in the past');
    for (const bad of [undefined, '', '-5', '1.5', 'soon', '1e3']) assert.equal(parseRetryAfter(bad, now), null, String(bad));
  });

  it('lengthens the wait within bounds: never below the policy, never above the cap or the horizon', () => {
    const bounds = { policyDelay: 60_000, maxMs: 3_600_000, horizonMs: 7_200_000 };
    assert.equal(boundedRetryAfter(5_000, bounds), 60_000, 'a receiver cannot make Herald retry sooner');
    assert.equal(boundedRetryAfter(600_000, bounds), 600_000);
    assert.equal(boundedRetryAfter(86_400_000, bounds), 3_600_000, 'capped by HERALD_RETRY_AFTER_MAX');
    assert.equal(boundedRetryAfter(86_400_000, { ...bounds, maxMs: Infinity }), 7_200_000, 'capped by what is left of the schedule');
    assert.equal(remainingSchedule('test', 1, null), 4 * 3_600_000);
    assert.equal(remainingSchedule('test', 0, [1000, 2000, 3000]), 6000);
    assert.equal(remainingSchedule('test', 3, [1000, 2000, 3000]), 0);
  });
});

describe('failure kinds of connection errors', () => {
  it('maps Herald\'s refusals to blocked_address and certificate errors to tls_error', () => {
    assert.equal(failureKindOfError('HERALD_BLOCKED_ADDRESS', 'BlockedAddressError'), 'blocked_address');
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'HOSTNAME_MISMATCH', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_WRONG_VERSION_NUMBER', 'SELF_SIGNED_CERT_IN_CHAIN']) {
      assert.equal(failureKindOfError(code, 'Error'), 'tls_error', code);
    }
    assert.equal(failureKindOfError('HERALD_PROXY_REFUSED', 'Error'), 'connection_error');
  });
});
