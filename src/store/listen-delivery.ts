import { newId } from '../domain/ids.js';
import type { DeliveryAttempt } from '../domain/types.js';

/**
 * How a `herald listen` report shows in the delivery log, the same in every store: the attempts of
 * one report form one delivery of the event to the session (`endpoint_id` = the `lsn_…` id), as an
 * endpoint's do. An event forwarded again (a listener restarted before its report arrived) adds to
 * the same automatic delivery; each resend is a manual delivery of its own. Finished at once, these
 * rows are never due, so delivery workers never claim them; a session is not an endpoint, so they
 * never count in the event's `pending_webhooks`.
 */
export const LISTEN_DELIVERY_UPSERT_SQL = `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, mode, kind, state, attempt_count, delivered_at, created)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (event_id, endpoint_id) WHERE kind = 'automatic'
  DO UPDATE SET state = excluded.state, attempt_count = deliveries.attempt_count + excluded.attempt_count,
    delivered_at = COALESCE(deliveries.delivered_at, excluded.delivered_at)
  RETURNING id`;

/** The parameters of LISTEN_DELIVERY_UPSERT_SQL for one non-empty report. */
export function listenDeliveryValues(sessionId: string, eventId: string, attempts: readonly DeliveryAttempt[]): unknown[] {
  const first = attempts[0]!;
  const succeeded = attempts.every((a) => a.outcome === 'succeeded');
  const last = Math.max(...attempts.map((a) => a.created));
  return [newId.delivery(), eventId, sessionId, first.accountId, first.mode, first.kind, succeeded ? 'succeeded' : 'failed', attempts.length, succeeded ? last : null, first.created];
}
