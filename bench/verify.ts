// `npm run bench:verify`: verifications per second of @herald/webhooks against stripe-node's
// constructEvent and the standardwebhooks reference library, same inputs, same process.
// Each case runs in interleaved rounds and reports the median, so a busy neighbour on the shared
// machine skews every library alike rather than one of them.
import { randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import Stripe from 'stripe';
import {
  constructEvent,
  constructEventAsync,
  standardWebhooksHeaders,
  stripeSignatureHeader,
  verifyStandardWebhook,
  verifyStandardWebhookAsync,
} from '@herald/webhooks';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 400);

function eventOfSize(bytes: number): string {
  const base = { id: 'evt_bench', object: 'event', type: 'payment_intent.succeeded', created: 1, livemode: false, api_version: null, data: { object: { id: 'pi_1', object: 'payment_intent', description: '' } } };
  const padding = bytes - JSON.stringify(base, null, 2).length;
  base.data.object.description = 'x'.repeat(Math.max(0, padding));
  return JSON.stringify(base, null, 2);
}

type Case = { name: string; run: () => unknown; async?: boolean };

/** Calls per second over one round. Async cases are awaited one after another (latency-bound). */
async function measure(c: Case): Promise<number> {
  let calls = 0;
  const start = performance.now();
  const end = start + ROUND_MS;
  if (c.async) {
    while (performance.now() < end) {
      for (let i = 0; i < 50; i++) await c.run();
      calls += 50;
    }
  } else {
    while (performance.now() < end) {
      for (let i = 0; i < 50; i++) c.run();
      calls += 50;
    }
  }
  return (calls * 1000) / (performance.now() - start);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const format = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);

async function benchSize(label: string, bytes: number) {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const body = eventOfSize(bytes);
  const bodyBuffer = Buffer.from(body);
  const t = Math.floor(Date.now() / 1000);
  const stripeHeader = stripeSignatureHeader(body, [secret], t);
  const standard = standardWebhooksHeaders(body, [secret], 'evt_bench', t);
  const standardLib = new StandardWebhook(secret);
  const cases: Case[] = [
    { name: 'stripe-node constructEvent (sync)', run: () => Stripe.webhooks.constructEvent(bodyBuffer, stripeHeader, secret) },
    { name: 'Herald constructEvent (sync, node:crypto)', run: () => constructEvent(bodyBuffer, stripeHeader, secret) },
    { name: 'stripe-node constructEventAsync', run: () => Stripe.webhooks.constructEventAsync(bodyBuffer, stripeHeader, secret), async: true },
    { name: 'Herald constructEventAsync (WebCrypto)', run: () => constructEventAsync(bodyBuffer, stripeHeader, secret), async: true },
    { name: 'standardwebhooks Webhook.verify (sync)', run: () => standardLib.verify(bodyBuffer, { ...standard }) },
    { name: 'Herald verifyStandardWebhook (sync)', run: () => verifyStandardWebhook(bodyBuffer, standard, secret) },
    { name: 'Herald verifyStandardWebhookAsync', run: () => verifyStandardWebhookAsync(bodyBuffer, standard, secret), async: true },
  ];
  // Every case must verify before it is timed: a benchmark of a failing call measures nothing.
  for (const c of cases) await c.run();
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) for (const c of cases) samples.get(c.name)!.push(await measure(c));
  const result = new Map(cases.map((c) => [c.name, median(samples.get(c.name)!)]));
  const stripeSync = result.get('stripe-node constructEvent (sync)')!;
  const standardSync = result.get('standardwebhooks Webhook.verify (sync)')!;
  console.log(`\n${label} payload (${body.length} bytes), median of ${ROUNDS} rounds of ${ROUND_MS} ms`);
  console.log(`${'case'.padEnd(44)} ${'verif/s'.padStart(10)}   ratio`);
  for (const c of cases) {
    const baseline = c.name.toLowerCase().includes('standard') ? standardSync : stripeSync;
    const baselineName = baseline === stripeSync ? 'stripe-node sync' : 'standardwebhooks';
    console.log(`${c.name.padEnd(44)} ${format(result.get(c.name)!)}   ${(result.get(c.name)! / baseline).toFixed(2)}x vs ${baselineName}`);
  }
  return result;
}

console.log(`Node ${process.version}, ${process.platform}/${process.arch}`);
await benchSize('1 KB', 1024);
await benchSize('64 KB', 64 * 1024);
