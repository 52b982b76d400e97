import { Agent } from 'undici';
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
}

/**
 * Sends one attempt: one POST, a hard timeout over the whole exchange, no redirects followed, a
 * capped body read. Never throws for a receiver's failure; the result says what happened.
 */
export class HttpSender {
  private readonly agent: Agent;

  /**
   * `connectionsPerOrigin` must be at least the number of attempts sent at once: one waiting for a
   * free connection spends its timeout waiting.
   */
  constructor(options: { connectionsPerOrigin?: number; rejectUnauthorized?: boolean } = {}) {
    this.agent = new Agent({
      connections: options.connectionsPerOrigin ?? 64,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      // The per-attempt timer below is the real limit; these only stop undici's defaults (300 s) from mattering.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: { minVersion: 'TLSv1.2', rejectUnauthorized: options.rejectUnauthorized ?? true },
    });
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
      const response = await this.agent.request({
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
      return {
        kind: 'error',
        error: failureKindOfError(code, e.name),
        message: `${code ? `${code}: ` : ''}${e.cause?.message ?? e.message ?? String(err)}`,
        durationMs: elapsed(),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
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
