import type { StoredEvent } from '../domain/types.js';
import type { PublishedEvent, Store } from '../store/store.js';

export interface EventPublisherOptions {
  /**
   * Batches written at once. Events published while that many are being written wait and go
   * together in the next batch: one statement for many events instead of one each. PostgreSQL
   * parses, plans and commits each statement at a cost that hardly depends on its rows, so at
   * 2,000 events/s a statement per event would spend its CPU on overhead; SQLite's thread groups
   * the calls of each turn itself. Unbounded by default.
   */
  maxConcurrentBatches?: number;
}

/**
 * Group commit for publishing: events published in the same tick share one transaction, so the
 * disk's sync rate stops limiting throughput, while each request still answers only after its
 * event is durable.
 */
export class EventPublisher {
  private queue: { event: PublishedEvent; resolve: (e: StoredEvent) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;
  private writing = 0;
  private readonly maxBatch = 500;
  private readonly maxConcurrentBatches: number;

  constructor(
    private readonly store: Store,
    /** Called with each batch once it is durable. */
    private readonly onPublished: (published: StoredEvent[]) => void,
    options: EventPublisherOptions = {},
  ) {
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? Number.POSITIVE_INFINITY;
  }

  /**
   * `alone`: in a transaction of its own, not with other requests' events. For an event whose id may
   * exist already (an idempotent request resumed after its first run died): should it, only this
   * request fails on the unique id, not every request batched with it.
   */
  async publish(event: PublishedEvent, options: { alone?: boolean } = {}): Promise<StoredEvent> {
    if (options.alone) {
      const [stored] = await this.store.publishEvents([event]);
      this.onPublished([stored!]);
      return stored!;
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.writing >= this.maxConcurrentBatches) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Starts a batch for each free slot; a finished batch frees its slot for what queued meanwhile. */
  private flush(): void {
    while (this.queue.length > 0 && this.writing < this.maxConcurrentBatches) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.writing++;
      this.store.publishEvents(batch.map((b) => b.event)).then(
        (stored) => {
          batch.forEach((b, i) => b.resolve(stored[i]!));
          this.onPublished(stored);
        },
        (err: unknown) => {
          for (const b of batch) b.reject(err);
        },
      ).finally(() => {
        this.writing--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }
}
