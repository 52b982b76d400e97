import { deliverySignatureHeaders } from '@herald/webhooks';
import type { Clock } from '../domain/clock.js';
import { newId } from '../domain/ids.js';
import { Wakeup } from '../domain/wakeup.js';
import { renderEventPayload, renderThinPayload } from '../domain/objects.js';
import { asDestination } from '../domain/destinations.js';
import type { Logger } from '../domain/logger.js';
import type { DeliveryAttempt } from '../domain/types.js';
import type { AttemptResult, ClaimedDelivery, Store, WakeUpDuty } from '../store/store.js';
import { claimShape } from '../store/claim-fairness.js';
import { classify } from './outcome.js';
import { goneReason } from '../store/health.js';
import { boundedRetryAfter, parseRetryAfter, remainingSchedule, RETRY_AFTER_STATUSES, retryDelay } from './retry-policy.js';
import type { HttpSender } from './sender.js';
import type { DestinationTransports, TransportEntry, TransportEntryResult } from './transport.js';
import type { VersionTranslator } from './versions.js';

export interface WorkerOptions {
  store: Store;
  clock: Clock;
  sender: HttpSender;
  logger: Logger;
  /** Most attempts in flight at once. */
  concurrency: number;
  /** Most attempts in flight to one destination at once (a slow one cannot take every slot); no bound when absent. */
  endpointConcurrency?: number;
  timeoutMs: number;
  retryOverride: readonly number[] | null;
  disableAfterMs: number;
  /** HERALD_RETRY_AFTER_MAX: the longest wait a receiver's Retry-After can impose. */
  retryAfterMaxMs?: number;
  /** Longest sleep between looks at the queue when nothing wakes the worker. */
  pollIntervalMs?: number;
  random?: () => number;
  /** Renders payloads in each endpoint's API version, when the operator supplied version changes. */
  versions?: VersionTranslator;
  /** The version of endpoints that name none, for events stored before accounts' versions were recorded (HERALD_API_VERSION). */
  defaultApiVersion?: string;
  /** How destinations other than webhook endpoints receive events (Amazon EventBridge). */
  transports?: DestinationTransports;
  /** Called when recorded results disabled endpoints (the alert monitor looks at once). */
  onEndpointsDisabled?: () => void;
  /** Told after each look at the queue whether more may be due than this worker took (Store.watchForWorkOnCall). */
  wakeUpDuty?: Pick<WakeUpDuty, 'claimed'>;
}

/** Headers of every delivery, as Stripe sends them; the signature is added per attempt. */
const DELIVERY_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
  accept: '*/*; q=0.5, application/xml',
  'cache-control': 'no-cache',
};

/** Time allowed beyond the attempt timeout to record the result before a lease may be taken over. */
const LEASE_MARGIN_MS = 5_000;
/**
 * Longest a claimed delivery waits in the worker for a free slot before it is given back to the
 * queue unsent (the lease covers this wait, the attempt and the margin).
 */
const READY_WAIT_LIMIT_MS = 5_000;
/**
 * Deliveries a worker holds (in flight and ready to send) per slot of its bounds: the bound in
 * flight, twice it ready. The ready ones must outlast a claim's round trip, which waits behind
 * the results the store is writing (4–6 ms delivering a backlog, 50–80 attempts' worth); a
 * claim is made once half a bound is free. Delivering a backlog to one receiver, holding twice
 * the bound (as many ready as in flight) left no claim ready most of the time: 12,132 and 12,150
 * deliveries/s, against 12,668 and 13,457 holding three times (11,780 and 11,645 with none ready).
 */
export const HOLD_FACTOR = 3;
/** How long a destination whose ready claims waited too long gets none held beyond its bound. */
const SLOW_DESTINATION_MS = 60_000;
const CLAIM_BATCH = 200;
const RECORD_BATCH = 200;
/**
 * How long the oldest result may wait to be written before the loop claims no more. A slot frees
 * when its attempt ends, not when its result is written: without this bound a store slower than the
 * receivers (a busy database) would let results pile up while the loop kept claiming, until their
 * leases ran out and attempts already made were made again by another worker. A bound on time, not
 * count, lets a store that pauses briefly (a checkpoint) delay nothing.
 */
const RECORD_LAG_LIMIT_MS = LEASE_MARGIN_MS / 2;

/** Adds `delta` to `key`'s count in `counts`, which keeps only counts above zero; answers the new count. */
function addCount(counts: Map<string, number>, key: string, delta: number): number {
  const count = (counts.get(key) ?? 0) + delta;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
  return Math.max(0, count);
}

/**
 * The delivery loop: claims due deliveries, sends each once, records outcomes in batches. Failures
 * of the receiver are data; failures of the store are logged and retried, and leases guarantee
 * that a delivery this process could not finish is taken up again.
 */
export class DeliveryWorker {
  private inFlight = 0;
  /** Attempts in flight by destination id (an EventBridge batch counts each entry). */
  private readonly inFlightByEndpoint = new Map<string, number>();
  /**
   * Claimed deliveries not sent yet, by destination id, oldest claim first. The worker holds up to
   * HOLD_FACTOR times its bounds (in flight and ready together), so a finished attempt starts the
   * next one at once instead of waiting for a claim's round trip to the store. Without it the loop
   * ran dry between claims: delivering a backlog to one fast receiver, a third of the time nothing
   * was in flight, while the claim that would refill the slots was on its way.
   */
  private readonly ready = new Map<string, { claim: ClaimedDelivery; claimedAt: number }[]>();
  private readyCount = 0;
  /** Deliveries held by destination id: in flight and ready. */
  private readonly heldByEndpoint = new Map<string, number>();
  /**
   * Destinations whose ready claims waited too long for a slot, until when they get none beyond
   * their bound: a slow receiver's backlog is not claimed only to be given back again and again.
   */
  private readonly slowUntil = new Map<string, number>();
  /** Ready claims that waited too long (READY_WAIT_LIMIT_MS), or whose destination was disabled: given back to the queue. */
  private toRelease: ClaimedDelivery[] = [];
  private releaseScheduled = false;
  /**
   * The destinations at their bound when the last claim came back short: all the due work left
   * was theirs, so until a few of their slots free up (or new work is announced), finished
   * attempts elsewhere do not send the loop to claim again (it would claim nothing, in a spin).
   */
  private heldBack: ReadonlySet<string> | null = null;
  /**
   * The loop sleeps after a claim that took all the due work there was, and no new work has been
   * announced since: finished attempts and recorded successes then need no look at the queue (at a
   * few events a second, those looks were most of the store's transactions).
   */
  private drained = false;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly wakeup = new Wakeup();
  private results: AttemptResult[] = [];
  /** When each of `results` was made, in the same order. */
  private resultTimes: number[] = [];
  /** When the oldest result of the batch being written now was made, or null. */
  private recordingSince: number | null = null;
  /** The loop waits for results to be written (RECORD_LAG_LIMIT_MS). */
  private waitingForRecords = false;
  private flushing: Promise<void> | null = null;
  private flushScheduled = false;
  private readonly random: () => number;
  private readonly pollIntervalMs: number;

  constructor(private readonly options: WorkerOptions) {
    this.random = options.random ?? Math.random;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New work may be due: look at the queue now instead of at the next poll. */
  wake(): void {
    this.drained = false;
    this.wakeup.signal();
  }

  /**
   * Stops claiming, gives the claims not sent yet back to the queue, lets attempts in flight finish
   * (each is bounded by the timeout), records them.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loop;
    for (const [endpointId, queue] of this.ready) this.giveBack(endpointId, queue.length);
    await this.releaseWaiting();
    while (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.flush();
  }

  /** Bound on deliveries held (in flight and ready): HOLD_FACTOR times that on attempts in flight. */
  private get holdLimit(): number {
    return HOLD_FACTOR * this.options.concurrency;
  }

  /**
   * Deliveries held per destination, against HOLD_FACTOR times the bound per destination: a slow
   * one counts as holding its ready room already, so it is claimed only up to its bound.
   */
  private heldAgainstBound(): { perEndpoint: number; inFlight: ReadonlyMap<string, number> } | undefined {
    const bound = this.options.endpointConcurrency;
    if (bound === undefined) return undefined;
    const perEndpoint = HOLD_FACTOR * bound;
    if (this.slowUntil.size === 0) return { perEndpoint, inFlight: this.heldByEndpoint };
    const now = this.options.clock.now();
    const counted = new Map(this.heldByEndpoint);
    for (const [endpointId, until] of this.slowUntil) {
      if (until <= now) this.slowUntil.delete(endpointId);
      else counted.set(endpointId, (counted.get(endpointId) ?? 0) + perEndpoint - bound);
    }
    return { perEndpoint, inFlight: counted };
  }

  private async run(): Promise<void> {
    const { store, clock, logger, concurrency, timeoutMs } = this.options;
    while (this.running) {
      this.wakeup.clear();
      this.drained = false;
      if (this.readyCount > 0) for (const endpointId of this.ready.keys()) this.giveBackStale(endpointId);
      if (this.recordLagMs() >= RECORD_LAG_LIMIT_MS) {
        this.options.wakeUpDuty?.claimed(true); // claiming nothing until results are written
        this.waitingForRecords = true;
        await this.wakeup.sleep(this.pollIntervalMs);
        this.waitingForRecords = false;
        continue;
      }
      const holding = this.inFlight + this.readyCount;
      const capacity = this.holdLimit - holding;
      // Refill in batches, not a slot at a time: every claim is a transaction (a disk sync), and
      // one per finished attempt would cap a busy worker at the disk's sync rate.
      const refill = Math.min(CLAIM_BATCH, Math.max(1, Math.floor(concurrency / 4)));
      if (capacity > 0 && (holding === 0 || capacity >= refill)) {
        let claims: ClaimedDelivery[] = [];
        const batch = Math.min(capacity, CLAIM_BATCH);
        const held = this.heldAgainstBound();
        const { limit, fairness } = held === undefined ? { limit: batch } : claimShape(held, batch);
        // The leases run from here, not from the answer: a ready claim's wait counts from here too.
        const claimedAt = clock.now();
        try {
          claims = await store.claimDueDeliveries(claimedAt, limit, timeoutMs + LEASE_MARGIN_MS + READY_WAIT_LIMIT_MS, fairness);
        } catch (err) {
          logger.error('claiming deliveries failed; retrying', { error: String(err) });
          await this.wakeup.sleep(this.pollIntervalMs);
          continue;
        }
        const claimedFor = new Set<string>();
        for (const claim of claims) {
          const endpointId = claim.endpoint.id;
          addCount(this.heldByEndpoint, endpointId, 1);
          const queue = this.ready.get(endpointId);
          if (queue) queue.push({ claim, claimedAt });
          else this.ready.set(endpointId, [{ claim, claimedAt }]);
          this.readyCount++;
          claimedFor.add(endpointId);
        }
        for (const endpointId of claimedFor) this.startReady(endpointId);
        // A full batch may have left more due work behind; a short one took all there was (work
        // that falls due later, or is published meanwhile, wakes the loop), so it sleeps at once:
        // all there was within the bounds, that is; due work of destinations at their bound waits
        // for their attempts to finish.
        this.heldBack = null;
        // Work held back by a destination's bound does not pass the duty on: this worker still has
        // room for other destinations' new work (others take the held-back work at their polls).
        this.options.wakeUpDuty?.claimed(claims.length === limit);
        if (claims.length === limit) continue;
        const heldNow = this.heldAgainstBound();
        if (heldNow !== undefined) {
          const atBound = [...heldNow.inFlight].filter(([, count]) => count >= heldNow.perEndpoint).map(([id]) => id);
          if (atBound.length > 0) this.heldBack = new Set(atBound);
        }
        if (this.wakeup.signalled) continue;
        this.drained = this.heldBack === null;
        // Held back: due work is waiting already, and freed slots wake the loop; nothing to look up.
        await this.wakeup.sleep(this.heldBack === null ? await this.untilNextDue() : this.pollIntervalMs);
      } else {
        // No room to claim: new work is for another worker.
        this.options.wakeUpDuty?.claimed(true);
        await this.wakeup.sleep(this.pollIntervalMs);
      }
    }
  }

  /**
   * Sends ready deliveries of `endpointId` while it and the worker have free slots: one attempt
   * each for webhook endpoints, one batch of them for other destinations (EventBridge takes up to
   * 10 entries per call). Claims that waited too long for a slot are given back instead of sent.
   */
  private startReady(endpointId: string): void {
    if (!this.running) return;
    this.giveBackStale(endpointId);
    const queue = this.ready.get(endpointId);
    if (!queue) return;
    const { concurrency, endpointConcurrency } = this.options;
    const free = () => Math.min(concurrency - this.inFlight, (endpointConcurrency ?? Infinity) - (this.inFlightByEndpoint.get(endpointId) ?? 0));
    const group: ClaimedDelivery[] = [];
    let taken = 0;
    while (taken < queue.length && free() > group.length) {
      const { claim } = queue[taken++]!;
      if ((claim.endpoint.type ?? 'webhook_endpoint') === 'webhook_endpoint') {
        this.started(endpointId, 1);
        void this.attempt(claim).finally(() => this.finished(endpointId, 1));
      } else {
        group.push(claim);
      }
    }
    if (group.length > 0) {
      this.started(endpointId, group.length);
      void this.attemptThroughTransport(group).finally(() => this.finished(endpointId, group.length));
    }
    this.readyCount -= taken;
    if (taken === queue.length) this.ready.delete(endpointId);
    else queue.splice(0, taken);
  }

  private started(endpointId: string, count: number): void {
    this.inFlight += count;
    addCount(this.inFlightByEndpoint, endpointId, count);
  }

  /** `count` deliveries of `endpointId` are no longer held by this worker. */
  private forget(endpointId: string, count: number): number {
    return addCount(this.heldByEndpoint, endpointId, -count);
  }

  /**
   * Gives back the ready claims of `endpointId` that waited too long (the oldest, claims being
   * queued in claim order), and holds the destination to its bound for a while. Run before sending
   * and on each turn of the loop (at least once per poll interval), so claims at a destination
   * whose slots stay busy go back too: another worker may have room for them.
   */
  private giveBackStale(endpointId: string): void {
    const queue = this.ready.get(endpointId);
    if (!queue) return;
    const now = this.options.clock.now();
    let stale = 0;
    while (stale < queue.length && queue[stale]!.claimedAt < now - READY_WAIT_LIMIT_MS) stale++;
    if (stale === 0) return;
    this.slowUntil.set(endpointId, now + SLOW_DESTINATION_MS);
    this.giveBack(endpointId, stale);
  }

  /** The oldest `count` ready claims of `endpointId` go back to the queue unsent (released in a batch, soon). */
  private giveBack(endpointId: string, count: number): void {
    const queue = this.ready.get(endpointId)!;
    for (const { claim } of queue.splice(0, count)) this.toRelease.push(claim);
    if (queue.length === 0) this.ready.delete(endpointId);
    this.readyCount -= count;
    this.forget(endpointId, count);
    if (this.releaseScheduled) return;
    this.releaseScheduled = true;
    setImmediate(() => {
      this.releaseScheduled = false;
      void this.releaseWaiting().then(() => this.wake());
    });
  }

  private async releaseWaiting(): Promise<void> {
    const claims = this.toRelease;
    this.toRelease = [];
    if (claims.length === 0) return;
    try {
      await this.options.store.releaseDeliveries(claims.map((c) => ({ deliveryId: c.deliveryId, leaseToken: c.leaseToken })), this.options.clock.now());
    } catch (err) {
      // Their leases run out and they are claimed again: later, never lost.
      this.options.logger.error('giving back claimed deliveries failed; they are due again when their leases expire', { error: String(err), count: claims.length });
    }
  }

  /**
   * An attempt (or a transport's batch of `count`) to `endpointId` finished: its slots are free,
   * for the destination's ready deliveries first, then for other destinations' that waited for a
   * slot of the worker. The loop looks at the queue again, unless the last claim took all the due
   * work (nothing can be waiting for the room), or left only work held back by the bound and this
   * frees too little of that destination's room to be worth a claim: half its bound, since each
   * claim is a transaction, and claims of a few rows cost more CPU than the deliveries they start.
   */
  private finished(endpointId: string, count: number): void {
    this.inFlight -= count;
    addCount(this.inFlightByEndpoint, endpointId, -count);
    const heldLeft = this.forget(endpointId, count);
    if (this.readyCount > 0) {
      this.startReady(endpointId);
      if (this.inFlight < this.options.concurrency) for (const id of this.ready.keys()) if (id !== endpointId) this.startReady(id);
    }
    if (this.drained) return;
    const bound = this.options.endpointConcurrency;
    if (this.heldBack !== null && bound !== undefined) {
      // A slow destination is held only up to its bound (heldAgainstBound).
      const room = (this.slowUntil.has(endpointId) ? 1 : HOLD_FACTOR) * bound - heldLeft;
      if (!this.heldBack.has(endpointId) || room < Math.max(1, Math.floor(bound / 2))) return;
    }
    this.wakeup.signal();
  }

  private async untilNextDue(): Promise<number> {
    try {
      const due = await this.options.store.nextDueTime();
      if (due === null) return this.pollIntervalMs;
      return Math.max(5, Math.min(this.pollIntervalMs, due - this.options.clock.now()));
    } catch {
      return this.pollIntervalMs;
    }
  }

  private async attempt(claim: ClaimedDelivery): Promise<void> {
    const { clock, sender, timeoutMs } = this.options;
    const payload = this.render(claim);
    const started = clock.now();
    // A fresh timestamp and signature on every attempt, one v1 per active secret.
    const headers = {
      ...DELIVERY_HEADERS,
      ...deliverySignatureHeaders(payload, { secrets: claim.secrets, eventId: claim.event.id, timestamp: Math.floor(started / 1000), schemes: claim.endpoint.signatureSchemes }),
    };
    const result = await sender.send({ url: claim.endpoint.url, headers, body: payload, timeoutMs, mode: claim.endpoint.mode });
    const verdict = classify(result);
    this.record(claim, started, payload, {
      outcome: verdict.outcome,
      failureKind: verdict.outcome === 'failed' ? verdict.failureKind : null,
      failureMessage: verdict.outcome === 'failed' ? verdict.message : null,
      httpStatus: result.kind === 'response' ? result.status : null,
      requestHeaders: headers,
      responseHeaders: result.kind === 'response' ? result.headers : null,
      responseBody: result.kind === 'response' ? result.body : null,
      durationMs: result.durationMs,
    });
  }

  /** Deliveries of one non-webhook destination, handed to its transport as one batch. */
  private async attemptThroughTransport(claims: ClaimedDelivery[]): Promise<void> {
    const { clock, timeoutMs, transports, logger } = this.options;
    const destination = asDestination(claims[0]!.endpoint);
    const entries: TransportEntry[] = claims.map((claim) => ({
      deliveryId: claim.deliveryId,
      eventId: claim.event.id,
      eventType: claim.event.type,
      accountId: destination.accountId,
      connectedAccount: claim.event.account,
      created: claim.event.created,
      body: this.render(claim),
    }));
    const started = clock.now();
    const transport = transports?.[destination.type as keyof DestinationTransports];
    const failAll = (failureKind: TransportEntryResult['failureKind'], message: string): TransportEntryResult[] =>
      claims.map(() => ({ outcome: 'failed', failureKind, failureMessage: message, httpStatus: null, requestHeaders: {}, responseHeaders: null, responseBody: null, durationMs: clock.now() - started }));
    let results: TransportEntryResult[];
    if (!transport) {
      results = failAll('endpoint_unavailable', `No transport for ${destination.type} destinations in this process`);
    } else {
      try {
        results = await transport.send(destination, entries, timeoutMs);
      } catch (err) {
        logger.error('a destination transport threw; its entries count as failed attempts', { destination: destination.id, error: String(err) });
        results = failAll('connection_error', String(err));
      }
    }
    claims.forEach((claim, i) => {
      const result = results[i] ?? failAll('connection_error', 'The transport returned no result for this entry')[0]!;
      this.record(claim, started, entries[i]!.body, result);
    });
  }

  /** Turns one attempt's outcome into an attempt record and the delivery's next step (retry policy). */
  private record(claim: ClaimedDelivery, started: number, payload: string, result: TransportEntryResult): void {
    const { clock, retryOverride } = this.options;
    const { permanent, ...outcome } = result;
    const finished = clock.now();
    const status = outcome.httpStatus;
    // 410 Gone: the receiver says the endpoint no longer exists (Standard Webhooks): stop at once.
    const disableReason = status === 410 ? goneReason(finished) : undefined;
    let failureMessage = outcome.failureMessage;
    let next: AttemptResult['next'];
    if (outcome.outcome === 'succeeded') {
      next = { state: 'succeeded' };
    } else if (claim.kind === 'manual' || disableReason) {
      next = { state: 'failed' }; // a resend is tried once; the automatic schedule is separate
    } else if (permanent) {
      next = { state: 'failed' }; // no retry could succeed (e.g. an event too large for EventBridge)
    } else {
      const { mode } = claim.endpoint;
      let delay = retryDelay({ mode, step: claim.scheduleStep, override: retryOverride, random: this.random() });
      const requested = status !== null && RETRY_AFTER_STATUSES.has(status) ? parseRetryAfter(outcome.responseHeaders?.['retry-after'], finished) : null;
      if (delay !== null && requested !== null) {
        const bounded = boundedRetryAfter(requested, { policyDelay: delay, maxMs: this.options.retryAfterMaxMs ?? Infinity, horizonMs: remainingSchedule(mode, claim.scheduleStep, retryOverride) });
        if (bounded !== delay) failureMessage = `${failureMessage}; Retry-After honoured: next attempt in ${Math.round(bounded / 1000)} s`;
        delay = bounded;
      }
      next = delay === null ? { state: 'failed' } : { state: 'pending', at: finished + delay, scheduleStep: claim.scheduleStep + 1 };
    }

    const attempt: DeliveryAttempt = {
      id: newId.attempt(),
      deliveryId: claim.deliveryId,
      eventId: claim.event.id,
      endpointId: claim.endpoint.id,
      accountId: claim.endpoint.accountId,
      mode: claim.endpoint.mode,
      kind: claim.kind,
      attemptNumber: claim.attemptNumber,
      url: claim.endpoint.url,
      created: started,
      ...outcome,
      failureMessage,
      // The event as published is stored already: the attempt keeps a reference, not a copy.
      ...(this.published.get(claim.event) === payload ? { requestBody: null, publishedBody: { pendingWebhooks: claim.event.pendingWebhooks } } : { requestBody: payload }),
      nextRetryAt: next.state === 'pending' ? next.at : null,
    };
    this.results.push({ claim, attempt, next, ...(disableReason ? { disableReason } : {}) });
    this.resultTimes.push(finished);
    this.scheduleFlush();
  }

  /**
   * Event data translated to a version, by `event id + target version`: each (event, version) is
   * translated once however many destinations and attempts share it. The version is the one the
   * data is really in (the event's own when the changes could not be applied).
   */
  private readonly translated = new Map<string, { apiVersion: string; dataJson: string }>();
  /**
   * The as-published body of each claimed event object: claims of one event in one batch share the
   * object (the store reads the event once), so a fan-out to N endpoints serialises it once, not N
   * times. Weak: bodies go when their claims are done.
   */
  private readonly published = new WeakMap<ClaimedDelivery['event'], string>();

  /**
   * The body for this destination: a thin notification, or the Event in the destination's API
   * version (its own, else the account's default when the event was created).
   */
  private render(claim: ClaimedDelivery): string {
    const { event, endpoint } = claim;
    if (endpoint.eventPayload === 'thin') return renderThinPayload(event);
    const target = endpoint.apiVersion ?? event.accountApiVersion ?? this.options.defaultApiVersion;
    const versions = this.options.versions;
    if (!target || target === event.apiVersion || !versions || versions.empty) {
      let payload = this.published.get(event);
      if (payload === undefined) this.published.set(event, (payload = renderEventPayload(event)));
      return payload;
    }
    const key = `${event.id} ${target}`;
    let rendering = this.translated.get(key);
    if (rendering === undefined) {
      rendering = { apiVersion: event.apiVersion, dataJson: event.dataJson };
      try {
        const data = versions.translate(JSON.parse(event.dataJson), event.apiVersion, target, event.type);
        if (data) rendering = { apiVersion: target, dataJson: JSON.stringify(data) };
      } catch (err) {
        this.options.logger.error('a version change failed; delivering the event as published', { event: event.id, version: target, error: String(err) });
      }
      if (this.translated.size >= 2000) this.translated.delete(this.translated.keys().next().value!);
      this.translated.set(key, rendering);
    }
    // pending_webhooks is current at each attempt; the translated data is shared.
    return renderEventPayload({ ...event, ...rendering });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** How long the oldest result not yet written has waited. */
  private recordLagMs(): number {
    const oldest = this.recordingSince ?? this.resultTimes[0];
    return oldest === undefined ? 0 : this.options.clock.now() - oldest;
  }

  /** Writes recorded results in batches; one flush at a time, in order. */
  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.results.length === 0) return;
    let retrying = false;
    this.flushing = (async () => {
      const { store, logger, disableAfterMs } = this.options;
      while (this.results.length > 0) {
        const batch = this.results.splice(0, RECORD_BATCH);
        this.recordingSince = this.resultTimes.splice(0, batch.length)[0]!;
        retrying ||= batch.some((r) => r.next.state === 'pending');
        try {
          const outcome = await store.recordAttempts(batch, { disableAfterMs });
          for (const { endpointId, reason } of outcome.disabled) {
            logger.warn('endpoint disabled', { endpoint: endpointId, reason });
            // Given back, the next claim cancels them, as it does every delivery of a disabled endpoint.
            const queue = this.ready.get(endpointId);
            if (queue) this.giveBack(endpointId, queue.length);
          }
          if (outcome.disabled.length > 0) this.options.onEndpointsDisabled?.();
        } catch (err) {
          // The leases expire and the deliveries are attempted again: at least once, never lost.
          logger.error('recording delivery attempts failed; they will be retried when their leases expire', { error: String(err), count: batch.length });
        } finally {
          this.recordingSince = null;
        }
        if (this.waitingForRecords && this.recordLagMs() < RECORD_LAG_LIMIT_MS) this.wakeup.signal();
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
    // A retry recorded may fall due before the loop's next look at the queue; while work is held
    // back by the bound, the loop polls anyway, and finished attempts wake it.
    if (retrying && this.heldBack === null) this.wake();
  }
}
