// Known source addresses: deliveries through an egress proxy (a real CONNECT proxy on 127.0.0.1),
// from a chosen local address, the published address list, and a receiver that enforces it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { createWebhookHandler, fetchEgressAddresses, nodeWebhook } from '@herald/webhooks';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';

const fixture = (name: string) => new URL(`../fixtures/tls/${name}`, import.meta.url);
const serverTls = { cert: readFileSync(fixture('server.pem')), key: readFileSync(fixture('server-key.pem')) };
const ca = readFileSync(fixture('ca.pem'), 'utf8');

/** A minimal HTTP CONNECT proxy that counts its tunnels and remembers what it was asked for. */
class TunnelProxy {
  readonly tunnels: { target: string; authorization: string | undefined }[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  url = '';
  constructor(private readonly refuse = false, private readonly tls = false) {
    const refuseOthers = (_req: IncomingMessage, res: import('node:http').ServerResponse) => void res.writeHead(405).end();
    this.server = tls ? (createHttpsServer(serverTls, refuseOthers) as unknown as Server) : createServer(refuseOthers);
    this.server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      this.tunnels.push({ target: req.url ?? '', authorization: req.headers['proxy-authorization'] });
      this.sockets.add(client);
      if (this.refuse) return void client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      const [host, port] = splitAuthority(req.url ?? '');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      this.sockets.add(upstream);
      const close = () => {
        upstream.destroy();
        client.destroy();
      };
      upstream.on('error', close);
      client.on('error', close);
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `${this.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function splitAuthority(authority: string): [string, string] {
  const m = /^\[(.+)\]:(\d+)$/.exec(authority) ?? /^([^:]+):(\d+)$/.exec(authority);
  return [m?.[1] ?? '', m?.[2] ?? ''];
}

async function firstAttempt(h: TestHerald, url: string, mode: 'test' | 'live' = 'test') {
  const we = await h.stripe(mode).webhookEndpoints.create({ url, enabled_events: ['*'] });
  await h.publish({ type: 'customer.created', data: { object: { id: 'cus_egress', object: 'customer' } } }, { mode });
  return waitFor(async () => (await h.request('GET', `/v1/webhook_endpoints/${we.id}/delivery_attempts`, { key: h.keys[mode] })).body.data[0], { message: 'an attempt' });
}

describe('egress proxy (HERALD_EGRESS_PROXY)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const stop of cleanup.reverse()) await stop();
  });
  const start = async <T extends { stop(): Promise<void> }>(thing: Promise<T>): Promise<T> => {
    const started = await thing;
    cleanup.push(() => started.stop());
    return started;
  };

  it('tunnels plain HTTP deliveries through the proxy, with its credentials', async () => {
    const proxy = await start(new TunnelProxy().start());
    const receiver = await start(new TestReceiver().start());
    const proxyUrl = new URL(proxy.url);
    proxyUrl.username = 'herald';
    proxyUrl.password = 's3cret';
    const h = await start(startTestHerald({ egressProxy: proxyUrl.href }));
    const attempt = await firstAttempt(h, `${receiver.url}/hook`);
    assert.equal(attempt.outcome, 'succeeded', attempt.failure_message);
    assert.equal(proxy.tunnels.length, 1);
    assert.equal(proxy.tunnels[0]!.target, `127.0.0.1:${receiver.port}`);
    assert.equal(proxy.tunnels[0]!.authorization, `Basic ${Buffer.from('herald:s3cret').toString('base64')}`);
    assert.equal(receiver.requests[0]!.path, '/hook');
  });

  it('live HTTPS through the proxy: Herald resolves and checks the host, and asks the proxy for that exact address; TLS is verified end to end', async () => {
    const proxy = await start(new TunnelProxy().start());
    const receiver = await start(new TestReceiver(undefined, { tls: serverTls }).start());
    const h = await start(startTestHerald({ egressProxy: proxy.url, caCertificates: ca, allowedNetworks: ['127.0.0.1/32', '::1/128'] }));
    const attempt = await firstAttempt(h, `https://localhost:${receiver.port}/hook`, 'live');
    assert.equal(attempt.outcome, 'succeeded', attempt.failure_message);
    assert.equal(proxy.tunnels.length, 1);
    assert.match(proxy.tunnels[0]!.target, new RegExp(`^(127\\.0\\.0\\.1|\\[::1\\]):${receiver.port}$`), 'an IP address, not a name the proxy would resolve');
  });

  it('an https:// proxy: the connection to the proxy is TLS too, verified with HERALD_CA_FILE', async () => {
    const proxy = await start(new TunnelProxy(false, true).start());
    const receiver = await start(new TestReceiver().start());
    const h = await start(startTestHerald({ egressProxy: proxy.url, caCertificates: ca }));
    const attempt = await firstAttempt(h, `${receiver.url}/hook`);
    assert.equal(attempt.outcome, 'succeeded', attempt.failure_message);
    assert.equal(proxy.tunnels.length, 1);

    const untrusting = await start(startTestHerald({ egressProxy: proxy.url, retrySchedule: [60_000] }));
    const failed = await firstAttempt(untrusting, `${receiver.url}/hook`);
    assert.equal(failed.failure_kind, 'tls_error', 'a proxy whose certificate is not trusted is not used');
    assert.equal(proxy.tunnels.length, 1);
  });

  it('a blocked target never reaches the proxy; a refused tunnel is a connection_error', async () => {
    const proxy = await start(new TunnelProxy().start());
    const h = await start(startTestHerald({ egressProxy: proxy.url, caCertificates: ca }));
    const blocked = await firstAttempt(h, 'https://localhost:9/hook', 'live');
    assert.equal(blocked.failure_kind, 'blocked_address');
    assert.equal(proxy.tunnels.length, 0);

    const refusing = await start(new TunnelProxy(true).start());
    const h2 = await start(startTestHerald({ egressProxy: refusing.url, retrySchedule: [60_000] }));
    const refused = await firstAttempt(h2, 'http://127.0.0.1:9/hook');
    assert.equal(refused.failure_kind, 'connection_error');
    assert.equal(refused.failure_message, 'The egress proxy refused the tunnel to 127.0.0.1:9 (HTTP 403)');
    assert.equal(refusing.tunnels.length, 1);
  });
});

describe('egress addresses', () => {
  it('deliveries leave from HERALD_EGRESS_LOCAL_ADDRESS, which the published list names, and a receiver enforcing the list accepts only them', async () => {
    // 127.0.0.2 is a loopback address of this machine: the traffic still goes to 127.0.0.1.
    const h = await startTestHerald({ egressLocalAddress: '127.0.0.2', egressAddresses: ['127.0.0.2/32', '2001:db8:1::/48'] });
    const published = await fetch(`${h.url}/files/ips/ips_webhooks.json`);
    assert.equal(published.status, 200, 'public: no API key');
    assert.equal(published.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(await published.json(), { WEBHOOKS: ['127.0.0.2/32', '2001:db8:1::/48'] });

    const allowedSources = await fetchEgressAddresses(`${h.url}/files/ips/ips_webhooks.json`);
    const we = await h.stripe().webhookEndpoints.create({ url: 'http://127.0.0.1:9/', enabled_events: ['*'] });
    const handled: string[] = [];
    const handler = createWebhookHandler({ secret: we.secret!, allowedSources, logger: false, handlers: { '*': (event) => void handled.push(event.id) } });
    const server = createServer(nodeWebhook(handler));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await h.stripe().webhookEndpoints.update(we.id, { url: `http://127.0.0.1:${port}/webhook` });
    const event = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_src', object: 'customer' } } });
    await waitFor(() => handled.includes(event.id as string), { message: 'the receiver to accept the delivery from 127.0.0.2' });

    // Another Herald sending from the default address (127.0.0.1) is refused by the same receiver.
    const other = await startTestHerald();
    const we2 = await other.stripe().webhookEndpoints.create({ url: `http://127.0.0.1:${port}/webhook`, enabled_events: ['*'] });
    await other.publish({ type: 'customer.created', data: { object: { id: 'cus_other', object: 'customer' } } });
    const refused = await waitFor(async () => (await other.request('GET', `/v1/webhook_endpoints/${we2.id}/delivery_attempts`)).body.data[0]);
    assert.equal(refused.http_status, 403);
    assert.match(refused.response_body, /source_not_allowed/);
    await other.stop();
    await h.stop();
    server.close();
  });

  it('a receiver sees the chosen local address', async () => {
    const receiver = await new TestReceiver().start();
    const h = await startTestHerald({ egressLocalAddress: '127.0.0.3' });
    await h.stripe().webhookEndpoints.create({ url: receiver.url, enabled_events: ['*'] });
    await h.publish({ type: 'customer.created', data: { object: { id: 'cus_local', object: 'customer' } } });
    const [request] = await receiver.waitForRequests(1);
    assert.equal(request!.remoteAddress, '127.0.0.3');
    const empty = await fetch(`${h.url}/files/ips/ips_webhooks.json`);
    assert.deepEqual(await empty.json(), { WEBHOOKS: [] });
    await h.stop();
    await receiver.stop();
  });
});
