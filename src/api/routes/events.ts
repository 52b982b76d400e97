import { deliveryAttemptObject, eventObject, renderEventPayload } from '../../domain/objects.js';
import { errors } from '../../domain/errors.js';
import { relatedObjectOf } from '../../domain/destinations.js';
import { newId } from '../../domain/ids.js';
import { checkApiVersion } from '../api-versions.js';
import type { StoredEvent } from '../../domain/types.js';
import type { EventFilter, PublishedEvent } from '../../store/store.js';
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
    .add('POST', '/v1/events', publish, { stripeAccount: true, reservesId: newId.event })
    .add('GET', '/v1/events', list, { stripeAccount: true })
    .add('GET', '/v1/events/:id', retrieve, { stripeAccount: true })
    .add('POST', '/v1/events/:id/retry', retry)
    .add('GET', '/v1/events/:id/delivery_attempts', listAttempts);
}

/** Herald's extension: the application publishes an event; it is durable when this answers. */
async function publish(ctx: RequestContext) {
  const p = new Params(ctx.params, ['type', 'data', 'account', 'api_version', 'request', 'related_object']);
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
  const eventData: StoredEvent['data'] =
    previous === undefined ? { object: object as Record<string, unknown> } : { object: object as Record<string, unknown>, previous_attributes: previous as Record<string, unknown> };
  // HERALD_MAX_EVENT_BYTES bounds what every delivery of the event carries (Stripe: 256 KB).
  const dataJson = JSON.stringify(eventData);
  const dataBytes = Buffer.byteLength(dataJson, 'utf8');
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
  // The version the data is written in: named in the body, else the request's Stripe-Version, else the account's default.
  const apiVersion = p.string('api_version') ?? ctx.stripeVersion ?? ctx.account.defaultApiVersion;
  checkApiVersion(ctx, apiVersion, p.has('api_version') ? 'api_version' : 'Stripe-Version');
  const request = readRequestInfo(p);
  const relatedObject = readRelatedObject(p, object as Record<string, unknown>);

  // An earlier run of this idempotent request died before answering: its event may be stored already.
  if (ctx.reserved?.resumed) {
    const earlier = await ctx.deps.store.getEvent(ctx.account.id, ctx.mode, ctx.reserved.id);
    if (earlier) return { body: eventObject(earlier) };
  }
  const event: PublishedEvent = {
    id: ctx.reserved?.id ?? newId.event(),
    accountId: ctx.account.id,
    mode: ctx.mode,
    type,
    account,
    apiVersion,
    accountApiVersion: ctx.account.defaultApiVersion,
    created: ctx.now,
    data: eventData,
    request,
    relatedObject,
    dataJson,
  };
  const stored = await ctx.deps.publisher.publish(event, { alone: ctx.reserved?.resumed === true });
  // The answer is the Event object; its data is the text measured above, not serialised again.
  return { body: eventObject(stored), json: renderEventPayload({ ...stored, dataJson }) };
}

/**
 * Herald's extension for thin events: `related_object[url]` (the publisher's own URL for the
 * object, which receivers then fetch), and `related_object[id]`/`[type]` when the subject is not
 * `data.object`. Absent: `data.object`'s id and `object`, served by Herald.
 */
function readRelatedObject(p: Params, object: Record<string, unknown>): StoredEvent['relatedObject'] {
  const given = p.object('related_object');
  const derived = relatedObjectOf({ data: { object } });
  if (given === undefined) return derived;
  for (const key of Object.keys(given)) if (!['id', 'type', 'url'].includes(key)) throw errors.parameterUnknown(`related_object[${key}]`);
  const field = (name: 'id' | 'type' | 'url', max: number): string | null => {
    const value = given[name];
    if (value === undefined || value === null || value === '') return null;
    if (typeof value !== 'string' || value.length > max) throw errors.parameterInvalid(`related_object[${name}]`, `Invalid related_object[${name}]: must be a string of at most ${max} characters.`);
    return value;
  };
  const id = field('id', 255) ?? derived?.id;
  const type = field('type', 255) ?? derived?.type;
  if (!id || !type) throw errors.parameterMissing(id ? 'related_object[type]' : 'related_object[id]');
  const url = field('url', 2048);
  if (url !== null && !url.startsWith('/') && !/^https?:\/\//.test(url)) {
    throw errors.parameterInvalid('related_object[url]', 'Invalid related_object[url]: must be a path on this API (/v1/…) or an http(s) URL.');
  }
  return { id, type, url };
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
  const endpoint = await findEndpoint(ctx, endpointId, 'webhook_endpoint', { anyDestination: true });
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
