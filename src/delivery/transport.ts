import type { Destination } from '../domain/destinations.js';
import type { DeliveryAttempt, DestinationType, Millis } from '../domain/types.js';

/**
 * How the delivery worker hands events to a destination that is not a webhook URL (Amazon
 * EventBridge). The worker claims, renders (snapshot in the destination's version, or thin),
 * applies the retry policy and records attempts exactly as for webhooks; a transport only carries
 * bytes and says, per entry, what happened.
 */
export interface TransportEntry {
  deliveryId: string;
  eventId: string;
  /** The event's type (EventBridge `DetailType`). */
  eventType: string;
  accountId: string;
  /** The connected account the event came from, if any. */
  connectedAccount: string | null;
  created: Millis;
  /** The rendered event JSON (snapshot or thin), byte-exact (EventBridge `Detail`). */
  body: string;
}

/**
 * One entry's outcome, in the delivery log's terms; the worker turns it into a DeliveryAttempt and
 * applies the retry policy. `failureKind` names the destination's error answers (EventBridge:
 * `throttled`, `aws_error`, `entry_too_large`), else timeout, connection_*, dns_error or tls_error;
 * `requestHeaders` never carry credentials; `responseBody` is an excerpt (the entry's own result,
 * or the error body); `httpStatus` is that of the call that decided the outcome.
 */
export type TransportEntryResult = Pick<
  DeliveryAttempt,
  'outcome' | 'failureKind' | 'failureMessage' | 'httpStatus' | 'requestHeaders' | 'responseHeaders' | 'responseBody' | 'durationMs'
> & {
  /** No retry can succeed (EventBridge: the entry is over 256 KB, or AWS answered MalformedDetail): the delivery fails now. */
  permanent?: boolean;
};

export interface DestinationTransport {
  /**
   * Sends any number of entries to one destination (batching within the destination's limits is
   * the transport's job) and returns one result per entry, in order. It never throws for the
   * destination's failure; a throw counts as a `connection_error` of every entry.
   */
  send(destination: Destination, entries: TransportEntry[], timeoutMs: number): Promise<TransportEntryResult[]>;
  close?(): Promise<void>;
}

/** Transports by destination type; webhook endpoints use the worker's own HTTP sender. */
export type DestinationTransports = Partial<Record<Exclude<DestinationType, 'webhook_endpoint'>, DestinationTransport>>;
