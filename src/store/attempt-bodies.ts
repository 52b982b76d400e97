import { renderEventPayload } from '../domain/objects.js';
import type { DeliveryAttempt } from '../domain/types.js';
import type { ClaimedDelivery } from './store.js';

/**
 * Most attempts send the event exactly as published, and the event is stored already: such an
 * attempt keeps only the `pending_webhooks` it showed (`publishedBody`), not a second copy of the
 * payload (a kilobyte or more per attempt, most of an attempt row). Read back, the body is rendered
 * again from the event, byte for byte as it was sent. Translated and thin bodies are kept as sent.
 */
export async function withRequestBodies(
  attempts: DeliveryAttempt[],
  loadEvents: (ids: string[]) => Promise<Map<string, ClaimedDelivery['event']>>,
): Promise<DeliveryAttempt[]> {
  const ids = [...new Set(attempts.filter((a) => a.publishedBody && a.requestBody == null).map((a) => a.eventId))];
  if (ids.length === 0) return attempts;
  const events = await loadEvents(ids);
  return attempts.map((attempt) => {
    const event = attempt.publishedBody && attempt.requestBody == null ? events.get(attempt.eventId) : undefined;
    // A pruned event takes its payload with it: the body then reads as not kept (null).
    return event ? { ...attempt, requestBody: renderEventPayload({ ...event, pendingWebhooks: attempt.publishedBody!.pendingWebhooks }) } : attempt;
  });
}
