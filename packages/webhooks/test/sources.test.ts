// allowedSources: a receiver that accepts deliveries only from the sender's published addresses.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { createWebhookHandler, expressWebhook, fetchEgressAddresses, IpRangeList, stripeSignatureHeader } from '../src/index.js';
import { createWebhookHandler as createWebCryptoHandler } from '../src/web.js';
import { PRIMARY_SECRET } from './vectors.js';

const secret = PRIMARY_SECRET;
const signed = (id = `evt_${Math.random()}`) => {
  const body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: {} } });
  return { body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignatureHeader(body, [secret], Math.floor(Date.now() / 1000)) } };
};

describe('allowedSources', () => {
  const allowed = ['203.0.113.0/24', '2001:db8:5::/48', '198.51.100.7'];

  it('accepts listed sources (IPv4, IPv6, IPv4-mapped) and answers 403 to others before verifying anything', async () => {
    for (const make of [createWebhookHandler, createWebCryptoHandler]) {
      const handler = make({ secret, allowedSources: allowed, logger: false, dedupe: false });
      for (const source of ['203.0.113.9', '::ffff:203.0.113.9', '2001:db8:5:1::2', '198.51.100.7', '::ffff:cb00:7109']) {
        const { body, headers } = signed();
        const { response } = await handler.handle({ rawBody: body, headers, method: 'POST', remoteAddress: source });
        assert.equal(response.status, 200, source);
      }
      for (const source of ['203.0.114.9', '198.51.100.8', '2001:db8:6::1', '127.0.0.1', 'garbage', '', null, undefined]) {
        // Even an unsigned body: the source check comes first, and says what was refused.
        const { response, event } = await handler.handle({ rawBody: '{}', headers: {}, method: 'POST', remoteAddress: source });
        assert.equal(response.status, 403, String(source));
        assert.equal(event, null);
        const error = JSON.parse(response.body).error;
        assert.equal(error.code, 'source_not_allowed');
        assert.match(error.message, source ? /^Deliveries from .+ are not accepted\.$/ : /source address of the request is unknown/);
      }
    }
  });

  it('takes an IpRangeList, refuses a bad entry at start-up, and leaves every source allowed when unset', async () => {
    const list = new IpRangeList(['10.0.0.0/8']);
    const handler = createWebhookHandler({ secret, allowedSources: list, logger: false });
    assert.equal((await handler.handle({ rawBody: signed().body, headers: signed().headers, method: 'POST', remoteAddress: '10.1.1.1' })).response.status, 400, 'allowed source, then the signature is checked (a mismatched pair here)');
    assert.throws(() => createWebhookHandler({ secret, allowedSources: ['10.0.0.0/8', '10.0.0.300'] }), /'10\.0\.0\.300' is not an IP address or CIDR range/);
    const open = createWebhookHandler({ secret, logger: false });
    const { body, headers } = signed();
    assert.equal((await open.handle({ rawBody: body, headers, method: 'POST' })).response.status, 200);
  });

  it('the Fetch entry takes the peer address as an option; the Node adapters read the socket', async () => {
    const handler = createWebhookHandler({ secret, allowedSources: ['127.0.0.1'], logger: false, dedupe: false });
    const request = () => {
      const { body, headers } = signed();
      return new Request('http://receiver/webhook', { method: 'POST', body, headers });
    };
    assert.equal((await handler.fetch(request(), { remoteAddress: '127.0.0.1' })).status, 200);
    assert.equal((await handler.fetch(request())).status, 403);

    const app = express();
    app.post('/webhook', expressWebhook(handler));
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
    const { body, headers } = signed();
    assert.equal((await fetch(url, { method: 'POST', body, headers })).status, 200, 'from 127.0.0.1');
    const elsewhere = createWebhookHandler({ secret, allowedSources: ['192.0.2.1'], logger: false });
    app.post('/strict', expressWebhook(elsewhere));
    const strict = await fetch(url.replace('/webhook', '/strict'), { method: 'POST', body, headers });
    assert.equal(strict.status, 403);
    server.close();
  });

  it('fetchEgressAddresses reads {"WEBHOOKS": [...]} and refuses documents that would allow nothing or anything', async () => {
    const documents: Record<string, [number, unknown]> = {
      '/ok': [200, { WEBHOOKS: ['203.0.113.7', '2001:db8::/32'] }],
      '/empty': [200, { WEBHOOKS: [] }],
      '/wrong': [200, { ips: ['203.0.113.7'] }],
      '/bad-entry': [200, { WEBHOOKS: ['203.0.113.7/40'] }],
      '/missing': [404, {}],
    };
    const fakeFetch = (async (input: string | URL | Request) => {
      const [status, body] = documents[new URL(String(input)).pathname]!;
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const list = await fetchEgressAddresses('https://herald.example/ok', { fetch: fakeFetch });
    assert.equal(list.has('203.0.113.7'), true);
    assert.equal(list.has('2001:db8:ffff::1'), true);
    assert.equal(list.has('203.0.113.8'), false);
    await assert.rejects(fetchEgressAddresses('https://herald.example/empty', { fetch: fakeFetch }), /lists no egress addresses/);
    await assert.rejects(fetchEgressAddresses('https://herald.example/wrong', { fetch: fakeFetch }), /is not a list of egress addresses/);
    await assert.rejects(fetchEgressAddresses('https://herald.example/bad-entry', { fetch: fakeFetch }), /not an IP address or CIDR range/);
    await assert.rejects(fetchEgressAddresses('https://herald.example/missing', { fetch: fakeFetch }), /HTTP 404/);
  });
});
