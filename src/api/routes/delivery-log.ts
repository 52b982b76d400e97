import { toUnixSeconds } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { deliveryAttemptObject } from '../../domain/objects.js';
import type { DeliveryFilter, DeliveryStatus, DeliverySummary } from '../../store/store.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { Params } from '../params.js';
import { findEvent, readCreated } from './events.js';
import { listObject, PAGE_PARAMS, readPage } from './lists.js';
import { findEndpoint } from './webhook-endpoints.js';

const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['succeeded', 'failed', 'pending', 'cancelled'];
const DAY_MS = 86_400_000;
const MAX_BUCKETS = 500;

/**
 * Herald's extensions for reading the delivery log (what the dashboard shows): deliveries per
 * endpoint and per event with filters, one attempt by id, and an endpoint's delivery statistics.
 */
export function deliveryLogRoutes(router: Router<RequestContext>): void {
  router
    .add('GET', '/v1/webhook_endpoints/:id/deliveries', listEndpointDeliveries)
    .add('GET', '/v1/webhook_endpoints/:id/delivery_stats', deliveryStats)
    .add('GET', '/v1/events/:id/deliveries', listEventDeliveries)
    .add('GET', '/v1/webhook_delivery_attempts/:id', retrieveAttempt);
}

/** A delivery (one event bound for one endpoint), Herald's extension object. */
export function deliveryObject(delivery: DeliverySummary): Record<string, unknown> {
  const last = delivery.lastAttempt;
  return {
    id: delivery.id,
    object: 'webhook_delivery',
    attempt_count: delivery.attemptCount,
    created: toUnixSeconds(delivery.created),
    event: delivery.eventId,
    event_type: delivery.eventType,
    kind: delivery.kind,
    last_attempt: last && {
      id: last.id,
      created: toUnixSeconds(last.created),
      duration_ms: last.durationMs,
      failure_kind: last.failureKind,
      http_status: last.httpStatus,
      outcome: last.outcome,
    },
    livemode: delivery.mode === 'live',
    next_attempt_at: delivery.nextAttemptAt === null ? null : toUnixSeconds(delivery.nextAttemptAt),
    status: delivery.status,
    webhook_endpoint: delivery.endpointId,
  };
}

/** `status`, `type` and `created[…]` filters, as on the events list. */
function readDeliveryFilter(ctx: RequestContext, p: Params): DeliveryFilter {
  const filter: DeliveryFilter = {};
  const status = p.string('status');
  if (status) {
    if (!DELIVERY_STATUSES.includes(status as DeliveryStatus)) {
      throw errors.parameterInvalid('status', `Invalid status: '${status}'; must be one of ${DELIVERY_STATUSES.join(', ')}.`);
    }
    filter.status = status as DeliveryStatus;
  }
  const type = p.string('type', { maxLength: 200 });
  if (type) {
    if (!ctx.deps.catalog.has(type)) throw errors.unknownEventType('type', type);
    filter.eventType = type;
  }
  Object.assign(filter, readCreated(ctx.params.created));
  return filter;
}

async function listEndpointDeliveries(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'status', 'type', 'created']);
  const request = readPage(p);
  const filter = readDeliveryFilter(ctx, p);
  const endpoint = await findEndpoint(ctx, path.id!, 'id', { anyDestination: true });
  const page = await ctx.deps.store.listDeliveries({ accountId: ctx.account.id, mode: ctx.mode, endpointId: endpoint.id }, filter, request);
  return { body: listObject(page, request, `/v1/webhook_endpoints/${endpoint.id}/deliveries`, 'delivery', deliveryObject) };
}

async function listEventDeliveries(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'status']);
  const request = readPage(p);
  const filter = readDeliveryFilter(ctx, p);
  const event = await findEvent(ctx, path.id!);
  const page = await ctx.deps.store.listDeliveries({ accountId: ctx.account.id, mode: ctx.mode, eventId: event.id }, filter, request);
  return { body: listObject(page, request, `/v1/events/${event.id}/deliveries`, 'delivery', deliveryObject) };
}

async function retrieveAttempt(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const attempt = await ctx.deps.store.getAttempt(ctx.account.id, ctx.mode, path.id!);
  if (!attempt) throw errors.resourceMissing('delivery attempt', path.id!);
  return { body: deliveryAttemptObject(attempt) };
}

/**
 * Attempts counted by outcome over a window (default: the last 24 hours by hour) and the success
 * rate over that window. Why an endpoint was disabled is `GET /v1/webhook_endpoints/:id/health`.
 */
async function deliveryStats(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, ['since', 'until', 'bucket_seconds']);
  const nowSeconds = Math.floor(ctx.now / 1000);
  const until = p.integer('until', { min: 1 }) ?? nowSeconds + 1;
  const since = p.integer('since', { min: 0 }) ?? until - DAY_MS / 1000;
  if (since >= until) throw errors.parameterInvalid('since', 'Invalid since: must be before until.');
  const bucketSeconds = p.integer('bucket_seconds', { min: 60, max: 86_400 }) ?? 3600;
  const bucketCount = Math.ceil((until - since) / bucketSeconds);
  if (bucketCount > MAX_BUCKETS) {
    throw errors.parameterInvalid('bucket_seconds', `Invalid bucket_seconds: the window would have ${bucketCount} buckets; at most ${MAX_BUCKETS} are allowed.`);
  }
  const endpoint = await findEndpoint(ctx, path.id!, 'id', { anyDestination: true });
  const counts = await ctx.deps.store.attemptCounts(
    { accountId: ctx.account.id, mode: ctx.mode, endpointId: endpoint.id },
    { since: since * 1000, until: until * 1000, bucketMs: bucketSeconds * 1000 },
  );
  const byStart = new Map(counts.map((c) => [toUnixSeconds(c.start), c]));
  const buckets = Array.from({ length: bucketCount }, (_, i) => {
    const start = since + i * bucketSeconds;
    const c = byStart.get(start);
    return { start, succeeded: c?.succeeded ?? 0, failed: c?.failed ?? 0 };
  });
  const succeeded = buckets.reduce((n, b) => n + b.succeeded, 0);
  const failed = buckets.reduce((n, b) => n + b.failed, 0);
  return {
    body: {
      object: 'webhook_endpoint_delivery_stats',
      webhook_endpoint: endpoint.id,
      since,
      until,
      bucket_seconds: bucketSeconds,
      succeeded,
      failed,
      success_rate: succeeded + failed === 0 ? null : succeeded / (succeeded + failed),
      buckets,
      livemode: ctx.mode === 'live',
    },
  };
}
