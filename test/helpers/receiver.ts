import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { waitFor } from './herald.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
  /** The sender's address as this server saw it. */
  remoteAddress: string;
}

export type Responder = (req: ReceivedRequest, index: number) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number };

/**
 * A real webhook receiver on 127.0.0.1 that records every request and answers as told; HTTPS
 * when given TLS options (`tls`), e.g. the certificates in test/fixtures/tls.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** TCP connections accepted, whether or not a request followed (a blocked sender opens none). */
  connections = 0;
  private server: Server | null = null;
  url = '';
  port = 0;

  constructor(
    public respond: Responder = () => ({ status: 200, body: '{"received":true}' }),
    private readonly options: { tls?: HttpsOptions } = {},
  ) {}

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    const serve = (handler: RequestListener): Server => (this.options.tls ? (createHttpsServer(this.options.tls, handler) as unknown as Server) : createServer(handler));
    this.server = serve(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
        remoteAddress: req.socket.remoteAddress ?? '',
      };
      const index = this.requests.length;
      this.requests.push(received);
      const answer = this.respond(received, index);
      if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
      if (res.destroyed) return;
      res.writeHead(answer.status, answer.headers ?? { 'content-type': 'application/json' });
      res.end(answer.body ?? '');
    });
    this.server.on('connection', () => this.connections++);
    this.server.on('tlsClientError', () => {}); // refused handshakes are the point of some tests
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `${this.options.tls ? 'https' : 'http'}://${host}:${this.port}`;
    return this;
  }

  /** Waits until at least `count` requests arrived. */
  async waitForRequests(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    await waitFor(() => this.requests.length >= count, { timeoutMs, message: `${count} requests at the receiver (got ${this.requests.length})` });
    return this.requests;
  }

  events(): any[] {
    return this.requests.map((r) => JSON.parse(r.body));
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }
}
