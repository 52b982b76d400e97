import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { TestEventBridge } from '../helpers/eventbridge-server.js';
import { startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { launchChromium, screenshot, skipWithoutChromium } from './chromium.js';

const KEY = { access_key_id: 'AKIAHERALDDASH000001', secret_access_key: 'herald-dashboard-secret-000000000000001' };
const BUS_ARN = 'arn:aws:events:us-east-1:123456789012:event-bus/dashboard';

/**
 * An Amazon EventBridge destination in the dashboard, in real headless Chromium: listed with the
 * webhook endpoints, its page and its attempts (a throttled entry, then a resend) shown like a
 * webhook's, and its Disable action going through the v2 API.
 */
describe('dashboard: EventBridge destinations in Chromium', { skip: skipWithoutChromium }, () => {
  let server: TestEventBridge;
  let h: TestHerald;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let destinationId = '';

  before(async () => {
    server = await new TestEventBridge({ [KEY.access_key_id]: KEY.secret_access_key }).start();
    // A failed attempt is retried a minute later: the resend below is what delivers it.
    h = await startTestHerald({ eventBridgeEndpoint: server.url, retrySchedule: [60_000, 60_000] });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(message.text());
    });
    page.setDefaultTimeout(15_000);
  });
  afterEach(() => screenshot(page, 'eventbridge-dashboard-last-test').catch(() => undefined));
  after(async () => {
    await browser?.close();
    await h?.stop();
    await server?.stop();
  });

  it('lists the destination with its bus ARN and shows a throttled entry as "Throttled" with AWS\'s message', async () => {
    const destination = await h.stripe().v2.core.eventDestinations.create({
      name: 'Orders to AWS',
      type: 'amazon_eventbridge',
      event_payload: 'snapshot',
      enabled_events: ['invoice.paid'],
      amazon_eventbridge: { aws_account_id: '123456789012', aws_region: 'us-east-1', event_bus_name: 'dashboard', credentials: KEY },
    } as any);
    destinationId = destination.id;
    server.entryFault = () => ({ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded for the bus' });
    const event = await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_dash', object: 'invoice' } } });
    await waitFor(async () => (await h.request('GET', `/v1/events/${event.id}/delivery_attempts`)).body.data.length === 1, { message: 'the throttled attempt' });

    await page.goto(`${h.url}/dashboard/signin`);
    await page.getByLabel('Secret key').fill(h.keys.test);
    await page.getByRole('button', { name: /^Sign in$/ }).click();
    await page.getByRole('heading', { name: 'Event destinations' }).waitFor();
    await page.getByRole('link', { name: BUS_ARN, exact: true }).click();
    await page.getByRole('heading', { name: BUS_ARN }).waitFor();
    await page.getByRole('heading', { name: 'Amazon EventBridge' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reveal secret' }).count(), 0, 'no signing secret');
    await page.locator('table.data tbody a.code-bad', { hasText: 'Throttled' }).click();
    await page.getByRole('heading', { name: /Attempt #1/ }).waitFor();
    await page.getByText('ThrottlingException: Rate exceeded for the bus').first().waitFor();
    await page.locator('table.kv th', { hasText: 'detail-type' }).waitFor();
    await screenshot(page, 'eventbridge-dashboard-1-throttled-attempt');
  });

  it('resends from the attempt view: the entry reaches the bus', async () => {
    server.entryFault = null;
    await page.getByRole('button', { name: 'Resend' }).click();
    await server.waitForAccepted(1);
    assert.equal(JSON.parse(server.accepted[0]!.Detail).data.object.id, 'in_dash');
    await page.locator('table.data tbody tr', { hasText: 'Resend' }).locator('.code-ok', { hasText: '200' }).waitFor();
  });

  it('disables the destination from its page (through the v2 API)', async () => {
    await page.goto(`${h.url}/dashboard/test/endpoints/${destinationId}`);
    await page.getByRole('button', { name: /^Disable/ }).click();
    await page.getByText('This endpoint is disabled.').waitFor();
    const stored = await h.stripe().v2.core.eventDestinations.retrieve(destinationId);
    assert.equal(stored.status, 'disabled');
    assert.deepEqual(pageErrors, []);
    await screenshot(page, 'eventbridge-dashboard-2-disabled');
  });
});
