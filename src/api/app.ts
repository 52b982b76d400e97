import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeraldConfig } from '../config/config.js';
import type { Clock } from '../domain/clock.js';
import { ApiError, errors } from '../domain/errors.js';
import type { EventTypeCatalog } from '../domain/event-types.js';
import { kindOfApiKey, modeOfApiKey, newId } from '../domain/ids.js';
import type { Logger } from '../domain/logger.js';
import type { Account, ApiKeyKind, Mode } from '../domain/types.js';
import type { IdempotentRequest, Store } from '../store/store.js';
import { bodyLimitFor, parseParams, readBody, Router, type RouteResult } from './http.js';
import type { EventPublisher } from './publisher.js';
import type { ListenHub } from '../listen/hub.js';
import { listenRoutes } from '../listen/routes.js';
import { accountRoutes } from './routes/account.js';
import { alertRoutes } from './routes/alerts.js';
import { connectedAccountRoutes } from './routes/connected-accounts.js';
import { deliveryLogRoutes } from './routes/delivery-log.js';
import { EGRESS_ADDRESSES_PATH, sendEgressAddresses } from './routes/egress.js';
import { eventRoutes } from './routes/events.js';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.js';
import { eventDestinationRoutes } from './routes/event-destinations.js';
import { v2EventRoutes } from './routes/v2-events.js';
import type { VersionTranslator } from '../delivery/versions.js';
import type { ApiKeyCache } from './api-key-cache.js';
import { rateLimiterFor } from './rate-limit.js';

export interface ApiDeps {
  store: Store;
  clock: Clock;
  config: HeraldConfig;
  catalog: EventTypeCatalog;
  publisher: EventPublisher;
  logger: Logger;
  /** Tells the delivery workers that new work is due now. */
  wakeWorkers: () => void;
  /** The server side of `herald listen` (absent: its routes answer 404). */
  listen?: ListenHub;
  /** The operator's API versions and their changes (absent: versions are labels only). */
  versions?: VersionTranslator;
  /** Who each API key is; whatever changes a key or an account in this process calls its `forget`. */
  apiKeys: ApiKeyCache;
}

/** What a route handler sees: the authenticated account and mode, and the parsed parameters. */
export interface RequestContext {
  deps: ApiDeps;
  account: Account;
  mode: Mode;
  /** The API key the request was made with (for error messages, which show it redacted). */
  apiKey: { key: string; kind: ApiKeyKind };
  /** The connected account the `Stripe-Account` header names (validated by the route), or null. */
  stripeAccount: string | null;
  params: Record<string, unknown>;
  requestId: string;
  idempotencyKey: string | null;
  /** The request's `Stripe-Version` header (stripe-node sends its pinned version on every call). */
  stripeVersion: string | null;
  now: number;
  /**
   * With an idempotency key, on a route that reserves ids: the id to create the object under, and
   * whether an earlier run of the same request died without answering (the object may exist).
   */
  reserved: { id: string; resumed: boolean } | null;
  /** The raw response, for the one streaming route (`herald listen`). */
  res: ServerResponse;
}

const IDEMPOTENCY_LOCK_MS = 60_000;
const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Every route of the API; the handler below serves exactly these. */
export function createApiRouter(): Router<RequestContext> {
  const router = new Router<RequestContext>();
  webhookEndpointRoutes(router);
  eventRoutes(router);
  listenRoutes(router);
  deliveryLogRoutes(router);
  accountRoutes(router);
  eventDestinationRoutes(router);
  v2EventRoutes(router);
  alertRoutes(router);
  connectedAccountRoutes(router);
  return router;
}

/** The API as a plain request handler (no listening here: the server module does that). */
export function createApiHandler(deps: ApiDeps): ApiHandler {
  const router = createApiRouter();
  const bodyLimit = bodyLimitFor(deps.config.maxEventBytes);
  const rateLimiter = deps.config.rateLimit ? rateLimiterFor(deps.store, deps.config.database.kind, deps.config.rateLimit) : null;

  return async (req, res) => {
    const requestId = newId.request();
    res.setHeader('Request-Id', requestId);
    const method = req.method ?? 'GET';
    const url = splitUrl(req.url ?? '/');
    try {
      // Public, without a key: receivers fetch it to allow-list Herald's traffic.
      if ((method === 'GET' || method === 'HEAD') && url.pathname === EGRESS_ADDRESSES_PATH) return sendEgressAddresses(res, deps.config);
      const match = router.match(method, url.pathname);
      if (!match) throw errors.unknownRoute(method, url.pathname);
      const { account, mode, apiKey } = await authenticate(deps, req.headers.authorization);
      // Read-only keys: every route that is not a GET changes something (or opens a session).
      if (apiKey.kind === 'restricted' && method !== 'GET') throw errors.restrictedKeyWrite(apiKey.key, account.id);
      const stripeAccount = headerValue(req.headers['stripe-account']);
      if (stripeAccount !== null && !match.route.stripeAccount) throw errors.stripeAccountUnsupported(method, url.pathname);
      if (rateLimiter) {
        const allowed = rateLimiter.hit(`${account.id}/${mode}`, deps.clock.now());
        if (!(typeof allowed === 'boolean' ? allowed : await allowed)) throw errors.rateLimited();
      }
      const body = method === 'POST' ? await readBody(req, bodyLimit) : '';
      // stripe-node follows a v2 `next_page_url` (which has a query) by appending `?` and the list's
      // parameters again: the second `?` separates parameters.
      const query = url.pathname.startsWith('/v2/') ? url.search.slice(1).replaceAll('?', '&') : url.search.slice(1);
      const params = parseParams(method, query, body, req.headers['content-type']);
      const idempotencyKey = method === 'POST' ? headerValue(req.headers['idempotency-key']) : null;
      const stripeVersion = headerValue(req.headers['stripe-version']);
      const ctx: RequestContext = { deps, account, mode, apiKey, stripeAccount, params, requestId, idempotencyKey, stripeVersion, now: deps.clock.now(), reserved: null, res };
      const run = () => match.route.handler(ctx, match.params);
      const result = idempotencyKey ? await runIdempotently(ctx, method, url.pathname, idempotencyKey, match.route.reservesId, run, res) : await run();
      if (idempotencyKey) res.setHeader('Idempotency-Key', idempotencyKey);
      send(res, result.status ?? 200, result.json ?? JSON.stringify(result.body));
      deps.logger.debug('request', { requestId, method, path: url.pathname, status: result.status ?? 200, account: account.id, mode });
    } catch (err) {
      const apiError = err instanceof ApiError ? err : null;
      if (!apiError) deps.logger.error('request failed', { requestId, method, path: url.pathname, error: (err as Error)?.stack ?? String(err) });
      // Paths only, never query strings or bodies: those may carry anything a client sends.
      else deps.logger.debug('request', { requestId, method, path: url.pathname, status: apiError.status, error: apiError.code ?? apiError.type });
      const error = apiError ?? errors.internal();
      for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
      send(res, error.status, JSON.stringify(error.toJSON()));
    }
  };
}

function send(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-store');
  res.end(body);
}

function headerValue(value: string | string[] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v === '' ? null : v;
}

/** A path without dot segments, percent signs or a second leading slash: what `URL` leaves as it is. */
const PLAIN_PATH = /^\/(?!\/)(?:[A-Za-z0-9_~-]|\.(?<!\/\.)|\/)*$/;

/**
 * The request target's path and query (`search` with its `?`, as `URL` gives them). Parsing a URL
 * costs more than the rest of routing; the plain paths API clients send, without a query, are
 * split here, anything else (dot segments, escapes, queries) goes through `URL`.
 */
function splitUrl(target: string): { pathname: string; search: string } {
  if (PLAIN_PATH.test(target)) return { pathname: target, search: '' };
  const url = new URL(target, 'http://herald.local');
  return { pathname: url.pathname, search: url.search };
}

/**
 * Bearer (`Authorization: Bearer sk_…`) or Basic with the key as user name (`curl -u sk_…:`).
 * Secret keys (`sk_`) and restricted keys (`rk_`, read-only) are looked up by hash; a key of the
 * wrong kind for its prefix is as invalid as an unknown one.
 */
async function authenticate(deps: ApiDeps, authorization: string | undefined): Promise<{ account: Account; mode: Mode; apiKey: RequestContext['apiKey'] }> {
  if (!authorization) throw errors.noApiKey();
  let key: string | null = null;
  const [scheme, credentials = ''] = authorization.trim().split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') key = credentials;
  else if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    key = decoded.split(':')[0] ?? '';
  }
  if (!key) throw errors.noApiKey();
  if (key.startsWith('pk_')) throw errors.notSecretKey();
  const kind = kindOfApiKey(key);
  const mode = modeOfApiKey(key);
  if (!mode || !kind) throw errors.invalidApiKey(key);
  const holder = await deps.apiKeys.find(key, mode, kind);
  if (!holder) throw errors.invalidApiKey(key);
  return { account: holder.account, mode, apiKey: { key, kind } };
}

/**
 * Stripe's idempotency: the first request with a key runs and its response is kept for 24 h; the
 * same key with the same parameters replays it; with other parameters it is an error. Requests
 * that fail validation (4xx) or hit a server error are not kept, so a retry runs them again.
 */
async function runIdempotently(
  ctx: RequestContext,
  method: string,
  path: string,
  key: string,
  reservesId: (() => string) | undefined,
  run: () => Promise<RouteResult>,
  res: ServerResponse,
): Promise<RouteResult> {
  if (key.length > 255) throw errors.idempotencyKeyTooLong();
  // The connected account acted for is part of the request: the same key for another one is a mismatch.
  const actingFor = ctx.stripeAccount === null ? '' : ` as ${ctx.stripeAccount}`;
  const requestHash = createHash('sha256').update(`${method} ${path}${actingFor} ${canonicalJson(ctx.params)}`).digest('hex');
  const req: IdempotentRequest = {
    accountId: ctx.account.id,
    mode: ctx.mode,
    key,
    requestHash,
    now: ctx.now,
    lockMs: IDEMPOTENCY_LOCK_MS,
    ...(reservesId ? { reserve: { id: reservesId(), forMs: IDEMPOTENCY_TTL_MS } } : {}),
  };
  const { store } = ctx.deps;
  const verdict = await store.beginIdempotentRequest(req);
  if (verdict.kind === 'mismatch') throw errors.idempotencyMismatch(key);
  if (verdict.kind === 'in_progress') throw errors.idempotencyInProgress(key);
  if (verdict.kind === 'replay') {
    res.setHeader('Idempotent-Replayed', 'true');
    return { status: verdict.status, body: JSON.parse(verdict.body) };
  }
  if (verdict.reservedId !== undefined) ctx.reserved = { id: verdict.reservedId, resumed: verdict.resumed === true };
  let result: RouteResult;
  try {
    result = await run();
  } catch (err) {
    // A refusal (an ApiError) wrote nothing, and the key is free for a corrected request. After any
    // other failure the object may have been written: the key keeps its reserved id, and a retry
    // runs at once and finds the object under it, or makes it.
    const release = ctx.reserved === null || err instanceof ApiError ? store.abandonIdempotentRequest(req) : store.unlockIdempotentRequest(req);
    await release.catch(() => undefined);
    throw err;
  }
  await store.completeIdempotentRequest(req, result.status ?? 200, result.json ?? JSON.stringify(result.body), ctx.now + IDEMPOTENCY_TTL_MS);
  return result;
}

/** JSON with object keys sorted, so equal parameters hash equally whatever their order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
