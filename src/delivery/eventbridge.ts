import { createHash } from 'node:crypto';
import type { EventBridgeClient, PutEventsRequestEntry, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { eventBridgeBusArn, v2EventType, type Destination } from '../domain/destinations.js';
import type { AmazonEventBridgeConfig, FailureKind, Millis } from '../domain/types.js';
import { failureKindOfError } from './outcome.js';
import type { DestinationTransport, TransportEntry, TransportEntryResult } from './transport.js';

/**
 * Amazon EventBridge transport: puts rendered events on an event bus with PutEvents, batched, and
 * says what became of each one. Like the HTTP sender it never throws for AWS's answer; retrying is
 * the delivery queue's business (the SDK's own retries are off, so every try is a recorded attempt).
 */

/** PutEvents takes at most this many entries per call. */
export const MAX_ENTRIES_PER_CALL = 10;
/** PutEvents takes at most this many bytes per call, entry sizes counted as AWS counts them. */
export const MAX_REQUEST_BYTES = 256 * 1024;
/** Bytes AWS counts for an entry's `Time`, whatever its value. */
const TIME_BYTES = 14;

/** Where one destination's events go, and as whom (the destination's `amazonEventbridge`). */
export type EventBridgeTarget = AmazonEventBridgeConfig;

/** One event to put on the bus. */
export interface EventBridgeEntry {
  source: string;
  detailType: string;
  /** The event JSON exactly as rendered for the destination. */
  detail: string;
  time: Millis;
}

/** What became of one entry. */
export type EntryOutcome = {
  /** When its PutEvents call started, and how long the call took. */
  started: Millis;
  durationMs: number;
  /** HTTP status of its PutEvents call when the call decided the outcome; null for an entry AWS refused within a 200 (its ErrorCode says why), or when no answer came. */
  httpStatus: number | null;
  /** `x-amzn-RequestId` of its call, when AWS answered. */
  requestId: string | null;
  /** What AWS said about this entry (the result entry, or the call's error), as JSON for the delivery log. */
  response: string | null;
} & (
  | { outcome: 'succeeded'; eventId: string }
  | {
      outcome: 'failed';
      failureKind: FailureKind;
      message: string;
      /** Nothing about this event's bytes can ever be accepted: retrying is pointless. */
      permanent: boolean;
    }
);

/**
 * The size AWS counts for a PutEvents entry (docs: "Calculating PutEvents event entry size"):
 * Time 14 bytes, then the UTF-8 bytes of Source, DetailType, Detail and each Resource. The bus
 * name or ARN is added too, which AWS's formula omits: it is sent with every entry, and counting it
 * keeps a full call on the safe side of the limit.
 */
export function entrySize(entry: Pick<PutEventsRequestEntry, 'Time' | 'Source' | 'DetailType' | 'Detail' | 'Resources' | 'EventBusName'>): number {
  let size = entry.Time ? TIME_BYTES : 0;
  for (const part of [entry.Source, entry.DetailType, entry.Detail, entry.EventBusName, ...(entry.Resources ?? [])]) {
    if (part) size += Buffer.byteLength(part, 'utf8');
  }
  return size;
}

/**
 * Splits entries (given by their sizes, in order) into PutEvents calls: at most 10 entries and
 * MAX_REQUEST_BYTES per call, order kept. Entries too large for any call are returned apart.
 */
export function planBatches(sizes: readonly number[]): { batches: number[][]; tooLarge: number[] } {
  const batches: number[][] = [];
  const tooLarge: number[] = [];
  let current: number[] = [];
  let bytes = 0;
  sizes.forEach((size, index) => {
    if (size > MAX_REQUEST_BYTES) {
      tooLarge.push(index);
      return;
    }
    if (current.length === MAX_ENTRIES_PER_CALL || bytes + size > MAX_REQUEST_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  });
  if (current.length > 0) batches.push(current);
  return { batches, tooLarge };
}

/** DetailType is at most 128 characters. */
const MAX_DETAIL_TYPE_LENGTH = 128;

/** Why EventBridge can never accept this entry, or null. */
function refusalOf(request: PutEventsRequestEntry): string | null {
  const size = entrySize(request);
  if (size > MAX_REQUEST_BYTES) {
    return `The event is too large for EventBridge: its PutEvents entry is ${size} bytes (Time, Source, DetailType, Detail and EventBusName), over the ${MAX_REQUEST_BYTES}-byte limit; it will not be retried`;
  }
  if ((request.DetailType ?? '').length > MAX_DETAIL_TYPE_LENGTH) {
    return `The event type is too long for EventBridge: DetailType is at most ${MAX_DETAIL_TYPE_LENGTH} characters, this one has ${request.DetailType!.length}; it will not be retried`;
  }
  return null;
}

/** Error codes of entries that no retry can fix: the event's own bytes are refused. */
const PERMANENT_ENTRY_ERRORS = new Set(['MalformedDetail']);
const THROTTLING_ERRORS = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);

/** Names Herald and the account in every entry's `Source` (rules match on it); never `aws.…`, which AWS reserves. */
export function eventSource(accountId: string): string {
  return `herald.${accountId}`;
}

export interface EventBridgeTransportOptions {
  /** Time one PutEvents call may take (the worker's delivery timeout). */
  timeoutMs: number;
  /** Sends every call to this URL instead of AWS (LocalStack, tests): HERALD_EVENTBRIDGE_ENDPOINT. */
  endpoint?: string | null;
  /** Most SDK clients kept (one per region, credentials and endpoint); the least recently used goes. */
  maxClients?: number;
  now?: () => Millis;
}

type Sdk = typeof import('@aws-sdk/client-eventbridge');

export class EventBridgeTransport implements DestinationTransport {
  private readonly clients = new Map<string, EventBridgeClient>();
  /** The SDK takes about a second to load: only a Herald that has EventBridge work pays for it. */
  private sdk: Promise<Sdk> | null = null;
  private readonly maxClients: number;
  private readonly now: () => Millis;

  constructor(private readonly options: EventBridgeTransportOptions) {
    this.maxClients = options.maxClients ?? 64;
    this.now = options.now ?? Date.now;
  }

  /** The delivery worker's hand-off: one destination's claimed deliveries, one result per entry. */
  async send(destination: Destination, entries: TransportEntry[], timeoutMs: number): Promise<TransportEntryResult[]> {
    const target = destination.amazonEventbridge;
    if (!target) {
      const message = `Destination ${destination.id} has no Amazon EventBridge settings`;
      return entries.map(() => ({ outcome: 'failed', failureKind: 'endpoint_unavailable', failureMessage: message, httpStatus: null, requestHeaders: {}, responseHeaders: null, responseBody: null, durationMs: 0, permanent: false }));
    }
    const bus = eventBridgeBusArn(target);
    // DetailType is the `type` the Detail carries, so rules on either agree: `v1.…` in a thin payload.
    const detailType = (e: TransportEntry) => (destination.eventPayload === 'thin' ? v2EventType(e.eventType) : e.eventType);
    const outcomes = await this.put(
      target,
      entries.map((e) => ({ source: eventSource(e.accountId), detailType: detailType(e), detail: e.body, time: e.created })),
      timeoutMs,
    );
    return outcomes.map((o, i) => {
      const entry = entries[i]!;
      // What the delivery log shows as the request: the entry's fields and how it was signed, never the key.
      const requestHeaders: Record<string, string> = {
        'x-amz-target': 'AWSEvents.PutEvents',
        region: target.awsRegion,
        'event-bus-name': bus,
        source: eventSource(entry.accountId),
        'detail-type': detailType(entry),
        time: new Date(entry.created).toISOString(),
        credentials: target.credentials ? 'the destination\'s access key' : 'the standard AWS credential chain',
      };
      return {
        outcome: o.outcome,
        failureKind: o.outcome === 'failed' ? o.failureKind : null,
        failureMessage: o.outcome === 'failed' ? o.message : null,
        httpStatus: o.httpStatus,
        requestHeaders,
        responseHeaders: o.requestId ? { 'x-amzn-requestid': o.requestId } : null,
        responseBody: o.response,
        durationMs: o.durationMs,
        permanent: o.outcome === 'failed' && o.permanent,
      };
    });
  }

  /**
   * Puts the entries on the target's bus in as few calls as the limits allow (the calls run
   * concurrently) and answers one outcome per entry, in the same order.
   */
  async put(target: EventBridgeTarget, entries: readonly EventBridgeEntry[], timeoutMs = this.options.timeoutMs): Promise<EntryOutcome[]> {
    const busName = eventBridgeBusArn(target);
    const requests: PutEventsRequestEntry[] = entries.map((e) => ({
      Source: e.source,
      DetailType: e.detailType,
      Detail: e.detail,
      EventBusName: busName,
      Time: new Date(e.time),
    }));
    const outcomes = new Array<EntryOutcome>(entries.length);
    // Entries EventBridge would refuse whatever happens fail here, once, without costing a call.
    const sendable: number[] = [];
    requests.forEach((request, index) => {
      const refusal = refusalOf(request);
      if (refusal === null) sendable.push(index);
      else outcomes[index] = { outcome: 'failed', failureKind: 'entry_too_large', message: refusal, permanent: true, started: this.now(), durationMs: 0, httpStatus: null, requestId: null, response: null };
    });
    const batches = planBatches(sendable.map((i) => entrySize(requests[i]!))).batches.map((batch) => batch.map((position) => sendable[position]!));
    if (batches.length === 0) return outcomes;
    const sdk = await (this.sdk ??= import('@aws-sdk/client-eventbridge').catch((err: unknown) => {
      this.sdk = null; // try loading again next time
      throw err;
    }));
    const client = this.client(sdk, target);
    await Promise.all(
      batches.map(async (batch) => {
        const results = await this.call(sdk, client, batch.map((i) => requests[i]!), timeoutMs);
        batch.forEach((entryIndex, position) => (outcomes[entryIndex] = results[position]!));
      }),
    );
    return outcomes;
  }

  /** One PutEvents call: one outcome per entry (a whole-call failure is every entry's). */
  private async call(sdk: Sdk, client: EventBridgeClient, entries: PutEventsRequestEntry[], timeoutMs: number): Promise<EntryOutcome[]> {
    const started = this.now();
    const clock = performance.now();
    const elapsed = () => Math.round(performance.now() - clock);
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    try {
      const answer = await client.send(new sdk.PutEventsCommand({ Entries: entries }), { abortSignal: abort.signal });
      const base = { started, durationMs: elapsed(), httpStatus: answer.$metadata.httpStatusCode ?? 200, requestId: answer.$metadata.requestId ?? null };
      return entries.map((_, i) => entryOutcome(answer.Entries?.[i], base));
    } catch (err) {
      const failure = timedOut
        ? { failureKind: 'timeout' as const, message: `Timed out after ${timeoutMs} ms`, httpStatus: null, requestId: null, response: null }
        : callFailure(err);
      return entries.map(() => ({ outcome: 'failed', permanent: false, started, durationMs: elapsed(), ...failure }));
    } finally {
      clearTimeout(timer);
    }
  }

  /** One SDK client per (region, credentials, endpoint), reused: it holds the connection pool and signing keys. */
  private client(sdk: Sdk, target: EventBridgeTarget): EventBridgeClient {
    const { awsRegion: region, credentials } = target;
    const endpoint = this.options.endpoint ?? undefined;
    const who = credentials
      ? `${credentials.accessKeyId}:${createHash('sha256').update(`${credentials.secretAccessKey}\n${credentials.sessionToken ?? ''}`).digest('hex')}`
      : 'default-chain';
    const key = `${region}\n${endpoint ?? ''}\n${who}`;
    let client = this.clients.get(key);
    if (client) {
      // Map order is the recency order: move it to the end.
      this.clients.delete(key);
      this.clients.set(key, client);
      return client;
    }
    client = new sdk.EventBridgeClient({
      region,
      ...(endpoint ? { endpoint } : {}),
      ...(credentials ? { credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}) } } : {}),
      // One try per call: Herald's retry schedule retries, and records every attempt.
      maxAttempts: 1,
      requestHandler: { requestTimeout: this.options.timeoutMs, connectionTimeout: Math.min(this.options.timeoutMs, 10_000) },
    });
    this.clients.set(key, client);
    if (this.clients.size > this.maxClients) {
      const [oldestKey, oldest] = this.clients.entries().next().value!;
      this.clients.delete(oldestKey);
      oldest.destroy();
    }
    return client;
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}

function entryOutcome(
  result: PutEventsResultEntry | undefined,
  base: { started: Millis; durationMs: number; httpStatus: number; requestId: string | null },
): EntryOutcome {
  if (result?.EventId && !result.ErrorCode) {
    return { ...base, outcome: 'succeeded', eventId: result.EventId, response: JSON.stringify({ EventId: result.EventId }) };
  }
  const code = result?.ErrorCode ?? 'MissingResult';
  const message = result?.ErrorMessage ?? (result ? 'no EventId returned' : 'PutEvents returned fewer result entries than it was sent');
  return {
    ...base,
    // The call succeeded (200) but this entry did not: a 200 beside a failure would read as a success.
    httpStatus: null,
    outcome: 'failed',
    failureKind: THROTTLING_ERRORS.has(code) ? 'throttled' : 'aws_error',
    message: `${code}: ${message}`,
    permanent: PERMANENT_ENTRY_ERRORS.has(code),
    response: JSON.stringify({ ErrorCode: code, ErrorMessage: message }),
  };
}

/** A whole PutEvents call failed: AWS refused it (status, error type, message), or it never got an answer. */
function callFailure(err: unknown): { failureKind: FailureKind; message: string; httpStatus: number | null; requestId: string | null; response: string | null } {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string }; cause?: { code?: string; message?: string } };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const message = e.message ?? String(err);
  if (status !== undefined) {
    return {
      failureKind: THROTTLING_ERRORS.has(name) || status === 429 ? 'throttled' : 'aws_error',
      message: `${name}: ${message}`,
      httpStatus: status,
      requestId: e.$metadata?.requestId ?? null,
      response: JSON.stringify({ __type: name, message }),
    };
  }
  if (name === 'CredentialsProviderError') {
    return { failureKind: 'aws_error', message: `No AWS credentials: ${message}`, httpStatus: null, requestId: null, response: null };
  }
  const code = e.code ?? e.cause?.code;
  return { failureKind: failureKindOfError(code, name), message: `${code ? `${code}: ` : ''}${e.cause?.message ?? message}`, httpStatus: null, requestId: null, response: null };
}
