import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { spawnHerald, type HeraldProcess } from './herald-process.js';
export { seededRandom } from './seeded-random.js';

/** A TCP port on 127.0.0.1 that nothing listens on at the moment. */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A receiver for crash tests: answers 2xx after a short delay (so attempts are in flight when the
 * server dies) and counts, per event id, how many 2xx it gave. The first request for one event in
 * `failFirstOneIn` gets a 500, so retries are pending across the crashes as well.
 */
export class CrashReceiver {
  /** 2xx answers per event id. */
  readonly delivered = new Map<string, number>();
  private readonly failedOnce = new Set<string>();
  requests = 0;
  url = '';
  private server: Server | null = null;

  constructor(private readonly options: { delayMs: number; failFirstOneIn: number }) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.requests++;
        const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id;
        const fail = !this.failedOnce.has(id) && hashOf(id) % this.options.failFirstOneIn === 0;
        setTimeout(() => {
          if (res.destroyed) return;
          if (fail) {
            this.failedOnce.add(id);
            res.writeHead(500).end('not this time');
            return;
          }
          this.delivered.set(id, (this.delivered.get(id) ?? 0) + 1);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
        }, this.options.delayMs);
      });
    });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  /** Event ids delivered (answered 2xx) more than once, with how many extra times. */
  duplicates(): number {
    let extra = 0;
    for (const n of this.delivered.values()) extra += n - 1;
    return extra;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }
}

function hashOf(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h >>> 0;
}

/**
 * Publishes events at a steady rate through whichever API processes are up, as an application
 * would: each event has an idempotency key, a request that fails to connect (or is cut) is sent
 * again with the same key, to the next server, until it is acknowledged. It records what was
 * acknowledged, by event id and type.
 */
export class SteadyPublisher {
  /** Acknowledged events: id → type. */
  readonly acknowledged = new Map<string, string>();
  /** Requests sent again after a connection error or a 5xx. */
  retries = 0;
  /** Why requests were sent again: error code or status, with counts. */
  readonly retryReasons = new Map<string, number>();
  /** Keys given up on: the request was still "in progress" on a server that died (409). */
  abandoned = 0;
  /** Acknowledgements that were replays of an earlier, cut-off request with the same key. */
  replayed = 0;
  private readonly agent = new Agent({ connections: 16, connect: { timeout: 2000 } });
  private stopping = false;
  private loops: Promise<void>[] = [];
  private sequence = 0;

  constructor(
    private readonly options: {
      /** Base URLs of the API processes that may be up (tried in turn). */
      targets: () => string[];
      key: string;
      types: string[];
      eventsPerSecond: number;
      concurrency: number;
    },
  ) {}

  start(): void {
    const started = Date.now();
    const interval = 1000 / this.options.eventsPerSecond;
    this.loops = Array.from({ length: this.options.concurrency }, async () => {
      while (!this.stopping) {
        const n = this.sequence++;
        const due = started + n * interval;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        if (this.stopping) return;
        await this.publishOne(n);
      }
    });
  }

  /** Stops publishing; answers when the requests in progress are acknowledged or given up. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    await this.agent.close();
  }

  private async publishOne(n: number): Promise<void> {
    const type = this.options.types[n % this.options.types.length]!;
    const body = JSON.stringify({ type, data: { object: { id: `obj_${n}`, object: type.split('.')[0], amount: n } } });
    const idempotencyKey = `crash-load-${process.pid}-${n}`;
    for (let attempt = 0; ; attempt++) {
      let reason = 'no server up';
      const targets = this.options.targets();
      const target = targets[(n + attempt) % Math.max(1, targets.length)];
      if (target) {
        try {
          const response = await this.agent.request({
            origin: target,
            path: '/v1/events',
            method: 'POST',
            headers: { authorization: `Bearer ${this.options.key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
            body,
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          const text = await response.body.text();
          if (response.statusCode === 200) {
            const event = JSON.parse(text) as { id: string; type: string };
            if (event.type !== type) throw new Error(`acknowledged ${event.id} with type ${event.type}, published ${type}`);
            this.acknowledged.set(event.id, type);
            if (response.headers['idempotent-replayed'] === 'true') this.replayed++;
            return;
          }
          if (response.statusCode === 409 && text.includes('idempotency')) {
            // The first request with this key was cut off mid-flight by a crash and holds the key
            // for a minute: the application would find out later; not acknowledged.
            this.abandoned++;
            return;
          }
          if (response.statusCode < 500) throw new Error(`publishing failed: ${response.statusCode} ${text}`);
          reason = `HTTP ${response.statusCode}`;
        } catch (err) {
          if (!isConnectionError(err)) throw err;
          reason = (err as { code: string }).code;
        }
      }
      this.retries++;
      this.retryReasons.set(reason, (this.retryReasons.get(reason) ?? 0) + 1);
      if (this.stopping && attempt > 200) return; // no server came back: nothing more to learn
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(code);
}

/**
 * A `herald serve` process that a test SIGKILLs and restarts, on the same port and database.
 * `current` is null while it is down.
 */
export class RestartableHerald {
  current: HeraldProcess | null = null;
  kills = 0;
  /** Logs of the processes killed so far (their last lines), for a failure report. */
  readonly pastLogs: string[] = [];

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<HeraldProcess> {
    this.current = await spawnHerald(this.args, this.env);
    return this.current;
  }

  async killAndRestart(): Promise<void> {
    const victim = this.current;
    if (!victim) throw new Error(`${this.name} is not running`);
    this.current = null;
    await victim.kill();
    this.kills++;
    this.pastLogs.push(victim.log().slice(-2000));
    await this.start();
  }

  async stop(): Promise<void> {
    await this.current?.stop();
    this.current = null;
  }

  log(): string {
    return [...this.pastLogs, this.current?.log() ?? ''].join(`\n--- ${this.name} restarted ---\n`);
  }
}
