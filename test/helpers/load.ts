import { Pool } from 'undici';

/** Creates an endpoint through the public API and answers its id. */
export async function createEndpoint(apiUrl: string, key: string, url: string): Promise<string> {
  const response = await fetch(`${apiUrl}/v1/webhook_endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ url, 'enabled_events[]': '*' }).toString(),
  });
  const body = (await response.json()) as { id: string };
  if (response.status !== 200) throw new Error(`creating an endpoint failed: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

/**
 * Publishes `count` events through POST /v1/events with at most `concurrency` requests in flight
 * (an undici pool: fetch() would be the bottleneck), and answers their ids in publication order.
 */
export async function publishEvents(apiUrl: string, key: string, count: number, concurrency = 64): Promise<string[]> {
  const pool = new Pool(apiUrl, { connections: Math.min(concurrency, 32) });
  const ids: string[] = new Array(count);
  let next = 0;
  const publishOne = async (i: number) => {
    const body = JSON.stringify({
      type: 'payment_intent.succeeded',
      data: { object: { id: `pi_load${i}`, object: 'payment_intent', amount: 1000 + i, currency: 'usd', status: 'succeeded', description: 'x'.repeat(600) } },
    });
    const response = await pool.request({ path: '/v1/events', method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`publishing failed: ${response.statusCode} ${text}`);
    ids[i] = (JSON.parse(text) as { id: string }).id;
  };
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await publishOne(next++);
      }),
    );
  } finally {
    await pool.close();
  }
  return ids;
}
