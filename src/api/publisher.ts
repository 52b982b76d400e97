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

  publish(event: PublishedEvent): Promise<StoredEvent> {
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
