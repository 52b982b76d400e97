import { Agent, request, type Dispatcher } from 'undici';
import { CliError, type CliIO } from './output.js';
import type { ParsedFlags } from './flags.js';

export const DEFAULT_API_BASE = 'http://127.0.0.1:8420';

/** A Stripe-style error body. */
interface ApiErrorBody {
  error?: { type?: string; code?: string; message?: string; param?: string };
}

/** An error answer of the API, with its HTTP status and Stripe-shaped body. */
export class ApiRequestError extends CliError {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(describeApiError(status, body));
  }
}

function describeApiError(status: number, body: ApiErrorBody): string {
  const message = body.error?.message ?? `HTTP ${status}`;
  if (status === 401) return `the API key was rejected: ${message}`;
  return message;
}

/** Form encoding with Stripe's brackets: `{a: {b: [1]}}` → `a[b][0]=1`. */
export function toFormPairs(value: unknown, prefix = ''): [string, string][] {
  if (value === null || value === undefined) return prefix ? [[prefix, '']] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => toFormPairs(item, `${prefix}[${i}]`));
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) => toFormPairs(v, prefix ? `${prefix}[${key}]` : key));
  }
  return [[prefix, String(value)]];
}

export function encodeForm(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([k, v]) => `${encodeURIComponent(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeURIComponent(v)}`).join('&');
}

export interface RequestOptions {
  /** Sent as a form (query string for GET/DELETE). */
  form?: readonly (readonly [string, string])[];
  /** Sent as a JSON body. */
  json?: unknown;
  headers?: Record<string, string>;
}

/** The CLI's client of Herald's API: one base URL and key, errors turned into one-line messages. */
export class HeraldClient {
  private readonly dispatcher: Dispatcher;

  constructor(
    readonly apiBase: string,
    readonly apiKey: string,
  ) {
    this.dispatcher = new Agent({ keepAliveTimeout: 4000, connect: { timeout: 10_000 } });
  }

  get mode(): 'test' | 'live' {
    return /^(sk|rk)_live_/.test(this.apiKey) ? 'live' : 'test';
  }

  url(path: string): string {
    return `${this.apiBase.replace(/\/+$/, '')}${path}`;
  }

  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}`, 'user-agent': 'herald-cli' };
  }

  async request<T = Record<string, unknown>>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    let url = this.url(path);
    const headers: Record<string, string> = { ...this.authHeaders(), ...(options.headers ?? {}) };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form && options.form.length > 0) {
      const encoded = encodeForm(options.form);
      if (method === 'GET' || method === 'DELETE') url += `${url.includes('?') ? '&' : '?'}${encoded}`;
      else {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = encoded;
      }
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: this.dispatcher, headersTimeout: 30_000, bodyTimeout: 30_000 });
    } catch (err) {
      throw new CliError(unreachableMessage(this.apiBase, err));
    }
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new CliError(`${this.apiBase} answered ${response.statusCode} with something that is not Herald's JSON; is --api-base right?`);
    }
    if (response.statusCode >= 400) throw new ApiRequestError(response.statusCode, (parsed ?? {}) as ApiErrorBody);
    return parsed as T;
  }

  /** Every item of a list, following `starting_after` pages. */
  async listAll<T extends { id: string }>(path: string, form: [string, string][] = []): Promise<T[]> {
    const items: T[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.request<{ data: T[]; has_more: boolean }>('GET', path, {
        form: [...form, ['limit', '100'], ...(after ? ([['starting_after', after]] as [string, string][]) : [])],
      });
      items.push(...page.data);
      if (!page.has_more || page.data.length === 0) return items;
      after = page.data[page.data.length - 1]!.id;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** "cannot reach Herald at …" with the socket error's cause. */
export function unreachableMessage(apiBase: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string } })?.cause;
  const code = (err as { code?: string })?.code ?? cause?.code;
  const reason =
    code === 'ECONNREFUSED'
      ? 'connection refused; is `herald serve` running?'
      : code === 'ENOTFOUND'
        ? 'host not found'
        : code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT'
          ? 'timed out'
          : (code ?? (err as Error)?.message ?? String(err));
  return `cannot reach Herald at ${apiBase} (${reason})`;
}

/** The client for a command's `--api-key` / `--api-base` (or HERALD_API_KEY / HERALD_API_BASE). */
export function clientFrom(flags: ParsedFlags, io: CliIO): HeraldClient {
  const apiKey = flags.strings['--api-key'] ?? io.env.HERALD_API_KEY;
  if (!apiKey) throw new CliError('no API key: pass --api-key sk_test_… or set HERALD_API_KEY (`herald serve` prints the keys on its first start)', 2);
  // A restricted key (rk_…) serves the read-only commands; the API refuses it the others (403).
  if (!/^(sk|rk)_(test|live)_/.test(apiKey)) throw new CliError(`the API key must be a secret key (sk_test_… or sk_live_…) or a restricted key (rk_…), got '${apiKey.slice(0, 8)}…'`, 2);
  const apiBase = flags.strings['--api-base'] ?? io.env.HERALD_API_BASE ?? DEFAULT_API_BASE;
  try {
    const parsed = new URL(apiBase);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new CliError(`--api-base must be an http(s) URL, got '${apiBase}'`, 2);
  }
  return new HeraldClient(apiBase, apiKey);
}

/**
 * `-d key=value` pairs as in stripe-cli (`-d enabled_events[]=charge.succeeded`). `[]` becomes an
 * index so repeated keys build a list.
 */
export function dataPairs(values: readonly string[] = []): [string, string][] {
  const counters = new Map<string, number>();
  return values.map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new CliError(`-d expects key=value, got '${entry}'`, 2);
    let key = entry.slice(0, eq);
    if (key.endsWith('[]')) {
      const base = key.slice(0, -2);
      const n = counters.get(base) ?? 0;
      counters.set(base, n + 1);
      key = `${base}[${n}]`;
    }
    return [key, entry.slice(eq + 1)];
  });
}
