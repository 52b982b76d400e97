import { errors } from '../../domain/errors.js';
import { v2EventObject } from '../../domain/objects.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { Params } from '../params.js';
import { EVENT_WINDOW_MS, findEvent } from './events.js';
import { readV2Page, V2_PAGE_PARAMS, v2ListObject } from './lists.js';
import { v1EventType } from '../../domain/destinations.js';
import type { EventFilter } from '../../store/store.js';

/**
 * What thin events point to: the full event (`GET /v2/core/events/:id`, stripe-node's
 * `fetchEvent()`) and the latest published snapshot of the event's object (`related_object.url`,
 * stripe-node's `fetchRelatedObject()`).
 */
export function v2EventRoutes(router: Router<RequestContext>): void {
  router
    .add('GET', '/v2/core/events', list)
    .add('GET', '/v2/core/events/:id', retrieve)
    .add('GET', '/v1/objects/:type/:id', retrieveObject);
}

/** Events of the last 30 days, newest first: `types` (v1 or v2 names), `object_id` (the related object), `created` range. */
async function list(ctx: RequestContext) {
  const p = new Params(ctx.params, [...V2_PAGE_PARAMS, 'types', 'object_id', 'created']);
  const request = readV2Page(p);
  const filter: EventFilter = { notBefore: ctx.now - EVENT_WINDOW_MS };
  const types = p.stringArray('types', { maxItems: 20 });
  if (types) filter.types = types.map(v1EventType);
  const objectId = p.string('object_id', { maxLength: 255 });
  if (objectId) filter.objectId = objectId;
  Object.assign(filter, readV2Created(ctx.params.created));
  const page = await ctx.deps.store.listEvents(ctx.account.id, ctx.mode, filter, request);
  return { body: v2ListObject(page, '/v2/core/events', ctx.params, v2EventObject) };
}

/** `created[gt|gte|lt|lte]`: ISO 8601 times (v2) or Unix seconds. */
function readV2Created(value: unknown): Pick<EventFilter, 'createdGte' | 'createdLt'> {
  if (value === undefined || value === null || value === '') return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw errors.parameterInvalid('created', 'Invalid created: use created[gt], created[gte], created[lt] or created[lte].');
  const range: Pick<EventFilter, 'createdGte' | 'createdLt'> = {};
  for (const [op, raw] of Object.entries(value as Record<string, unknown>)) {
    // A time's resolution: a second for Unix seconds, a millisecond for ISO times (`gt` starts one unit later).
    const seconds = typeof raw === 'string' && /^\d{1,12}$/.test(raw);
    const unit = seconds ? 1000 : 1;
    const ms = seconds ? Number(raw) * 1000 : typeof raw === 'string' ? Date.parse(raw) : NaN;
    if (!Number.isFinite(ms)) throw errors.parameterInvalid(`created[${op}]`, `Invalid created[${op}]: ${JSON.stringify(raw)} is not a time (2026-11-27T04:19:43.732Z).`);
    if (op === 'gt') range.createdGte = Math.max(range.createdGte ?? -Infinity, ms + unit);
    else if (op === 'gte') range.createdGte = Math.max(range.createdGte ?? -Infinity, ms);
    else if (op === 'lt') range.createdLt = Math.min(range.createdLt ?? Infinity, ms);
    else if (op === 'lte') range.createdLt = Math.min(range.createdLt ?? Infinity, ms + unit);
    else throw errors.parameterUnknown(`created[${op}]`);
  }
  return range;
}

async function retrieve(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  return { body: v2EventObject(await findEvent(ctx, path.id!)) };
}

/**
 * The object as the newest event about it carried it, in the request's Stripe-Version when the
 * operator's version changes can render it there, else as published.
 */
async function retrieveObject(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const object = { type: path.type!, id: path.id! };
  const event = await ctx.deps.store.latestEventAbout(ctx.account.id, ctx.mode, object);
  if (!event) throw errors.resourceMissing(object.type.replaceAll('_', ' '), object.id);
  const versions = ctx.deps.versions;
  const target = ctx.stripeVersion;
  if (versions && !versions.empty && target && target !== event.apiVersion && versions.knows(target)) {
    const translated = versions.translate(event.data, event.apiVersion, target, event.type);
    if (translated) return { body: translated.object };
  }
  return { body: event.data.object };
}
