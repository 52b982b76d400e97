import type { StoredEvent } from '../domain/types.js';
import type { PublishedEvent, Store } from '../store/store.js';

/**
 * Group commit for publishing: events published in the same tick share one transaction, so the
 * disk's sync rate stops limiting throughput, while each request still answers only after its
 * event is durable.
 */
export class EventPublisher {
  private queue: { event: PublishedEvent; resolve: (e: StoredEvent) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;
  private readonly maxBatch = 500;

  constructor(
    private readonly store: Store,
    /** Called with each batch once it is durable. */
    private readonly onPublished: (published: StoredEvent[]) => void,
  ) {}

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
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let stored: StoredEvent[];
      try {
        stored = await this.store.publishEvents(batch.map((b) => b.event));
      } catch (err) {
        for (const b of batch) b.reject(err);
        continue;
      }
      batch.forEach((b, i) => b.resolve(stored[i]!));
      this.onPublished(stored);
    }
  }
}
