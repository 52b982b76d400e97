import { asDestination, eventsFromOfConnect } from '../domain/destinations.js';
import type { AwsCredentials, DestinationType, EventPayload, RelatedObject, StoredEvent, WebhookEndpoint } from '../domain/types.js';

/**
 * Row mapping of the destination columns (migrations sqlite/009, postgres/008) and of the event
 * subject columns (sqlite/010, postgres/009), shared by both stores: the columns are the same.
 */
type Row = Record<string, unknown>;

export function destinationParams(endpoint: WebhookEndpoint): Record<string, string | number | null> {
  const d = asDestination(endpoint);
  const aws = d.amazonEventbridge;
  return {
    type: d.type,
    name: d.name,
    event_payload: d.eventPayload,
    events_from: d.eventsFrom.join(','),
    aws_account_id: aws?.awsAccountId ?? null,
    aws_region: aws?.awsRegion ?? null,
    aws_event_bus: aws?.eventBus ?? null,
    aws_credentials: aws?.credentials ? JSON.stringify(aws.credentials) : null,
    updated: d.updated,
  };
}

export function destinationOfRow(row: Row): Required<Pick<WebhookEndpoint, 'type' | 'name' | 'eventPayload' | 'eventsFrom' | 'amazonEventbridge' | 'updated'>> {
  const type = (row.type as DestinationType | undefined) ?? 'webhook_endpoint';
  const eventsFrom = typeof row.events_from === 'string' && row.events_from !== '' ? row.events_from.split(',') : eventsFromOfConnect(row.connect === 1 || row.connect === true);
  return {
    type,
    name: (row.name as string | null | undefined) ?? null,
    eventPayload: (row.event_payload as EventPayload | undefined) ?? 'snapshot',
    eventsFrom,
    amazonEventbridge:
      type === 'amazon_eventbridge'
        ? {
            awsAccountId: (row.aws_account_id as string | null) ?? '',
            awsRegion: (row.aws_region as string | null) ?? '',
            eventBus: (row.aws_event_bus as string | null) ?? '',
            credentials: typeof row.aws_credentials === 'string' ? (JSON.parse(row.aws_credentials) as AwsCredentials) : null,
          }
        : null,
    updated: Number(row.updated ?? row.created),
  };
}

export function eventSubjectOfRow(row: Row): Pick<StoredEvent, 'accountApiVersion' | 'relatedObject'> {
  return {
    accountApiVersion: (row.account_api_version as string | null | undefined) ?? (row.api_version as string),
    relatedObject: relatedObjectOfColumns(row.object_id, row.object_type, row.related_object_url),
  };
}

/** An event's related object from its three columns (object_id null: none was named). */
export function relatedObjectOfColumns(objectId: unknown, objectType: unknown, url: unknown): RelatedObject | null {
  return typeof objectId === 'string' ? { id: objectId, type: (objectType as string | null) ?? 'object', url: (url as string | null) ?? null } : null;
}

/**
 * Applies `rewrite` (seal, open, re-seal) to the secret parts of per-destination AWS credentials
 * (secret key, session token) with the destination's id as the owner; the access key id stays
 * readable, as it identifies rather than authenticates.
 */
export function rewriteAwsCredentials(credentials: AwsCredentials, ownerId: string, rewrite: (value: string, ownerId: string) => string): AwsCredentials {
  const next: AwsCredentials = { ...credentials, secretAccessKey: rewrite(credentials.secretAccessKey, ownerId) };
  if (credentials.sessionToken !== undefined) next.sessionToken = rewrite(credentials.sessionToken, ownerId);
  return next;
}

/** The same on a stored `aws_credentials` column (JSON); answers the new column value. */
export function rewriteStoredAwsCredentials(stored: string, ownerId: string, rewrite: (value: string, ownerId: string) => string): string {
  return JSON.stringify(rewriteAwsCredentials(JSON.parse(stored) as AwsCredentials, ownerId, rewrite));
}
