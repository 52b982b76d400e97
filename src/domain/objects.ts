import { toUnixSeconds } from './clock.js';
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
