/**
 * `npm run bench:eventbridge`: EventBridge deliveries per second from one SQLite worker process,
 * through the official AWS SDK (serialisation and SigV4 signing included) to the local PutEvents
 * server of the tests, and how many entries each PutEvents call carried.
 *
 * Method, as in bench/scale.ts: an API process publishes a backlog of events (1 KB data) for one
 * EventBridge destination with no worker running, stops, then one worker process starts and the
 * clock runs from the first entry accepted to the last. The PutEvents server runs in this process
 * (it verifies every signature), so it competes with Herald for the 2 cores. Set BENCH_EVENTS to
 * change the backlog (default 4,000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newApiKey } from '../src/domain/ids.js';
import { TestEventBridge } from '../test/helpers/eventbridge-server.js';
import { waitFor } from '../test/helpers/herald.js';
import { spawnHerald } from '../test/helpers/herald-process.js';
import { publishEvents } from '../test/helpers/load.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 4000);
const AWS_KEY = { access_key_id: 'AKIAHERALDBENCH00001', secret_access_key: 'herald-bench-secret-00000000000000000001' };

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-eb-'));
  const database = `sqlite:${join(dir, 'herald.db')}`;
  const server = await new TestEventBridge({ [AWS_KEY.access_key_id]: AWS_KEY.secret_access_key }).start();
  const key = newApiKey('test');
  const env = { HERALD_TEST_SECRET_KEY: key, HERALD_EVENTBRIDGE_ENDPOINT: server.url, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  try {
    const api = await spawnHerald(['--role', 'api', '--port', '0', '--database', database], env);
    const created = await fetch(`${api.url}/v2/core/event_destinations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'bench',
        type: 'amazon_eventbridge',
        event_payload: 'snapshot',
        enabled_events: ['*'],
        amazon_eventbridge: { aws_account_id: '123456789012', aws_region: 'us-east-1', event_bus_name: 'bench', credentials: AWS_KEY },
      }),
    });
    if (created.status !== 200) throw new Error(`creating the destination failed: ${created.status} ${await created.text()}`);
    await publishEvents(api.url!, key, EVENTS);
    await api.stop(); // SQLite is one process: the API stops before the worker opens the file.

    const worker = await spawnHerald(['--role', 'worker', '--database', database], env);
    await waitFor(() => server.accepted.length > 0, { timeoutMs: 60_000, intervalMs: 5, message: 'the first entry' });
    const first = performance.now();
    await waitFor(() => server.accepted.length >= EVENTS, { timeoutMs: 600_000, intervalMs: 5, message: 'every entry' });
    const seconds = (performance.now() - first) / 1000;
    await worker.stop();
    const ids = new Set(server.accepted.map((e) => JSON.parse(e.Detail).id as string));
    const perCall = server.accepted.length / server.calls.length;
    process.stdout.write(
      `Herald EventBridge benchmark: ${EVENTS} events, one destination, one SQLite worker process\n` +
        `  ${Math.round(EVENTS / seconds)} deliveries/s (${EVENTS} in ${seconds.toFixed(1)} s), ${server.calls.length} PutEvents calls, ${perCall.toFixed(1)} entries per call, ` +
        `${server.accepted.length - ids.size} duplicates, ${server.rejected.length} signatures refused\n`,
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
