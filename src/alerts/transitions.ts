import type { Millis } from '../domain/types.js';
import type { AlertCandidate, AlertKind, AlertStateRecord } from '../store/store.js';

export interface AlertTransition {
  kind: AlertKind;
  to: AlertStateRecord;
}

/**
 * The alert an endpoint's state calls for now, if any. An endpoint is `ok` until it has failed
 * without a single 2xx for `alertAfterMs` (→ `warned`, a `failing` alert), `disabled` once Herald
 * disabled it (a `disabled` alert, warned or not: a 410 disables at once), and `ok` again at its
 * first 2xx since the run of failures began (a `recovered` alert, also after a re-enable). Each
 * state remembers the start of its run, so a new run after a recovery alerts again.
 */
export function alertTransition(candidate: AlertCandidate, now: Millis, alertAfterMs: number): AlertTransition | null {
  const { endpoint: e, alert } = candidate;
  const disabledByHerald = e.status === 'disabled' && e.disabledReason !== null;
  if (alert.state !== 'ok') {
    const since = alert.failingSince ?? 0;
    if (e.status === 'enabled' && e.lastSuccessAt !== null && e.lastSuccessAt >= since) return { kind: 'recovered', to: { state: 'ok', failingSince: null } };
    if (alert.state === 'warned' && disabledByHerald) return { kind: 'disabled', to: { state: 'disabled', failingSince: alert.failingSince } };
    // Re-enabled after being disabled, and failing for long again without a success in between.
    if (alert.state === 'disabled' && e.status === 'enabled' && e.failingSince !== null && e.failingSince > since && now - e.failingSince >= alertAfterMs) {
      return { kind: 'failing', to: { state: 'warned', failingSince: e.failingSince } };
    }
    return null;
  }
  if (disabledByHerald) return { kind: 'disabled', to: { state: 'disabled', failingSince: e.failingSince ?? e.disabledAt } };
  if (e.status === 'enabled' && e.failingSince !== null && now - e.failingSince >= alertAfterMs) {
    return { kind: 'failing', to: { state: 'warned', failingSince: e.failingSince } };
  }
  return null;
}
