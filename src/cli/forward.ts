import { stripeSignatureHeader } from '@herald/webhooks';
import { Agent, request, type Dispatcher } from 'undici';
import { endpointWantsType } from '../domain/event-types.js';
import { CliError } from './output.js';

/** Where `herald listen` sends events of some types: the local URL, and whether it takes Connect events. */
export interface ForwardRoute {
  url: string;
  connect: boolean;
  /** Event types in v1 form (`charge.succeeded`), `*` for all. */
  events: string[];
  headers: Record<string, string>;
  /** snapshot: the Event object; thin: the thin event notification (`--forward-thin-to`). */
  payload: 'snapshot' | 'thin';
}

/** What happened to one forwarded POST, in the shape the listen session records. */
export interface ForwardResult {
  url: string;
  status?: number;
  duration_ms: number;
  attempted_at: number;
  failure_kind?: 'timeout' | 'connection_refused' | 'dns_error' | 'tls_error' | 'connection_error';
  failure_message?: string;
  request_headers: Record<string, string>;
  response_headers?: Record<string, string>;
  response_body?: string;
}

/** stripe-cli's forwarder timeout. */
export const FORWARD_TIMEOUT_MS = 30_000;
const MAX_CAPTURED_BODY = 4096;

/** Headers Stripe sends with every delivery; the signature is added per request. */
const STRIPE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
  accept: '*/*; q=0.5, application/xml',
  'cache-control': 'no-cache',
};

/**
 * `--forward-to` as stripe-cli reads it: `4242` → http://localhost:4242, `/hook` →
 * http://localhost/hook, `localhost:4242/hook` → http://localhost:4242/hook, full URLs unchanged.
 */
export function parseForwardUrl(input: string, flag = '--forward-to'): string {
  const value = input.trim();
  let candidate: string;
  if (/^\d+$/.test(value)) candidate = `http://localhost:${value}`;
  else if (value.startsWith('/')) candidate = `http://localhost${value}`;
  else if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) candidate = `http://${value}`;
  else candidate = value;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    throw new CliError(`${flag}: '${input}' is not a URL, port or path`, 2);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`${flag}: only http and https URLs can be forwarded to, got '${input}'`, 2);
  return candidate;
}

/** `--headers "K: V, K2: V2"`: split on commas, then on each entry's first colon; control characters removed. */
export function parseHeaderList(input: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!input) return headers;
  for (const entry of input.split(',')) {
    const colon = entry.indexOf(':');
    if (colon <= 0) {
      if (entry.trim()) throw new CliError(`--headers: '${entry.trim()}' is not 'Name: value'`, 2);
      continue;
    }
    const clean = (text: string) => text.replace(/[\x00-\x1f\x7f]/g, '').trim();
    const name = clean(entry.slice(0, colon));
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new CliError(`--headers: '${name}' is not a valid header name`, 2);
    headers[name.toLowerCase()] = clean(entry.slice(colon + 1));
  }
  return headers;
}

/** The routes an event goes to: Connect events (with `account`) to Connect routes, the others to the rest. */
export function routesFor(routes: readonly ForwardRoute[], event: { type: string; account: string | null }): ForwardRoute[] {
  return routes.filter((route) => route.connect === (event.account !== null) && endpointWantsType(route.events, event.type));
}

/** Sends events to local URLs: signed with the session secret, no redirects followed, 30 s at most. */
export class Forwarder {
  private readonly dispatcher: Dispatcher;

  constructor(
    /** The listen session's signing secret. */
    public secret: string,
    options: { skipVerify: boolean; timeoutMs?: number },
  ) {
    const timeout = options.timeoutMs ?? FORWARD_TIMEOUT_MS;
    this.dispatcher = new Agent({
      connect: { rejectUnauthorized: !options.skipVerify, timeout },
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 4000,
    });
  }

  async forward(route: ForwardRoute, payload: string): Promise<ForwardResult> {
    const started = Date.now();
    // A fresh timestamp and signature per request, as Stripe signs each attempt.
    const headers: Record<string, string> = { ...STRIPE_HEADERS, ...route.headers, 'stripe-signature': stripeSignatureHeader(payload, [this.secret], Math.floor(started / 1000)) };
    try {
      const response = await request(route.url, {
        method: 'POST',
        headers,
        body: payload,
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      const body = await readCapped(response.body);
      const responseHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
      return { url: route.url, status: response.statusCode, duration_ms: Date.now() - started, attempted_at: started, request_headers: headers, response_headers: responseHeaders, response_body: body };
    } catch (err) {
      const { kind, message } = describeFailure(err);
      return { url: route.url, duration_ms: Date.now() - started, attempted_at: started, failure_kind: kind, failure_message: message, request_headers: headers };
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_CAPTURED_BODY) {
      body.destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_CAPTURED_BODY);
}

function describeFailure(err: unknown): { kind: NonNullable<ForwardResult['failure_kind']>; message: string } {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  const message = e.cause?.message ?? e.message ?? String(err);
  if (e.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { kind: 'timeout', message: `timed out after ${FORWARD_TIMEOUT_MS / 1000}s` };
  }
  if (code === 'ECONNREFUSED') return { kind: 'connection_refused', message: `connection refused (${message})` };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'dns_error', message };
  if (/CERT|SSL|TLS/i.test(code) || /certificate/i.test(message)) return { kind: 'tls_error', message };
  return { kind: 'connection_error', message };
}
