import { Agent, type Dispatcher } from 'undici';
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

/** Response headers as undici parses them. */
type ResponseHeaders = Record<string, string | string[] | undefined>;

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

  send(request: OutgoingRequest): Promise<SendResult> {
    return new Promise((resolve) => {
      const attempt = new Attempt(request.timeoutMs, resolve);
      try {
        const url = new URL(request.url);
        const agent = this.policy?.appliesTo(request.mode) ? this.guarded : this.open;
        agent.dispatch({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers: request.headers, body: request.body }, attempt);
      } catch (err) {
        attempt.onResponseError(null, err as Error);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.guarded.close(), this.open === this.guarded ? null : this.open.close()]);
    await Promise.all(this.closers.map((close) => close()));
  }
}

/**
 * One attempt as undici's low-level handler: the status and headers go straight into the result,
 * the body's first bytes are kept as they arrive. No response stream and no AbortSignal: with
 * `Agent.request()` they took about half of each attempt's CPU.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  /** null until undici starts the request on a connection (it may wait for one). */
  private controller: Dispatcher.DispatchController | null = null;
  private timedOut = false;
  private settled = false;
  private status = 0;
  private headers: Record<string, string> = {};
  private readonly excerpt: Buffer[] = [];
  private kept = 0;
  private received = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly resolve: (result: SendResult) => void,
  ) {
    this.timer = setTimeout(timeOut, timeoutMs, this);
  }

  /** The timer's end: abort now, or as soon as undici starts the request (as an AbortSignal would). */
  expire(): void {
    this.timedOut = true;
    this.controller?.abort(new Error(`Timed out after ${this.timeoutMs} ms`));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.timedOut) controller.abort(new Error(`Timed out after ${this.timeoutMs} ms`));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders): void {
    if (statusCode < 200) return; // informational (103 Early Hints): the real response follows
    this.status = statusCode;
    this.headers = flattenHeaders(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.received += chunk.length;
    if (this.kept < RESPONSE_EXCERPT_BYTES) {
      const part = chunk.length <= RESPONSE_EXCERPT_BYTES - this.kept ? chunk : chunk.subarray(0, RESPONSE_EXCERPT_BYTES - this.kept);
      this.excerpt.push(part);
      this.kept += part.length;
    }
    if (this.received > DRAIN_LIMIT_BYTES) {
      // The status and excerpt are all that is kept: reading on would only feed a receiver that never stops.
      this.respond();
      controller.abort(new Error('Response body over the drain limit'));
    }
  }

  onResponseEnd(): void {
    this.respond();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.timedOut) {
      this.settle({ kind: 'error', error: 'timeout', message: `Timed out after ${this.timeoutMs} ms`, durationMs: this.elapsed() });
      return;
    }
    const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
    const code = e.code && e.code !== 'UND_ERR_SOCKET' ? e.code : (e.cause?.code ?? e.code);
    const kind = failureKindOfError(code, e.name);
    const text = readableError(e.cause?.message ?? e.message ?? String(err), code);
    // Herald's own refusals explain themselves; socket and TLS errors keep their code (e.g. CERT_HAS_EXPIRED).
    const message = kind === 'blocked_address' || code?.startsWith('HERALD_') ? text : `${code ? `${code}: ` : ''}${text}`;
    this.settle({ kind: 'error', error: kind, message: kind === 'tls_error' ? `TLS: ${message}` : message, durationMs: this.elapsed() });
  }

  private respond(): void {
    const { excerpt } = this;
    const body = excerpt.length === 0 ? '' : excerpt.length === 1 ? excerpt[0]!.toString('utf8') : Buffer.concat(excerpt, this.kept).toString('utf8');
    this.settle({ kind: 'response', status: this.status, headers: this.headers, body, durationMs: this.elapsed() });
  }

  /** The first outcome wins: aborting past the drain limit reports an error after the response was settled. */
  private settle(result: SendResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(result);
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.started);
  }
}

/** setTimeout's callback, outside the class: no closure per attempt. */
function timeOut(attempt: Attempt): void {
  attempt.expire();
}

/** Lower-case names (undici's parsing); a repeated header's values joined with ', '. */
function flattenHeaders(headers: ResponseHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) flat[name] = typeof value === 'string' ? value : value.join(', ');
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
