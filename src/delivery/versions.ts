import type { Logger } from '../domain/logger.js';

/**
 * One change of the event payloads' shape, as Stripe versions its API: events are published in one
 * version and delivered in each endpoint's. `downgrade` turns data of this version into the
 * previous one's; `upgrade` does the reverse. Herald cannot know your objects' shapes, so the
 * operator supplies these (HERALD_VERSION_TRANSFORMS); without one, an event is delivered as published.
 */
export interface VersionChange {
  version: string;
  upgrade?: (data: EventData) => EventData;
  downgrade?: (data: EventData) => EventData;
}

export type EventData = { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };

/** Versions are dates with an optional name (`2026-10-28.endive`): the date orders them. */
const dateOf = (version: string) => version.slice(0, 10);

export class VersionTranslator {
  private readonly changes: VersionChange[];
  private readonly warned = new Set<string>();

  constructor(changes: readonly VersionChange[], private readonly logger: Logger) {
    this.changes = [...changes].sort((a, b) => dateOf(a.version).localeCompare(dateOf(b.version)));
  }

  get empty(): boolean {
    return this.changes.length === 0;
  }

  /**
   * The data rendered for `target`, or null when the changes between the two versions cannot all
   * be applied (the event is then delivered in its own version, and that is logged once).
   */
  translate(data: EventData, from: string, target: string): EventData | null {
    if (dateOf(from) === dateOf(target)) return data;
    const downward = dateOf(target) < dateOf(from);
    const steps = downward
      ? this.changes.filter((c) => dateOf(c.version) > dateOf(target) && dateOf(c.version) <= dateOf(from)).reverse()
      : this.changes.filter((c) => dateOf(c.version) > dateOf(from) && dateOf(c.version) <= dateOf(target));
    let current = structuredClone(data);
    for (const step of steps) {
      const apply = downward ? step.downgrade : step.upgrade;
      if (!apply) {
        this.warnOnce(`${from}->${target}`, `no ${downward ? 'downgrade' : 'upgrade'} for version ${step.version}`);
        return null;
      }
      current = apply(current);
    }
    return current;
  }

  private warnOnce(key: string, reason: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn('event delivered in its own API version', { versions: key, reason });
  }
}

/** Loads the operator's module: its default export (or `changes`) is a list of VersionChange. */
export async function loadVersionChanges(moduleUrl: string): Promise<VersionChange[]> {
  const module = (await import(moduleUrl)) as { default?: unknown; changes?: unknown };
  const list = module.default ?? module.changes;
  if (!Array.isArray(list)) throw new Error('the module must export a list of { version, upgrade?, downgrade? } (default export or `changes`)');
  for (const change of list as VersionChange[]) {
    if (typeof change?.version !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(change.version)) throw new Error(`each change needs a version such as 2026-10-28.endive (got ${JSON.stringify(change?.version)})`);
    for (const fn of ['upgrade', 'downgrade'] as const) {
      if (change[fn] !== undefined && typeof change[fn] !== 'function') throw new Error(`${fn} of ${change.version} must be a function`);
    }
  }
  return list as VersionChange[];
}
