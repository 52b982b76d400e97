import { connectOfEventsFrom, eventBridgeBusArn, EVENTS_FROM_VALUES, PING_EVENT_TYPE } from '../../domain/destinations.js';
import { errors } from '../../domain/errors.js';
import { newId } from '../../domain/ids.js';
import { eventDestinationObject, v2EventObject } from '../../domain/objects.js';
import { DESTINATION_TYPES, type AmazonEventBridgeConfig, type AwsCredentials, type DestinationType, type WebhookEndpoint } from '../../domain/types.js';
import { checkApiVersion } from '../api-versions.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { applyMetadata, Params } from '../params.js';
import { readV2Page, V2_PAGE_PARAMS, v2ListObject } from './lists.js';
import { newDestination, readEventPayload, setEnabled, storeNewDestination, validateEnabledEvents, validateUrl } from './webhook-endpoints.js';

/**
 * `/v2/core/event_destinations`, with Stripe's v2 conventions (JSON bodies, ISO times, `include`
 * to reveal redacted fields, `next_page_url` pagination). A webhook destination is the very object
 * `/v1/webhook_endpoints` shows; an EventBridge destination exists only here.
 */
export function eventDestinationRoutes(router: Router<RequestContext>): void {
  router
    .add('POST', '/v2/core/event_destinations', create)
    .add('GET', '/v2/core/event_destinations', list)
    .add('GET', '/v2/core/event_destinations/:id', retrieve)
    .add('POST', '/v2/core/event_destinations/:id', update)
    .add('DELETE', '/v2/core/event_destinations/:id', remove)
    .add('POST', '/v2/core/event_destinations/:id/enable', (ctx, path) => setStatus(ctx, path, true))
    .add('POST', '/v2/core/event_destinations/:id/disable', (ctx, path) => setStatus(ctx, path, false))
    .add('POST', '/v2/core/event_destinations/:id/ping', ping);
}

const INCLUDE_URL = 'webhook_endpoint.url';
const INCLUDE_SECRET = 'webhook_endpoint.signing_secret';
const NAME_MAX = 255;

async function create(ctx: RequestContext) {
  const p = new Params(ctx.params, [
    'name', 'type', 'enabled_events', 'event_payload', 'snapshot_api_version', 'events_from', 'description', 'metadata', 'include',
    'webhook_endpoint', 'amazon_eventbridge',
  ]);
  const name = p.requiredString('name', { maxLength: NAME_MAX });
  const type = readType(p.requiredString('type'));
  const enabledEvents = validateEnabledEvents(ctx, p.stringArray('enabled_events', { maxItems: 500 }));
  const eventPayload = readEventPayload(p);
  if (eventPayload === undefined) throw errors.parameterMissing('event_payload');
  const snapshotApiVersion = p.string('snapshot_api_version') ?? null;
  if (snapshotApiVersion !== null) {
    if (eventPayload === 'thin') throw errors.parameterInvalid('snapshot_api_version', 'Invalid snapshot_api_version: thin events are not rendered in an API version; omit it.');
    checkApiVersion(ctx, snapshotApiVersion, 'snapshot_api_version');
  }
  const eventsFrom = readEventsFrom(p);
  const include = readInclude(p, [INCLUDE_URL, INCLUDE_SECRET]);

  let url: string;
  let amazonEventbridge: AmazonEventBridgeConfig | null = null;
  if (type === 'webhook_endpoint') {
    if (p.has('amazon_eventbridge')) throw errors.parameterUnknown('amazon_eventbridge');
    const webhook = new Params(p.object('webhook_endpoint', { required: true })!, ['url']);
    url = validateUrl(ctx, webhook.requiredString('url'));
  } else {
    if (p.has('webhook_endpoint')) throw errors.parameterUnknown('webhook_endpoint');
    amazonEventbridge = readEventBridge(p.object('amazon_eventbridge', { required: true })!);
    url = eventBridgeBusArn(amazonEventbridge);
  }

  const destination = newDestination(ctx, {
    id: type === 'webhook_endpoint' ? newId.endpoint() : newId.destination(),
    type,
    name,
    eventPayload,
    eventsFrom,
    amazonEventbridge,
    url,
    enabledEvents,
    apiVersion: snapshotApiVersion,
    connect: connectOfEventsFrom(eventsFrom),
    description: p.string('description', { maxLength: 5000 }) ?? null,
    metadata: applyMetadata({}, p.metadata()),
    signatureSchemes: ['stripe'],
  });
  // EventBridge destinations are not signed, but every destination has a secret row: one code path.
  const secret = await storeNewDestination(ctx, destination);
  return { body: eventDestinationObject(destination, { url: include.has(INCLUDE_URL), secret: include.has(INCLUDE_SECRET) ? secret : undefined }) };
}

async function list(ctx: RequestContext) {
  const p = new Params(ctx.params, [...V2_PAGE_PARAMS, 'include']);
  const request = readV2Page(p);
  const include = readInclude(p, [INCLUDE_URL]);
  const page = await ctx.deps.store.listEndpoints(ctx.account.id, ctx.mode, request);
  return { body: v2ListObject(page, '/v2/core/event_destinations', ctx.params, (d) => eventDestinationObject(d, { url: include.has(INCLUDE_URL) })) };
}

async function retrieve(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, ['include']);
  const include = readInclude(p, [INCLUDE_URL]);
  return { body: eventDestinationObject(await findDestination(ctx, path.id!), { url: include.has(INCLUDE_URL) }) };
}

async function update(ctx: RequestContext, path: Record<string, string>) {
  const p = new Params(ctx.params, ['name', 'description', 'enabled_events', 'metadata', 'include', 'webhook_endpoint', 'amazon_eventbridge']);
  const include = readInclude(p, [INCLUDE_URL]);
  const current = await findDestination(ctx, path.id!);
  const next: WebhookEndpoint = { ...current, updated: ctx.now };
  const name = p.string('name', { maxLength: NAME_MAX });
  if (name === null) throw errors.parameterMissing('name');
  if (name !== undefined) next.name = name;
  const description = p.string('description', { maxLength: 5000 });
  if (description !== undefined) next.description = description;
  if (p.has('enabled_events')) next.enabledEvents = validateEnabledEvents(ctx, p.stringArray('enabled_events', { maxItems: 500 }));
  next.metadata = applyMetadata(current.metadata, p.metadata());
  if (p.has('webhook_endpoint')) {
    if (current.type !== 'webhook_endpoint') throw errors.parameterUnknown('webhook_endpoint');
    const webhook = new Params(p.object('webhook_endpoint')!, ['url']);
    if (webhook.has('url')) next.url = validateUrl(ctx, webhook.requiredString('url'));
  }
  if (p.has('amazon_eventbridge')) {
    if (current.type !== 'amazon_eventbridge' || !current.amazonEventbridge) throw errors.parameterUnknown('amazon_eventbridge');
    next.amazonEventbridge = readEventBridgeUpdate(p.object('amazon_eventbridge')!, current.amazonEventbridge);
    next.url = eventBridgeBusArn(next.amazonEventbridge);
  }
  if (!(await ctx.deps.store.updateEndpoint(next))) throw errors.resourceMissing('event destination', path.id!);
  return { body: eventDestinationObject(next, { url: include.has(INCLUDE_URL) }) };
}

async function remove(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const destination = await findDestination(ctx, path.id!);
  if (!(await ctx.deps.store.deleteEndpoint(ctx.account.id, ctx.mode, destination.id, ctx.now))) throw errors.resourceMissing('event destination', path.id!);
  return { body: { id: destination.id, object: 'v2.core.event_destination', deleted: true } };
}

async function setStatus(ctx: RequestContext, path: Record<string, string>, enabled: boolean) {
  new Params(ctx.params, []);
  const destination = await findDestination(ctx, path.id!);
  const next: WebhookEndpoint = { ...destination, updated: ctx.now };
  setEnabled(next, enabled, ctx.now);
  if (next.status !== destination.status && !(await ctx.deps.store.updateEndpoint(next))) throw errors.resourceMissing('event destination', path.id!);
  return { body: eventDestinationObject(next.status !== destination.status ? next : destination) };
}

/**
 * Sends a `v2.core.event_destination.ping` event to this destination only (signed and retried like
 * any delivery) and answers the event. Its related object is the destination itself.
 */
async function ping(ctx: RequestContext, path: Record<string, string>) {
  new Params(ctx.params, []);
  const destination = await findDestination(ctx, path.id!);
  if (destination.status !== 'enabled') {
    throw errors.parameterInvalid('id', `Event destination ${destination.id} is disabled; enable it before pinging it.`, 'event_destination_disabled');
  }
  const stored = await ctx.deps.publisher.publish({
    id: newId.event(),
    accountId: ctx.account.id,
    mode: ctx.mode,
    type: PING_EVENT_TYPE,
    account: null,
    apiVersion: destination.apiVersion ?? ctx.account.defaultApiVersion,
    accountApiVersion: ctx.account.defaultApiVersion,
    created: ctx.now,
    data: { object: eventDestinationObject(destination) },
    request: { id: ctx.requestId, idempotency_key: ctx.idempotencyKey },
    relatedObject: { id: destination.id, type: 'v2.core.event_destination', url: `/v2/core/event_destinations/${destination.id}` },
    onlyEndpointId: destination.id,
  });
  return { body: v2EventObject(stored) };
}

async function findDestination(ctx: RequestContext, id: string): Promise<WebhookEndpoint> {
  const destination = await ctx.deps.store.getEndpoint(ctx.account.id, ctx.mode, id);
  if (destination) return destination;
  const otherMode = await ctx.deps.store.findEndpointMode(ctx.account.id, id);
  throw errors.resourceMissing('event destination', id, 'id', otherMode ?? undefined);
}

function readType(type: string): DestinationType {
  if (DESTINATION_TYPES.includes(type as DestinationType)) return type as DestinationType;
  if (type === 'azure_event_grid') throw errors.parameterInvalid('type', 'Invalid type: Herald does not deliver to Azure Event Grid; use webhook_endpoint or amazon_eventbridge.');
  throw errors.parameterInvalid('type', `Invalid type: '${type}'; use webhook_endpoint or amazon_eventbridge.`);
}

function readEventsFrom(p: Params): string[] {
  const scopes = p.stringArray('events_from', { maxItems: 4 });
  if (scopes === undefined) return ['self'];
  if (scopes.length === 0) throw errors.parameterMissing('events_from');
  scopes.forEach((scope, i) => {
    if (!EVENTS_FROM_VALUES.includes(scope)) {
      throw errors.parameterInvalid(`events_from[${i}]`, `Invalid events_from[${i}]: '${scope}'; use self (or @self) and other_accounts (or @accounts).`);
    }
  });
  return [...new Set(scopes)];
}

function readInclude(p: Params, allowed: string[]): Set<string> {
  const include = p.stringArray('include', { maxItems: 10 }) ?? [];
  include.forEach((field, i) => {
    if (!allowed.includes(field)) throw errors.parameterInvalid(`include[${i}]`, `Invalid include[${i}]: '${field}'; this request can include ${allowed.join(', ')}.`);
  });
  return new Set(include);
}

const AWS_ACCOUNT = /^\d{12}$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const BUS_NAME = /^[A-Za-z0-9._\-/]{1,256}$/;
const BUS_ARN = /^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/[A-Za-z0-9._\-/]{1,256}$/;

/** `amazon_eventbridge`: Stripe's `aws_account_id` and `aws_region`, plus Herald's `event_bus_name` and write-only `credentials`. */
function readEventBridge(value: Record<string, unknown>): AmazonEventBridgeConfig {
  const p = new Params(value, ['aws_account_id', 'aws_region', 'event_bus_name', 'credentials']);
  const awsAccountId = p.requiredString('aws_account_id');
  if (!AWS_ACCOUNT.test(awsAccountId)) throw errors.parameterInvalid('amazon_eventbridge[aws_account_id]', 'Invalid amazon_eventbridge[aws_account_id]: an AWS account id is 12 digits.');
  const awsRegion = p.requiredString('aws_region');
  if (!AWS_REGION.test(awsRegion)) throw errors.parameterInvalid('amazon_eventbridge[aws_region]', `Invalid amazon_eventbridge[aws_region]: '${awsRegion}' is not an AWS region (e.g. eu-west-1).`);
  const config = { awsAccountId, awsRegion, eventBus: 'default', credentials: null as AwsCredentials | null };
  return { ...config, eventBus: readEventBus(p, config) ?? 'default', credentials: readCredentials(p) ?? null };
}

function readEventBridgeUpdate(value: Record<string, unknown>, current: AmazonEventBridgeConfig): AmazonEventBridgeConfig {
  const p = new Params(value, ['event_bus_name', 'credentials']);
  const credentials = readCredentials(p);
  return { ...current, eventBus: readEventBus(p, current) ?? current.eventBus, credentials: credentials === undefined ? current.credentials : credentials };
}

function readEventBus(p: Params, config: Pick<AmazonEventBridgeConfig, 'awsAccountId' | 'awsRegion'>): string | undefined {
  const bus = p.string('event_bus_name', { maxLength: 1600 }) ?? undefined;
  if (bus === undefined) return undefined;
  const arn = BUS_ARN.exec(bus);
  if (arn) {
    if (arn[1] !== config.awsRegion || arn[2] !== config.awsAccountId) {
      throw errors.parameterInvalid('amazon_eventbridge[event_bus_name]', `Invalid amazon_eventbridge[event_bus_name]: the ARN names region ${arn[1]} and account ${arn[2]}, not the destination's ${config.awsRegion} and ${config.awsAccountId}.`);
    }
    return bus;
  }
  if (bus.startsWith('arn:') || !BUS_NAME.test(bus)) {
    throw errors.parameterInvalid('amazon_eventbridge[event_bus_name]', `Invalid amazon_eventbridge[event_bus_name]: '${bus}' is neither an event bus name nor an event bus ARN.`);
  }
  return bus;
}

/** Per-destination credentials (write-only); an empty value goes back to the standard AWS chain. */
function readCredentials(p: Params): AwsCredentials | null | undefined {
  if (!p.has('credentials')) return undefined;
  const value = p.object('credentials');
  if (value === undefined) return null;
  const c = new Params(value, ['access_key_id', 'secret_access_key', 'session_token']);
  const accessKeyId = c.requiredString('access_key_id', { maxLength: 128 });
  if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId)) {
    throw errors.parameterInvalid('amazon_eventbridge[credentials][access_key_id]', 'Invalid amazon_eventbridge[credentials][access_key_id]: an AWS access key id is 16 to 128 capital letters and digits (AKIA…, ASIA…).');
  }
  const credentials: AwsCredentials = { accessKeyId, secretAccessKey: c.requiredString('secret_access_key', { maxLength: 256 }) };
  const sessionToken = c.string('session_token', { maxLength: 4096 });
  if (sessionToken) credentials.sessionToken = sessionToken;
  return credentials;
}
