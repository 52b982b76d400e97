import { deliveryAttemptObject, eventObject } from '../../domain/objects.js';
import { errors } from '../../domain/errors.js';
import { isApiVersion, newId } from '../../domain/ids.js';
import type { StoredEvent } from '../../domain/types.js';
import type { EventFilter } from '../../store/store.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { Params } from '../params.js';
import { findEndpoint } from './webhook-endpoints.js';
import { resendToListener } from '../../listen/routes.js';
import { listObject, PAGE_PARAMS, readPage } from './lists.js';
import { resolveConnectedAccount } from './connected-accounts.js';

/** Events are listed and retrieved for 30 days, as in Stripe. */
export const EVENT_WINDOW_MS = 30 * 86_400_000;

export function eventRoutes(router: Router<RequestContext>): void {
  router
    .add('POST', '/v1/events', publish, { stripeAccount: true })
    .add('GET', '/v1/events', list, { stripeAccount: true })
    .add('GET', '/v1/events/:id', retrieve, { stripeAccount: true })
    .add('POST', '/v1/events/:id/retry', retry)
    .add('GET', '/v1/events/:id/delivery_attempts', listAttempts);
}

/** Herald's extension: the application publishes an event; it is durable when this answers. */
async function publish(ctx: RequestContext) {
  const p = new Params(ctx.params, ['type', 'data', 'account', 'api_version', 'request']);
  const type = p.requiredString('type', { maxLength: 200 });
  if (!ctx.deps.catalog.has(type)) throw errors.unknownEventType('type', type);
  const data = p.object('data', { required: true })!;
  for (const key of Object.keys(data)) {
    if (key !== 'object' && key !== 'previous_attributes') throw errors.parameterUnknown(`data[${key}]`);
  }
  const object = data.object;
  if (object === undefined || object === null || object === '') throw errors.parameterMissing('data[object]');
  if (typeof object !== 'object' || Array.isArray(object)) throw errors.parameterInvalid('data[object]', 'Invalid data[object]: must be an object (the resource the event is about).');
  const previous = data.previous_attributes;
  if (previous !== undefined && (typeof previous !== 'object' || previous === null || Array.isArray(previous))) {
    throw errors.parameterInvalid('data[previous_attributes]', 'Invalid data[previous_attributes]: must be an object.');
  }
  // HERALD_MAX_EVENT_BYTES bounds what every delivery of the event carries (Stripe: 256 KB).
  const dataBytes = Buffer.byteLength(JSON.stringify(data), 'utf8');
  const { maxEventBytes } = ctx.deps.config;
  if (dataBytes > maxEventBytes) {
    throw errors.parameterInvalid('data', `Invalid data: it is ${dataBytes} bytes as JSON, more than the limit of ${maxEventBytes} bytes per event (HERALD_MAX_EVENT_BYTES).`);
  }
  const accountParam = p.string('account', { maxLength: 255 }) ?? null;
  if (accountParam !== null && ctx.stripeAccount !== null && accountParam !== ctx.stripeAccount) {
    throw errors.parameterInvalid('account', `Invalid account: '${accountParam}' differs from the Stripe-Account header ('${ctx.stripeAccount}'); send one of them.`);
  }
  const account =
    accountParam !== null
      ? await resolveConnectedAccount(ctx, accountParam, 'account')
      : ctx.stripeAccount !== null
        ? await resolveConnectedAccount(ctx, ctx.stripeAccount, undefined)
        : null;
  const apiVersion = p.string('api_version') ?? ctx.account.defaultApiVersion;
  if (!isApiVersion(apiVersion)) throw errors.parameterInvalid('api_version', `Invalid api_version: '${apiVersion}' is not an API version.`);
  const request = readRequestInfo(p);

  const event: Omit<StoredEvent, 'pendingWebhooks'> = {
    id: newId.event(),
    accountId: ctx.account.id,
    mode: ctx.mode,
    type,
    account,
    apiVersion,
    created: ctx.now,
    data: previous === undefined ? { object: object as Record<string, unknown> } : { object: object as Record<string, unknown>, previous_attributes: previous as Record<string, unknown> },
    request,
  };
  const stored = await ctx.deps.publisher.publish(event);
  return { body: eventObject(stored) };
}

function readRequestInfo(p: Params): StoredEvent['request'] {
  const request = p.object('request');
  if (request === undefined) return { id: null, idempotency_key: null };
  const field = (name: 'id' | 'idempotency_key'): string | null => {
    const value = request[name];
    if (value === undefined || value === null || value === '') return null;
    if (typeof value !== 'string' || value.length > 255) throw errors.parameterInvalid(`request[${name}]`, `Invalid request[${name}]: must be a string of at most 255 characters.`);
    return value;
  };
  for (const key of Object.keys(request)) if (key !== 'id' && key !== 'idempotency_key') throw errors.parameterUnknown(`request[${key}]`);
  return { id: field('id'), idempotency_key: field('idempotency_key') };
}

async function list(ctx: RequestContext) {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'type', 'types', 'created', 'delivery_success']);
  const request = readPage(p);
  const filter: EventFilter = { notBefore: ctx.now - EVENT_WINDOW_MS };
  const type = p.string('type', { maxLength: 200 });
  const types = p.stringArray('types', { maxItems: 20 });
  if (type && types) throw errors.parametersExclusive('type', 'types');
  if (type) filter.type = type;
  if (types) filter.types = types;
  Object.assign(filter, readCreated(ctx.params.created));
  const deliverySuccess = p.boolean('delivery_success');
  if (deliverySuccess !== undefined) filter.deliverySuccess = deliverySuccess;
  if (ctx.stripeAccount !== null) filter.connectedAccount = ctx.stripeAccount; // a connected account sees its own events
  const page = await ctx.deps.store.listEvents(ctx.account.id, ctx.mode, filter, request);
  return { body: listObject(page, request, '/v1/events', 'event', eventObject) };
}

/** `created=T` (exact second) or `created[gt|gte|lt|lte]=T`, in Unix seconds, as a millisecond range. */
export function readCreated(value: unknown): Pick<EventFilter, 'createdGte' | 'createdLt'> {
  if (value === undefined || value === null || value === '') return {};
  const seconds = (raw: unknown, param: string): number => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,12}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n)) throw errors.invalidInteger(param, `Invalid integer: ${JSON.stringify(raw)}; ${param} must be a Unix timestamp in seconds.`);
    return n;
  };
  if (typeof value !== 'object') {
    const t = seconds(value, 'created');
    return { createdGte: t * 1000, createdLt: (t + 1) * 1000 };
  }
  const range: Pick<EventFilter, 'createdGte' | 'createdLt'> = {};
  const raise = (gte: number) => (range.createdGte = Math.max(range.createdGte ?? -Infinity, gte));
  const lower = (lt: number) => (range.createdLt = Math.min(range.createdLt ?? Infinity, lt));
  for (const [op, raw] of Object.entries(value as Record<string, unknown>)) {
    const t = seconds(raw, `created[${op}]`);
    if (op === 'gt') raise((t + 1) * 1000);
    else if (op === 'gte') raise(t * 1000);
    else if (op === 'lt') lower(t * 1000);
    else if (op === 'lte') lower((t + 1) * 1000);
    else throw errors.parameterUnknown(`created[${op}]`);
  }
  return range;
}

async function retrieve(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  return { body: eventObject(await findEvent(ctx, path.id!)) };
}

/** The route `stripe events resend` calls: deliver again now; automatic retries carry on. */
async function retry(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, ['webhook_endpoint', 'account', 'for_stripecli']);
  const event = await findEvent(ctx, path.id!);
  const endpointId = p.string('webhook_endpoint');
  if (!endpointId && p.boolean('for_stripecli')) {
    resendToListener(ctx, event); // `stripe events resend evt_…` without an endpoint replays to `listen`
    return { body: eventObject(event) };
  }
  if (!endpointId) throw errors.parameterMissing('webhook_endpoint');
  const endpoint = await findEndpoint(ctx, endpointId, 'webhook_endpoint');
  if (endpoint.status !== 'enabled') {
    throw errors.parameterInvalid('webhook_endpoint', `Webhook endpoint ${endpoint.id} is disabled; enable it before resending events to it.`, 'webhook_endpoint_disabled');
  }
  await ctx.deps.store.enqueueManualDelivery(event.id, endpoint, ctx.now);
  ctx.deps.wakeWorkers();
  return { body: eventObject(event) };
}

async function listAttempts(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const request = readPage(p);
  const event = await findEvent(ctx, path.id!);
  const page = await ctx.deps.store.listAttempts({ accountId: ctx.account.id, mode: ctx.mode, eventId: event.id }, request);
  return { body: listObject(page, request, `/v1/events/${event.id}/delivery_attempts`, 'delivery attempt', deliveryAttemptObject) };
}

export async function findEvent(ctx: RequestContext, id: string): Promise<StoredEvent> {
  const event = await ctx.deps.store.getEvent(ctx.account.id, ctx.mode, id);
  const visible = ctx.stripeAccount === null || event?.account === ctx.stripeAccount;
  if (event && visible && event.created >= ctx.now - EVENT_WINDOW_MS) return event;
  const otherMode = event ? null : await ctx.deps.store.findEventMode(ctx.account.id, id);
  throw errors.resourceMissing('event', id, 'id', otherMode ?? undefined);
}
