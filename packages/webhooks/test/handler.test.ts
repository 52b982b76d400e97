import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import {
  createWebhookHandler,
  expressWebhook,
  fastifyWebhook,
  honoWebhook,
  MemoryDedupeStore,
  nextWebhook,
  nodeWebhook,
  standardWebhooksHeaders,
  stripeSignatureHeader,
  type WebhookEvent,
  type WebhookHandlerOptions,
  type WebhookLogger,
} from '../src/index.js';
import { createWebhookHandler as createWebCryptoHandler } from '../src/web.js';
import { PRIMARY_SECRET } from './vectors.js';

const secret = PRIMARY_SECRET;
let sequence = 0;

function signedEvent(type = 'payment_intent.succeeded', id = `evt_${++sequence}_${Date.now()}`) {
  const body = JSON.stringify({ id, object: 'event', type, created: 1, livemode: false, api_version: null, data: { object: { id: 'pi_1', amount: 2000 } } });
  return { id, body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignatureHeader(body, [secret], Math.floor(Date.now() / 1000)) } };
}

/** A gate the handler waits on, so the test can show the response came before the handler ended. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

interface Recorder {
  processed: WebhookEvent[];
  unhandled: WebhookEvent[];
  errors: unknown[];
  logs: { level: string; message: string }[];
  hold: ReturnType<typeof gate> | null;
  failNext: boolean;
  options: WebhookHandlerOptions;
}

function recorder(extra: Partial<WebhookHandlerOptions> = {}): Recorder {
  const r: Recorder = {
    processed: [],
    unhandled: [],
    errors: [],
    logs: [],
    hold: null,
    failNext: false,
    options: undefined as never,
  };
  const logger: WebhookLogger = {
    info: (message) => r.logs.push({ level: 'info', message }),
    warn: (message) => r.logs.push({ level: 'warn', message }),
    error: (message) => r.logs.push({ level: 'error', message }),
  };
  r.options = {
    secret,
    logger,
    handlers: {
      'payment_intent.succeeded': async (event) => {
        if (r.hold) await r.hold.opened;
        if (r.failNext) {
          r.failNext = false;
          throw new Error('database down');
        }
        r.processed.push(event);
      },
      'charge.*': (event) => void r.processed.push(event),
    },
    onUnhandled: (event) => void r.unhandled.push(event),
    onError: (error) => void r.errors.push(error),
    ...extra,
  };
  return r;
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Send = (body: string, headers: Record<string, string>, method?: string) => Promise<{ status: number; json: any }>;

/** The behaviour every adapter must show, driven through `send`. */
function behaviour(name: string, setup: (r: Recorder) => Promise<{ send: Send; close: () => Promise<void> }>, { routesEveryMethod = true } = {}) {
  describe(name, () => {
    let r: Recorder;
    let send: Send;
    let close: () => Promise<void>;
    before(async () => {
      r = recorder();
      ({ send, close } = await setup(r));
    });
    after(() => close());

    it('acknowledges a verified event with 200 before its handler finishes, then runs it', async () => {
      r.hold = gate();
      const e = signedEvent();
      const answer = await send(e.body, e.headers);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { received: true });
      assert.equal(r.processed.some((p) => p.id === e.id), false, 'handler still held when the response arrived');
      r.hold.open();
      await until(() => r.processed.some((p) => p.id === e.id), 'the handler');
      r.hold = null;
    });

    it('skips a redelivered event id (200, duplicate: true) and runs the handler once', async () => {
      const e = signedEvent();
      assert.equal((await send(e.body, e.headers)).status, 200);
      await until(() => r.processed.some((p) => p.id === e.id), 'the handler');
      const again = await send(e.body, { ...e.headers, 'stripe-signature': stripeSignatureHeader(e.body, [secret], Math.floor(Date.now() / 1000) + 1) });
      assert.deepEqual([again.status, again.json], [200, { received: true, duplicate: true }]);
      const after = signedEvent('charge.succeeded');
      await send(after.body, after.headers);
      await until(() => r.processed.some((p) => p.id === after.id), 'the next event');
      assert.equal(r.processed.filter((p) => p.id === e.id).length, 1);
    });

    it('routes families (charge.*) and unhandled types', async () => {
      const family = signedEvent('charge.refund.updated');
      const other = signedEvent('customer.created');
      await send(family.body, family.headers);
      await send(other.body, other.headers);
      await until(() => r.processed.some((p) => p.id === family.id) && r.unhandled.some((p) => p.id === other.id), 'both events');
    });

    it('refuses a bad signature with 400 and the error code, running nothing', async () => {
      const e = signedEvent();
      const answer = await send(e.body.replace('2000', '1'), e.headers);
      assert.equal(answer.status, 400);
      assert.equal(answer.json.error.code, 'signature_mismatch');
      assert.equal(answer.json.error.type, 'invalid_request_error');
      const missing = await send(e.body, { 'content-type': 'application/json' });
      assert.deepEqual([missing.status, missing.json.error.code], [400, 'missing_header']);
      assert.ok(r.logs.some((l) => l.level === 'warn' && l.message.includes('signature_mismatch')));
    });

    it('verifies Standard Webhooks headers too, deduping on the event id', async () => {
      const e = signedEvent('charge.captured');
      const headers = { 'content-type': 'application/json', ...standardWebhooksHeaders(e.body, [secret], e.id, Math.floor(Date.now() / 1000)) };
      assert.equal((await send(e.body, headers)).status, 200);
      await until(() => r.processed.some((p) => p.id === e.id), 'the handler');
      assert.equal((await send(e.body, headers)).json.duplicate, true);
    });

    it('logs a failing handler, calls onError, and releases the id so a redelivery runs again', async () => {
      r.failNext = true;
      const e = signedEvent();
      assert.equal((await send(e.body, e.headers)).status, 200);
      await until(() => r.errors.length > 0, 'onError');
      assert.match(String(r.errors.at(-1)), /database down/);
      assert.ok(r.logs.some((l) => l.level === 'error' && l.message.includes('payment_intent.succeeded')));
      const retried = await send(e.body, e.headers);
      assert.deepEqual(retried.json, { received: true });
      await until(() => r.processed.some((p) => p.id === e.id), 'the redelivered event');
    });

    // Express and Fastify routes are declared with `post`, so there the framework answers 404.
    if (routesEveryMethod) {
      it('answers 405 to anything but POST', async () => {
        assert.equal((await send('', {}, 'GET')).status, 405);
      });
    }
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function httpSender(url: string): Send {
  return async (body, headers, method = 'POST') => {
    const response = await fetch(url, { method, headers, body: method === 'POST' ? body : undefined });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };
}

function fetchSender(call: (request: Request) => Promise<Response> | Response): Send {
  return async (body, headers, method = 'POST') => {
    const response = await call(new Request('http://127.0.0.1/webhook', { method, headers, body: method === 'POST' ? body : undefined }));
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };
}

behaviour('node:http adapter', async (r) => {
  const server = createServer(nodeWebhook(createWebhookHandler(r.options)));
  const url = await listen(server);
  return { send: httpSender(`${url}/webhook`), close: () => new Promise((resolve) => server.close(() => resolve())) };
});

behaviour('Express adapter (reading the stream itself, app-wide express.json() on other routes)', async (r) => {
  const app = express();
  app.post('/webhook', expressWebhook(createWebhookHandler(r.options)));
  app.use(express.json());
  const server = createServer(app);
  const url = await listen(server);
  return { send: httpSender(`${url}/webhook`), close: () => new Promise((resolve) => server.close(() => resolve())) };
}, { routesEveryMethod: false });

behaviour('Express adapter after express.raw()', async (r) => {
  const app = express();
  app.post('/webhook', express.raw({ type: '*/*' }), expressWebhook(createWebhookHandler(r.options)));
  const server = createServer(app);
  const url = await listen(server);
  return { send: httpSender(`${url}/webhook`), close: () => new Promise((resolve) => server.close(() => resolve())) };
}, { routesEveryMethod: false });

behaviour('Fastify plugin (raw content-type parser scoped to the route)', async (r) => {
  const app = Fastify();
  await app.register(fastifyWebhook(createWebhookHandler(r.options), { path: '/webhook' }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { send: httpSender(`${url}/webhook`), close: () => app.close() };
}, { routesEveryMethod: false });

behaviour('Hono (app.fetch with real Requests; /web entry, WebCrypto)', async (r) => {
  const app = new Hono();
  app.all('/webhook', honoWebhook(createWebCryptoHandler(r.options)));
  return { send: fetchSender((request) => app.fetch(request)), close: async () => {} };
});

behaviour('Next.js route handler (Web Request → Response, after() for the work; /web entry)', async (r) => {
  const scheduled: Promise<unknown>[] = [];
  const POST = nextWebhook(createWebCryptoHandler(r.options), { after: (work) => void scheduled.push(work) });
  return {
    send: async (body, headers, method) => {
      const answer = await fetchSender(POST)(body, headers, method);
      return answer;
    },
    close: async () => {
      await Promise.all(scheduled);
      assert.ok(scheduled.length > 0, 'the handler work was handed to after()');
    },
  };
});

describe('adapters refusing a parsed body', () => {
  it('Express with express.json() before the webhook answers 400 payload_not_raw, saying how to fix it', async () => {
    const r = recorder();
    const app = express();
    app.use(express.json());
    app.post('/webhook', expressWebhook(createWebhookHandler(r.options)));
    const server = createServer(app);
    const url = await listen(server);
    try {
      const e = signedEvent();
      const answer = await httpSender(`${url}/webhook`)(e.body, e.headers);
      assert.equal(answer.status, 400);
      assert.equal(answer.json.error.code, 'payload_not_raw');
      assert.match(answer.json.error.message, /express\.raw/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Express: a raw parser whose type did not match (stream unread, body left as {} like Express 4) still verifies', async () => {
    const r = recorder();
    const app = express();
    // express.raw() defaults to application/octet-stream, so it skips Herald's application/json.
    app.post('/webhook', express.raw(), (req, _res, next) => ((req.body ??= {}), next()), expressWebhook(createWebhookHandler(r.options)));
    const server = createServer(app);
    const url = await listen(server);
    try {
      const e = signedEvent();
      const answer = await httpSender(`${url}/webhook`)(e.body, e.headers);
      assert.deepEqual([answer.status, answer.json], [200, { received: true }]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Fastify keeps its JSON parser on the app\'s other routes', async () => {
    const app = Fastify();
    await app.register(fastifyWebhook(createWebhookHandler(recorder().options), { path: '/webhook' }));
    app.post('/orders', async (request) => ({ parsed: request.body }));
    const answer = await app.inject({ method: 'POST', url: '/orders', payload: { a: 1 } });
    assert.deepEqual(answer.json(), { parsed: { a: 1 } });
    await app.close();
  });

  it('node:http refuses a body above maxBodyBytes with 413', async () => {
    const server = createServer(nodeWebhook(createWebhookHandler(recorder().options), { maxBodyBytes: 100 }));
    const url = await listen(server);
    try {
      const e = signedEvent();
      const answer = await fetch(url, { method: 'POST', headers: e.headers, body: e.body + ' '.repeat(200) });
      assert.equal(answer.status, 413);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('createWebhookHandler options', () => {
  it('refuses a tolerance of 0 and a missing secret at creation', () => {
    assert.throws(() => createWebhookHandler({ secret, tolerance: 0 }), RangeError);
    assert.throws(() => createWebhookHandler({ secret: process.env.HERALD_SURELY_UNSET_VARIABLE as string }), /whsec_/);
  });

  it('acknowledge: after-processing answers 500 when the handler fails, so Herald retries', async () => {
    const r = recorder({ acknowledge: 'after-processing' });
    const handler = createWebhookHandler(r.options);
    r.failNext = true;
    const e = signedEvent();
    const first = await handler.handle({ rawBody: e.body, headers: e.headers, method: 'POST' });
    assert.equal(first.response.status, 500);
    const second = await handler.handle({ rawBody: e.body, headers: e.headers, method: 'POST' });
    assert.equal(second.response.status, 200);
    assert.equal(r.processed.filter((p) => p.id === e.id).length, 1);
  });

  it('a failing dedupe store answers 503 rather than risk processing twice', async () => {
    const handler = createWebhookHandler({ ...recorder().options, dedupe: { claim: () => Promise.reject(new Error('redis down')), release() {} } });
    const e = signedEvent();
    assert.equal((await handler.handle({ rawBody: e.body, headers: e.headers })).response.status, 503);
  });

  it('uses the injected clock for the tolerance', async () => {
    const handler = createWebhookHandler({ ...recorder().options, now: () => Date.now() + 301_000 });
    const e = signedEvent();
    const handled = await handler.handle({ rawBody: e.body, headers: e.headers });
    assert.equal(handled.response.status, 400);
    assert.match(handled.response.body, /timestamp_outside_tolerance/);
  });
});

describe('MemoryDedupeStore', () => {
  it('evicts the least recently seen id beyond maxEntries and forgets after the TTL', () => {
    let now = 0;
    const store = new MemoryDedupeStore({ maxEntries: 2, ttlSeconds: 10, now: () => now });
    assert.equal(store.claim('a'), true);
    assert.equal(store.claim('b'), true);
    assert.equal(store.claim('a'), false); // a is now the most recent
    assert.equal(store.claim('c'), true); // evicts b
    assert.equal(store.size, 2);
    assert.equal(store.claim('b'), true);
    now = 11_000;
    assert.equal(store.claim('c'), true, 'expired ids are new again');
    store.release('c');
    assert.equal(store.claim('c'), true);
  });
});
