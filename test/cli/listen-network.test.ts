import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { RECEIVED_LINE, startListen } from './cli-process.js';

/**
 * A TCP proxy to Herald that can go silent without closing anything: packets are dropped, as when
 * a laptop changes network or a NAT forgets the connection. Only a heartbeat notices that.
 */
class SilenceableProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  silent = false;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      if (this.silent) return; // accepted, never answered
      const upstream = connect(this.targetPort, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.on('data', (chunk) => {
        if (!this.silent) upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        if (!this.silent) client.write(chunk);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('herald listen on a bad network', () => {
  let h: TestHerald;
  before(async () => {
    h = await startTestHerald();
  });
  after(() => h.stop());

  test('a connection that goes silent is detected by the heartbeat; events published meanwhile arrive once after it returns', async () => {
    const proxy = await new SilenceableProxy(h.port).start();
    const local = await new TestReceiver().start();
    const { cli } = await startListen(['--forward-to', local.url, '--events', 'coupon.created'], { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: `http://127.0.0.1:${proxy.port}` });
    try {
      const first = await h.publish({ type: 'coupon.created', data: { object: { id: 'SUMMER', object: 'coupon' } } });
      await waitFor(() => local.events().some((e) => e.id === first.id), { timeoutMs: 30_000 });

      proxy.silent = true;
      const during: Record<string, any>[] = [];
      for (let i = 0; i < 3; i++) during.push(await h.publish({ type: 'coupon.created', data: { object: { id: `C${i}`, object: 'coupon' } } }));
      const lost = await cli.waitForLine(/Lost connection to Herald \(no heartbeat from the server\)/, { stream: 'stderr', timeoutMs: 20_000 });
      assert.ok(lost);
      proxy.silent = false;
      // A reconnection attempt made while silent waits out its own timeout before the next one.
      await cli.waitForLine(/Reconnected to /, { stream: 'stderr', timeoutMs: 60_000 });
      await waitFor(() => during.every((e) => local.events().some((r) => r.id === e.id)), { timeoutMs: 20_000 });
      const sentinel = await h.publish({ type: 'coupon.created', data: { object: { id: 'LAST', object: 'coupon' } } });
      await waitFor(() => local.events().some((e) => e.id === sentinel.id), { timeoutMs: 30_000 });
      const ids = local.events().map((e) => e.id);
      assert.deepEqual(ids.sort(), [first.id, ...during.map((e) => e.id), sentinel.id].sort(), 'each event once');
    } finally {
      await cli.kill('SIGKILL');
      await proxy.stop();
      await local.stop();
    }
  });

  test('without --forward-to, --format JSON prints each event as one JSON line and acknowledges it', async () => {
    const env = { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url };
    const { cli } = await startListen(['--format', 'JSON', '--events', 'payout.paid'], env);
    const event = await h.publish({ type: 'payout.paid', data: { object: { id: 'po_1', object: 'payout' } } });
    const line = await cli.waitForLine(/^\{"id":"evt_/);
    const parsed = JSON.parse(line);
    assert.equal(parsed.id, event.id);
    assert.equal(parsed.type, 'payout.paid');
    assert.ok(cli.stdout.every((l) => !RECEIVED_LINE.test(l)), 'only JSON on stdout');
    await cli.kill();

    // Acknowledged: a new listener does not get it again.
    const again = await startListen(['--format', 'JSON', '--events', 'payout.paid'], env);
    const next = await h.publish({ type: 'payout.paid', data: { object: { id: 'po_2', object: 'payout' } } });
    await again.cli.waitForLine(new RegExp(`"id":"${next.id}"`));
    assert.equal(again.cli.stdout.filter((l) => l.includes(event.id)).length, 0);
    await again.cli.kill();
  });
});

describe('herald listen forwarding rules', () => {
  test('a bare port means localhost; redirects are not followed and count as failures', async () => {
    const h = await startTestHerald();
    const local = await new TestReceiver(() => ({ status: 302, headers: { location: '/elsewhere' } })).start();
    const { cli } = await startListen(['--forward-to', String(local.port), '--events', 'customer.created', '-H', 'X-Env: dev, X-Team:billing'], { HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url });
    try {
      const event = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_r', object: 'customer' } } });
      const line = await cli.waitForLine(/<-- {2}\[302\] POST /);
      assert.ok(line.endsWith(`POST http://localhost:${local.port} [${event.id}]`), line);
      const attempt = await waitFor(async () => (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data[0]);
      assert.equal(attempt.failure_kind, 'redirect');
      assert.equal(local.requests.length, 1, 'the redirect was not followed');
      assert.equal(local.requests[0]!.headers['x-env'], 'dev');
      assert.equal(local.requests[0]!.headers['x-team'], 'billing');
    } finally {
      await cli.kill();
      await local.stop();
      await h.stop();
    }
  });
});

describe('herald listen on a terminal', () => {
  test('colours on a TTY: the "> Ready!" prefix, bold secret and type, status in stripe-cli colours', { skip: !existsSync('/usr/bin/script') && 'needs util-linux script for a pseudo-terminal' }, async () => {
    const h = await startTestHerald();
    const local = await new TestReceiver().start();
    // `script` runs the CLI on a pseudo-terminal, as a user's shell would.
    const command = `exec ${process.execPath} --import tsx src/cli/main.ts listen --forward-to ${local.url} --events customer.created`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: { ...process.env, HERALD_API_KEY: h.keys.test, HERALD_API_BASE: h.url, TERM: 'xterm' },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(() => /> Ready! Your webhook signing secret is \x1b\[1mwhsec_\S+\x1b\[0m \(\^C to quit\)/.test(output), { timeoutMs: 20_000, message: `the Ready line (${JSON.stringify(output)})` });
      const event = await h.publish({ type: 'customer.created', data: { object: { id: 'cus_tty', object: 'customer' } } });
      await waitFor(() => output.includes(`<--  [\x1b[32m200\x1b[0m] POST ${local.url} [${event.id}]`), { message: `the coloured status (${JSON.stringify(output)})` });
      assert.ok(output.includes(`--> \x1b[1mcustomer.created\x1b[0m [${event.id}]`));
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await local.stop();
      await h.stop();
    }
  });
});
