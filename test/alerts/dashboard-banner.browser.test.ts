import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { samplePaymentIntent, startTestHerald, waitFor } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { launchChromium, screenshot, skipWithoutChromium } from '../browser/chromium.js';

const DAY = 86_400_000;

test('without SMTP, the dashboard shows a banner for a destination that has failed for a day', { skip: skipWithoutChromium }, async () => {
  const clock = new ManualClock(Date.now());
  const down = await new TestReceiver(() => ({ status: 502, body: 'bad gateway' })).start();
  // The retry falls due after the alert: the banner counts exactly the one failed attempt.
  const h = await startTestHerald({ alertAfterMs: DAY, disableAfterMs: 3 * DAY, alertCheckIntervalMs: 30, retrySchedule: [2 * DAY] }, { clock });
  const browser = await launchChromium();
  try {
    const healthy = await h.stripe().webhookEndpoints.create({ url: 'http://127.0.0.1:9/never-called', enabled_events: ['customer.created'] });
    const endpoint = await h.stripe().webhookEndpoints.create({ url: `${down.url}/hook`, enabled_events: ['payment_intent.succeeded'] });
    const event = await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent() } });
    await waitFor(async () => (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data.length > 0, { message: 'the failed attempt' });
    clock.advance(DAY);
    await waitFor(async () => (await h.request('GET', '/v1/webhook_alerts')).body.data.length > 0, { message: 'the alert' });

    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.setDefaultTimeout(15_000);
    await page.goto(`${h.url}/dashboard/test/endpoints`);
    await page.getByLabel('Secret key').fill(h.keys.test);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const banner = page.locator('.alert-banner');
    await banner.getByText('1 destination needs attention').waitFor();
    const item = banner.locator('li[data-alert="webhook_endpoint.failing"]');
    await item.waitFor();
    const text = (await item.textContent()) ?? '';
    assert.match(text, new RegExp(`${down.url}/hook`));
    assert.match(text, /failing since .+; will be disabled .+ unless a delivery succeeds \(1 × HTTP 502\)/);
    assert.equal(await banner.getByText('never-called').count(), 0, 'only the failing destination');
    assert.equal(await item.getByRole('link').getAttribute('href'), `/dashboard/test/endpoints/${endpoint.id}`);
    await screenshot(page, 'dashboard-alert-banner');
    void healthy;
  } finally {
    await browser.close();
    await h.stop();
    await down.stop();
  }
});
