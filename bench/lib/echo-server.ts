/**
 * The reference for the ingest row of `npm run bench`: a bare node:http server that reads a JSON
 * body, parses it, adds an id and answers it, storing nothing. Herald's ingest rate divided by this
 * one, measured with the same publishers in the same run, is the share of Node's HTTP stack that
 * Herald's own work (authentication, validation, the durable group commit) leaves.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const object = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const body = JSON.stringify({ id: `evt_${randomBytes(12).toString('hex')}`, object: 'event', ...object });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
process.on('disconnect', () => process.exit(0));
