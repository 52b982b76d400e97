// Adapters for Node servers: node:http, Express and Fastify. Only Node *types* are imported, and
// the framework types are structural, so the package depends on no framework.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HandledWebhook, WebhookHandler } from './handler.js';

/** Default cap on a webhook body read from the stream (Herald's events are far smaller). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Sends the response, then runs the handler once the response is out (or the socket is gone). */
function respondThenProcess(res: ServerResponse, handled: HandledWebhook<any>): void {
  const { status, headers, body } = handled.response;
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    void handled.process();
  };
  res.once('finish', start);
  res.once('close', start);
  res.writeHead(status, headers);
  res.end(body);
}

function tooLarge(res: ServerResponse, maxBytes: number): void {
  res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: `The body is larger than ${maxBytes} bytes.` } }));
}

export interface NodeAdapterOptions {
  /** Largest body accepted when the adapter reads the stream itself. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** node:http: `http.createServer(nodeWebhook(handler))`, or call it from your own router. */
export function nodeWebhook(handler: WebhookHandler<any>, options: NodeAdapterOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (req, res) => {
    let rawBody: Buffer | undefined;
    try {
      rawBody = req.method === 'POST' ? await readBody(req, maxBytes) : undefined;
    } catch (error) {
      if (error instanceof BodyTooLarge) return tooLarge(res, maxBytes);
      res.destroy();
      return;
    }
    respondThenProcess(res, await handler.handle({ rawBody, headers: req.headers, method: req.method, remoteAddress: req.socket?.remoteAddress ?? null }));
  };
}

function isEmptyPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype && Object.keys(value).length === 0;
}

/** The parts of an Express request the adapter reads. */
interface ExpressLikeRequest extends IncomingMessage {
  body?: unknown;
}

/**
 * Express 4/5: `app.post('/webhook', expressWebhook(handler))`. Mount it before (or instead of)
 * `express.json()` for this route: the adapter reads the raw body itself, or takes the Buffer left
 * by `express.raw({ type: 'application/json' })`. A body already parsed to an object is refused
 * with `payload_not_raw` and a message saying so.
 */
export function expressWebhook(handler: WebhookHandler<any>, options: NodeAdapterOptions = {}): (req: ExpressLikeRequest, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void> {
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (req, res, next) => {
    try {
      let rawBody: unknown = req.body;
      // No body parser consumed the stream: Express 5 leaves `undefined`, Express 4's body-parser
      // leaves `{}` when the content type did not match its `type`. Read the bytes ourselves.
      const untouched = rawBody === undefined || (isEmptyPlainObject(rawBody) && !req.readableEnded && req.readableLength === 0 && !req.readableDidRead);
      if (untouched && req.method === 'POST' && !req.readableEnded) {
        try {
          rawBody = await readBody(req, maxBytes);
        } catch (error) {
          if (error instanceof BodyTooLarge) return tooLarge(res, maxBytes);
          throw error;
        }
      }
      respondThenProcess(res, await handler.handle({ rawBody, headers: req.headers, method: req.method, remoteAddress: req.socket?.remoteAddress ?? null }));
    } catch (error) {
      if (next) next(error);
      else res.destroy();
    }
  };
}

/** The parts of a Fastify instance the plugin uses (structural, so Fastify need not be installed). */
interface FastifyLikeInstance {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(contentType: string, options: { parseAs: 'buffer'; bodyLimit?: number }, parser: (request: unknown, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void): void;
  post(path: string, handler: (request: { body: unknown; headers: IncomingMessage['headers']; method: string }, reply: { hijack(): void; raw: ServerResponse }) => Promise<void>): void;
}

/**
 * Fastify 4/5: `app.register(fastifyWebhook(handler, { path: '/webhook' }))`. Registered as a
 * plugin, its raw-body content-type parser applies to this route only (Fastify encapsulation);
 * the rest of the app keeps its JSON parser.
 */
export function fastifyWebhook(handler: WebhookHandler<any>, options: NodeAdapterOptions & { path?: string } = {}): (instance: FastifyLikeInstance) => Promise<void> {
  const path = options.path ?? '/webhook';
  const bodyLimit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (instance) => {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
    instance.post(path, async (request, reply) => {
      const handled = await handler.handle({ rawBody: request.body, headers: request.headers, method: request.method, remoteAddress: reply.raw.socket?.remoteAddress ?? null });
      // Writing to the raw response ourselves is what lets the handler run after it is sent.
      reply.hijack();
      respondThenProcess(reply.raw, handled);
    });
  };
}
