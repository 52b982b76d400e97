/**
 * The per-endpoint bound of a claim (Store.claimDueDeliveries with `fairness`), shared by the
 * SQLite and PostgreSQL stores.
 */
import type { ClaimFairness } from './store.js';

/** How many more deliveries of `endpointId` a claim bounded by `fairness` may take. */
export function claimAllowance(fairness: ClaimFairness, endpointId: string): number {
  return Math.max(0, fairness.perEndpoint - (fairness.inFlight.get(endpointId) ?? 0));
}

/** The most deliveries any claim may take without passing an endpoint's bound: the busiest one's allowance. */
function leastAllowance(fairness: ClaimFairness): number {
  let busiest = 0;
  for (const count of fairness.inFlight.values()) busiest = Math.max(busiest, count);
  return Math.max(0, fairness.perEndpoint - busiest);
}

/**
 * Whether `fairness` can bind a claim of `limit`: not when every endpoint may take the whole batch,
 * so the stores claim as without it (the usual case when no endpoint is near its bound).
 */
export function fairnessBinds(fairness: ClaimFairness | undefined, limit: number): fairness is ClaimFairness {
  return fairness !== undefined && leastAllowance(fairness) < limit;
}

/**
 * The claim a worker makes for up to `limit` deliveries under `fairness`. A claim no larger than
 * the busiest endpoint's allowance cannot take any endpoint past its bound, so it is made without
 * the bound, capped at that allowance, as long as it still takes at least half of `limit`: the
 * bounded claim costs more (on PostgreSQL about 2 ms of planning alone, more than a whole plain
 * claim), and is needed only near the bound, where it looks past one endpoint's backlog to the
 * others' work.
 */
export function claimShape(fairness: ClaimFairness, limit: number): { limit: number; fairness?: ClaimFairness } {
  const allowance = leastAllowance(fairness);
  return allowance >= Math.ceil(limit / 2) ? { limit: Math.min(limit, allowance) } : { limit, fairness };
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
