import type { ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../domain/clock.js';
import { endpointWantsType } from '../domain/event-types.js';
import type { Logger } from '../domain/logger.js';
import { renderEventPayload, renderThinPayload } from '../domain/objects.js';
import type { Mode, StoredEvent } from '../domain/types.js';
import type { ListenEvent, ListenSession, Store } from '../store/store.js';
import { Wakeup } from '../domain/wakeup.js';

export interface ListenHubOptions {
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** How often an idle stream sends a heartbeat, so both sides notice a dead connection fast. */
  heartbeatMs?: number;
  /** How often a stream looks at the log when nothing woke it (events published by other processes). */
  pollMs?: number;
}

/** What one stream message carries: the exact body to forward, and what the CLI prints about it. */
export interface StreamedEvent {
  event_id: string;
  type: string;
  account: string | null;
  /** The Event object as JSON text: the CLI signs and forwards these bytes unchanged. */
  payload: string;
  /** The thin event notification (`v2.core.event`) as JSON text, for `--forward-thin-to`. */
  thin_payload: string;
  /** A manual resend (`herald events resend`), not a new event. */
  resend: boolean;
}

const BACKLOG_BATCH = 200;
/**
 * Most events sent and not yet acknowledged on one stream: after a long absence the backlog reaches
 * the local handler at the pace it answers, not all at once.
 */
const MAX_UNACKNOWLEDGED = 32;
/**
 * With several writers (PostgreSQL) an event's log position is taken before its transaction
 * commits, so an event can appear after others with higher positions. The cursor therefore stays
 * behind events younger than this, and the stream looks again from the cursor every RESCAN_MS for
 * events that appeared behind what it already read.
 */
const SETTLE_MS = 10_000;
const RESCAN_MS = 5_000;

/**
 * The server side of `herald listen`. Each account and mode has one durable session; its open
 * stream (server-sent events) is fed from the event log after the session's cursor, so events
 * published while the CLI was away are sent when it comes back. The CLI acknowledges each event by
 * reporting its forwarding attempt; only acknowledged events move the cursor, so an event is never
 * lost, and one stream per session (a new one replaces the old) means it is not sent twice.
 */
export class ListenHub {
  private readonly streams = new Map<string, ListenStream>();
  readonly heartbeatMs: number;
  readonly pollMs: number;
  readonly clock: Clock;

  constructor(readonly options: ListenHubOptions) {
    this.clock = options.clock ?? systemClock;
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.pollMs = options.pollMs ?? 1000;
  }

  /** New events were published, or acknowledgements arrived: every stream looks at the log now. */
  notify(): void {
    for (const stream of this.streams.values()) stream.wake();
  }

  /** Streams the session's events to `res` until the client goes away or another stream replaces it. */
  async stream(session: ListenSession, res: ServerResponse): Promise<void> {
    const key = ownerKey(session.accountId, session.mode);
    this.streams.get(key)?.close('superseded');
    const stream = new ListenStream(this, session, res);
    this.streams.set(key, stream);
    try {
      await stream.run();
    } finally {
      if (this.streams.get(key) === stream) this.streams.delete(key);
    }
  }

  /** Sends an event again to the account and mode's open stream; false when none is open here. */
  resend(accountId: string, mode: Mode, event: StoredEvent): boolean {
    const stream = this.streams.get(ownerKey(accountId, mode));
    if (!stream) return false;
    const { data, accountId: _owner, ...rest } = event;
    stream.send(toStreamed({ ...rest, dataJson: JSON.stringify(data), seq: 0 }, true));
    return true;
  }

  /** Ends every stream (server shutdown); the CLIs reconnect and catch up. */
  closeAll(): void {
    for (const stream of this.streams.values()) stream.close('shutdown');
  }
}

function ownerKey(accountId: string, mode: Mode): string {
  return `${accountId}/${mode}`;
}

function toStreamed(event: ListenEvent, resend: boolean): StreamedEvent {
  return { event_id: event.id, type: event.type, account: event.account, payload: renderEventPayload(event), thin_payload: renderThinPayload(event), resend };
}

class ListenStream {
  private closed = false;
  private readonly wakeup = new Wakeup();
  /** Sent on this stream and not acknowledged yet: event id → log position. */
  private readonly outstanding = new Map<string, number>();

  constructor(
    private readonly hub: ListenHub,
    private readonly session: ListenSession,
    private readonly res: ServerResponse,
  ) {}

  wake(): void {
    this.wakeup.signal();
  }

  send(event: StreamedEvent): void {
    this.write(`event: webhook_event\ndata: ${JSON.stringify(event)}\n\n`);
  }

  close(reason: 'superseded' | 'shutdown'): void {
    if (this.closed) return;
    this.write(`event: ${reason}\ndata: {}\n\n`);
    this.closed = true;
    this.res.end();
    this.wake();
  }

  async run(): Promise<void> {
    const { res, session, hub } = this;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.socket?.setKeepAlive(true, hub.heartbeatMs);
    res.socket?.setNoDelay(true);
    res.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.write(`retry: 1000\nevent: ready\ndata: ${JSON.stringify({ session: session.id, heartbeat_ms: hub.heartbeatMs })}\n\n`);
    const heartbeat = setInterval(() => this.write('event: heartbeat\ndata: {}\n\n'), hub.heartbeatMs);
    try {
      await this.feed();
    } catch (err) {
      hub.options.logger.error('listen stream failed', { session: session.id, error: String(err) });
    } finally {
      clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
    }
  }

  /** Sends unacknowledged events after the cursor, then new ones as they come, moving the cursor over acknowledged ones. */
  private async feed(): Promise<void> {
    const { store } = this.hub.options;
    const { clock } = this.hub;
    const { session } = this;
    let cursor = session.cursor;
    let scanned = cursor;
    /**
     * Read events younger than SETTLE_MS, oldest first, each with the position read before it: the
     * cursor stays there, so a late event in the gap below is still after the cursor.
     */
    const unsettled: { before: number; created: number }[] = [];
    let lastRescan = clock.now();
    const wanted = (event: ListenEvent) => endpointWantsType(session.enabledEvents, event.type);
    while (!this.closed) {
      this.wakeup.clear();
      const room = MAX_UNACKNOWLEDGED - this.outstanding.size;
      const limit = Math.min(BACKLOG_BATCH, Math.max(room, 0));
      const batch = limit > 0 ? await store.listenBacklog(session.id, scanned, limit) : [];
      const skipped: string[] = [];
      for (const event of batch) {
        if (this.closed) return;
        unsettled.push({ before: scanned, created: event.created });
        scanned = event.seq;
        if (wanted(event)) this.dispatch(event);
        else if (event.created > clock.now() - SETTLE_MS) skipped.push(event.id);
      }
      // The cursor stays behind young events, so a listener reconnecting with a wider filter would
      // see these again: acknowledge them as filtered out. Older ones the cursor simply passes.
      await Promise.all(skipped.map((id) => store.recordListenAttempts(session.id, id, [])));
      if (room > 0 && clock.now() - lastRescan >= RESCAN_MS) {
        lastRescan = clock.now();
        for (const event of await store.listenBacklog(session.id, cursor, BACKLOG_BATCH)) {
          if (event.seq > scanned || this.closed) break;
          if (!this.outstanding.has(event.id) && wanted(event)) this.dispatch(event); // appeared late
        }
      }
      if (this.outstanding.size > 0) {
        const waiting = new Set(await store.listenUnacknowledged(session.id, [...this.outstanding.keys()]));
        for (const id of this.outstanding.keys()) if (!waiting.has(id)) this.outstanding.delete(id);
      }
      while (unsettled.length > 0 && unsettled[0]!.created <= clock.now() - SETTLE_MS) unsettled.shift();
      // Done: everything before the oldest event still waiting for its acknowledgement, and settled.
      let done = this.outstanding.size > 0 ? Math.min(...this.outstanding.values()) - 1 : scanned;
      if (unsettled.length > 0) done = Math.min(done, unsettled[0]!.before);
      if (done > cursor) {
        await store.advanceListenCursor(session.id, done);
        cursor = done;
      }
      if (limit > 0 && batch.length === limit && this.outstanding.size < MAX_UNACKNOWLEDGED) {
        await this.drained();
        continue;
      }
      await this.sleep(this.hub.pollMs);
    }
  }

  private dispatch(event: ListenEvent): void {
    this.outstanding.set(event.id, event.seq);
    this.send(toStreamed(event, false));
  }

  private write(chunk: string): void {
    if (this.closed || this.res.writableEnded || this.res.destroyed) return;
    this.res.write(chunk);
  }

  /** Waits until the socket has room again, so a slow client does not make the server buffer the log. */
  private drained(): Promise<void> {
    if (!this.res.writableNeedDrain || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /** Sleeps up to `ms`, or until woken (closing the stream wakes it too). */
  private sleep(ms: number): Promise<void> {
    return this.closed ? Promise.resolve() : this.wakeup.sleep(ms);
  }
}
