import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import Stripe from 'stripe';
import { samplePaymentIntent, startTestHerald, waitFor, type TestHerald } from '../helpers/herald.js';
import { TestReceiver } from '../helpers/receiver.js';
import { launchChromium, screenshot, skipWithoutChromium } from './chromium.js';

/**
 * The dashboard driven in real headless Chromium against a real Herald and real receivers. The
 * tests run in order and share one signed-in browser, as one user's session would.
 */
describe('dashboard in Chromium', { skip: skipWithoutChromium }, () => {
  let h: TestHerald;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const ok = new TestReceiver();
  let failingStatus = 503;
  const failing = new TestReceiver(() => ({ status: failingStatus, body: failingStatus === 200 ? '{"ok":true}' : '{"error":"receiver is down"}' }));
  let okEndpointId = '';
  let failingEndpointId = '';

  before(async () => {
    await ok.start();
    await failing.start();
    // A failed attempt is retried a minute later: long enough to see "next retry" in the table.
    h = await startTestHerald({ retrySchedule: [60_000, 60_000] });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // Failed requests the tests cause on purpose (401, 403, 404) are logged too; anything else is not expected.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(message.text());
    });
    page.setDefaultTimeout(15_000);
  });
  // The page as the last test left it, to look at when one fails.
  afterEach(() => screenshot(page, 'dashboard-last-test').catch(() => undefined));
  after(async () => {
    await browser?.close();
    await h?.stop();
    await ok.stop();
    await failing.stop();
  });

  const activeElement = (property: 'textContent' | 'name') => page.evaluate(`document.activeElement?.${property}`);
  const signInForm = async (key: string) => {
    await page.getByLabel('Secret key').fill(key);
    await page.getByRole('button', { name: /^(Sign in|Show (test|live) mode)$/ }).click();
  };

  it('a wrong key cannot sign in; / leads to the sign-in page', async () => {
    await page.goto(`${h.url}/`);
    await page.waitForURL(/\/dashboard\/signin$/);
    await screenshot(page, 'dashboard-1-sign-in');
    await signInForm(`sk_test_${'x'.repeat(40)}`);
    await page.getByRole('alert').filter({ hasText: 'Invalid API Key provided: sk_test_****xxxx' }).waitFor();
    await signInForm('pk_test_123');
    await page.getByRole('alert').filter({ hasText: 'should start with sk_test_ or sk_live_' }).waitFor();
    const session = await page.evaluate(() => fetch('/dashboard/session').then((r) => r.json()));
    assert.deepEqual(session, { signed_in: false });
    const forwarded = await page.evaluate(() => fetch('/dashboard/api/test/v1/webhook_endpoints').then((r) => r.status));
    assert.equal(forwarded, 401);
  });

  it('signs in with the test key into an HttpOnly session', async () => {
    await signInForm(h.keys.test);
    await page.getByRole('heading', { name: 'Event destinations' }).waitFor();
    await page.getByText('No event destinations yet').waitFor();
    assert.match(page.url(), /\/dashboard\/test\/endpoints$/);
    assert.equal(await page.evaluate('document.cookie'), '', 'the session cookie is not readable by scripts');
    const [cookie] = await context.cookies();
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.ok(!cookie?.value.includes(h.keys.test), 'the key is not in the cookie');
  });

  it('refuses a mutating call without the CSRF token', async () => {
    const status = await page.evaluate(() =>
      fetch('/dashboard/api/test/v1/webhook_endpoints', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'url=https://evil.example/x&enabled_events[]=*' }).then((r) => r.status),
    );
    assert.equal(status, 403);
    assert.equal((await h.stripe().webhookEndpoints.list()).data.length, 0);
  });

  it('creates an endpoint through the guided form, with event types from the catalog', async () => {
    await page.getByRole('link', { name: '+ Add destination' }).click();
    await page.getByRole('heading', { name: 'Add an event destination' }).waitFor();
    // The API's errors reach the user in its own plain words, next to the form.
    await page.getByLabel('Endpoint URL').fill('ftp://example.com/hook');
    await page.getByLabel('All events').check();
    await page.getByRole('button', { name: 'Add destination' }).click();
    await page.getByRole('alert').filter({ hasText: 'Invalid URL: ftp://example.com/hook. It must be an absolute http:// or https:// URL.' }).waitFor();
    await page.getByLabel('Selected events').check();
    await page.getByLabel('Endpoint URL').fill(`${ok.url}/webhooks`);
    await page.getByLabel('Description (optional)').fill('Order service');
    await page.getByLabel('Search event types').fill('payment_intent.succ');
    await page.getByLabel('payment_intent.succeeded', { exact: true }).check();
    await page.getByLabel('Search event types').fill('invoice.paid');
    await page.getByLabel('invoice.paid', { exact: true }).check();
    await page.getByText('2 selected').waitFor();
    await screenshot(page, 'dashboard-2-create-form');
    await page.getByRole('button', { name: 'Add destination' }).click();
    await page.getByRole('heading', { name: `${ok.url}/webhooks` }).waitFor();
    okEndpointId = /endpoints\/(we_[A-Za-z0-9]+)$/.exec(page.url())![1]!;
    const created = await h.stripe().webhookEndpoints.retrieve(okEndpointId);
    assert.deepEqual(created.enabled_events.sort(), ['invoice.paid', 'payment_intent.succeeded']);
    assert.equal(created.description, 'Order service');
    assert.equal(created.url, `${ok.url}/webhooks`);
  });

  it('shows published events arriving with status 200, without a reload', async () => {
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    for (let i = 0; i < 3; i++) await h.publish({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent(`pi_${i}`) } });
    await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_1', object: 'invoice' } } });
    await ok.waitForRequests(4);
    const rows = page.locator('table.data tbody tr');
    await waitFor(async () => (await rows.count()) === 4, { message: 'four delivery rows' });
    await waitFor(async () => (await page.locator('table.data tbody a.code-ok', { hasText: '200' }).count()) === 4, { message: 'four 200 responses' });
    assert.deepEqual(navigations, [], 'the page was not reloaded');

    // A keyboard user reading the table keeps focus while new deliveries arrive, and hears of them.
    const oldest = rows.last().getByRole('link').first();
    await oldest.focus();
    const focusedHref = await oldest.getAttribute('href');
    await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_0', object: 'invoice' } } });
    await waitFor(async () => (await rows.count()) === 5, { message: 'a fifth delivery row' });
    assert.equal(await page.evaluate('document.activeElement?.getAttribute("href")'), focusedHref);
    await page.getByRole('status').filter({ hasText: '1 new delivery' }).waitFor({ state: 'attached' });
    await waitFor(async () => (await page.locator('table.data tbody a.code-ok', { hasText: '200' }).count()) === 5, { message: 'five 200 responses' });
    await page.getByText('100% succeeded').waitFor();
    await page.getByRole('combobox', { name: 'Status' }).selectOption('failed');
    await page.getByText('No delivery matches these filters.').waitFor();
    await page.getByRole('combobox', { name: 'Status' }).selectOption('');
    await waitFor(async () => (await rows.count()) === 5);
    await screenshot(page, 'dashboard-3-endpoint-detail');
  });

  it('shows a failing receiver\'s failed attempts and the next retry', async () => {
    const endpoint = await h.stripe().webhookEndpoints.create({ url: `${failing.url}/hook`, enabled_events: ['*'], description: 'Flaky receiver' });
    failingEndpointId = endpoint.id;
    await page.getByRole('link', { name: 'Event destinations' }).first().click();
    await page.getByRole('link', { name: `${failing.url}/hook`, exact: true }).waitFor();
    await h.publish({ type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
    await failing.waitForRequests(1);
    await page.getByRole('link', { name: `${failing.url}/hook`, exact: true }).click();
    const failedRow = page.locator('table.data tbody tr', { has: page.locator('.badge-bad', { hasText: 'Failed' }) });
    await failedRow.locator('a.code-bad', { hasText: '503' }).waitFor();
    const nextRetry = await failedRow.locator('td[data-label="Next retry"]').innerText();
    assert.match(nextRetry, /^in (\d+ s|1 min)$/);
    await screenshot(page, 'dashboard-4-failing-endpoint');
  });

  it('resends from the attempt view, and the receiver gets it', async () => {
    await page.locator('table.data tbody a.code-bad', { hasText: '503' }).first().click();
    await page.getByRole('heading', { name: /Attempt #1/ }).waitFor();
    await page.getByText('receiver is down').waitFor();
    await page.locator('table.kv th', { hasText: 'stripe-signature' }).waitFor();
    assert.match(await page.getByText('Failure', { exact: true }).locator('xpath=following-sibling::dd[1]').innerText(), /HTTP error/);
    failingStatus = 200;
    const before = failing.requests.length;
    await page.getByRole('button', { name: 'Resend' }).click();
    await failing.waitForRequests(before + 1);
    assert.equal(JSON.parse(failing.requests.at(-1)!.body).type, 'customer.created');
    await page.locator('table.data tbody tr', { hasText: 'Resend' }).locator('.code-ok', { hasText: '200' }).waitFor();
    await screenshot(page, 'dashboard-5-attempt');
  });

  it('rolls the secret with a 1 h expiry: deliveries carry two v1 signatures, one per secret', async () => {
    await page.goto(`${h.url}/dashboard/test/endpoints/${okEndpointId}`);
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    const oldSecret = await page.getByTestId('secret').innerText();
    assert.match(oldSecret, /^whsec_/);
    await page.getByLabel('Expire the current secret').selectOption({ label: 'In 1 hour' });
    await page.getByRole('button', { name: 'Roll secret…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll secret' }).click();
    await page.getByText('New secret created').waitFor();
    const newSecret = await page.getByTestId('secret').innerText();
    assert.notEqual(newSecret, oldSecret);
    await page.getByText('Also signing with the previous secret').waitFor();

    const before = ok.requests.length;
    await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_2', object: 'invoice' } } });
    const [delivery] = (await ok.waitForRequests(before + 1)).slice(before);
    const header = String(delivery!.headers['stripe-signature']);
    assert.equal(header.split(',').filter((part) => part.startsWith('v1=')).length, 2);
    const stripe = new Stripe('sk_test_unused');
    assert.equal(stripe.webhooks.constructEvent(delivery!.body, header, newSecret).type, 'invoice.paid');
    assert.equal(stripe.webhooks.constructEvent(delivery!.body, header, oldSecret).type, 'invoice.paid');
  });

  it('edits an endpoint: description and event types', async () => {
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit destination' }).waitFor();
    assert.equal(await page.getByLabel('Endpoint URL').inputValue(), `${ok.url}/webhooks`);
    await page.getByText('2 selected').waitFor();
    await page.getByLabel('Description (optional)').fill('Order service v2');
    await page.getByLabel('Search event types').fill('charge.refunded');
    await page.getByLabel('charge.refunded', { exact: true }).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: `${ok.url}/webhooks` }).waitFor();
    await page.getByText('Order service v2').waitFor();
    const edited = await h.stripe().webhookEndpoints.retrieve(okEndpointId);
    assert.equal(edited.description, 'Order service v2');
    assert.deepEqual([...edited.enabled_events].sort(), ['charge.refunded', 'invoice.paid', 'payment_intent.succeeded']);
  });

  it('disables and re-enables an endpoint', async () => {
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('Endpoint disabled.').waitFor();
    await page.getByText('This endpoint is disabled.').waitFor();
    await page.locator('.page-head .badge', { hasText: 'Disabled' }).waitFor();
    assert.equal((await h.stripe().webhookEndpoints.retrieve(okEndpointId)).status, 'disabled');
    const event = await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_3', object: 'invoice' } } });
    const deliveries = await h.request('GET', `/v1/events/${event.id}/deliveries`);
    assert.ok(deliveries.body.data.every((d: any) => d.webhook_endpoint !== okEndpointId), 'a disabled endpoint gets no delivery');
    await screenshot(page, 'dashboard-6-disabled');
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByText('Enabled: new events are delivered again.').waitFor();
    assert.equal((await h.stripe().webhookEndpoints.retrieve(okEndpointId)).status, 'enabled');
  });

  it('recovers missed events after a dry-run count', async () => {
    const before = ok.requests.length;
    await page.getByRole('button', { name: 'Count events' }).click();
    await page.getByText(/^1 event since .* did not reach this endpoint\.$/).waitFor();
    await page.getByRole('button', { name: 'Send 1 event again' }).click();
    await page.getByText('1 event queued for delivery.').waitFor();
    const [delivery] = (await ok.waitForRequests(before + 1)).slice(before);
    assert.equal(JSON.parse(delivery!.body).data.object.id, 'in_3');
  });

  it('lists events with their delivery state per endpoint, and shows an event\'s JSON', async () => {
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.locator('table.data tbody tr').first().waitFor();
    const customerRow = page.locator('table.data tbody tr', { hasText: 'customer.created' });
    await customerRow.locator('.chip', { hasText: `${failing.url}/hook` }).first().waitFor();
    await screenshot(page, 'dashboard-7-events');
    await page.getByLabel('Event type').fill('customer.created');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitFor(async () => (await page.locator('table.data tbody tr').count()) === 1, { message: 'only the customer.created event' });
    await customerRow.getByRole('link').first().click();
    await page.getByRole('heading', { name: 'customer.created' }).waitFor();
    const json = JSON.parse(await page.getByLabel('Event JSON').innerText());
    assert.equal(json.data.object.id, 'cus_1');
    // Resend from the event page, to one endpoint.
    const before = failing.requests.length;
    await page.getByRole('button', { name: `Resend to ${failing.url}/hook` }).click();
    await failing.waitForRequests(before + 1);
    assert.equal(JSON.parse(failing.requests.at(-1)!.body).id, json.id);
    await waitFor(async () => (await page.locator('table.data tbody td[data-label="Status"]', { hasText: 'resend' }).count()) === 2, { message: 'two resend rows' });
    await screenshot(page, 'dashboard-8-event');
  });

  it('keeps test and live apart: live asks for the live key and shows only live objects', async () => {
    const liveEndpoint = await h.stripe('live').webhookEndpoints.create({ url: 'https://live.example.com/hook', enabled_events: ['*'] });
    await page.getByRole('button', { name: 'Live' }).click();
    await page.getByRole('heading', { name: 'Enter your live key' }).waitFor();
    await signInForm(h.keys.test);
    await page.getByRole('alert').filter({ hasText: 'not a live key' }).waitFor();
    await signInForm(h.keys.live);
    await page.getByRole('heading', { name: 'Events' }).waitFor(); // the switch keeps the section
    await page.getByRole('link', { name: 'Event destinations' }).click();
    await page.getByRole('link', { name: 'https://live.example.com/hook', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: `${ok.url}/webhooks`, exact: true }).count(), 0);
    assert.equal(await page.locator('.mode-bar-live').count(), 1);
    // A live destination for connected accounts, on a pinned API version, through the form.
    await page.getByRole('link', { name: '+ Add destination' }).click();
    await page.getByLabel('Endpoint URL').fill('https://connect.example.com/hook');
    await page.getByLabel('Events on connected accounts').check();
    await page.getByLabel('All events').check();
    await page.getByLabel('API version (optional)').fill('2025-01-27.acacia');
    await page.getByRole('button', { name: 'Add destination' }).click();
    await page.getByRole('heading', { name: 'https://connect.example.com/hook' }).waitFor();
    const connectId = /endpoints\/(we_[A-Za-z0-9]+)$/.exec(page.url())![1]!;
    const connect = await h.stripe('live').webhookEndpoints.retrieve(connectId);
    assert.notEqual(connect.application, null);
    assert.equal(connect.api_version, '2025-01-27.acacia');
    assert.deepEqual(connect.enabled_events, ['*']);
    assert.equal(connect.livemode, true);
    await page.getByText('Connected accounts').waitFor();
    await page.getByRole('link', { name: 'Event destinations' }).first().click();
    await page.getByRole('link', { name: 'https://connect.example.com/hook', exact: true }).waitFor();
    await screenshot(page, 'dashboard-9-live-mode');
    await page.getByRole('button', { name: 'Test' }).click();
    await page.getByRole('link', { name: `${ok.url}/webhooks`, exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'https://live.example.com/hook', exact: true }).count(), 0);
    // A live id under the test mode path is not found, in plain words.
    await page.goto(`${h.url}/dashboard/test/endpoints/${liveEndpoint.id}`);
    await page.getByRole('alert').filter({ hasText: 'exists in live mode' }).waitFor();
  });

  it('works on a phone-sized screen, with labelled controls and keyboard navigation', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${h.url}/dashboard/test/endpoints`);
    await page.getByRole('link', { name: `${ok.url}/webhooks`, exact: true }).waitFor();
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await screenshot(page, 'dashboard-10-phone-endpoints');
    await page.goto(`${h.url}/dashboard/test/endpoints/${okEndpointId}`);
    await page.locator('table.data tbody tr').first().waitFor();
    // Scripts run in the page (DOM types are not part of the tests' TypeScript program).
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.type !== 'hidden' && !(el.labels?.length || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
      .map((el) => el.outerHTML.slice(0, 80))`);
    assert.deepEqual(unlabelled, []);
    await screenshot(page, 'dashboard-11-phone-endpoint-detail');
    await page.setViewportSize({ width: 1366, height: 900 });

    // Keyboard only: a page opens with focus on its heading; Tab and Enter reach and follow links.
    await page.goto(`${h.url}/dashboard/test/endpoints`);
    await page.getByRole('link', { name: `${ok.url}/webhooks`, exact: true }).waitFor();
    assert.equal(await activeElement('textContent'), 'Event destinations');
    await page.keyboard.press('Tab');
    assert.equal(await activeElement('textContent'), '+ Add destination');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Add an event destination' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await activeElement('name'), 'url');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await activeElement('textContent'), 'Sign out');
  });

  it('deletes an endpoint from the list, after confirmation', async () => {
    await page.goto(`${h.url}/dashboard/test/endpoints`);
    const row = page.locator('table.data tbody tr', { has: page.getByRole('link', { name: `${failing.url}/hook`, exact: true }) });
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await h.stripe().webhookEndpoints.retrieve(failingEndpointId)).deleted, undefined);
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete destination' }).click();
    await waitFor(async () => (await page.getByRole('link', { name: `${failing.url}/hook`, exact: true }).count()) === 0, { message: 'the row to go' });
    await assert.rejects(h.stripe().webhookEndpoints.retrieve(failingEndpointId), /No such webhook endpoint/);
    await screenshot(page, 'dashboard-12-endpoints');
  });

  it('signs out, after which the forwarded API refuses', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const status = await page.evaluate(() => fetch('/dashboard/api/test/v1/webhook_endpoints').then((r) => r.status));
    assert.equal(status, 401);
    assert.deepEqual(pageErrors, [], 'no script errors or Content-Security-Policy violations in the page');
  });
});

describe('dashboard in Chromium: an endpoint Herald disabled', { skip: skipWithoutChromium }, () => {
  it('shows the automatic-disable reason, and enabling clears it', async () => {
    const down = await new TestReceiver(() => ({ status: 500, body: 'down' })).start();
    // Disabled at the first failure that comes after the threshold: the second attempt.
    const h = await startTestHerald({ retrySchedule: [20, 20, 20], disableAfterMs: 1 });
    const browser = await launchChromium();
    try {
      const endpoint = await h.stripe().webhookEndpoints.create({ url: `${down.url}/hook`, enabled_events: ['*'] });
      await h.publish({ type: 'invoice.paid', data: { object: { id: 'in_1', object: 'invoice' } } });
      await waitFor(async () => (await h.stripe().webhookEndpoints.retrieve(endpoint.id)).status === 'disabled', { message: 'Herald to disable the endpoint' });
      const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
      page.setDefaultTimeout(15_000);
      await page.goto(`${h.url}/dashboard/test/endpoints/${endpoint.id}`);
      await page.getByLabel('Secret key').fill(h.keys.test);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Sign-in leads back to the page that was asked for.
      await page.getByRole('heading', { name: `${down.url}/hook` }).waitFor();
      assert.match(page.url(), new RegExp(`/dashboard/test/endpoints/${endpoint.id}$`));
      await page.getByText('Herald disabled this endpoint.').waitFor();
      await page.getByText(/Disabled automatically: no successful \(2xx\) delivery since/).waitFor();
      await page.getByText('0% succeeded').waitFor();
      await screenshot(page, 'dashboard-13-disabled-automatically');
      await page.getByRole('button', { name: 'Enable' }).click();
      await page.getByText('Enabled: new events are delivered again.').waitFor();
      assert.equal(await page.getByText('Herald disabled this endpoint.').count(), 0);
    } finally {
      await browser.close();
      await h.stop();
      await down.stop();
    }
  });
});
