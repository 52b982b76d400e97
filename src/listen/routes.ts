import type { RequestContext } from '../api/app.js';
import type { Router } from '../api/http.js';
import { Params } from '../api/params.js';
import { errors } from '../domain/errors.js';
import { newId, newSigningSecret, randomAlphanumeric } from '../domain/ids.js';
import type { DeliveryAttempt, FailureKind, StoredEvent } from '../domain/types.js';
import type { ListenSession } from '../store/store.js';
import type { ListenHub } from './hub.js';

const FAILURE_KINDS: readonly FailureKind[] = ['http_error', 'redirect', 'timeout', 'connection_refused', 'dns_error', 'tls_error', 'connection_error', 'endpoint_unavailable', 'blocked_address'];
const MAX_CAPTURED_BODY = 4096;

/**
 * Herald's extension routes behind `herald listen`:
 * - `POST /v1/listen/sessions` opens (or reopens) the account and mode's session: its secret and filter;
 * - `GET /v1/listen/sessions/:id/stream` streams its events as server-sent events;
 * - `POST /v1/listen/sessions/:id/attempts` reports how an event was forwarded (JSON); the attempts
 *   go into the delivery log and the event is acknowledged.
 */
export function listenRoutes(router: Router<RequestContext>): void {
  router
    .add('POST', '/v1/listen/sessions', open)
    .add('GET', '/v1/listen/sessions/:id/stream', stream)
    .add('POST', '/v1/listen/sessions/:id/attempts', reportAttempts);
}

function hubOf(ctx: RequestContext): ListenHub {
  if (!ctx.deps.listen) throw errors.unknownRoute('POST', '/v1/listen/sessions');
  return ctx.deps.listen;
}

async function open(ctx: RequestContext) {
  const hub = hubOf(ctx);
  const p = new Params(ctx.params, ['enabled_events', 'device_name']);
  const enabledEvents = p.stringArray('enabled_events', { maxItems: 500 }) ?? ['*'];
  // As in stripe-cli, an unknown type is reported, not refused: the session listens for the rest.
  const unknownEvents = enabledEvents.filter((type) => type !== '*' && !ctx.deps.catalog.has(type));
  const session = await ctx.deps.store.openListenSession({
    id: `lsn_${randomAlphanumeric(24)}`,
    accountId: ctx.account.id,
    mode: ctx.mode,
    secret: newSigningSecret(),
    enabledEvents,
    created: ctx.now,
  });
  return { body: { ...sessionObject(session, ctx.account.defaultApiVersion), unknown_events: unknownEvents, heartbeat_ms: hub.heartbeatMs } };
}

function sessionObject(session: ListenSession, apiVersion: string) {
  return {
    id: session.id,
    object: 'listen_session',
    api_version: apiVersion,
    created: Math.floor(session.created / 1000),
    enabled_events: session.enabledEvents,
    livemode: session.mode === 'live',
    secret: session.secret,
    stream_url: `/v1/listen/sessions/${session.id}/stream`,
    attempts_url: `/v1/listen/sessions/${session.id}/attempts`,
  };
}

async function findSession(ctx: RequestContext, id: string): Promise<ListenSession> {
  const session = await ctx.deps.store.getListenSession(ctx.account.id, ctx.mode, id);
  if (!session) throw errors.resourceMissing('listen session', id);
  return session;
}

async function stream(ctx: RequestContext, path: Record<string, string>) {
  const hub = hubOf(ctx);
  new Params(ctx.params, []);
  const session = await findSession(ctx, path.id!);
  await hub.stream(session, ctx.res);
  return { body: null }; // the response is already written
}

/**
 * The CLI's report on one event: the attempts it made to forward it (none when it only printed it).
 * Recording them acknowledges the event: it is not streamed again, even after a reconnect.
 */
async function reportAttempts(ctx: RequestContext, path: Record<string, string>) {
  const hub = hubOf(ctx);
  const p = new Params(ctx.params, ['event', 'resend', 'attempts']);
  const session = await findSession(ctx, path.id!);
  const eventId = p.requiredString('event', { maxLength: 255 });
  const event = await ctx.deps.store.getEvent(ctx.account.id, ctx.mode, eventId);
  if (!event) throw errors.resourceMissing('event', eventId, 'event');
  const kind = p.boolean('resend') ? 'manual' : 'automatic';
  const raw = ctx.params.attempts ?? [];
  if (!Array.isArray(raw) || raw.length > 100) throw errors.parameterInvalid('attempts', 'Invalid attempts: must be a list of at most 100 attempts.');
  const attempts = raw.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw errors.parameterInvalid(`attempts[${i}]`, `Invalid attempts[${i}]: must be an object.`);
    return readAttempt(ctx, new Params(item as Record<string, unknown>, ATTEMPT_FIELDS), session.id, event.id, kind);
  });
  await ctx.deps.store.recordListenAttempts(session.id, event.id, attempts);
  hub.notify();
  return { body: { object: 'listen_acknowledgement', event: event.id, attempts: attempts.map((a) => a.id) } };
}

const ATTEMPT_FIELDS = ['url', 'status', 'duration_ms', 'failure_kind', 'failure_message', 'request_headers', 'response_headers', 'response_body', 'attempted_at'];

function readAttempt(ctx: RequestContext, p: Params, sessionId: string, eventId: string, kind: DeliveryAttempt['kind']): DeliveryAttempt {
  const url = p.requiredString('url', { maxLength: 2048 });
  const status = p.integer('status', { min: 100, max: 999 }) ?? null;
  const failureKind = p.string('failure_kind') ?? null;
  if (failureKind !== null && !FAILURE_KINDS.includes(failureKind as FailureKind)) {
    throw errors.parameterInvalid('failure_kind', `Invalid failure_kind: expected one of ${FAILURE_KINDS.join(', ')}.`);
  }
  if (status === null && failureKind === null) throw errors.parameterMissing('status');
  const succeeded = status !== null && status >= 200 && status < 300;
  const defaultFailure: FailureKind = status !== null && status >= 300 && status < 400 ? 'redirect' : 'http_error';
  return {
    id: newId.attempt(),
    deliveryId: '', // the store groups one report's attempts into one delivery and sets its id
    eventId,
    endpointId: sessionId,
    accountId: ctx.account.id,
    mode: ctx.mode,
    kind,
    attemptNumber: 1,
    url,
    created: p.integer('attempted_at', { min: 0 }) ?? ctx.now,
    durationMs: p.integer('duration_ms', { min: 0 }) ?? 0,
    outcome: succeeded ? 'succeeded' : 'failed',
    failureKind: succeeded ? null : ((failureKind as FailureKind | null) ?? defaultFailure),
    failureMessage: succeeded ? null : (p.string('failure_message', { maxLength: 1000 }) ?? `HTTP ${status}`),
    httpStatus: status,
    requestHeaders: stringRecord(p.object('request_headers')),
    responseHeaders: status === null ? null : stringRecord(p.object('response_headers')),
    responseBody: status === null ? null : (p.string('response_body') ?? '').slice(0, MAX_CAPTURED_BODY),
    nextRetryAt: null,
  };
}

function stringRecord(value: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value ?? {})) if (typeof v === 'string') out[key] = v;
  return out;
}

/** `POST /v1/events/:id/retry` with `for_stripecli=true` and no endpoint: replay to the open listen session. */
export function resendToListener(ctx: RequestContext, event: StoredEvent): void {
  const hub = ctx.deps.listen;
  if (!hub || !hub.resend(ctx.account.id, ctx.mode, event)) {
    throw errors.parameterInvalid(
      'for_stripecli',
      `No herald listen session is connected for this account in ${ctx.mode} mode: start 'herald listen' first, or pass webhook_endpoint to resend to an endpoint.`,
    );
  }
}
