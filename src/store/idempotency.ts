import type { IdempotencyVerdict, IdempotentRequest } from './store.js';

/** A stored idempotency key, as both stores read it. */
export interface StoredIdempotencyKey {
  request_hash: string;
  status: number | null;
  body: string | null;
  locked_until: number;
  expires_at: number;
  reserved_id: string | null;
}

/**
 * Stripe's rule for a request that finds its key stored (the same in both stores): a live key with
 * other parameters is a mismatch, a finished one replays its answer, one still locked is in
 * progress. Otherwise the request takes the key over: an expired key as if new, one whose earlier
 * run died without finishing resumed under the id that run reserved.
 */
export function judgeStoredKey(row: StoredIdempotencyKey | undefined, req: IdempotentRequest): Exclude<IdempotencyVerdict, { kind: 'proceed' }> | { kind: 'take_over'; reservedId: string | null; resumed: boolean } {
  const live = row !== undefined && row.expires_at > req.now;
  if (live) {
    if (row.request_hash !== req.requestHash) return { kind: 'mismatch' };
    if (row.status !== null) return { kind: 'replay', status: row.status, body: row.body as string };
    if (row.locked_until > req.now) return { kind: 'in_progress' };
  }
  const earlier = live ? row.reserved_id : null;
  return { kind: 'take_over', reservedId: earlier ?? req.reserve?.id ?? null, resumed: earlier !== null };
}

/** The verdict that lets a request run, with the id reserved for its object (shared by both stores). */
export function proceedVerdict(reservedId: string | null, resumed: boolean): IdempotencyVerdict {
  return { kind: 'proceed', ...(reservedId === null ? {} : { reservedId }), ...(resumed ? { resumed: true as const } : {}) };
}
