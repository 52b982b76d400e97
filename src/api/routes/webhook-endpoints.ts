import { isIP } from 'node:net';
import { AddressPolicy } from '../../delivery/address-policy.js';
import { deliveryAttemptObject, webhookEndpointObject } from '../../domain/objects.js';
import { errors } from '../../domain/errors.js';
import { isApiVersion, newId, newSigningSecret } from '../../domain/ids.js';
import { SIGNATURE_SCHEMES, type SignatureScheme, type WebhookEndpoint } from '../../domain/types.js';
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
  const p = new Params(ctx.params, ['url', 'enabled_events', 'api_version', 'connect', 'description', 'metadata', 'signature_schemes']);
  const url = validateUrl(ctx, p.requiredString('url'));
  const enabledEvents = validateEnabledEvents(ctx, p.stringArray('enabled_events', { maxItems: 500 }));
  const apiVersion = p.string('api_version') ?? null;
  if (apiVersion !== null && !isApiVersion(apiVersion)) {
    throw errors.parameterInvalid('api_version', `Invalid api_version: '${apiVersion}' is not an API version (e.g. ${ctx.deps.config.apiVersion}).`);
  }
  const endpoint: WebhookEndpoint = {
    id: newId.endpoint(),
    accountId: ctx.account.id,
    mode: ctx.mode,
    url,
    enabledEvents,
    apiVersion,
    connect: p.boolean('connect') ?? false,
    description: p.string('description', { maxLength: 5000 }) ?? null,
    metadata: applyMetadata({}, p.metadata()),
    signatureSchemes: readSignatureSchemes(p) ?? ['stripe'],
    status: 'enabled',
    disabledReason: null,
    disabledAt: null,
    failingSince: null,
    lastSuccessAt: null,
    created: ctx.now,
  };
  const secret = newSigningSecret();
  const { maxEndpoints } = ctx.deps.config;
  const outcome = await ctx.deps.store.createEndpoint(endpoint, { secret, created: ctx.now, expiresAt: null }, maxEndpoints);
  if (outcome === 'limit_reached') throw errors.endpointLimit(maxEndpoints, ctx.mode);
  return { body: webhookEndpointObject(endpoint, ctx.account.applicationId, secret) };
}

async function list(ctx: RequestContext) {
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const request = readPage(p);
  const page = await ctx.deps.store.listEndpoints(ctx.account.id, ctx.mode, request);
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
  const next: WebhookEndpoint = { ...endpoint };
  if (p.has('url')) next.url = validateUrl(ctx, p.requiredString('url'));
  if (p.has('enabled_events')) next.enabledEvents = validateEnabledEvents(ctx, p.stringArray('enabled_events', { maxItems: 500 }));
  const description = p.string('description', { maxLength: 5000 });
  if (description !== undefined) next.description = description;
  next.metadata = applyMetadata(endpoint.metadata, p.metadata());
  next.signatureSchemes = readSignatureSchemes(p) ?? endpoint.signatureSchemes;
  const disabled = p.boolean('disabled');
  if (disabled === true && endpoint.status === 'enabled') {
    Object.assign(next, { status: 'disabled', disabledReason: null, disabledAt: ctx.now });
  } else if (disabled === false && endpoint.status === 'disabled') {
    // A fresh start: the failure streak that may have disabled it no longer counts.
    Object.assign(next, { status: 'enabled', disabledReason: null, disabledAt: null, failingSince: null });
  }
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
  const endpoint = await findEndpoint(ctx, path.id!);
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
  const endpoint = await findEndpoint(ctx, path.id!);
  const page = await ctx.deps.store.listAttempts({ accountId: ctx.account.id, mode: ctx.mode, endpointId: endpoint.id }, request);
  return { body: listObject(page, request, `/v1/webhook_endpoints/${endpoint.id}/delivery_attempts`, 'delivery attempt', deliveryAttemptObject) };
}

/** Herald's extension: why and since when an endpoint is failing or was disabled automatically. */
async function health(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const endpoint = await findEndpoint(ctx, path.id!);
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

export async function findEndpoint(ctx: RequestContext, id: string, param = 'id'): Promise<WebhookEndpoint> {
  const endpoint = await ctx.deps.store.getEndpoint(ctx.account.id, ctx.mode, id);
  if (endpoint) return endpoint;
  const otherMode = await ctx.deps.store.findEndpointMode(ctx.account.id, id);
  throw errors.resourceMissing('webhook endpoint', id, param, otherMode ?? undefined);
}

function validateUrl(ctx: RequestContext, url: string): string {
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

function validateEnabledEvents(ctx: RequestContext, events: string[] | undefined): string[] {
  if (events === undefined || events.length === 0) throw errors.parameterMissing('enabled_events');
  events.forEach((type, i) => {
    if (type !== '*' && !ctx.deps.catalog.has(type)) throw errors.unknownEventType(`enabled_events[${i}]`, type);
  });
  return [...new Set(events)];
}
