/**
 * The peer in `npm run bench`: the webhook dispatcher a TypeScript team would write with BullMQ
 * and Redis instead of Herald. One job per delivery (event body, endpoint URL and secret in the
 * job); a Worker signs each attempt with a fresh timestamp, POSTs it through an undici Agent (a
 * keep-alive pool per origin, as Herald's sender), treats non-2xx as failure and lets BullMQ retry
 * with exponential backoff. Run in its own process, as Herald is.
 *
 * Environment: BENCH_REDIS_PORT, BENCH_QUEUE, BENCH_CONCURRENCY.
 */
import { Worker } from 'bullmq';
import { Agent } from 'undici';
import { deliverySignatureHeaders } from '@herald/webhooks';

interface DeliveryJob {
  eventId: string;
  url: string;
  secret: string;
  body: string;
}

const agent = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 10_000 });
const worker = new Worker<DeliveryJob>(
  process.env.BENCH_QUEUE ?? 'webhooks',
  async (job) => {
    const { url, secret, body, eventId } = job.data;
    const target = new URL(url);
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      ...deliverySignatureHeaders(body, { secrets: [secret], eventId, timestamp: Math.floor(Date.now() / 1000) }),
    };
    const response = await agent.request({ origin: target.origin, path: target.pathname, method: 'POST', headers, body, headersTimeout: 30_000, bodyTimeout: 30_000 });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
    return { status: response.statusCode };
  },
  {
    connection: { host: '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT) },
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 256),
  },
);
worker.on('error', (err) => process.stderr.write(`bullmq worker: ${String(err)}\n`));
await worker.waitUntilReady();
process.send?.({ ready: true });
process.on('disconnect', () => {
  void worker.close().then(() => agent.close()).finally(() => process.exit(0));
});
