import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import type { Logger } from '../../src/domain/logger.js';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { TestSmtpServer } from '../helpers/smtp.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-02T09:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Failure alerts end to end: a real Herald on a moved clock, a real receiver that fails, and a
 * real SMTP server that requires authentication and parses what nodemailer sends.
 */
describe('failure alerts', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function setup(overrides: Parameters<typeof startTestHerald>[0] = {}, logger?: Logger) {
    const clock = new ManualClock(T0);
    const smtp = await new TestSmtpServer().start();
    let failing = true;
    const receiver = await new TestReceiver(() => (failing ? { status: 500, body: 'upstream exploded' } : { status: 200 })).start();
    // Automatic retries fall due after every jump of the clock here: each attempt is one these tests
    // publish, so the failures an alert counts never depend on whether a retry ran first.
    const herald = await startTestHerald(
      { smtpUrl: smtp.url, alertEmail: 'ops@example.com', alertFrom: 'herald@example.com', alertAfterMs: DAY, disableAfterMs: 3 * DAY, alertCheckIntervalMs: 30, retrySchedule: [10 * DAY], ...overrides },
      { clock, ...(logger ? { logger } : {}) },
    );
    cleanups.push(() => herald.stop(), () => receiver.stop(), () => smtp.stop());
    const endpoint = await herald.stripe().webhookEndpoints.create({ url: `${receiver.url}/hooks`, enabled_events: ['*'] });
    return { clock, smtp, receiver, herald, endpoint, recover: () => (failing = false), fail: () => (failing = true) };
  }

  /** Publishes an event and waits until its attempt is recorded. */
  async function publishAndWait(herald: TestHerald, receiver: TestReceiver) {
    const event = await herald.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent() } });
    await receiver.waitForRequests(1);
    await waitFor(async () => (await herald.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data.length > 0, { message: 'the attempt recorded' });
  }

  const alerts = async (herald: TestHerald) => (await herald.request('GET', '/v1/webhook_alerts')).body.data as any[];

  test('failing for a day, disabled, recovered: one email each, with what fails and when it will be disabled', async () => {
    const { clock, smtp, receiver, herald, endpoint, recover } = await setup();
    await publishAndWait(herald, receiver);
    const health = async () => (await herald.request('GET', `/v1/webhook_endpoints/${endpoint.id}/health`)).body;
    await waitFor(async () => (await health()).failing_since !== null, { message: 'the failure recorded' });

    clock.advance(DAY - 60_000);
    await new Promise((r) => setTimeout(r, 200)); // several checks at 30 ms: not a day yet
    assert.equal(smtp.mails.length, 0, 'no alert before a day of failures');

    clock.advance(60_000);
    const [warning] = await smtp.waitForMails(1);
    assert.equal(warning!.user, 'herald', 'sent with SMTP authentication');
    assert.deepEqual(warning!.to, ['ops@example.com']);
    assert.equal(warning!.from, 'herald@example.com');
    assert.equal(warning!.subject, `[Herald] Webhook endpoint failing: ${receiver.url}/hooks`);
    assert.equal(warning!.headers['x-herald-alert'], 'failing');
    assert.equal(warning!.headers['x-herald-endpoint'], endpoint.id);
    assert.match(warning!.text, new RegExp(`have all failed since ${iso(T0)}`));
    assert.match(warning!.text, new RegExp(`Herald will disable it at ${iso(T0 + 3 * DAY)}`));
    assert.match(warning!.text, /1 × http_error \(HTTP 500\)/);
    assert.match(warning!.text, /upstream exploded/, 'a recent example, with the response');

    // Still failing: no second warning, whichever number of checks.
    clock.advance(HOUR);
    await publishAndWait(herald, receiver);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(smtp.mails.length, 1);

    // Three days of failures: the next failed attempt disables it, and the owner hears of it.
    clock.set(T0 + 3 * DAY + 1000);
    await publishAndWait(herald, receiver);
    const [, disabled] = await smtp.waitForMails(2);
    assert.equal(disabled!.subject, `[Herald] Webhook endpoint disabled: ${receiver.url}/hooks`);
    assert.match(disabled!.text, /Disabled automatically: no successful \(2xx\) delivery since/);
    assert.match(disabled!.text, /http_error \(HTTP 500\)/);
    assert.equal((await health()).status, 'disabled');

    // Re-enabled and answering 2xx again: recovered.
    recover();
    clock.advance(HOUR);
    await herald.stripe().webhookEndpoints.update(endpoint.id, { disabled: false });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(smtp.mails.length, 2, 're-enabling is not recovering: a delivery has to succeed');
    await publishAndWait(herald, receiver);
    const [, , recovered] = await smtp.waitForMails(3);
    assert.equal(recovered!.subject, `[Herald] Webhook endpoint recovered: ${receiver.url}/hooks`);
    assert.match(recovered!.text, new RegExp(`after failing since ${iso(T0)}`));

    await new Promise((r) => setTimeout(r, 200));
    assert.equal(smtp.mails.length, 3, 'exactly one email per transition');
    const listed = await alerts(herald);
    assert.deepEqual(listed.map((a) => a.type), ['webhook_endpoint.recovered', 'webhook_endpoint.disabled', 'webhook_endpoint.failing']);
    const failing = listed[2];
    assert.equal(failing.webhook_endpoint, endpoint.id);
    assert.equal(failing.failing_since, Math.floor(T0 / 1000));
    assert.equal(failing.disable_at, Math.floor((T0 + 3 * DAY) / 1000));
    assert.deepEqual(failing.failures, [{ failure_kind: 'http_error', http_status: 500, count: 1 }]);
    assert.equal(failing.example.http_status, 500);
    assert.equal(failing.notification.status, 'emailed');
    assert.equal(failing.notification.recipient, null, "the operator's address is not shown to accounts");
    assert.equal(failing.notification.to_operator, true);
    assert.equal((await herald.request('GET', '/v1/webhook_alerts', { key: herald.keys.live })).body.data.length, 0, 'alerts belong to their mode');
  });

  test('a quick success ends the run: no warning; a new run a day long warns again, to the account address', async () => {
    const { clock, smtp, receiver, herald, endpoint, recover, fail } = await setup();
    const set = await herald.request('POST', '/v1/alert_settings', { body: 'email=team%40example.com' });
    assert.deepEqual(set.body, { object: 'alert_settings', email: 'team@example.com', emailed: true });
    assert.equal((await herald.request('POST', '/v1/alert_settings', { body: 'email=not-an-address' })).body.error.param, 'email');
    await publishAndWait(herald, receiver);
    clock.advance(12 * HOUR);
    recover();
    await publishAndWait(herald, receiver);
    await waitFor(async () => (await herald.request('GET', `/v1/webhook_endpoints/${endpoint.id}/health`)).body.failing_since === null);
    clock.advance(2 * DAY);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(smtp.mails.length, 0);
    assert.equal((await alerts(herald)).length, 0);

    fail();
    const runStart = clock.now();
    await publishAndWait(herald, receiver);
    clock.advance(DAY);
    const [mail] = await smtp.waitForMails(1);
    assert.deepEqual(mail!.to, ['team@example.com'], "the account's own address wins over HERALD_ALERT_EMAIL");
    assert.match(mail!.text, new RegExp(`failed since ${iso(runStart)}`));
    const [alert] = await alerts(herald);
    assert.equal(alert.webhook_endpoint, endpoint.id);
    assert.deepEqual([alert.notification.recipient, alert.notification.to_operator], ['team@example.com', false]);
  });

  test('an SMTP server that refuses: the alert is kept and retried later, and deliveries go on meanwhile', async () => {
    const { clock, smtp, receiver, herald } = await setup();
    smtp.refuseNext = 2;
    await publishAndWait(herald, receiver);
    clock.advance(DAY);
    await waitFor(() => smtp.refused === 1, { message: 'the first refusal' });
    const pending = await waitFor(async () => (await alerts(herald)).find((a) => a.notification.last_error !== null), { message: 'the refusal recorded' });
    assert.equal(pending.notification.status, 'pending');
    assert.match(pending.notification.last_error, /Mailbox busy/);
    // Deliveries are not held up by the SMTP failure.
    await publishAndWait(herald, receiver);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(smtp.refused, 1, 'not retried before its time');
    // The retries come 30 s, then 60 s later: time moves on in steps until the server accepts one.
    await waitFor(
      () => {
        clock.advance(15_000);
        return smtp.mails.length >= 1;
      },
      { intervalMs: 100, timeoutMs: 20_000, message: 'the alert accepted after two refusals' },
    );
    assert.equal(smtp.refused, 2);
    const [mail] = await smtp.waitForMails(1);
    assert.match(mail!.subject, /failing/);
    const sent = (await alerts(herald))[0];
    assert.equal(sent.notification.status, 'emailed');
    assert.equal(sent.notification.attempts, 3);
  });

  test('without SMTP, alerts go to the log as one structured line and to the API the dashboard reads', async () => {
    const lines: { message: string; fields: Record<string, unknown> }[] = [];
    const capture: Logger = { debug() {}, info() {}, error() {}, warn: (message, fields = {}) => void lines.push({ message, fields }) };
    const { clock, receiver, herald, endpoint } = await setup({ smtpUrl: null }, capture);
    assert.equal((await herald.request('GET', '/v1/alert_settings')).body.emailed, false);
    await publishAndWait(herald, receiver);
    clock.advance(DAY);
    const line = await waitFor(() => lines.find((l) => l.message === 'webhook endpoint failing'));
    assert.equal(line.fields.endpoint, endpoint.id);
    assert.equal(line.fields.url, `${receiver.url}/hooks`);
    assert.equal(line.fields.failures, '1xhttp_error:500');
    assert.equal(line.fields.disable_at, new Date(T0 + 3 * DAY).toISOString());
    const [alert] = await alerts(herald);
    assert.equal(alert.notification.status, 'logged');
    // The dashboard reads the same list through its API proxy.
    assert.equal(alert.type, 'webhook_endpoint.failing');
  });
});
