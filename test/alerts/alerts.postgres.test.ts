import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import Stripe from 'stripe';
import { defaultConfig } from '../../src/config/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import { newApiKey } from '../../src/domain/ids.js';
import { silentLogger } from '../../src/domain/logger.js';
import { startHerald, type RunningHerald } from '../../src/server/herald.js';
import { samplePaymentIntent, waitFor } from '../helpers/herald.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { TestReceiver } from '../helpers/receiver.js';
import { TestSmtpServer } from '../helpers/smtp.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Two Herald processes' worth of monitors (two instances, one PostgreSQL database) checking every
 * 10 ms on the same clock: every transition of every endpoint is emailed exactly once.
 */
test('two Herald instances on one PostgreSQL database send each alert exactly once', async () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const postgres = await startTestPostgres();
  cleanups.push(() => postgres.stop());
  const url = await postgres.createDatabase();
  const smtp = await new TestSmtpServer().start();
  cleanups.push(() => smtp.stop());
  const receiver = await new TestReceiver(() => ({ status: 503 })).start();
  cleanups.push(() => receiver.stop());
  const clock = new ManualClock(Date.parse('2026-04-01T00:00:00Z'));
  const keys = { test: newApiKey('test'), live: newApiKey('live') };
  const config = defaultConfig({
    port: 0,
    host: '127.0.0.1',
    database: { kind: 'postgres', url },
    testSecretKey: keys.test,
    liveSecretKey: keys.live,
    logLevel: 'silent',
    smtpUrl: smtp.url,
    alertEmail: 'ops@example.com',
    alertAfterMs: DAY,
    disableAfterMs: 2 * DAY,
    alertCheckIntervalMs: 10,
    retrySchedule: [HOUR],
  });
  const instances: RunningHerald[] = [];
  for (let i = 0; i < 2; i++) {
    const herald = await startHerald(config, { clock, logger: silentLogger });
    instances.push(herald);
    cleanups.push(() => herald.stop());
  }
  const port = Number(new URL(instances[0]!.url!).port);
  const stripe = new Stripe(keys.test, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
  const ENDPOINTS = 6;
  const endpoints = [];
  for (let i = 0; i < ENDPOINTS; i++) endpoints.push(await stripe.webhookEndpoints.create({ url: `${receiver.url}/e${i}`, enabled_events: ['*'] }));
  const publish = async () => {
    const before = receiver.requests.length;
    const response = await fetch(`${instances[0]!.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.test}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'payment_intent.succeeded', data: { object: samplePaymentIntent() } }),
    });
    assert.equal(response.status, 200);
    await receiver.waitForRequests(before + ENDPOINTS);
    const { id } = (await response.json()) as { id: string };
    await waitFor(async () => ((await stripe.rawRequest('GET', `/v1/events/${id}/delivery_attempts?limit=100`)) as any).data.length >= ENDPOINTS, { message: 'attempts recorded' });
  };

  await publish();
  clock.advance(DAY);
  await smtp.waitForMails(ENDPOINTS);
  clock.advance(DAY);
  await publish();
  await smtp.waitForMails(2 * ENDPOINTS);
  // Many more checks by both instances: nothing more to send.
  await new Promise((r) => setTimeout(r, 500));
  const perEndpoint = new Map<string, string[]>();
  for (const mail of smtp.mails) {
    const id = mail.headers['x-herald-endpoint']!;
    perEndpoint.set(id, [...(perEndpoint.get(id) ?? []), mail.headers['x-herald-alert']!]);
  }
  assert.equal(smtp.mails.length, 2 * ENDPOINTS, 'no duplicate across the two instances');
  for (const endpoint of endpoints) assert.deepEqual(perEndpoint.get(endpoint.id), ['failing', 'disabled'], endpoint.id);
});
