import type { Mode } from '../domain/types.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Delays before each retry. Live: nine retries over about three days (Stripe: "up to 3 days with
 * an exponential back off"). Test: three retries over a few hours (Stripe: "three times over a few
 * hours").
 */
export const RETRY_SCHEDULES: Record<Mode, readonly number[]> = {
  live: [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR],
  test: [5 * MINUTE, 1 * HOUR, 3 * HOUR],
};

/** Built-in delays vary by up to this fraction either way, so failed bursts do not retry in lockstep. */
export const JITTER = 0.1;

export interface RetryPolicyInput {
  mode: Mode;
  /** Retries already scheduled for this delivery (0 after the first attempt fails). */
  step: number;
  /** HERALD_RETRY_SCHEDULE: replaces both modes' schedules, exactly (no jitter). */
  override: readonly number[] | null;
  /** A number in [0, 1); injected so tests are exact. */
  random: number;
}

/** Milliseconds until the next retry, or null when the schedule is exhausted. */
export function retryDelay({ mode, step, override, random }: RetryPolicyInput): number | null {
  const schedule = override ?? RETRY_SCHEDULES[mode];
  const base = schedule[step];
  if (base === undefined) return null;
  if (override) return base;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random));
}
