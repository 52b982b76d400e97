import { isEmailAddress } from '../../config/config.js';
import { toUnixSeconds } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import type { EndpointAlert } from '../../store/store.js';
import type { RequestContext } from '../app.js';
import type { Router } from '../http.js';
import { Params } from '../params.js';
import { listObject, PAGE_PARAMS, readPage } from './lists.js';

/**
 * Herald's extensions for failure alerts: the alerts sent about this account's endpoints (newest
 * first; the dashboard's banner), and where they are emailed.
 */
export function alertRoutes(router: Router<RequestContext>): void {
  router
    .add('GET', '/v1/webhook_alerts', list)
    .add('GET', '/v1/alert_settings', retrieveSettings)
    .add('POST', '/v1/alert_settings', updateSettings);
}

async function list(ctx: RequestContext) {
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const request = readPage(p);
  const page = await ctx.deps.store.listAlerts(ctx.account.id, ctx.mode, request);
  const operatorEmail = ctx.deps.config.alertEmail;
  return { body: listObject(page, request, '/v1/webhook_alerts', 'webhook alert', (alert) => alertObject(alert, operatorEmail)) };
}

async function retrieveSettings(ctx: RequestContext) {
  new Params(ctx.params, []);
  return { body: settingsObject(ctx, await ctx.deps.store.getAlertEmail(ctx.account.id)) };
}

/** `email=ops@example.com` sets the account's alert address; `email=` falls back to the operator's. */
async function updateSettings(ctx: RequestContext) {
  const p = new Params(ctx.params, ['email']);
  if (!p.has('email')) throw errors.parameterMissing('email');
  const email = p.string('email', { maxLength: 254 })?.trim() || null;
  if (email !== null && !isEmailAddress(email)) throw errors.parameterInvalid('email', `Invalid email: '${email}' is not an email address.`);
  await ctx.deps.store.setAlertEmail(ctx.account.id, email, ctx.now);
  return { body: settingsObject(ctx, email) };
}

function settingsObject(ctx: RequestContext, email: string | null) {
  const { smtpUrl, alertEmail } = ctx.deps.config;
  return {
    object: 'alert_settings',
    email,
    // Whether alerts are emailed (to `email` or the operator's address) or only logged and listed.
    emailed: smtpUrl !== null && (email !== null || alertEmail !== null),
  };
}

const seconds = (ms: number | null) => (ms === null ? null : toUnixSeconds(ms));

/** `operatorEmail` (HERALD_ALERT_EMAIL) is the operator's business: an account sees that it was used, not the address. */
export function alertObject(alert: EndpointAlert, operatorEmail: string | null) {
  const d = alert.details;
  const toOperator = alert.recipient !== null && alert.recipient === operatorEmail;
  return {
    id: alert.id,
    object: 'webhook_alert',
    type: `webhook_endpoint.${alert.kind}`,
    created: toUnixSeconds(alert.created),
    webhook_endpoint: alert.endpointId,
    url: d.url,
    subject: alert.subject,
    message: alert.body,
    failing_since: seconds(d.failingSince),
    disable_at: seconds(d.disableAt),
    disabled_at: seconds(d.disabledAt),
    disabled_reason: d.disabledReason,
    recovered_at: seconds(d.recoveredAt),
    failures: d.failures.map((f) => ({ failure_kind: f.failureKind, http_status: f.httpStatus, count: f.count })),
    example:
      d.example && {
        delivery_attempt: d.example.attemptId,
        event: d.example.eventId,
        created: toUnixSeconds(d.example.created),
        failure_kind: d.example.failureKind,
        http_status: d.example.httpStatus,
        failure_message: d.example.failureMessage,
      },
    notification: {
      status: alert.delivery,
      recipient: toOperator ? null : alert.recipient,
      to_operator: toOperator,
      attempts: alert.sendAttempts,
      last_error: alert.lastError,
      sent_at: seconds(alert.sentAt),
    },
    livemode: alert.mode === 'live',
  };
}
