import { formatDuration } from '../domain/duration.js';
import { randomAlphanumeric } from '../domain/ids.js';
import type { DeliveryAttempt, Millis, WebhookEndpoint } from '../domain/types.js';
import type { AlertDetails, AlertKind, EndpointAlert } from '../store/store.js';

export const newAlertId = (): string => `walrt_${randomAlphanumeric(24)}`;

const iso = (ms: Millis) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The alert about `endpoint`: its subject and plain text (the email) and the same facts as data (the
 * API, the dashboard and the log line). `recentAttempts` are the endpoint's latest attempts, newest first.
 */
export function composeAlert(
  kind: AlertKind,
  endpoint: WebhookEndpoint,
  recentAttempts: DeliveryAttempt[],
  context: { now: Millis; disableAfterMs: number; failingSince: Millis | null },
): EndpointAlert {
  const since = context.failingSince;
  const failed = recentAttempts.filter((a) => a.outcome === 'failed' && (since === null || a.created >= since));
  const counts = new Map<string, AlertDetails['failures'][number]>();
  for (const a of failed) {
    const key = `${a.failureKind} ${a.httpStatus}`;
    const entry = counts.get(key) ?? { failureKind: a.failureKind ?? 'unknown', httpStatus: a.httpStatus, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  const latest = failed[0] ?? null;
  const details: AlertDetails = {
    url: endpoint.url,
    failingSince: since,
    disableAt: kind === 'failing' && since !== null ? since + context.disableAfterMs : null,
    disabledAt: kind === 'disabled' ? endpoint.disabledAt : null,
    disabledReason: kind === 'disabled' ? endpoint.disabledReason : null,
    recoveredAt: kind === 'recovered' ? endpoint.lastSuccessAt : null,
    failures: [...counts.values()].sort((a, b) => b.count - a.count),
    example: latest && {
      attemptId: latest.id,
      eventId: latest.eventId,
      created: latest.created,
      failureKind: latest.failureKind,
      httpStatus: latest.httpStatus,
      failureMessage: latest.failureMessage,
    },
  };
  const where = `${endpoint.url} (${endpoint.id}, ${endpoint.mode} mode)`;
  const lines: string[] = [];
  let subject: string;
  if (kind === 'failing') {
    subject = `[Herald] Webhook endpoint failing: ${endpoint.url}`;
    lines.push(
      `Deliveries to the webhook endpoint ${where} have all failed since ${iso(since ?? context.now)} (${formatDuration(context.now - (since ?? context.now))}).`,
      '',
      `Herald will disable it at ${iso(details.disableAt ?? context.now)} unless a delivery succeeds (answers 2xx) before then. Events keep being retried until that time.`,
    );
  } else if (kind === 'disabled') {
    subject = `[Herald] Webhook endpoint disabled: ${endpoint.url}`;
    lines.push(
      `Herald disabled the webhook endpoint ${where} at ${iso(endpoint.disabledAt ?? context.now)}.`,
      endpoint.disabledReason ?? '',
      '',
      'It receives no events until it is enabled again (dashboard, or POST /v1/webhook_endpoints/{id} with disabled=false). Events published meanwhile can then be sent with the recover route or `herald endpoints recover`.',
    );
  } else {
    subject = `[Herald] Webhook endpoint recovered: ${endpoint.url}`;
    lines.push(`The webhook endpoint ${where} answered 2xx again at ${iso(endpoint.lastSuccessAt ?? context.now)}${since !== null ? `, after failing since ${iso(since)}` : ''}.`);
  }
  if (kind !== 'recovered' && details.failures.length > 0) {
    lines.push('', `Recent failures (last ${failed.length} attempts):`);
    for (const f of details.failures) lines.push(`  ${f.count} × ${f.failureKind}${f.httpStatus !== null ? ` (HTTP ${f.httpStatus})` : ''}`);
  }
  if (kind !== 'recovered' && latest) {
    lines.push(
      '',
      'Latest failed attempt:',
      `  ${iso(latest.created)}  event ${latest.eventId}  attempt ${latest.id}`,
      `  ${latest.failureKind ?? 'failed'}${latest.httpStatus !== null ? ` HTTP ${latest.httpStatus}` : ''}${latest.failureMessage ? `: ${latest.failureMessage}` : ''}`,
    );
    if (latest.responseBody) lines.push(`  Response body: ${latest.responseBody.slice(0, 300).replace(/\s+/g, ' ')}`);
  }
  lines.push('', '— Herald');
  return {
    id: newAlertId(),
    accountId: endpoint.accountId,
    mode: endpoint.mode,
    endpointId: endpoint.id,
    kind,
    created: context.now,
    subject,
    body: lines.join('\n'),
    details,
    delivery: 'pending',
    recipient: null,
    sendAttempts: 0,
    lastError: null,
    sentAt: null,
  };
}
