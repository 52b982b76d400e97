/** The moving parts of `npm run bench`: the receiver process, Herald processes, Redis, seeding. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseLocation } from '../../src/config/config.js';
import { newId, randomAlphanumeric } from '../../src/domain/ids.js';
import { openStore } from '../../src/store/index.js';
import type { PublishedEvent } from '../../src/store/store.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// Receiver ------------------------------------------------------------------------------------

export interface ReceiverStats {
  total: number;
  /** Epoch ms of the first delivery since the last reset. */
  firstAt: number;
  /** Epoch ms when `total` reached the reset's target (0: not yet). */
  targetAt: number;
  latencies: number[];
  /** Latencies of the warm-up's events, kept apart from `latencies`. */
  warmupLatencies: number[];
}

export interface ReceiverProcess {
  /** http://127.0.0.1:port; endpoints are `${url}/hook/N`. */
  url: string;
  pid: number;
  reset(target?: number): Promise<void>;
  count(): Promise<ReceiverStats>;
  stats(): Promise<ReceiverStats>;
  stop(): void;
}

/** Forks bench/lib/receiver.ts: the receiver runs in its own process, like a real endpoint. */
export async function startReceiver(): Promise<ReceiverProcess> {
  const child = fork(join(ROOT, 'bench/lib/receiver.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
  });
  let nextId = 0;
  const waiting = new Map<number, (s: ReceiverStats) => void>();
  child.on('message', (m: ReceiverStats & { id?: number }) => {
    if (m.id === undefined) return;
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const ask = (cmd: string, target?: number) =>
    new Promise<ReceiverStats>((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      child.send({ id, cmd, target });
    });
  return {
    url,
    pid: child.pid!,
    reset: async (target) => void (await ask('reset', target)),
    count: () => ask('count'),
    stats: () => ask('stats'),
    stop: () => child.kill('SIGTERM'),
  };
}

// Herald --------------------------------------------------------------------------------------

export interface HeraldProcess {
  url: string | null;
  accountId: string;
  pid: number;
  /** The process's peak resident memory so far (VmHWM), in MiB. */
  peakRssMb(): number;
  /** CPU time (user + system) the process has used so far, in seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Runs `bin/herald serve` (the built CLI, as a user runs it) with the defaults a user gets, plus
 * `args`. Only the port, the database and the role are ever set by the benchmark.
 */
export async function startHerald(args: string[], env: Record<string, string>): Promise<HeraldProcess> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('HERALD_')) clean[k] = v;
  // BENCH_PROFILE=<dir>: each Herald writes a V8 CPU profile there when it exits (not when killed).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];
  const child = spawn(process.execPath, [...profile, join(ROOT, 'bin/herald'), 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...clean, HERALD_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await new Promise<{ url: string | null; accountId: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`herald serve did not start within 60 s:\n${stderr}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const account = /Account:\s+(acct_\w+)/.exec(stdout);
      if (!stdout.includes('Herald is running.') || !account) return;
      clearTimeout(timer);
      resolve({ url: /API:\s+(http:\/\/\S+?)\/v1/.exec(stdout)?.[1] ?? null, accountId: account[1]! });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`herald serve exited with ${code} before it started:\n${stderr}`));
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    ...started,
    pid: child.pid!,
    peakRssMb: () => peakRssMb(child),
    cpuSeconds: () => cpuSeconds(child.pid!),
    async stop() {
      if (running()) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * CPU seconds a process has used (/proc/<pid>/stat utime + stime). On a shared machine, wall-clock
 * rates move with the neighbours' load; the CPU a unit of work costs barely does.
 */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

function peakRssMb(child: ChildProcess): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

// Events --------------------------------------------------------------------------------------

/**
 * The data object of every benchmark event: about 1 KB of JSON once wrapped in the Event. `sent` is
 * the publish time (epoch ms) that the receiver subtracts from the receipt time. The object's id is
 * random, as a user's are (Stripe's: 24 letters and digits): events are indexed by the object they
 * are about, and ids that counted up (`pi_bench1`, `pi_bench2`, …) put every insert of that index on
 * the same few pages, hiding about a tenth of the cost of a publish (docs/performance-history.md).
 */
export function eventData(i: number, sent = 0): { object: Record<string, unknown> } {
  return {
    object: {
      bench_sent: sent,
      id: `pi_${randomAlphanumeric(24)}`,
      object: 'payment_intent',
      amount: 1000 + (i % 1000),
      currency: 'usd',
      status: 'succeeded',
      description: 'x'.repeat(600),
      metadata: { order: `order_${i}` },
    },
  };
}

export const epochNow = () => performance.timeOrigin + performance.now();

/**
 * Writes a backlog of `count` events straight into the store (what `POST /v1/events` stores, in
 * batches of 1,000), so a backlog of a million deliveries is ready in seconds rather than minutes.
 */
export async function seedBacklog(database: DatabaseLocation, accountId: string, count: number): Promise<void> {
  const store = await openStore(database);
  try {
    const account = await store.getAccount(accountId);
    if (!account) throw new Error(`no account ${accountId}`);
    const now = Date.now();
    for (let start = 0; start < count; start += 1000) {
      const batch: PublishedEvent[] = [];
      for (let i = start; i < Math.min(count, start + 1000); i++) {
        batch.push({
          id: newId.event(),
          accountId,
          mode: 'test',
          type: 'payment_intent.succeeded',
          account: null,
          apiVersion: account.defaultApiVersion,
          created: now,
          data: eventData(i),
          request: { id: null, idempotency_key: null },
        });
      }
      await store.publishEvents(batch);
    }
  } finally {
    await store.close();
  }
}

// Redis ---------------------------------------------------------------------------------------

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Debian's redis-server on a free port in a temporary directory, with its append-only file
 * synced every second (Redis's durable setting; the default would lose everything since the last
 * snapshot). Null when redis-server is not installed.
 */
export async function startRedis(): Promise<{ port: number; pid: number; stop: () => Promise<void> } | null> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = await new Promise<boolean>((resolve) => {
    let out = '';
    child.once('error', () => resolve(false)); // ENOENT: not installed
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve(true);
    });
    child.once('exit', () => resolve(false));
  });
  // Its append-only file (about 100 MB after row 6) goes with it.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  if (!ready) {
    removeDir();
    return null;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      removeDir();
    },
  };
}

// Figures -------------------------------------------------------------------------------------

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Waits until the receiver has counted the target it was reset with, and answers the CPU per
 * delivery of the processes that `cpu` sums, from the first delivery on (or from this call, when
 * deliveries began before it: a second worker starts after the first). What a process does before
 * (loading its code, opening its database, starting its threads; for the BullMQ peer, Redis taking
 * the jobs in) is not delivery work. Counted in, at half size: 121 instead of 109 µs per delivery
 * on SQLite at fan-out 1, 204 instead of 160 µs for BullMQ and Redis, 310 instead of 199 µs for one
 * PostgreSQL worker on its 5,000 deliveries.
 */
export async function cpuPerDelivery(receiver: ReceiverProcess, cpu: () => number, what: string): Promise<{ stats: ReceiverStats; cpuUs: number }> {
  let stats = await receiver.count();
  await waitUntil(async () => (stats = await receiver.count()).total > 0, 900_000, `the first of ${what}`, 5);
  const [cpuAtFirst, deliveredAtFirst] = [cpu(), stats.total];
  await waitUntil(async () => (stats = await receiver.count()).targetAt > 0, 900_000, what, 50);
  return { stats, cpuUs: ((cpu() - cpuAtFirst) * 1e6) / (stats.total - deliveredAtFirst) };
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
