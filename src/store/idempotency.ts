import type { IdempotencyVerdict } from './store.js';

/** The verdict that lets a request run, with the id reserved for its object (shared by both stores). */
export function proceedVerdict(reservedId: string | null, resumed: boolean): IdempotencyVerdict {
  return { kind: 'proceed', ...(reservedId === null ? {} : { reservedId }), ...(resumed ? { resumed: true as const } : {}) };
}
