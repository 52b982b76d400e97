import { errors } from '../../domain/errors.js';
import { v2EventObject } from '../../domain/objects.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { Params } from '../params.js';
import { findEvent } from './events.js';

/**
 * What thin events point to: the full event (`GET /v2/core/events/:id`, stripe-node's
 * `fetchEvent()`) and the latest published snapshot of the event's object (`related_object.url`,
 * stripe-node's `fetchRelatedObject()`).
 */
export function v2EventRoutes(router: Router<RequestContext>): void {
  router.add('GET', '/v2/core/events/:id', retrieve).add('GET', '/v1/objects/:type/:id', retrieveObject);
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
