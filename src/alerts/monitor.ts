import type { Clock } from '../domain/clock.js';
import type { Logger } from '../domain/logger.js';
import { Wakeup } from '../domain/wakeup.js';
import type { ClaimedAlert, EndpointAlert, Store } from '../store/store.js';
import type { Mailer } from './mailer.js';
import { composeAlert } from './message.js';
import { alertTransition } from './transitions.js';

export interface AlertMonitorOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** null: alerts are only logged and listed (no HERALD_SMTP_URL). */
  mailer: Mailer | null;
  from: string;
  /** The operator's address, for accounts that set none (HERALD_ALERT_EMAIL). */
  defaultRecipient: string | null;
  alertAfterMs: number;
  disableAfterMs: number;
  checkIntervalMs: number;
}

/** How long a process holds an alert it is sending; beyond the mailer's own timeouts. */
const SEND_LEASE_MS = 120_000;
const SEND_BATCH = 20;
/** Waits before sending an alert again after the SMTP server failed, then every hour. */
const RETRY_DELAYS_MS = [30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];
const RECENT_ATTEMPTS = 100;
const STOP_WAIT_MS = 5000;

/**
 * Watches endpoint health and alerts the account when an endpoint has been failing for
 * HERALD_ALERT_AFTER, when Herald disables it and when it recovers. Each alert is queued in the
 * store by a compare-and-set on the endpoint's alert state (once, whichever process sees the change
 * first), then sent from that outbox: by email, retried with backoff while the SMTP server fails, or
 * to the log. It runs beside the delivery worker and never holds it up.
 */
export class AlertMonitor {
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly wakeup = new Wakeup();

  constructor(private readonly options: AlertMonitorOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Endpoint health changed (e.g. one was disabled): look now rather than at the next interval. */
  wake(): void {
    this.wakeup.signal();
  }

  /**
   * Stops after the current round, waiting for it a few seconds at most: an SMTP server that hangs
   * must not hold up shutdown (an alert whose send was cut short is sent again when its lease ends).
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
    clearTimeout(timer);
    this.options.mailer?.close();
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.wakeup.clear();
      await this.check();
      if (!this.running) break;
      await this.wakeup.sleep(this.options.checkIntervalMs);
    }
  }

  /** One round: queue the alerts endpoint health calls for, then send what is due. */
  async check(): Promise<void> {
    try {
      await this.queueAlerts();
    } catch (err) {
      this.options.logger.error('checking endpoints for alerts failed; retrying', { error: String(err) });
    }
    try {
      await this.sendDueAlerts();
    } catch (err) {
      this.options.logger.error('sending alerts failed; retrying', { error: String(err) });
    }
  }

  private async queueAlerts(): Promise<void> {
    const { store, clock, alertAfterMs, disableAfterMs } = this.options;
    const now = clock.now();
    for (const candidate of await store.alertCandidates(now - alertAfterMs)) {
      const transition = alertTransition(candidate, now, alertAfterMs);
      if (!transition) continue;
      const { endpoint } = candidate;
      const failingSince = transition.kind === 'recovered' ? candidate.alert.failingSince : transition.to.failingSince;
      const attempts = transition.kind === 'recovered' ? [] : (await store.listAttempts({ accountId: endpoint.accountId, mode: endpoint.mode, endpointId: endpoint.id }, { limit: RECENT_ATTEMPTS })).data;
      const alert = composeAlert(transition.kind, endpoint, attempts, { now, disableAfterMs, failingSince });
      await store.transitionAlertState(endpoint.id, candidate.alert, transition.to, alert, now);
    }
  }

  private async sendDueAlerts(): Promise<void> {
    const { store, clock } = this.options;
    for (;;) {
      const claims = await store.claimDueAlerts(clock.now(), SEND_BATCH, SEND_LEASE_MS);
      for (const claim of claims) await this.send(claim);
      if (claims.length < SEND_BATCH || !this.running) return;
    }
  }

  private async send(claim: ClaimedAlert): Promise<void> {
    const { store, clock, logger, mailer, from, defaultRecipient } = this.options;
    const { alert } = claim;
    const recipient = claim.accountEmail ?? defaultRecipient;
    if (!mailer || !recipient) {
      logAlert(logger, alert, mailer ? 'no alert address: set one for the account or HERALD_ALERT_EMAIL' : 'no SMTP server configured (HERALD_SMTP_URL)');
      await store.finishAlert(claim, { delivery: 'logged', recipient: null, at: clock.now() });
      return;
    }
    try {
      await mailer.send({
        from,
        to: recipient,
        subject: alert.subject,
        text: alert.body,
        headers: { 'X-Herald-Alert': alert.kind, 'X-Herald-Alert-Id': alert.id, 'X-Herald-Endpoint': alert.endpointId },
      });
      logger.info('alert emailed', { alert: alert.id, kind: alert.kind, endpoint: alert.endpointId, to: recipient });
      await store.finishAlert(claim, { delivery: 'emailed', recipient, at: clock.now() });
    } catch (err) {
      const delay = RETRY_DELAYS_MS[Math.min(claim.alert.sendAttempts - 1, RETRY_DELAYS_MS.length - 1)]!;
      const error = err instanceof Error ? err.message : String(err);
      logger.warn('emailing an alert failed; it will be retried', { alert: alert.id, endpoint: alert.endpointId, to: recipient, error, retry_in: `${delay / 1000}s` });
      await store.finishAlert(claim, { delivery: 'pending', retryAt: clock.now() + delay, error: error.slice(0, 500) });
    }
  }
}

/** The structured log line an alert becomes when it is not emailed. */
function logAlert(logger: Logger, alert: EndpointAlert, why: string): void {
  const d = alert.details;
  logger.warn(`webhook endpoint ${alert.kind}`, {
    alert: alert.id,
    kind: alert.kind,
    account: alert.accountId,
    mode: alert.mode,
    endpoint: alert.endpointId,
    url: d.url,
    failing_since: d.failingSince === null ? null : new Date(d.failingSince).toISOString(),
    disable_at: d.disableAt === null ? null : new Date(d.disableAt).toISOString(),
    disabled_at: d.disabledAt === null ? null : new Date(d.disabledAt).toISOString(),
    failures: d.failures.map((f) => `${f.count}x${f.failureKind}${f.httpStatus !== null ? `:${f.httpStatus}` : ''}`).join(','),
    example: d.example?.failureMessage ?? null,
    not_emailed: why,
  });
}
