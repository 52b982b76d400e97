/**
 * The per-endpoint bound of a claim (Store.claimDueDeliveries with `fairness`), shared by the
 * SQLite and PostgreSQL stores.
 */
import type { ClaimFairness } from './store.js';

/** How many more deliveries of `endpointId` a claim bounded by `fairness` may take. */
export function claimAllowance(fairness: ClaimFairness, endpointId: string): number {
  return Math.max(0, fairness.perEndpoint - (fairness.inFlight.get(endpointId) ?? 0));
}

/**
 * Whether `fairness` can bind a claim of `limit`: not when every endpoint may take the whole batch,
 * so the stores claim as without it (the usual case when no endpoint is near its bound).
 */
export function fairnessBinds(fairness: ClaimFairness | undefined, limit: number): fairness is ClaimFairness {
  if (!fairness) return false;
  let busiest = 0;
  for (const count of fairness.inFlight.values()) busiest = Math.max(busiest, count);
  return fairness.perEndpoint - busiest < limit;
}

/**
 * Counts the rows of a batch against their endpoints' allowances: answers false for the first row
 * beyond its endpoint's allowance (the batch is then not within the bound as it is).
 */
export function allowanceCounter(fairness: ClaimFairness): (endpointId: string) => boolean {
  const taken = new Map<string, number>();
  return (endpointId) => {
    const count = (taken.get(endpointId) ?? 0) + 1;
    taken.set(endpointId, count);
    return count <= claimAllowance(fairness, endpointId);
  };
}
