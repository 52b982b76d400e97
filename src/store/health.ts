import { formatDuration } from '../domain/duration.js';
import type { Millis } from '../domain/types.js';

/** The reason recorded on an endpoint that Herald disabled because it kept failing. */
export function disableReason(failingSince: Millis, now: Millis): string {
  return `Disabled automatically: no successful (2xx) delivery since ${new Date(failingSince).toISOString()} (${formatDuration(now - failingSince)} of failures).`;
}

/** The reason recorded on an endpoint whose receiver answered 410 Gone. */
export function goneReason(now: Millis): string {
  return `Disabled automatically: the receiver answered 410 Gone at ${new Date(now).toISOString()}, meaning the endpoint no longer exists; enable it again (disabled=false) once it does.`;
}
