import { isIP } from 'node:net';
import { AddressPolicy } from '../../delivery/address-policy.js';
import { deliveryAttemptObject, webhookEndpointObject } from '../../domain/objects.js';
import { errors } from '../../domain/errors.js';
import { eventsFromOfConnect, v1EventType } from '../../domain/destinations.js';
import { newId, newSigningSecret } from '../../domain/ids.js';
import { SIGNATURE_SCHEMES, type EventPayload, type SignatureScheme, type WebhookEndpoint } from '../../domain/types.js';
import { checkApiVersion } from '../api-versions.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { applyMetadata, Params } from '../params.js';
import { listObject, PAGE_PARAMS, readPage } from './lists.js';

const MAX_URL_LENGTH = 2048;
const unbracket = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

export function webhookEndpointRoutes(router: Router<RequestContext>): void {
  router
    .add('POST', '/v1/webhook_endpoints', create)
    .add('GET', '/v1/webhook_endpoints', list)
    .add('GET', '/v1/webhook_endpoints/:id', retrieve)
    .add('POST', '/v1/webhook_endpoints/:id', update)
    .add('DELETE', '/v1/webhook_endpoints/:id', remove)
    .add('POST', '/v1/webhook_endpoints/:id/roll_secret', rollSecret)
    .add('POST', '/v1/webhook_endpoints/:id/recover', recover)
    .add('GET', '/v1/webhook_endpoints/:id/delivery_attempts', listAttempts)
    .add('GET', '/v1/webhook_endpoints/:id/health', health);
}

async function create(ctx: RequestContext) {
  const p = new Params(ctx.params, ['url', 'enabled_events', 'api_version', 'connect', 'description', 'metadata', 'signature_schemes', 'event_payload']);
  const url = validateUrl(ctx, p.requiredString('url'));
  const enabledEvents = validateEnabledEvents(ctx, p.stringArray('enabled_events', { maxItems: 500 }));
  const apiVersion = p.string('api_version') ?? null;
  if (apiVersion !== null) checkApiVersion(ctx, apiVersion, 'api_version');
  const eventPayload = readEventPayload(p) ?? 'snapshot';
  const connect = p.boolean('connect') ?? false;
  const endpoint = newDestination(ctx, {
    id: newId.endpoint(),
    type: 'webhook_endpoint',
    name: null,
    eventPayload,
    eventsFrom: eventsFromOfConnect(connect),
    amazonEventbridge: null,
    url,
    enabledEvents,
    apiVersion,
    connect,
    description: p.string('description', { maxLength: 5000 }) ?? null,
    metadata: applyMetadata({}, p.metadata()),
    signatureSchemes: readSignatureSchemes(p) ?? ['stripe'],
  });
  const secret = await storeNewDestination(ctx, endpoint);
  return { body: webhookEndpointObject(endpoint, ctx.account.applicationId, secret) };
}

async function list(ctx: RequestContext) {
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const request = readPage(p);
  const page = await ctx.deps.store.listEndpoints(ctx.account.id, ctx.mode, request, { type: 'webhook_endpoint' });
  return { body: listObject(page, request, '/v1/webhook_endpoints', 'webhook endpoint', (e) => webhookEndpointObject(e, ctx.account.applicationId)) };
}

async function retrieve(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const endpoint = await findEndpoint(ctx, path.id!);
  return { body: webhookEndpointObject(endpoint, ctx.account.applicationId) };
}

async function update(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, ['url', 'enabled_events', 'disabled', 'description', 'metadata', 'signature_schemes']);
  const endpoint = await findEndpoint(ctx, path.id!);
  const next: WebhookEndpoint = { ...endpoint, updated: ctx.now };
  if (p.has('url')) next.url = validateUrl(ctx, p.requiredString('url'));
  if (p.has('enabled_events')) next.enabledEvents = validateEnabledEvents(ctx, p.stringArray('enabled_events', { maxItems: 500 }));
  const description = p.string('description', { maxLength: 5000 });
  if (description !== undefined) next.description = description;
  next.metadata = applyMetadata(endpoint.metadata, p.metadata());
  next.signatureSchemes = readSignatureSchemes(p) ?? endpoint.signatureSchemes;
  const disabled = p.boolean('disabled');
  if (disabled !== undefined) setEnabled(next, !disabled, ctx.now);
  if (!(await ctx.deps.store.updateEndpoint(next))) throw errors.resourceMissing('webhook endpoint', path.id!);
  return { body: webhookEndpointObject(next, ctx.account.applicationId) };
}

async function remove(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const endpoint = await findEndpoint(ctx, path.id!);
  if (!(await ctx.deps.store.deleteEndpoint(ctx.account.id, ctx.mode, endpoint.id, ctx.now))) {
    throw errors.resourceMissing('webhook endpoint', path.id!);
  }
  return { body: { id: endpoint.id, object: 'webhook_endpoint', deleted: true } };
}

/** Herald's extension: a new secret; the old one keeps being signed with for `expires_in` seconds. */
async function rollSecret(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, ['expires_in']);
  const expiresIn = p.integer('expires_in', { min: 0, max: 86_400 }) ?? 0;
  const endpoint = await findEndpoint(ctx, path.id!);
  const secret = newSigningSecret();
  await ctx.deps.store.rollSecret(endpoint.id, { secret, created: ctx.now, expiresAt: null }, ctx.now + expiresIn * 1000);
  return { body: webhookEndpointObject(endpoint, ctx.account.applicationId, secret) };
}

/** Herald's extension: queue the window's undelivered events for this endpoint again. */
async function recover(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, ['since', 'until', 'dry_run']);
  const since = p.integer('since', { min: 0 });
  if (since === undefined) throw errors.parameterMissing('since');
  const until = p.integer('until', { min: 0 }) ?? Math.floor(ctx.now / 1000) + 1;
  if (until <= since) throw errors.parameterInvalid('until', 'Invalid until: must be after since.');
  const dryRun = p.boolean('dry_run') ?? false;
  const endpoint = await findEndpoint(ctx, path.id!, 'id', { anyDestination: true });
  if (endpoint.status !== 'enabled' && !dryRun) {
    throw errors.parameterInvalid('id', `Webhook endpoint ${endpoint.id} is disabled; enable it (disabled=false) before recovering events.`, 'webhook_endpoint_disabled');
  }
  const queued = await ctx.deps.store.recoverEvents(endpoint, { since: since * 1000, until: until * 1000 }, ctx.now, dryRun);
  if (!dryRun && queued > 0) ctx.deps.wakeWorkers();
  return { body: { object: 'webhook_endpoint_recovery', webhook_endpoint: endpoint.id, since, until, dry_run: dryRun, queued } };
}

async function listAttempts(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const request = readPage(p);
  const endpoint = await findEndpoint(ctx, path.id!, 'id', { anyDestination: true });
  const page = await ctx.deps.store.listAttempts({ accountId: ctx.account.id, mode: ctx.mode, endpointId: endpoint.id }, request);
  return { body: listObject(page, request, `/v1/webhook_endpoints/${endpoint.id}/delivery_attempts`, 'delivery attempt', deliveryAttemptObject) };
}

/** Herald's extension: why and since when an endpoint is failing or was disabled automatically. */
async function health(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const endpoint = await findEndpoint(ctx, path.id!, 'id', { anyDestination: true });
  const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  return {
    body: {
      object: 'webhook_endpoint_health',
      webhook_endpoint: endpoint.id,
      status: endpoint.status,
      disabled_automatically: endpoint.disabledReason !== null,
      disabled_reason: endpoint.disabledReason,
      disabled_at: seconds(endpoint.disabledAt),
      failing_since: seconds(endpoint.failingSince),
      last_success_at: seconds(endpoint.lastSuccessAt),
    },
  };
}

/** A destination created now, enabled, in the request's account and mode. */
export function newDestination(
  ctx: RequestContext,
  fields: Omit<WebhookEndpoint, 'accountId' | 'mode' | 'status' | 'disabledReason' | 'disabledAt' | 'failingSince' | 'lastSuccessAt' | 'created' | 'updated'>,
): WebhookEndpoint {
  return { ...fields, accountId: ctx.account.id, mode: ctx.mode, status: 'enabled', disabledReason: null, disabledAt: null, failingSince: null, lastSuccessAt: null, created: ctx.now, updated: ctx.now };
}

/** Stores a new destination with a fresh signing secret (within the per-account limit) and returns the secret. */
export async function storeNewDestination(ctx: RequestContext, destination: WebhookEndpoint): Promise<string> {
  const secret = newSigningSecret();
  const { maxEndpoints } = ctx.deps.config;
  const outcome = await ctx.deps.store.createEndpoint(destination, { secret, created: ctx.now, expiresAt: null }, maxEndpoints);
  if (outcome === 'limit_reached') throw errors.endpointLimit(maxEndpoints, ctx.mode);
  return secret;
}

/** Enables or disables a destination (v1 `disabled`, v2 `enable`/`disable`), in place. */
export function setEnabled(endpoint: WebhookEndpoint, enabled: boolean, now: number): void {
  if (!enabled && endpoint.status === 'enabled') {
    Object.assign(endpoint, { status: 'disabled', disabledReason: null, disabledAt: now });
  } else if (enabled && endpoint.status === 'disabled') {
    // A fresh start: the failure streak that may have disabled it no longer counts.
    Object.assign(endpoint, { status: 'enabled', disabledReason: null, disabledAt: null, failingSince: null });
  }
}

/** Herald's extension on v1 endpoints: `event_payload=thin` for thin notifications. */
export function readEventPayload(p: Params): EventPayload | undefined {
  const payload = p.string('event_payload');
  if (payload === undefined || payload === null) return undefined;
  if (payload !== 'snapshot' && payload !== 'thin') throw errors.parameterInvalid('event_payload', `Invalid event_payload: '${payload}'; use snapshot or thin.`);
  return payload;
}

/**
 * A webhook endpoint of the account and mode (other destination types are not webhook endpoints),
 * or a Stripe-shaped 404. `anyDestination` finds other destinations (EventBridge) too: the
 * delivery-log and redelivery routes serve every destination, so their attempts are read and
 * resent like a webhook's; the v1 CRUD routes do not.
 */
export async function findEndpoint(ctx: RequestContext, id: string, param = 'id', options: { anyDestination?: boolean } = {}): Promise<WebhookEndpoint> {
  const endpoint = await ctx.deps.store.getEndpoint(ctx.account.id, ctx.mode, id);
  if (endpoint && (options.anyDestination || (endpoint.type ?? 'webhook_endpoint') === 'webhook_endpoint')) return endpoint;
  if (endpoint) throw errors.resourceMissing('webhook endpoint', id, param);
  const otherMode = await ctx.deps.store.findEndpointMode(ctx.account.id, id);
  throw errors.resourceMissing('webhook endpoint', id, param, otherMode ?? undefined);
}

export function validateUrl(ctx: RequestContext, url: string): string {
  if (url.length > MAX_URL_LENGTH) throw errors.urlInvalid(url.slice(0, 100), `URLs can be at most ${MAX_URL_LENGTH} characters.`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw errors.urlInvalid(url, 'It must be an absolute http:// or https:// URL.');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw errors.urlInvalid(url, 'It must be an absolute http:// or https:// URL.');
  if (parsed.username || parsed.password) throw errors.urlInvalid(url, 'Credentials in the URL are not allowed.');
  if (ctx.mode === 'live' && parsed.protocol !== 'https:') throw errors.liveModeHttps(url);
  // A literal address is known now; host names are checked on every connection (DNS may change).
  // `parsed.hostname` is the WHATWG-normalized host: 0x7f.1, 2130706433 and 127.1 all read 127.0.0.1.
  const { config } = ctx.deps;
  const policy = new AddressPolicy({ blockInTestMode: config.blockPrivateNetworks, allowedNetworks: config.allowedNetworks });
  if (policy.appliesTo(ctx.mode) && isIP(unbracket(parsed.hostname))) {
    const verdict = policy.check(unbracket(parsed.hostname));
    if (!verdict.allowed) {
      throw errors.urlInvalid(url, `Deliveries may not reach ${verdict.reason}; use a public address or host name (an operator can allow private networks with HERALD_ALLOWED_NETWORKS).`);
    }
  }
  return url;
}

/** Herald's extension: `signature_schemes[]=stripe&signature_schemes[]=standard`. */
function readSignatureSchemes(p: Params): SignatureScheme[] | undefined {
  const schemes = p.stringArray('signature_schemes', { maxItems: 2 });
  if (schemes === undefined) return undefined;
  if (schemes.length === 0) throw errors.parameterMissing('signature_schemes');
  schemes.forEach((scheme, i) => {
    if (!SIGNATURE_SCHEMES.includes(scheme as SignatureScheme)) {
      throw errors.parameterInvalid(`signature_schemes[${i}]`, `Invalid signature_schemes[${i}]: '${scheme}'; use stripe (Stripe-Signature) or standard (Standard Webhooks).`);
    }
  });
  return [...new Set(schemes)] as SignatureScheme[];
}

/** Event types given by name (v2 destinations may use the `v1.` form) or `*`. */
export function validateEnabledEvents(ctx: RequestContext, events: string[] | undefined): string[] {
  if (events === undefined || events.length === 0) throw errors.parameterMissing('enabled_events');
  events.forEach((type, i) => {
    if (type !== '*' && !ctx.deps.catalog.has(v1EventType(type))) throw errors.unknownEventType(`enabled_events[${i}]`, type);
  });
  return [...new Set(events)];
}
