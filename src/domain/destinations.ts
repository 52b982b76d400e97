import { endpointWantsType } from './event-types.js';
import type { AmazonEventBridgeConfig, DestinationType, EventPayload, Millis, RelatedObject, StoredEvent, WebhookEndpoint } from './types.js';

/**
 * The v2 `events_from` scopes, in both spellings Stripe has used: `self`/`other_accounts` (the
 * event destinations launch) and `@self`/`@accounts` (stripe-node 23). Herald keeps what it was
 * given and matches on the meaning.
 */
export const EVENTS_FROM_SELF = ['self', '@self'] as const;
export const EVENTS_FROM_OTHER_ACCOUNTS = ['other_accounts', '@accounts'] as const;
export const EVENTS_FROM_VALUES: readonly string[] = [...EVENTS_FROM_SELF, ...EVENTS_FROM_OTHER_ACCOUNTS];

/** A destination with every optional field filled in (what the stores return). */
export type Destination = WebhookEndpoint & {
  type: DestinationType;
  name: string | null;
  eventPayload: EventPayload;
  eventsFrom: string[];
  amazonEventbridge: AmazonEventBridgeConfig | null;
  updated: Millis;
};

/** Fills the destination fields of an endpoint built by code that predates them. */
export function asDestination(endpoint: WebhookEndpoint): Destination {
  return {
    ...endpoint,
    type: endpoint.type ?? 'webhook_endpoint',
    name: endpoint.name ?? null,
    eventPayload: endpoint.eventPayload ?? 'snapshot',
    eventsFrom: endpoint.eventsFrom ?? eventsFromOfConnect(endpoint.connect),
    amazonEventbridge: endpoint.amazonEventbridge ?? null,
    updated: endpoint.updated ?? endpoint.created,
  };
}

/** The v1 `connect` flag as `events_from`. */
export function eventsFromOfConnect(connect: boolean): string[] {
  return [connect ? 'other_accounts' : 'self'];
}

/** The v1 `connect` flag of an `events_from` list: connected accounts' events only. */
export function connectOfEventsFrom(eventsFrom: readonly string[]): boolean {
  return !eventsFrom.some((s) => (EVENTS_FROM_SELF as readonly string[]).includes(s)) && eventsFrom.some((s) => (EVENTS_FROM_OTHER_ACCOUNTS as readonly string[]).includes(s));
}

/** Whether a destination receiving events from `eventsFrom` wants an event of a connected account (or the account's own). */
export function eventsFromWants(eventsFrom: readonly string[], fromConnectedAccount: boolean): boolean {
  const scopes = (fromConnectedAccount ? EVENTS_FROM_OTHER_ACCOUNTS : EVENTS_FROM_SELF) as readonly string[];
  return eventsFrom.some((s) => scopes.includes(s));
}

/** The bus ARN of an EventBridge destination (its `url` in the delivery log). */
export function eventBridgeBusArn(config: Pick<AmazonEventBridgeConfig, 'awsRegion' | 'awsAccountId' | 'eventBus'>): string {
  if (config.eventBus.startsWith('arn:')) return config.eventBus;
  return `arn:${awsPartition(config.awsRegion)}:events:${config.awsRegion}:${config.awsAccountId}:event-bus/${config.eventBus}`;
}

/** The AWS partition of a region: its ARNs start `arn:aws-cn:` in China, `arn:aws-us-gov:` in GovCloud. */
function awsPartition(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * The subject of an event, as thin payloads name it: the publisher's, else `data.object`'s id and
 * `object` type. Null when the object has no string id.
 */
export function relatedObjectOf(event: Pick<StoredEvent, 'relatedObject' | 'data'>): RelatedObject | null {
  if (event.relatedObject !== undefined) return event.relatedObject;
  const { id, object } = event.data.object;
  if (typeof id !== 'string' || id === '') return null;
  return { id, type: typeof object === 'string' && object !== '' ? object : 'object', url: null };
}

/** Herald's route serving the latest published snapshot of an object. */
export function relatedObjectPath(object: Pick<RelatedObject, 'id' | 'type'>): string {
  return `/v1/objects/${encodeURIComponent(object.type)}/${encodeURIComponent(object.id)}`;
}

/**
 * The `type` of an event in v2 shape (thin notifications, `/v2/core/events`): Stripe names v1 event
 * types there with a `v1.` prefix (`v1.customer.created`), so stripe-node's typed handlers match.
 */
export function v2EventType(type: string): string {
  return type.startsWith('v1.') || type.startsWith('v2.') ? type : `v1.${type}`;
}

/** The v1 name of a type given in v2 form (`v1.charge.succeeded` → `charge.succeeded`). */
export function v1EventType(type: string): string {
  return type.startsWith('v1.') ? type.slice(3) : type;
}

/** The event a destination's `ping` sends (delivered to that destination only). */
export const PING_EVENT_TYPE = 'v2.core.event_destination.ping';

/**
 * Whether a destination wants an event: its type among `enabled_events` (given in v1 or v2 form)
 * and its origin (the account's own, or a connected account's) among `events_from`.
 */
export function destinationWants(destination: Pick<WebhookEndpoint, 'enabledEvents' | 'eventsFrom' | 'connect'>, event: { type: string; account: string | null }): boolean {
  const eventsFrom = destination.eventsFrom ?? eventsFromOfConnect(destination.connect);
  if (!eventsFromWants(eventsFrom, event.account !== null)) return false;
  return endpointWantsType(destination.enabledEvents.map(v1EventType), event.type);
}
