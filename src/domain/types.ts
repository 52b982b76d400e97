/**
 * Herald's domain, in Stripe's words.
 *
 * Glossary
 * - Account: a tenant. Owns API keys, endpoints and events. Never sees another account's data.
 * - Connected account: a Connect account of a platform account; its events go to the platform's
 *   `connect` endpoints.
 * - Mode: `test` or `live`. Every object lives in exactly one mode; a key sees only its own mode.
 * - Webhook endpoint (`we_…`): an event destination; an HTTPS URL plus the event types it wants.
 * - Event destination: a webhook endpoint or an Amazon EventBridge bus (`ed_…`), one model for both
 *   (`type`); the v2 API shows every destination, the v1 API only webhook endpoints.
 * - Thin event: a delivery of only `{ id, type, related_object, … }` (`object: 'v2.core.event'`);
 *   the receiver fetches the event or the object when it needs them.
 * - Event (`evt_…`): something that happened, published by the application. Immutable once stored.
 * - Delivery: one event bound for one endpoint. The unit of work of the queue; it may take several
 *   attempts. `automatic` deliveries follow the retry schedule; `manual` ones (resends) are tried once.
 * - Attempt: one HTTP POST of an event to an endpoint, and what came of it.
 * - Lease: a claim on a delivery by a worker until a deadline; an expired lease makes the delivery
 *   claimable again, which is how a crashed worker loses nothing.
 */

export type Mode = 'test' | 'live';

/** Milliseconds since the epoch. All stored times use it; the API shows Unix seconds. */
export type Millis = number;

export interface Account {
  id: string; // acct_…
  name: string;
  /** The Connect application id (`ca_…`) shown on this account's `connect` endpoints. */
  applicationId: string;
  defaultApiVersion: string;
  created: Millis;
}

/** `secret` keys (`sk_…`) may do anything; `restricted` keys (`rk_…`) only read. */
export type ApiKeyKind = 'secret' | 'restricted';

export interface ApiKeyOwner {
  accountId: string;
  mode: Mode;
  kind: ApiKeyKind;
}

/**
 * A connected account (Stripe Connect) of a platform account: the `account` its events carry. It has
 * no keys or endpoints of its own; its id means something only within its platform.
 */
export interface ConnectedAccount {
  id: string; // acct_…
  platformAccountId: string;
  name: string | null;
  email: string | null;
  created: Millis;
}

export type EndpointStatus = 'enabled' | 'disabled';

/** How deliveries are signed: Stripe's `Stripe-Signature`, Standard Webhooks' `webhook-*` headers, or both. */
export type SignatureScheme = 'stripe' | 'standard';
export const SIGNATURE_SCHEMES: readonly SignatureScheme[] = ['stripe', 'standard'];

/** How a destination receives events. */
export type DestinationType = 'webhook_endpoint' | 'amazon_eventbridge';
export const DESTINATION_TYPES: readonly DestinationType[] = ['webhook_endpoint', 'amazon_eventbridge'];

/** A full Event object (`snapshot`) or a thin notification (`thin`). */
export type EventPayload = 'snapshot' | 'thin';

/** Per-destination AWS credentials; write-only in the API, kept like signing secrets. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AmazonEventBridgeConfig {
  /** The 12-digit AWS account that owns the bus. */
  awsAccountId: string;
  awsRegion: string;
  /** Name or ARN of the event bus, as PutEvents' `EventBusName` takes it. */
  eventBus: string;
  /** null: the standard AWS credential chain of the Herald process. */
  credentials: AwsCredentials | null;
}

/**
 * An event destination; a webhook endpoint is one of type `webhook_endpoint`. The destination fields
 * are optional so older call sites keep compiling: absent means a v1 webhook endpoint (snapshot,
 * events from `connect`); the stores always fill them in.
 */
export interface WebhookEndpoint {
  id: string;
  type?: DestinationType;
  /** The v2 API's label (null for endpoints created through the v1 API). */
  name?: string | null;
  eventPayload?: EventPayload;
  /**
   * Whose events it receives, in the spelling it was given: `self`/`@self` (the account's own) and
   * `other_accounts`/`@accounts` (its connected accounts'). `connect` mirrors the second alone.
   */
  eventsFrom?: string[];
  /** Set exactly when `type` is `amazon_eventbridge`. */
  amazonEventbridge?: AmazonEventBridgeConfig | null;
  updated?: Millis;
  accountId: string;
  mode: Mode;
  /** The webhook URL; for an EventBridge destination, its bus ARN (what the delivery log shows). */
  url: string;
  enabledEvents: string[];
  /** The version snapshot payloads are rendered in (v2: `snapshot_api_version`); null: the account's default when the event was created. */
  apiVersion: string | null;
  connect: boolean;
  description: string | null;
  metadata: Record<string, string>;
  /** Herald's extension; `['stripe']` unless the user chose otherwise. */
  signatureSchemes: SignatureScheme[];
  status: EndpointStatus;
  /** Why Herald disabled it on its own (null when a user disabled it or it is enabled). */
  disabledReason: string | null;
  disabledAt: Millis | null;
  /** Start of the current run of failures; null once an attempt succeeds. */
  failingSince: Millis | null;
  lastSuccessAt: Millis | null;
  created: Millis;
}

export interface EndpointSecret {
  secret: string;
  created: Millis;
  /** null: current secret. Otherwise the moment a rolled secret stops being signed with. */
  expiresAt: Millis | null;
}

export interface EventRequestInfo {
  id: string | null;
  idempotency_key: string | null;
}

export interface StoredEvent {
  id: string;
  accountId: string;
  mode: Mode;
  type: string;
  /** The connected account that originated it, for Connect events. */
  account: string | null;
  apiVersion: string;
  /** The account's default version when the event was created: the version of endpoints that name none (absent: apiVersion). */
  accountApiVersion?: string;
  created: Millis;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  request: EventRequestInfo;
  /** What thin payloads name as the event's subject (absent: `data.object`'s id and type); url null: Herald's own object route. */
  relatedObject?: RelatedObject | null;
  /** Endpoints (automatic deliveries) that have not had a successful attempt yet. */
  pendingWebhooks: number;
}

export interface RelatedObject {
  id: string;
  type: string;
  /** The publisher's own URL for the object; null: Herald serves its latest published snapshot. */
  url: string | null;
}

export type DeliveryKind = 'automatic' | 'manual';
export type DeliveryState = 'pending' | 'in_flight' | 'succeeded' | 'failed' | 'cancelled';

/**
 * Why an attempt failed. `http_error` is any non-2xx, non-3xx status. `blocked_address`: the
 * endpoint's host is (or resolves only to) an address deliveries may not reach (private networks).
 */
export type FailureKind =
  | 'http_error'
  | 'blocked_address'
  | 'redirect'
  | 'timeout'
  | 'connection_refused'
  | 'dns_error'
  | 'tls_error'
  | 'connection_error'
  | 'endpoint_unavailable'
  // Amazon EventBridge destinations
  | 'throttled' // ThrottlingException or 429, for the call or the entry
  | 'aws_error' // any other error AWS answered (5xx, access denied, a failed entry's ErrorCode…)
  | 'entry_too_large'; // over PutEvents' 256 KB entry limit: never retried

export interface DeliveryAttempt {
  id: string; // whatt_…
  deliveryId: string;
  eventId: string;
  endpointId: string;
  accountId: string;
  mode: Mode;
  kind: DeliveryKind;
  attemptNumber: number;
  url: string;
  created: Millis;
  durationMs: number;
  outcome: 'succeeded' | 'failed';
  failureKind: FailureKind | null;
  /** Short human description of the failure (e.g. the socket error), null on success. */
  failureMessage: string | null;
  httpStatus: number | null;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string> | null;
  /** The first 4 KB of the response body. */
  responseBody: string | null;
  /** The body exactly as sent (signed over); null where a store or a listener did not keep it. */
  requestBody?: string | null;
  /**
   * Set instead of `requestBody` when the body was the event as published: the body is rendered
   * again from the stored event with this `pending_webhooks` when read (see store/attempt-bodies.ts).
   */
  publishedBody?: { pendingWebhooks: number } | null;
  /** When the next automatic attempt is due, if one is scheduled. */
  nextRetryAt: Millis | null;
}

/** A page request in Stripe's cursor style: at most one of the cursors is set. */
export interface PageRequest {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
}

export interface Page<T> {
  data: T[];
  hasMore: boolean;
  /** The cursor named an object that does not exist (in this scope). */
  missingCursor?: boolean;
}
