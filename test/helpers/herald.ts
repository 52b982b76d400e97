import { join } from 'node:path';
import Stripe from 'stripe';
import { defaultConfig, type HeraldConfig } from '../../src/config/config.js';
import { newApiKey } from '../../src/domain/ids.js';
import type { Clock } from '../../src/domain/clock.js';
import { silentLogger, type Logger } from '../../src/domain/logger.js';
import { startHerald, type RunningHerald } from '../../src/server/herald.js';
import { after } from 'node:test';
import { startTestPostgres, type TestPostgres } from './postgres.js';
import { testTempDir } from './temp-dir.js';

export interface TestHerald {
  herald: RunningHerald;
  url: string;
  port: number;
  keys: { test: string; live: string };
  dbPath: string;
  /** The configuration it was started with (e.g. to start a worker-only Herald on the same database). */
  config: HeraldConfig;
  /** A stripe-node client on this Herald, for the test (default) or live key. */
  stripe(mode?: 'test' | 'live'): Stripe;
  /** POST /v1/events with JSON, as an application publishes. */
  publish(event: Record<string, unknown>, options?: { mode?: 'test' | 'live'; idempotencyKey?: string }): Promise<Record<string, any>>;
  /** A raw request to the API, answering status and parsed JSON. */
  request(method: string, path: string, options?: { key?: string | null; body?: string; contentType?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

/**
 * TEST_STORE=postgres runs a suite on PostgreSQL instead of SQLite: one embedded server per test
 * file (started on first use, stopped when the file ends) and a fresh database per Herald.
 * The `*.postgres.test.ts` files run the API and delivery suites that way.
 */
const onPostgres = process.env.TEST_STORE === 'postgres';
let postgres: Promise<TestPostgres> | null = null;
if (onPostgres) after(async () => (await postgres)?.stop());

/** A real Herald on 127.0.0.1 with a fresh SQLite file (or PostgreSQL database) and known keys. */
export async function startTestHerald(overrides: Partial<HeraldConfig> = {}, options: { clock?: Clock; logger?: Logger; deliverOnThisThread?: boolean } = {}): Promise<TestHerald> {
  const dir = testTempDir('herald-test-');
  const dbPath = join(dir, 'herald.db');
  const keys = { test: newApiKey('test'), live: newApiKey('live') };
  const database: HeraldConfig['database'] = onPostgres
    ? { kind: 'postgres', url: await (await (postgres ??= startTestPostgres())).createDatabase() }
    : { kind: 'sqlite', path: dbPath };
  const config = defaultConfig({
    port: 0,
    host: '127.0.0.1',
    database,
    testSecretKey: keys.test,
    liveSecretKey: keys.live,
    logLevel: 'silent',
    ...overrides,
  });
  const herald = await startHerald(config, { logger: options.logger ?? silentLogger, ...(options.clock ? { clock: options.clock } : {}), deliverOnThisThread: options.deliverOnThisThread ?? false });
  const url = herald.url!;
  const port = Number(new URL(url).port);
  const request: TestHerald['request'] = async (method, path, options = {}) => {
    const key = options.key === undefined ? keys.test : options.key;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (key) headers.authorization = `Bearer ${key}`;
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/x-www-form-urlencoded';
    const response = await fetch(`${url}${path}`, { method, headers, body: options.body });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
  };
  return {
    herald,
    url,
    port,
    keys,
    dbPath,
    config,
    stripe: (mode = 'test') => new Stripe(keys[mode], { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 }),
    async publish(event, options = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${keys[options.mode ?? 'test']}`, 'content-type': 'application/json' };
      if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
      const response = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: JSON.stringify(event) });
      const body = (await response.json()) as Record<string, any>;
      if (response.status !== 200) throw new Error(`publish failed: ${response.status} ${JSON.stringify(body)}`);
      return body;
    },
    request,
    stop: () => herald.stop(),
  };
}

/** Polls `check` until it returns a truthy value (no fixed sleeps in tests). */
export async function waitFor<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; message?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
  throw new Error(`timed out waiting for ${options.message ?? 'condition'} (last value: ${JSON.stringify(last)})`);
}

export const samplePaymentIntent = (id = 'pi_123', amount = 2000) => ({ id, object: 'payment_intent', amount, currency: 'usd', status: 'succeeded' });
