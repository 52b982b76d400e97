/**
 * The fault-injecting webhook receiver, run as its own process by fault-receiver.ts (so a fault it
 * injects, or a flood of held connections, cannot stall the test process). Real HTTP on 127.0.0.1.
 *
 * For every request it draws one action from a seeded PRNG and logs what it did, keyed by path and
 * event id, so the test can reconcile each attempt Herald recorded with what the receiver did.
 * Messages (IPC): it sends `{ type: 'ready', port }`; on `{ type: 'log' }` it answers
 * `{ type: 'log', entries }`; on `{ type: 'stop' }` it exits.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from './seeded-random.js';
import { FAULT_ACTIONS, type FaultAction, type FaultLogEntry } from './fault-receiver.js';

const seed = Number(process.env.FAULT_SEED ?? '1');
/** How long a slow body takes to trickle out in full: well inside the delivery timeout. */
const slowBodyMs = Number(process.env.FAULT_SLOW_BODY_MS ?? '200');
const weights = JSON.parse(process.env.FAULT_WEIGHTS ?? '{}') as Partial<Record<FaultAction, number>>;

const random = seededRandom(seed);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

const table = FAULT_ACTIONS.map((action) => ({ action, weight: weights[action] ?? 1 })).filter((w) => w.weight > 0);
const totalWeight = table.reduce((sum, w) => sum + w.weight, 0);
function drawAction(): FaultAction {
  let r = random() * totalWeight;
  for (const { action, weight } of table) {
    r -= weight;
    if (r < 0) return action;
  }
  return table[table.length - 1]!.action;
}

const log: FaultLogEntry[] = [];
const open = new Set<Socket>();

const server = createServer((req, res) => {
  const action = drawAction();
  const entry: FaultLogEntry = { path: req.url ?? '', eventId: null, action, status: null, at: Date.now(), answeredAt: null, closedAt: null };
  log.push(entry);
  // Whether the connection closed while this request was open (diagnostics). Not after the answer:
  // a kept-alive socket would collect one listener per request it carries.
  const socket = req.socket;
  const onClose = () => (entry.closedAt = Date.now());
  socket.once('close', onClose);
  res.once('finish', () => socket.off('close', onClose));
  const chunks: Buffer[] = [];
  const noteId = () => {
    entry.eventId ??= /^\{"id":"([^"]+)"/.exec(Buffer.concat(chunks).toString('utf8'))?.[1] ?? null;
  };
  req.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    if (action === 'reset_request') {
      // The request is only partly read (the event id is in its first bytes): an RST, no answer.
      noteId();
      entry.answeredAt = Date.now();
      req.socket.resetAndDestroy();
    }
  });
  req.on('end', () => {
    noteId();
    if (action !== 'reset_request') respond(action, entry, req, res);
  });
  req.on('error', () => {});
});

function respond(action: FaultAction, entry: FaultLogEntry, req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  switch (action) {
    case 'ok': {
      const status = (entry.status = pick([200, 200, 201, 202, 204]));
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 204 ? undefined : '{"received":true}');
      entry.answeredAt = Date.now();
      return;
    }
    case 'slow_body': {
      // 200 at once, then the body in five pieces over `slowBodyMs`.
      entry.status = 200;
      const piece = 'x'.repeat(200);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(piece.length * 5) });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(piece);
        if (++sent === 5) {
          clearInterval(timer);
          res.end();
          entry.answeredAt = Date.now();
        }
      }, slowBodyMs / 5);
      return;
    }
    case 'server_error': {
      const status = (entry.status = pick([500, 500, 502]));
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('injected failure');
      entry.answeredAt = Date.now();
      return;
    }
    case 'redirect': {
      const status = (entry.status = pick([301, 302, 307, 308]));
      res.writeHead(status, { location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/elsewhere` });
      res.end();
      entry.answeredAt = Date.now();
      return;
    }
    case 'timeout':
      // Never answers: the connection stays open until the sender gives up.
      return;
    case 'reset_response': {
      // Headers and part of the body, then an RST.
      entry.status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"received":');
      setTimeout(() => {
        entry.answeredAt = Date.now();
        socket.resetAndDestroy();
      }, 20);
      return;
    }
    case 'truncated':
      // Promises 1000 bytes, sends 15, closes cleanly (FIN), then lets go of the socket.
      entry.status = 200;
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"received":tru', () => socket.destroy());
      entry.answeredAt = Date.now();
      return;
    case 'garbage_status':
      socket.end(pick(['HTTP/1.1 2OO OK\r\n\r\n', 'HTPP/1.1 200 OK\r\n\r\n', 'hello, this is not http\r\n\r\n', 'HTTP/1.1 999999 Big\r\n\r\n']));
      entry.answeredAt = Date.now();
      return;
    case 'reset_request':
      return;
  }
}

server.keepAliveTimeout = 60_000; // a connection closed between requests would fail a request the log never saw
server.requestTimeout = 0;
server.on('connection', (socket: Socket) => {
  open.add(socket);
  socket.on('close', () => open.delete(socket));
  socket.on('error', () => {});
});
server.on('clientError', (_err, socket) => socket.destroy());

server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (message: { type: string }) => {
  if (message.type === 'log') process.send!({ type: 'log', entries: log });
  if (message.type === 'stop') {
    for (const socket of open) socket.destroy();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
