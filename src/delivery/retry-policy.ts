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

/** Statuses whose Retry-After header Herald honours (RFC 9110: 429 Too Many Requests, 503 Service Unavailable). */
export const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * Milliseconds a `Retry-After` value asks for: delay-seconds (`120`) or an HTTP date, relative to
 * `now`. Null when absent or unreadable; a date in the past reads as 0.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text), 10 * 365 * 86_400) * 1000;
  if (!/[a-z]/i.test(text)) return null; // not a date either (e.g. "-5", "1.5")
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

export interface RetryAfterBounds {
  /** The policy's own delay before the next attempt: a receiver can lengthen the wait, never shorten it. */
  policyDelay: number;
  /** HERALD_RETRY_AFTER_MAX. */
  maxMs: number;
  /** What is left of the schedule from this step (the sum of its remaining delays): the retry horizon. */
  horizonMs: number;
}

/**
 * The delay to use when the receiver sent `Retry-After`: at least the policy's delay, at most
 * the cap and the retry horizon (the wait never outlasts the rest of the schedule).
 */
export function boundedRetryAfter(requestedMs: number, bounds: RetryAfterBounds): number {
  return Math.max(bounds.policyDelay, Math.min(requestedMs, bounds.maxMs, bounds.horizonMs));
}

/** The sum of the schedule's delays from `step` on (without jitter). */
export function remainingSchedule(mode: Mode, step: number, override: readonly number[] | null): number {
  return (override ?? RETRY_SCHEDULES[mode]).slice(step).reduce((sum, d) => sum + d, 0);
}
