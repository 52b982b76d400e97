// The receiver the reference guide describes, done once: verify the raw body, answer 2xx at once,
// skip events already processed, run the handler after the response, log what fails.
import { readHeader, resolveSecrets, resolveTolerance, type HeaderSource, type SignatureScheme, type VerifyOptions, type WebhookEvent } from './common.js';
import { MemoryDedupeStore, type DedupeStore } from './dedupe.js';
import { WebhookVerificationError } from './errors.js';
import { IpRangeList } from './ip.js';

export interface WebhookLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type EventHandler<E extends WebhookEvent = WebhookEvent> = (event: E) => unknown;

export interface WebhookHandlerOptions<E extends WebhookEvent = WebhookEvent> {
  /** The endpoint's signing secret(s); several during a roll. */
  secret: string | readonly string[];
  /** Seconds, > 0; default 300. */
  tolerance?: number;
  /** One function per event type. `'payment_intent.*'` matches a family, `'*'` everything else. */
  handlers?: Record<string, EventHandler<E> | undefined>;
  /** Called for a verified event no handler matches (it is still acknowledged). */
  onUnhandled?: EventHandler<E>;
  /** Where processed event ids are remembered; default an in-memory LRU. `false` turns it off. */
  dedupe?: DedupeStore | false;
  /**
   * `'immediately'` (default): answer 200 as soon as the event is verified and claimed, then run
   * the handler; a failure is logged and the id released. `'after-processing'`: run the handler
   * first and answer 500 when it fails, so Herald retries with backoff.
   */
  acknowledge?: 'immediately' | 'after-processing';
  /** Called when a handler throws, after logging. */
  onError?: (error: unknown, event: E) => unknown;
  /** Where to log; default `console`. `false` for silence. */
  logger?: WebhookLogger | false;
  /** Milliseconds clock used for the tolerance check, for tests. */
  now?: () => number;
  /**
   * Accept deliveries only from these addresses or CIDR ranges (e.g. Herald's published egress
   * addresses, see `fetchEgressAddresses`); others get 403 before any signature work. A request
   * whose source address is unknown is refused too. IPv4-mapped IPv6 sources match IPv4 entries.
   */
  allowedSources?: Iterable<string> | IpRangeList;
}

export interface WebhookRequest {
  /** The exact body bytes or text. */
  rawBody: unknown;
  headers: HeaderSource;
  method?: string;
  /** The peer's IP address (the Node adapters pass the socket's); needed with `allowedSources`. */
  remoteAddress?: string | null;
}

export interface WebhookResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface HandledWebhook<E extends WebhookEvent = WebhookEvent> {
  response: WebhookResponse;
  /** The verified event, when there is one. */
  event: E | null;
  /** Runs the event's handler: call it after the response is sent. Never rejects. */
  process(): Promise<void>;
}

export interface AfterResponse {
  /** Keeps the runtime alive until the handler finishes (Workers `ctx.waitUntil`, Next.js `after`). */
  waitUntil?: (work: Promise<unknown>) => void;
  /** The peer's IP address, for `allowedSources` (the Fetch API's Request does not carry it). */
  remoteAddress?: string | null;
}

export interface WebhookHandler<E extends WebhookEvent = WebhookEvent> {
  /** Framework-free core: verify, dedupe, decide the response; `process()` runs the handler. */
  handle(request: WebhookRequest): Promise<HandledWebhook<E>>;
  /** Fetch API (Request → Response): Next.js route handlers, Hono, Workers, Deno, Bun. */
  fetch(request: Request, options?: AfterResponse): Promise<Response>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const nothingToDo = () => Promise.resolve();

function reply(status: number, body: unknown, extraHeaders: Record<string, string> = {}): WebhookResponse {
  return { status, headers: { ...JSON_HEADERS, ...extraHeaders }, body: JSON.stringify(body) };
}

function errorReply(status: number, type: string, code: string | undefined, message: string): WebhookResponse {
  return reply(status, { error: { type, ...(code ? { code } : {}), message } });
}

const consoleLogger: WebhookLogger = {
  info: (message, fields) => console.info(message, fields ?? ''),
  warn: (message, fields) => console.warn(message, fields ?? ''),
  error: (message, fields) => console.error(message, fields ?? ''),
};
const silentLogger: WebhookLogger = { info() {}, warn() {}, error() {} };

function findHandler<E extends WebhookEvent>(handlers: Record<string, EventHandler<E> | undefined>, type: string): EventHandler<E> | undefined {
  const exact = handlers[type];
  if (exact) return exact;
  for (let dot = type.lastIndexOf('.'); dot > 0; dot = type.lastIndexOf('.', dot - 1)) {
    const family = handlers[`${type.slice(0, dot)}.*`];
    if (family) return family;
  }
  return handlers['*'];
}

/** Verifies either scheme and returns the parsed body; throws WebhookVerificationError. */
export type WebhookVerifier = <T>(rawBody: unknown, headers: HeaderSource, secret: readonly string[], options: VerifyOptions) => T | Promise<T>;

/**
 * Builds a webhook receiver on the given verifier; the adapters turn it into a route for each
 * framework. Each entry point exports `createWebhookHandler` bound to its fastest verifier.
 */
export function createWebhookHandlerWith<E extends WebhookEvent = WebhookEvent>(verifyWebhook: WebhookVerifier, options: WebhookHandlerOptions<E>): WebhookHandler<E> {
  // Misconfiguration fails at start-up, not on the first delivery.
  const secrets = resolveSecrets(options.secret);
  const tolerance = resolveTolerance({ tolerance: options.tolerance });
  const handlers = options.handlers ?? {};
  const dedupe = options.dedupe === false ? null : (options.dedupe ?? new MemoryDedupeStore());
  const logger = options.logger === false ? silentLogger : (options.logger ?? consoleLogger);
  const now = options.now ?? Date.now;
  const acknowledgeFirst = (options.acknowledge ?? 'immediately') === 'immediately';
  const allowedSources = options.allowedSources === undefined ? null : options.allowedSources instanceof IpRangeList ? options.allowedSources : new IpRangeList(options.allowedSources);

  /** Runs the matching handler; false when it failed (already logged, id released). */
  async function runHandler(event: E, dedupeKey: string | null): Promise<boolean> {
    const handler = findHandler(handlers, event.type) ?? options.onUnhandled;
    try {
      await handler?.(event);
      return true;
    } catch (error) {
      logger.error(`webhook handler for ${event.type} failed`, { event_id: event.id, type: event.type, error });
      if (dedupe && dedupeKey) {
        try {
          await dedupe.release(dedupeKey);
        } catch (releaseError) {
          logger.error('could not release the event id in the dedupe store; a redelivery will be skipped', { event_id: event.id, error: releaseError });
        }
      }
      try {
        await options.onError?.(error, event);
      } catch (hookError) {
        logger.error('onError threw', { event_id: event.id, error: hookError });
      }
      return false;
    }
  }

  async function handle(request: WebhookRequest): Promise<HandledWebhook<E>> {
    if (request.method !== undefined && request.method.toUpperCase() !== 'POST') {
      return { response: reply(405, { error: { type: 'invalid_request_error', message: 'Webhooks are delivered with POST.' } }, { allow: 'POST' }), event: null, process: nothingToDo };
    }
    if (allowedSources && !(request.remoteAddress && allowedSources.has(request.remoteAddress))) {
      logger.warn('webhook refused: source address not allowed', { remote_address: request.remoteAddress ?? null });
      const message = request.remoteAddress ? `Deliveries from ${request.remoteAddress} are not accepted.` : 'The source address of the request is unknown.';
      return { response: errorReply(403, 'invalid_request_error', 'source_not_allowed', message), event: null, process: nothingToDo };
    }
    let event: E;
    let scheme: SignatureScheme;
    try {
      scheme = readHeader(request.headers, 'stripe-signature') ? 'stripe' : 'standard';
      event = await verifyWebhook<E>(request.rawBody, request.headers, secrets, { tolerance, now: now() });
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        logger.warn(`webhook refused: ${error.code}`, { code: error.code, message: error.message });
        return { response: errorReply(400, 'invalid_request_error', error.code, error.message), event: null, process: nothingToDo };
      }
      logger.error('webhook verification failed unexpectedly', { error });
      return { response: errorReply(500, 'api_error', undefined, 'The webhook could not be verified.'), event: null, process: nothingToDo };
    }
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
      return { response: errorReply(400, 'invalid_request_error', 'invalid_json', 'The signed body is JSON but not an event (no `type`).'), event: null, process: nothingToDo };
    }
    const webhookId = scheme === 'standard' ? readHeader(request.headers, 'webhook-id') ?? readHeader(request.headers, 'svix-id') : null;
    const dedupeKey = typeof event.id === 'string' ? event.id : typeof webhookId === 'string' ? webhookId : null;
    if (dedupe && dedupeKey) {
      let claimed: boolean;
      try {
        claimed = await dedupe.claim(dedupeKey);
      } catch (error) {
        // Without the store we cannot promise once-only processing: let the sender retry later.
        logger.error('dedupe store failed; answering 503 so the event is redelivered', { event_id: dedupeKey, error });
        return { response: errorReply(503, 'api_error', undefined, 'Temporarily unable to record the event; retry later.'), event, process: nothingToDo };
      }
      if (!claimed) {
        logger.info(`duplicate webhook ${dedupeKey} skipped`, { event_id: dedupeKey, type: event.type });
        return { response: reply(200, { received: true, duplicate: true }), event, process: nothingToDo };
      }
    }
    if (!acknowledgeFirst) {
      const succeeded = await runHandler(event, dedupeKey);
      const response = !succeeded ? errorReply(500, 'api_error', undefined, 'The webhook handler failed; it will be retried.') : reply(200, { received: true });
      return { response, event, process: nothingToDo };
    }
    let started: Promise<void> | null = null;
    const process = () => (started ??= runHandler(event, dedupeKey).then(() => undefined));
    return { response: reply(200, { received: true }), event, process };
  }

  return {
    handle,
    async fetch(request, fetchOptions = {}) {
      const rawBody = request.method === 'POST' ? new Uint8Array(await request.arrayBuffer()) : undefined;
      const handled = await handle({ rawBody, headers: request.headers, method: request.method, remoteAddress: fetchOptions.remoteAddress ?? null });
      // A timer, not a microtask: the framework gets to write the response before the handler runs.
      const work = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(handled.process);
      fetchOptions.waitUntil?.(work);
      return new Response(handled.response.body, { status: handled.response.status, headers: handled.response.headers });
    },
  };
}

/** Hono: `app.post('/webhook', honoWebhook(handler))`. Uses `c.executionCtx.waitUntil` on Workers. */
export function honoWebhook(handler: WebhookHandler<any>): (c: { req: { raw: Request }; executionCtx?: unknown }) => Promise<Response> {
  return (c) => {
    let waitUntil: AfterResponse['waitUntil'];
    try {
      // Hono's getter throws outside Workers-like runtimes: there, a plain promise is enough.
      const ctx = c.executionCtx as { waitUntil?: (p: Promise<unknown>) => void } | undefined;
      if (ctx && typeof ctx.waitUntil === 'function') waitUntil = (work) => ctx.waitUntil!(work);
    } catch {
      waitUntil = undefined;
    }
    return handler.fetch(c.req.raw, { waitUntil });
  };
}

/**
 * Next.js App Router: `export const POST = nextWebhook(handler, { after })` in
 * `app/api/webhooks/route.ts`, with `after` from `next/server` (Next 15+) so the handler outlives
 * the response on serverless hosts.
 */
export function nextWebhook(handler: WebhookHandler<any>, options: { after?: (work: Promise<unknown>) => void } = {}): (request: Request) => Promise<Response> {
  return (request) => handler.fetch(request, { waitUntil: options.after });
}
