import type { IncomingMessage } from 'node:http';
import { errors } from '../domain/errors.js';
import { parseForm } from './form.js';

/** Largest request body accepted: an Event's data can be large, but not unbounded. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The body limit that goes with HERALD_MAX_EVENT_BYTES: room for an event of the largest size even
 * form-encoded (percent-encoding triples a byte at most), never below the 1 MiB default.
 */
export function bodyLimitFor(maxEventBytes: number): number {
  return Math.max(MAX_BODY_BYTES, 3 * maxEventBytes + 64 * 1024);
}

/** Reused: a decode without `stream` starts afresh, and a fatal decoder stays usable after an error. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text, at most `limit` bytes; listeners rather than an async iterator, which costs more than a small body. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(errors.bodyTooLarge(limit));
  }
  // The client went away before the body's end (an error usually says so first).
  const aborted = () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  if (req.destroyed) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: unknown, text?: string) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(text!);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done(errors.bodyTooLarge(limit));
        req.destroy(); // no reading on to the end of a body of any length
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      let text: string;
      try {
        text = UTF8.decode(bytes);
      } catch {
        return done(errors.malformedBody('the body is not valid UTF-8'));
      }
      done(null, text);
    };
    const onError = (err: Error) => done(err);
    const onClose = () => done(aborted());
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * The parameters of a request: the query string for GET and DELETE, the body for POST (form or
 * JSON, by Content-Type). stripe-node sends a form Content-Type on every request, even bodiless ones.
 */
export function parseParams(method: string, query: string, body: string, contentType: string | undefined): Record<string, unknown> {
  if (method === 'GET' || method === 'DELETE' || BLANK.test(body)) return parseForm(query);
  const type = (contentType ?? 'application/x-www-form-urlencoded').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      throw errors.malformedBody(`invalid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw errors.malformedBody('a JSON body must be an object');
    // Everything downstream (hashing for idempotency, storing, rendering) walks values recursively.
    if (nestingDepth(parsed, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw errors.malformedBody(`JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
    return parsed as Record<string, unknown>;
  }
  if (type === 'application/x-www-form-urlencoded' || type === '') return parseForm(body);
  throw errors.unsupportedMediaType(type);
}

const BLANK = /^\s*$/;

/** Deepest JSON body accepted: far beyond any real event, far below what recursion can survive. */
const MAX_JSON_DEPTH = 100;

/** The nesting depth of a parsed JSON value, without recursion; stops counting past `limit`. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

export interface Route<C> {
  method: string;
  /** As registered, e.g. `/v1/webhook_endpoints/:id`. */
  path: string;
  pattern: RegExp;
  names: string[];
  handler: (ctx: C, path: Record<string, string>) => Promise<RouteResult>;
  /** The route acts for a connected account named in the `Stripe-Account` header (Connect). */
  stripeAccount: boolean;
  /** A new id for the object the route creates, reserved with an idempotency key (RequestContext.reserved). */
  reservesId?: () => string;
}

export interface RouteOptions {
  stripeAccount?: boolean;
  reservesId?: () => string;
}

export interface RouteResult {
  status?: number;
  body: unknown;
  /** `body` already as JSON, exactly as JSON.stringify writes it (a route that has the text spares a second serialisation). */
  json?: string;
}

/** A route list matched in order; `:name` segments capture one path segment. */
export class Router<C> {
  private readonly routes: Route<C>[] = [];

  add(method: string, path: string, handler: Route<C>['handler'], options: RouteOptions = {}): this {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path
        .split('/')
        .map((part) => {
          if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(part.slice(1));
          return '([^/]+)';
        })
        .join('/')}/?$`,
    );
    this.routes.push({ method, path, pattern, names, handler, stripeAccount: options.stripeAccount ?? false, ...(options.reservesId ? { reservesId: options.reservesId } : {}) });
    return this;
  }

  /** Every route, in matching order (tests enumerate them, so no route escapes a check). */
  list(): readonly Route<C>[] {
    return this.routes;
  }

  match(method: string, path: string): { route: Route<C>; params: Record<string, string> } | null {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = safeDecode(m[i + 1]!);
      });
      return { route, params };
    }
    return null;
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
