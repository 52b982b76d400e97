// HTTPS deliveries in live mode with real certificates (test/fixtures/tls), and the address guard
// on real connections: every receiver here is a real server on 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

const fixture = (name: string) => new URL(`../fixtures/tls/${name}`, import.meta.url);
const ca = readFileSync(fixture('ca.pem'), 'utf8');
const otherCa = readFileSync(fixture('other-ca.pem'), 'utf8');
const serverTls = { cert: readFileSync(fixture('server.pem')), key: readFileSync(fixture('server-key.pem')) };
const LOOPBACK = ['127.0.0.1/32'];

/** Publishes one live event and answers the endpoint's first attempt. */
async function firstLiveAttempt(h: TestHerald, url: string): Promise<any> {
  const we = await h.stripe('live').webhookEndpoints.create({ url, enabled_events: ['*'] });
  await h.publish({ type: 'customer.created', data: { object: { id: 'cus_tls', object: 'customer' } } }, { mode: 'live' });
  return waitFor(async () => (await h.request('GET', `/v1/webhook_endpoints/${we.id}/delivery_attempts`, { key: h.keys.live })).body.data[0], { message: 'an attempt' });
}

describe('HTTPS deliveries (live mode, TLS 1.2+, verified certificates)', () => {
  const receivers: TestReceiver[] = [];
  const heralds: TestHerald[] = [];
  const receiver = async (tls: ServerOptions = serverTls, respond?: ConstructorParameters<typeof TestReceiver>[0]) => {
    const r = await new TestReceiver(respond, { tls }).start();
    receivers.push(r);
    return r;
  };
  const herald = async (overrides: Parameters<typeof startTestHerald>[0]) => {
    const h = await startTestHerald({ retrySchedule: [60_000], ...overrides });
    heralds.push(h);
    return h;
  };
  after(async () => {
    await Promise.all(heralds.map((h) => h.stop()));
    await Promise.all(receivers.map((r) => r.stop()));
  });

  it('delivers to a receiver whose CA HERALD_CA_FILE trusts', async () => {
    const r = await receiver();
    const h = await herald({ caCertificates: ca, allowedNetworks: LOOPBACK });
    const attempt = await firstLiveAttempt(h, r.url);
    assert.equal(attempt.outcome, 'succeeded', attempt.failure_message);
    assert.equal(attempt.http_status, 200);
    assert.equal(r.requests.length, 1);
    assert.equal(JSON.parse(r.requests[0]!.body).livemode, true);
  });

  it('also by host name: the certificate is checked against localhost', async () => {
    const r = await receiver();
    const h = await herald({ caCertificates: ca, allowedNetworks: [...LOOPBACK, '::1/128'] });
    const attempt = await firstLiveAttempt(h, `https://localhost:${r.port}/hook`);
    assert.equal(attempt.outcome, 'succeeded', attempt.failure_message);
  });

  it('records tls_error with the verification failure when the CA is not trusted', async () => {
    const r = await receiver();
    for (const trusted of [null, otherCa]) {
      const h = await herald({ caCertificates: trusted, allowedNetworks: LOOPBACK });
      const attempt = await firstLiveAttempt(h, r.url);
      assert.equal(attempt.outcome, 'failed');
      assert.equal(attempt.failure_kind, 'tls_error');
      assert.match(attempt.failure_message, /^TLS: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
      assert.ok(attempt.next_retry_at, 'a TLS failure is retried like any other');
    }
    assert.equal(r.requests.length, 0, 'no request reached the receiver');
  });

  it('records tls_error against a server that offers only TLS 1.1', async () => {
    const r = await receiver({ ...serverTls, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    const h = await herald({ caCertificates: ca, allowedNetworks: LOOPBACK });
    const attempt = await firstLiveAttempt(h, r.url);
    assert.equal(attempt.failure_kind, 'tls_error');
    assert.match(attempt.failure_message, /^TLS: /);
    assert.match(attempt.failure_message, /protocol|version/i);
    assert.equal(r.requests.length, 0);
  });

  it('does not follow a redirect, even to an allowed host it would deliver to', async () => {
    const target = await receiver();
    const r = await receiver(serverTls, () => ({ status: 307, headers: { location: `${target.url}/moved` } }));
    const h = await herald({ caCertificates: ca, allowedNetworks: LOOPBACK });
    const attempt = await firstLiveAttempt(h, r.url);
    assert.equal(attempt.outcome, 'failed');
    assert.equal(attempt.failure_kind, 'redirect');
    assert.match(attempt.failure_message, /Redirect \(307\) to https:\/\/127\.0\.0\.1:\d+\/moved; redirects are not followed/);
    assert.equal(target.connections, 0, 'the redirect target was never contacted');
  });

  it('blocks a host name that resolves to 127.0.0.1 in live mode, before any byte is sent, and retries per the policy', async () => {
    const r = await receiver();
    const h = await herald({ caCertificates: ca });
    const attempt = await firstLiveAttempt(h, `https://localhost:${r.port}/`);
    assert.equal(attempt.outcome, 'failed');
    assert.equal(attempt.failure_kind, 'blocked_address');
    assert.match(attempt.failure_message, /^Blocked: localhost resolves only to addresses deliveries may not reach \(.*(127\.0\.0\.1 is a loopback address|::1 is the loopback address)/);
    assert.match(attempt.failure_message, /HERALD_ALLOWED_NETWORKS/);
    assert.equal(attempt.http_status, null);
    assert.ok(attempt.next_retry_at, 'the next attempt is scheduled');
    assert.equal(r.connections, 0, 'no connection reached the receiver');
  });

  it('blocks in test mode too with HERALD_BLOCK_PRIVATE_NETWORKS, and not without it', async () => {
    const plain = await new TestReceiver().start();
    receivers.push(plain);
    const strict = await herald({ blockPrivateNetworks: true });
    const we = await strict.stripe().webhookEndpoints.create({ url: `http://localhost:${plain.port}/`, enabled_events: ['*'] });
    await strict.publish({ type: 'customer.created', data: { object: { id: 'cus_t', object: 'customer' } } });
    const attempt = await waitFor(async () => (await strict.request('GET', `/v1/webhook_endpoints/${we.id}/delivery_attempts`)).body.data[0]);
    assert.equal(attempt.failure_kind, 'blocked_address');
    assert.equal(plain.connections, 0);

    const lenient = await herald({});
    await lenient.stripe().webhookEndpoints.create({ url: `http://localhost:${plain.port}/`, enabled_events: ['*'] });
    await lenient.publish({ type: 'customer.created', data: { object: { id: 'cus_t', object: 'customer' } } });
    await plain.waitForRequests(1);
  });
});

describe('endpoint URLs with a literal blocked address', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald();
  });
  after(() => h.stop());

  it('are refused at create and update in live mode, with a 400 on param url', async () => {
    for (const url of ['https://127.0.0.1/hook', 'https://[::ffff:127.0.0.1]/hook', 'https://169.254.169.254/latest/meta-data', 'https://[::1]:8443/', 'https://0x7f.1/', 'https://10.1.2.3/', 'https://[fd00:ec2::254]/', 'https://0.0.0.0/']) {
      const res = await h.request('POST', '/v1/webhook_endpoints', { key: h.keys.live, body: new URLSearchParams({ url, 'enabled_events[]': '*' }).toString() });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.type, 'invalid_request_error');
      assert.equal(res.body.error.code, 'url_invalid');
      assert.equal(res.body.error.param, 'url');
      assert.match(res.body.error.message, /Deliveries may not reach .* is (a|an|the) /, url);
    }
    const metadata = await h.request('POST', '/v1/webhook_endpoints', { key: h.keys.live, body: 'url=https://169.254.169.254/&enabled_events[]=*' });
    assert.match(metadata.body.error.message, /169\.254\.169\.254 is the cloud metadata service/);

    const we = await h.stripe('live').webhookEndpoints.create({ url: 'https://example.com/hook', enabled_events: ['*'] });
    const update = await h.request('POST', `/v1/webhook_endpoints/${we.id}`, { key: h.keys.live, body: 'url=https://192.168.0.10/hook' });
    assert.equal(update.status, 400);
    assert.equal(update.body.error.param, 'url');
    assert.equal((await h.stripe('live').webhookEndpoints.retrieve(we.id)).url, 'https://example.com/hook', 'nothing changed');
  });

  it('are accepted in test mode by default (local receivers), refused with HERALD_BLOCK_PRIVATE_NETWORKS, and allowed by HERALD_ALLOWED_NETWORKS', async () => {
    const ok = await h.stripe().webhookEndpoints.create({ url: 'http://127.0.0.1:9/hook', enabled_events: ['*'] });
    assert.equal(ok.url, 'http://127.0.0.1:9/hook');
    const strict = await startTestHerald({ blockPrivateNetworks: true, allowedNetworks: ['10.20.0.0/16'] });
    try {
      const refused = await strict.request('POST', '/v1/webhook_endpoints', { body: 'url=http://[::ffff:127.0.0.1]:9/&enabled_events[]=*' });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.param, 'url');
      const allowed = await strict.request('POST', '/v1/webhook_endpoints', { key: strict.keys.live, body: 'url=https://10.20.1.2/hook&enabled_events[]=*' });
      assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    } finally {
      await strict.stop();
    }
  });
});

describe('outbound settings', () => {
  it('reads HERALD_CA_FILE, HERALD_ALLOWED_NETWORKS and the egress settings, and refuses bad values clearly', () => {
    const config = resolveConfig({
      HERALD_CA_FILE: fixture('ca.pem').pathname,
      HERALD_ALLOWED_NETWORKS: '10.0.0.0/8, fd00::/8',
      HERALD_BLOCK_PRIVATE_NETWORKS: 'true',
      HERALD_EGRESS_PROXY: 'http://user:pw@127.0.0.1:3128',
      HERALD_EGRESS_LOCAL_ADDRESS: '127.0.0.1',
      HERALD_EGRESS_ADDRESSES: '203.0.113.7,2001:db8::/48',
      HERALD_RETRY_AFTER_MAX: '2h',
    });
    assert.equal(config.caCertificates, ca);
    assert.deepEqual(config.allowedNetworks, ['10.0.0.0/8', 'fd00::/8']);
    assert.equal(config.blockPrivateNetworks, true);
    assert.equal(config.egressProxy, 'http://user:pw@127.0.0.1:3128/');
    assert.equal(config.egressLocalAddress, '127.0.0.1');
    assert.deepEqual(config.egressAddresses, ['203.0.113.7', '2001:db8::/48']);
    assert.equal(config.retryAfterMaxMs, 7_200_000);
    const defaults = resolveConfig({});
    assert.equal(defaults.blockPrivateNetworks, false);
    assert.deepEqual(defaults.allowedNetworks, []);
    assert.equal(defaults.caCertificates, null);
    assert.throws(() => resolveConfig({ HERALD_ALLOWED_NETWORKS: '10.0.0.0/33' }), /HERALD_ALLOWED_NETWORKS: '10.0.0.0\/33' is not an IP address or CIDR range/);
    assert.throws(() => resolveConfig({ HERALD_CA_FILE: '/nonexistent.pem' }), /HERALD_CA_FILE: no such file/);
    assert.throws(() => resolveConfig({ HERALD_CA_FILE: fixture('README.md').pathname }), /holds no PEM certificate/);
    assert.throws(() => resolveConfig({ HERALD_EGRESS_PROXY: 'socks5://127.0.0.1:1080' }), /must start with http:\/\/ or https:\/\//);
    assert.throws(() => resolveConfig({ HERALD_EGRESS_LOCAL_ADDRESS: 'eth0' }), /expected an IP address/);
    assert.throws(() => resolveConfig({ HERALD_BLOCK_PRIVATE_NETWORKS: 'maybe' }), /expected true or false/);
  });
});
