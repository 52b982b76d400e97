/**
 * The benchmark's webhook receiver, run in its own process (forked by bench/run.ts) so that its
 * work is not counted against the sender's. It answers 200 at once, counts deliveries, and, when
 * asked, records publish-to-receipt latency from the `bench_sent` time (epoch milliseconds) that
 * the benchmark puts into each event's data object: negative for an event of a warm-up, whose
 * latency is kept apart.
 *
 * Messages from the parent (each answered with the same `id`): reset, count → { total },
 * stats → { total, firstAt, targetAt, latencies, warmupLatencies }. `reset` may name a `target` count whose
 * arrival time is recorded, so rates are timed by the receiver's clock, not by polling.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let total = 0;
let latencies: number[] = [];
let warmupLatencies: number[] = [];
/** Epoch ms of the first delivery since the last reset, and of the one that made `total` reach `target`. */
let firstAt = 0;
let target = Infinity;
let targetAt = 0;
const SENT = /"bench_sent":(-?\d+(?:\.\d+)?)/;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const now = performance.timeOrigin + performance.now();
    if (total++ === 0) firstAt = now;
    if (total === target) targetAt = now;
    // The timestamp sits near the start of the data object: a regular expression over the text is
    // enough and keeps the receiver cheap (a full JSON.parse would be most of its work).
    const match = SENT.exec(chunks.length === 1 ? chunks[0]!.toString('latin1', 0, 4096) : Buffer.concat(chunks).toString('latin1', 0, 4096));
    // 0: an event of a backlog, whose latency is not measured.
    const sent = match ? Number(match[1]) : 0;
    if (sent > 0) latencies.push(now - sent);
    else if (sent < 0) warmupLatencies.push(now + sent);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.send!({ ready: true, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});

process.on('message', (message: { id: number; cmd: 'reset' | 'count' | 'stats'; target?: number }) => {
  if (message.cmd === 'reset') {
    total = 0;
    latencies = [];
    warmupLatencies = [];
    firstAt = 0;
    targetAt = 0;
    target = message.target ?? Infinity;
  }
  const stats = message.cmd === 'stats';
  process.send!({ id: message.id, total, firstAt, targetAt, latencies: stats ? latencies : [], warmupLatencies: stats ? warmupLatencies : [] });
});
process.on('disconnect', () => process.exit(0));
