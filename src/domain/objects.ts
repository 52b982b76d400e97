import { toUnixSeconds } from './clock.js';
import { asDestination, eventBridgeBusArn, relatedObjectPath, v2EventType } from './destinations.js';
import type { DeliveryAttempt, StoredEvent, WebhookEndpoint } from './types.js';

/** The Event object, fields in Stripe's order. This exact text is what receivers get and sign over. */
export function eventObject(event: Omit<StoredEvent, 'pendingWebhooks'> & { pendingWebhooks: number }): Record<string, unknown> {
  const object: Record<string, unknown> = { id: event.id, object: 'event' };
  if (event.account !== null) object.account = event.account;
  object.api_version = event.apiVersion;
  object.created = toUnixSeconds(event.created);
  object.data = event.data;
  object.livemode = event.mode === 'live';
  object.pending_webhooks = event.pendingWebhooks;
  object.request = event.request;
  object.type = event.type;
  return object;
}

/** The WebhookEndpoint object with exactly Stripe's fields (the secret only when given). */
export function webhookEndpointObject(endpoint: WebhookEndpoint, applicationId: string, secret?: string): Record<string, unknown> {
  const object: Record<string, unknown> = {
    id: endpoint.id,
    object: 'webhook_endpoint',
    api_version: endpoint.apiVersion,
    application: endpoint.connect ? applicationId : null,
    created: toUnixSeconds(endpoint.created),
    description: endpoint.description,
    enabled_events: endpoint.enabledEvents,
    livemode: endpoint.mode === 'live',
    metadata: endpoint.metadata,
  };
  if (secret !== undefined) object.secret = secret;
  // Herald's extension, shown only when the endpoint does not use the default (Stripe's scheme alone),
  // so the object keeps exactly Stripe's fields for everyone who did not ask for more.
  if (endpoint.signatureSchemes.length !== 1 || endpoint.signatureSchemes[0] !== 'stripe') object.signature_schemes = endpoint.signatureSchemes;
  if (endpoint.eventPayload === 'thin') object.event_payload = 'thin';
  object.status = endpoint.status;
  object.url = endpoint.url;
  return object;
}

/** A delivery attempt, Herald's extension object. */
export function deliveryAttemptObject(attempt: DeliveryAttempt): Record<string, unknown> {
  return {
    id: attempt.id,
    object: 'webhook_delivery_attempt',
    attempt_number: attempt.attemptNumber,
    created: toUnixSeconds(attempt.created),
    created_ms: attempt.created,
    duration_ms: attempt.durationMs,
    event: attempt.eventId,
    event_delivery: attempt.deliveryId,
    failure_kind: attempt.failureKind,
    failure_message: attempt.failureMessage,
    http_status: attempt.httpStatus,
    kind: attempt.kind,
    livemode: attempt.mode === 'live',
    next_retry_at: attempt.nextRetryAt === null ? null : toUnixSeconds(attempt.nextRetryAt),
    outcome: attempt.outcome,
    request_headers: attempt.requestHeaders,
    request_body: attempt.requestBody ?? null,
    response_body: attempt.responseBody,
    response_headers: attempt.responseHeaders,
    url: attempt.url,
    webhook_endpoint: attempt.endpointId,
  };
}

/**
 * The delivery body of an event: the Event object as compact JSON, fields in Stripe's order, with
 * `data` spliced in from its stored JSON text (no parse, no re-serialisation per attempt).
 */
export function renderEventPayload(event: {
  id: string;
  account: string | null;
  apiVersion: string;
  created: number;
  dataJson: string;
  mode: 'test' | 'live';
  pendingWebhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}): string {
  return (
    `{"id":${JSON.stringify(event.id)},"object":"event"` +
    (event.account !== null ? `,"account":${JSON.stringify(event.account)}` : '') +
    `,"api_version":${JSON.stringify(event.apiVersion)},"created":${toUnixSeconds(event.created)}` +
    `,"data":${event.dataJson},"livemode":${event.mode === 'live'},"pending_webhooks":${event.pendingWebhooks}` +
    `,"request":${JSON.stringify(event.request)},"type":${JSON.stringify(event.type)}}`
  );
}

type ThinSource = Pick<StoredEvent, 'id' | 'type' | 'created' | 'mode' | 'account' | 'request' | 'relatedObject'>;

/** ISO 8601 with milliseconds, as Stripe's v2 API writes times. */
export function v2Time(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A thin event notification (`object: 'v2.core.event'`): what happened and to which object, not
 * the object itself. stripe-node's `parseEventNotification` reads it; `fetchEvent()` and
 * `fetchRelatedObject()` then call `/v2/core/events/:id` and `related_object.url`.
 */
export function thinEventObject(event: ThinSource): Record<string, unknown> {
  const related = event.relatedObject ?? null;
  return {
    id: event.id,
    object: 'v2.core.event',
    type: v2EventType(event.type),
    created: v2Time(event.created),
    livemode: event.mode === 'live',
    related_object: related && { id: related.id, type: related.type, url: related.url ?? relatedObjectPath(related) },
    reason: event.request.id === null ? null : { type: 'request', request: { id: event.request.id, idempotency_key: event.request.idempotency_key } },
    context: event.account,
  };
}

export function renderThinPayload(event: ThinSource): string {
  return JSON.stringify(thinEventObject(event));
}

/** The full v2 event (`GET /v2/core/events/:id`): the thin fields plus the event's data as created. */
export function v2EventObject(event: StoredEvent): Record<string, unknown> {
  return { ...thinEventObject(event), api_version: event.apiVersion, data: event.data, snapshot_event: event.id };
}

/**
 * The v2 EventDestination object. Webhook URLs and secrets are shown only when asked for with
 * `include` (Stripe's redaction); EventBridge credentials never are.
 */
export function eventDestinationObject(endpoint: WebhookEndpoint, include: { url?: boolean; secret?: string } = {}): Record<string, unknown> {
  const d = asDestination(endpoint);
  const object: Record<string, unknown> = {
    id: d.id,
    object: 'v2.core.event_destination',
    created: v2Time(d.created),
    description: d.description ?? '',
    enabled_events: d.enabledEvents,
    event_payload: d.eventPayload,
    events_from: d.eventsFrom,
    livemode: d.mode === 'live',
    metadata: d.metadata,
    name: d.name ?? d.description ?? d.id,
  };
  if (d.eventPayload === 'snapshot') object.snapshot_api_version = d.apiVersion;
  object.status = d.status;
  object.status_details = d.status === 'disabled' ? { disabled: { reason: d.disabledReason === null ? 'user' : 'failing', message: d.disabledReason } } : null;
  object.type = d.type;
  object.updated = v2Time(d.updated);
  if (d.type === 'webhook_endpoint') {
    const webhook: Record<string, unknown> = {};
    if (include.secret !== undefined) webhook.signing_secret = include.secret;
    if (include.url) webhook.url = d.url;
    object.webhook_endpoint = webhook;
  } else if (d.amazonEventbridge) {
    const aws = d.amazonEventbridge;
    // Stripe's fields, then Herald's: the bus events are put on, and where the credentials come from.
    object.amazon_eventbridge = {
      aws_account_id: aws.awsAccountId,
      aws_region: aws.awsRegion,
      event_bus_name: aws.eventBus,
      event_bus_arn: eventBridgeBusArn(aws),
      credentials_source: aws.credentials === null ? 'default_chain' : 'destination',
    };
  }
  return object;
}
