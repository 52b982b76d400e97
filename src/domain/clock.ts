import type { Millis } from './types.js';

/** Time as Herald sees it. Injected everywhere so tests can move it. */
export interface Clock {
  now(): Millis;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests can set and advance. */
export class ManualClock implements Clock {
  constructor(private current: Millis = Date.now()) {}
  now(): Millis {
    return this.current;
  }
  set(time: Millis): void {
    this.current = time;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export const toUnixSeconds = (ms: Millis): number => Math.floor(ms / 1000);
