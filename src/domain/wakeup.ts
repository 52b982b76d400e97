/**
 * A sleep that a signal cuts short. A signal that arrives while nobody sleeps is kept, so the next
 * sleep returns at once: new work announced between two looks at a queue is never slept through.
 */
export class Wakeup {
  private pending = false;
  private interrupt: (() => void) | null = null;

  /** Wakes the sleeper now, or makes the next sleep return at once. */
  signal(): void {
    this.pending = true;
    const interrupt = this.interrupt;
    this.interrupt = null;
    interrupt?.();
  }

  /** Whether a signal came since the last `clear()`. */
  get signalled(): boolean {
    return this.pending;
  }

  /** Forgets past signals; call it before looking at the work a signal announces. */
  clear(): void {
    this.pending = false;
  }

  /** Sleeps up to `ms`, or until signalled. */
  sleep(ms: number): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.interrupt = null;
        resolve();
      }, ms);
      this.interrupt = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
