import { Agent } from 'undici';
import type { Mode } from '../domain/types.js';
import type { AddressPolicy } from './address-policy.js';
import { egressConnector, type EgressOptions, type Resolver } from './egress.js';
import { failureKindOfError, type SendResult } from './outcome.js';

/** Bytes of a receiver's response body that are kept for the delivery log. */
export const RESPONSE_EXCERPT_BYTES = 4096;
/** A response body larger than this is not read to the end; the connection is dropped instead. */
const DRAIN_LIMIT_BYTES = 256 * 1024;

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** The endpoint's mode: it decides whether the address policy applies. */
  mode: Mode;
}

export interface SenderOptions {
  /**
   * At least the number of attempts sent at once (Herald passes its delivery concurrency): one
   * waiting for a free connection would spend its timeout waiting.
   */
  connectionsPerOrigin?: number;
  /** Where deliveries may connect (none given: nothing is blocked, for embedders and benchmarks). */
  policy?: AddressPolicy;
  extraCa?: string | null;
  proxy?: string | null;
  localAddress?: string | null;
  /** Name resolution instead of the system's (tests of DNS rebinding). */
  resolve?: Resolver;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Sends one attempt: one POST, a hard timeout over the whole exchange, no redirects followed, a
 * capped body read. Never throws for a receiver's failure; the result says what happened.
 */
export class HttpSender {
  /** Connections checked by the address policy (live mode; test mode with HERALD_BLOCK_PRIVATE_NETWORKS). */
  private readonly guarded: Agent;
  /** Unchecked connections (test mode by default: deliveries to a local receiver are the point). */
  private readonly open: Agent;
  private readonly policy: AddressPolicy | null;
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(options: SenderOptions = {}) {
    this.policy = options.policy ?? null;
    const agent = (policy: AddressPolicy | null) => {
      const egress: EgressOptions = {
        policy,
        extraCa: options.extraCa ?? null,
        proxy: options.proxy ?? null,
        localAddress: options.localAddress ?? null,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        ...(options.resolve ? { resolve: options.resolve } : {}),
      };
      const { connect, close } = egressConnector(egress);
      this.closers.push(close);
      return new Agent({
        connections: options.connectionsPerOrigin ?? 64,
        pipelining: 1,
        keepAliveTimeout: 10_000,
        // The per-attempt timer below is the real limit; these only stop undici's defaults (300 s) from mattering.
        headersTimeout: 0,
        bodyTimeout: 0,
        connect,
      });
    };
    this.guarded = agent(this.policy);
    this.open = this.policy ? agent(null) : this.guarded;
  }

  async send(request: OutgoingRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, request.timeoutMs);
    try {
      const url = new URL(request.url);
      const agent = this.policy?.appliesTo(request.mode) ? this.guarded : this.open;
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
      });
      const body = await readExcerpt(response.body);
      return { kind: 'response', status: response.statusCode, headers: flattenHeaders(response.headers), body, durationMs: elapsed() };
    } catch (err) {
      if (timedOut) {
        return { kind: 'error', error: 'timeout', message: `Timed out after ${request.timeoutMs} ms`, durationMs: elapsed() };
      }
      const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
      const code = e.code && e.code !== 'UND_ERR_SOCKET' ? e.code : (e.cause?.code ?? e.code);
      const kind = failureKindOfError(code, e.name);
      const text = readableError(e.cause?.message ?? e.message ?? String(err), code);
      // Herald's own refusals explain themselves; socket and TLS errors keep their code (e.g. CERT_HAS_EXPIRED).
      const message = kind === 'blocked_address' || code?.startsWith('HERALD_') ? text : `${code ? `${code}: ` : ''}${text}`;
      return { kind: 'error', error: kind, message: kind === 'tls_error' ? `TLS: ${message}` : message, durationMs: elapsed() };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.guarded.close(), this.open === this.guarded ? null : this.open.close()]);
    await Promise.all(this.closers.map((close) => close()));
  }
}

async function readExcerpt(body: AsyncIterable<Buffer> & { dump?: (o: { limit: number }) => Promise<void> }): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (kept < RESPONSE_EXCERPT_BYTES) {
      const part = chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept);
      chunks.push(part);
      kept += part.length;
    }
    if (total > DRAIN_LIMIT_BYTES) break; // leaving the loop destroys the stream and its connection
  }
  return Buffer.concat(chunks).toString('utf8');
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** OpenSSL's error text, shortened to its reason ("tlsv1 alert protocol version"), with a hint where one helps. */
function readableError(text: string, code: string | undefined): string {
  const reason = /:SSL routines:[^:]*:([^:]+):/.exec(text)?.[1] ?? text;
  if (code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' || code === 'ERR_SSL_UNSUPPORTED_PROTOCOL') {
    return `${reason} (the receiver offers no TLS version Herald accepts: 1.2 or 1.3)`;
  }
  return reason;
}
