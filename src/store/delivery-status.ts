import type { DeliveryStatus } from './store.js';

/**
 * How a delivery row's state reads as a `DeliveryStatus`, shared by every store so the dashboard
 * shows the same thing on SQLite and PostgreSQL. `attempt_count` counts claims: a pending delivery
 * that was attempted before is waiting for a retry, so its last attempt failed.
 */
export const DELIVERY_STATUS_SQL: Record<DeliveryStatus, string> = {
  succeeded: "d.state = 'succeeded'",
  failed: "(d.state = 'failed' OR (d.state = 'pending' AND d.attempt_count > 0))",
  pending: "(d.state = 'in_flight' OR (d.state = 'pending' AND d.attempt_count = 0))",
  cancelled: "d.state = 'cancelled'",
};

/** The status of a delivery in `state` after `attemptCount` claims (see DELIVERY_STATUS_SQL). */
export function deliveryStatus(state: string, attemptCount: number): DeliveryStatus {
  if (state === 'succeeded' || state === 'cancelled' || state === 'failed') return state;
  return state === 'pending' && attemptCount > 0 ? 'failed' : 'pending';
}
