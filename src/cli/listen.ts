import { request } from 'undici';
import { ApiRequestError, clientFrom, unreachableMessage, type HeraldClient } from './client.js';
import { COMMON_FLAGS, flagsHelp, parseFlags, type FlagSpec } from './flags.js';
import { Forwarder, parseForwardUrl, parseHeaderList, routesFor, type ForwardResult, type ForwardRoute } from './forward.js';
import { CliError, localTimestamp, Palette, type CliIO } from './output.js';
import { v1EventType } from '../domain/destinations.js';

const FLAGS: FlagSpec[] = [
  { name: '--forward-to', short: '-f', kind: 'string', value: 'url', description: 'Forward events here: 4242, localhost:4242/webhook, /webhook or a full URL.' },
  { name: '--forward-connect-to', short: '-c', kind: 'string', value: 'url', description: 'Forward Connect events (with an account) here (default: --forward-to).' },
  { name: '--events', short: '-e', kind: 'string', value: 'a,b', description: 'Only these event types (default: all).' },
  { name: '--headers', short: '-H', kind: 'string', value: '"K: V, K2: V2"', description: 'Extra headers on forwarded requests.' },
  { name: '--connect-headers', kind: 'string', value: '"K: V"', description: 'Extra headers on forwarded Connect requests.' },
  { name: '--skip-verify', kind: 'boolean', description: 'Do not verify TLS certificates when forwarding to https.' },
  { name: '--load-from-webhooks-api', short: '-a', aliases: ['--use-configured-webhooks'], kind: 'boolean', description: "Forward each enabled endpoint's events to its path on the --forward-to host." },
  { name: '--print-json', short: '-j', kind: 'boolean', description: 'Print each event as indented JSON.' },
  { name: '--format', kind: 'string', value: 'JSON', description: 'JSON: print each event as one line of JSON (and nothing else on stdout).' },
  { name: '--forward-thin-to', kind: 'string', value: 'url', description: 'Forward thin events (v2.core.event notifications) here.' },
  { name: '--forward-thin-connect-to', kind: 'string', value: 'url', description: 'Forward thin Connect events here (default: --forward-thin-to).' },
  { name: '--thin-events', kind: 'string', value: 'a,b', description: 'Only these thin event types (v1.charge.succeeded or charge.succeeded; default: all).' },
  { name: '--live', kind: 'boolean', description: 'Listen to live-mode events (needs a live key in --api-key).' },
  { name: '--print-secret', kind: 'boolean', description: "Print the session's signing secret and exit (for your app's configuration)." },
];

export const LISTEN_HELP = `Usage: herald listen [flags]

Receives this account's events as they are published and forwards them, signed with a
session secret, to your local handler. The secret stays the same across restarts. If the
connection drops or the server restarts, listen reconnects and forwards what was published
meanwhile: every event once.

Flags:
${flagsHelp([...FLAGS, ...COMMON_FLAGS.filter((f) => f.name !== '--json')])}

Examples:
  herald listen --forward-to localhost:4242/webhook
  herald listen -f 4242 --events payment_intent.succeeded,charge.refunded
  herald listen -f https://localhost:3000/hook --skip-verify -H "X-Env: dev"
  herald listen -f localhost:3000 --load-from-webhooks-api
  herald listen --forward-thin-to localhost:4242/thin --thin-events v1.customer.created
  herald listen --format JSON | jq .type
  export STRIPE_WEBHOOK_SECRET=$(herald listen --print-secret)
`;

interface SessionInfo {
  id: string;
  secret: string;
  stream_url: string;
  attempts_url: string;
  unknown_events: string[];
  heartbeat_ms: number;
}

interface StreamedEvent {
  event_id: string;
  type: string;
  account: string | null;
  payload: string;
  thin_payload: string;
  resend: boolean;
}

const MAX_BACKOFF_MS = 10_000;

/** `herald listen`. */
export async function listen(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, [...FLAGS, ...COMMON_FLAGS]);
  if (flags.booleans.has('--help')) {
    io.stdout.write(LISTEN_HELP);
    return 0;
  }
  if (flags.positionals.length > 0) throw new CliError(`unexpected argument '${flags.positionals[0]}'`, 2);
  const format = flags.strings['--format'];
  if (format !== undefined && format.toUpperCase() !== 'JSON') throw new CliError(`--format accepts only JSON, got '${format}'`, 2);
  const client = clientFrom(flags, io);
  if (flags.booleans.has('--live') !== (client.mode === 'live')) {
    throw new CliError(flags.booleans.has('--live') ? '--live needs a live secret key (sk_live_…) in --api-key' : `this is a live key: pass --live to listen to live-mode events`, 2);
  }
  if (flags.booleans.has('--print-secret')) {
    // The secret belongs to the account and mode, whatever the filter: reopening keeps the stored one.
    const session = await client.request<SessionInfo>('POST', '/v1/listen/sessions', { json: {} });
    io.stdout.write(`${session.secret}\n`);
    await client.close();
    return 0;
  }
  const events = (flags.strings['--events'] ?? '*').split(',').map((t) => t.trim()).filter(Boolean);
  const headers = parseHeaderList(flags.strings['--headers']);
  const connectHeaders = parseHeaderList(flags.strings['--connect-headers'] ?? flags.strings['--headers']);
  const routes = await buildRoutes(client, {
    forwardTo: flags.strings['--forward-to'],
    forwardConnectTo: flags.strings['--forward-connect-to'],
    events: events.length > 0 ? events : ['*'],
    headers,
    connectHeaders,
    fromWebhooksApi: flags.booleans.has('--load-from-webhooks-api'),
  });
  routes.push(...thinRoutes(flags.strings, headers, connectHeaders));
  const wanted = routes.length > 0 ? unionOfEvents(routes) : events;
  const session = await openSession(client, wanted);
  for (const type of session.unknown_events) io.stderr.write(`You're attempting to listen for "${type}", which isn't a valid event\n`);
  const errPalette = Palette.for(io.stderr, io.env);
  io.stderr.write(`${errPalette.enabled ? '> ' : ''}Ready! Your webhook signing secret is ${errPalette.bold(session.secret)} (^C to quit)\n`);

  const listener = new Listener(client, session, wanted, routes, io, {
    skipVerify: flags.booleans.has('--skip-verify'),
    output: format ? 'json-line' : flags.booleans.has('--print-json') ? 'json' : 'lines',
  });
  const outcome = await Promise.race([listener.run(), io.interrupted.then(() => 'interrupted' as const)]);
  await listener.stop();
  await client.close();
  return outcome === 'superseded' ? 1 : 0;
}

async function openSession(client: HeraldClient, events: string[]): Promise<SessionInfo> {
  return client.request<SessionInfo>('POST', '/v1/listen/sessions', { json: { enabled_events: events } });
}

function unionOfEvents(routes: readonly ForwardRoute[]): string[] {
  const all = new Set(routes.flatMap((r) => r.events));
  return all.has('*') ? ['*'] : [...all];
}

/**
 * The routes of `--forward-thin-to` and `--forward-thin-connect-to` (stripe-cli's flags): each event
 * of `--thin-events` as a thin notification, signed with the same session secret.
 */
function thinRoutes(strings: Record<string, string | undefined>, headers: Record<string, string>, connectHeaders: Record<string, string>): ForwardRoute[] {
  const to = strings['--forward-thin-to'];
  const connectTo = strings['--forward-thin-connect-to'] ?? to;
  if (strings['--thin-events'] !== undefined && !connectTo) throw new CliError('--thin-events needs --forward-thin-to (or --forward-thin-connect-to)', 2);
  const given = (strings['--thin-events'] ?? '*').split(',').map((t) => t.trim()).filter(Boolean);
  // Thin types are written `v1.charge.succeeded`; the stream and its filters use the v1 name.
  const events = given.length > 0 ? given.map(v1EventType) : ['*'];
  const routes: ForwardRoute[] = [];
  if (to) routes.push({ url: parseForwardUrl(to, '--forward-thin-to'), connect: false, events, headers, payload: 'thin' });
  if (connectTo) routes.push({ url: parseForwardUrl(connectTo, '--forward-thin-connect-to'), connect: true, events, headers: connectHeaders, payload: 'thin' });
  return routes;
}

async function buildRoutes(
  client: HeraldClient,
  options: { forwardTo?: string; forwardConnectTo?: string; events: string[]; headers: Record<string, string>; connectHeaders: Record<string, string>; fromWebhooksApi: boolean },
): Promise<ForwardRoute[]> {
  if (options.fromWebhooksApi) {
    if (!options.forwardTo) throw new CliError('--load-from-webhooks-api needs --forward-to (the local host to send each endpoint’s path to)', 2);
    if (options.forwardTo.trim().startsWith('/')) throw new CliError('--load-from-webhooks-api needs --forward-to with a host (e.g. localhost:4242), not only a path', 2);
    const base = new URL(parseForwardUrl(options.forwardTo));
    const connectBase = options.forwardConnectTo ? new URL(parseForwardUrl(options.forwardConnectTo, '--forward-connect-to')) : base;
    const endpoints = await client.listAll<{ id: string; url: string; status: string; enabled_events: string[]; application: string | null }>('/v1/webhook_endpoints');
    const routes = endpoints
      .filter((e) => e.status !== 'disabled')
      .map((e) => {
        const connect = Boolean(e.application);
        const target = new URL(e.url);
        const local = connect ? connectBase : base;
        // stripe-cli: <forward-to scheme+host><forward-to path without trailing /><endpoint path>[?query]
        const url = `${local.protocol}//${local.host}${local.pathname.replace(/\/+$/, '')}${target.pathname}${target.search}`;
        return { url, connect, events: e.enabled_events, headers: connect ? options.connectHeaders : options.headers, payload: 'snapshot' as const };
      });
    if (routes.length === 0) throw new CliError('--load-from-webhooks-api: this account has no enabled webhook endpoints in this mode', 1);
    return routes;
  }
  const routes: ForwardRoute[] = [];
  if (options.forwardTo) routes.push({ url: parseForwardUrl(options.forwardTo), connect: false, events: options.events, headers: options.headers, payload: 'snapshot' });
  const connectTo = options.forwardConnectTo ?? options.forwardTo;
  if (connectTo) routes.push({ url: parseForwardUrl(connectTo, '--forward-connect-to'), connect: true, events: options.events, headers: options.connectHeaders, payload: 'snapshot' });
  return routes;
}

/**
 * One listen session's connection loop: stream, forward, report, and on any break reconnect with
 * backoff. The server replays what is not acknowledged; events this process already forwarded but
 * could not report yet are reported, not forwarded again.
 */
class Listener {
  private stopped = false;
  private abort = new AbortController();
  private readonly forwarder: Forwarder;
  private readonly palette: Palette;
  /** Forwarded (or being forwarded) and not yet acknowledged by the server. */
  private readonly unacknowledged = new Map<string, Promise<void>>();
  private wakeBackoff: (() => void) | null = null;

  constructor(
    private readonly client: HeraldClient,
    private session: SessionInfo,
    private readonly events: string[],
    private readonly routes: ForwardRoute[],
    private readonly io: CliIO,
    private readonly options: { skipVerify: boolean; output: 'lines' | 'json' | 'json-line' },
  ) {
    this.forwarder = new Forwarder(session.secret, { skipVerify: options.skipVerify });
    this.palette = Palette.for(io.stdout, io.env);
  }

  async run(): Promise<'superseded' | 'stopped'> {
    let backoff = 500;
    let connectedBefore = false;
    let lostAt = 0;
    while (!this.stopped) {
      let reason: string;
      try {
        if (connectedBefore) await this.reopenSession();
        const end = await this.stream(() => {
          if (connectedBefore) this.notice(`Reconnected to ${this.client.apiBase} after ${Math.round((Date.now() - lostAt) / 100) / 10}s; forwarding events published meanwhile.`);
          connectedBefore = true;
          lostAt = 0;
          backoff = 500;
        });
        if (end === 'superseded') {
          this.notice('Another `herald listen` took over this session (same account and mode); stopping.');
          return 'superseded';
        }
        reason = end === 'shutdown' ? 'the server is shutting down' : 'the server closed the stream';
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof ApiRequestError && (err.status === 401 || err.status === 403)) throw err;
        reason = describeStreamError(this.client.apiBase, err);
      }
      if (this.stopped) break;
      const firstFailure = lostAt === 0;
      if (firstFailure) lostAt = Date.now();
      const wait = `${(backoff / 1000).toFixed(1)}s`;
      this.notice(firstFailure ? `Lost connection to Herald (${reason}); reconnecting in ${wait}…` : `Still cannot reach Herald (${reason}); next try in ${wait}…`);
      await this.pause(backoff);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
    return 'stopped';
  }

  /** Stops streaming and gives in-flight reports a moment to reach the server. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wakeBackoff?.();
    const pending = [...this.unacknowledged.values()];
    if (pending.length > 0) await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 3000).unref())]);
    await this.forwarder.close();
  }

  private notice(message: string): void {
    this.io.stderr.write(`${localTimestamp()}   ${message}\n`);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeBackoff = null;
        resolve();
      }
      this.wakeBackoff = done;
    });
  }

  private async reopenSession(): Promise<void> {
    const session = await openSession(this.client, this.events);
    if (session.secret !== this.session.secret) {
      this.notice(`The server has a new listen session (${session.id}); its signing secret is now ${session.secret}`);
      this.forwarder.secret = session.secret;
    }
    this.session = session;
  }

  /** Reads the stream until it ends; a silence longer than three heartbeats counts as a dead connection. */
  private async stream(onReady: () => void): Promise<'ended' | 'superseded' | 'shutdown'> {
    this.abort = new AbortController();
    const response = await request(this.client.url(this.session.stream_url), {
      method: 'GET',
      headers: { ...this.client.authHeaders(), accept: 'text/event-stream' },
      signal: this.abort.signal,
      headersTimeout: 10_000,
      bodyTimeout: this.session.heartbeat_ms * 3 + 1000,
    });
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      let body = {};
      try {
        body = JSON.parse(text);
      } catch {
        // not Herald's JSON; the status says enough
      }
      throw new ApiRequestError(response.statusCode, body);
    }
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Buffer, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) !== -1) {
        const message = parseMessage(buffer.slice(0, boundary));
        buffer = buffer.slice(boundary + 2);
        if (message.event === 'ready') onReady();
        else if (message.event === 'superseded' || message.event === 'shutdown') return message.event;
        else if (message.event === 'webhook_event') this.handle(JSON.parse(message.data) as StreamedEvent);
      }
    }
    return 'ended';
  }

  private handle(event: StreamedEvent): void {
    // Replayed after a reconnect while its report is still on its way: report it, do not forward it again.
    if (!event.resend && this.unacknowledged.has(event.event_id)) return;
    const work = this.forwardAndReport(event)
      .catch((err: unknown) => this.notice(`Could not forward ${event.event_id}: ${(err as Error)?.message ?? String(err)}`))
      .finally(() => {
        if (this.unacknowledged.get(event.event_id) === work) this.unacknowledged.delete(event.event_id);
      });
    if (!event.resend) this.unacknowledged.set(event.event_id, work);
  }

  private async forwardAndReport(event: StreamedEvent): Promise<void> {
    const { output } = this.options;
    const { palette } = this;
    if (output === 'json-line') this.io.stdout.write(`${event.payload}\n`);
    else if (output === 'json') this.io.stdout.write(`${JSON.stringify(JSON.parse(event.payload), null, 2)}\n`);
    else this.io.stdout.write(`${localTimestamp()}   --> ${event.account !== null ? 'connect ' : ''}${palette.bold(event.type)} [${event.event_id}]\n`);

    const targets = routesFor(this.routes, event);
    const results = await Promise.all(
      targets.map(async (route) => {
        const result = await this.forwarder.forward(route, route.payload === 'thin' ? event.thin_payload : event.payload);
        if (output !== 'json-line') this.printResult(result, event.event_id);
        return result;
      }),
    );
    await this.report(event, results);
  }

  private printResult(result: ForwardResult, eventId: string): void {
    if (result.status !== undefined) {
      this.io.stdout.write(`${localTimestamp()}  <--  [${this.palette.status(result.status)}] POST ${result.url} [${eventId}]\n`);
    } else {
      this.io.stdout.write(`${localTimestamp()}            [${this.palette.red('ERROR')}] Failed to POST: ${result.failure_message} (${result.url})\n\n`);
    }
  }

  /** Reports the attempts (acknowledging the event), retrying until the server takes it or we stop. */
  private async report(event: StreamedEvent, results: ForwardResult[]): Promise<void> {
    const body = { event: event.event_id, resend: event.resend, attempts: results };
    let delay = 250;
    for (;;) {
      try {
        await this.client.request('POST', this.session.attempts_url, { json: body });
        return;
      } catch (err) {
        if (err instanceof ApiRequestError && err.status < 500 && err.status !== 429) {
          if (err.status === 404 && /listen session/.test(err.message)) {
            // The session was replaced (server data reset): report to the current one.
            await this.reopenSession().catch(() => undefined);
          } else {
            this.notice(`Could not record the result for ${event.event_id}: ${err.message}`);
            return;
          }
        }
        if (this.stopped && delay > 2000) return;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(5000, delay * 2);
      }
    }
  }
}

function parseMessage(block: string): { event: string; data: string } {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { event, data: data.join('\n') };
}

function describeStreamError(apiBase: string, err: unknown): string {
  const code = (err as { code?: string })?.code;
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'no heartbeat from the server';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') return 'connection reset';
  if (err instanceof ApiRequestError) return err.message;
  return unreachableMessage(apiBase, err).replace(/^cannot reach Herald at \S+ \((.*)\)$/, '$1');
}
