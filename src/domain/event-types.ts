import { STRIPE_EVENT_TYPES } from './stripe-event-types.js';

/**
 * Types that `*` does not cover: Stripe requires them to be selected by name because the receiver
 * must answer them synchronously.
 */
const EXPLICIT_ONLY = new Set(['issuing_authorization.request']);

/** The event types an installation knows: Stripe's, plus any the operator added. */
export class EventTypeCatalog {
  private readonly types: Set<string>;

  constructor(extraTypes: readonly string[] = []) {
    this.types = new Set([...STRIPE_EVENT_TYPES, ...extraTypes]);
  }

  has(type: string): boolean {
    return this.types.has(type);
  }

  all(): string[] {
    return [...this.types].sort();
  }
}

/** Whether an endpoint subscribed to `enabledEvents` wants an event of `type`. */
export function endpointWantsType(enabledEvents: readonly string[], type: string): boolean {
  for (const enabled of enabledEvents) {
    if (enabled === type) return true;
    if (enabled === '*' && !EXPLICIT_ONLY.has(type)) return true;
  }
  return false;
}

/**
 * The events-list `type` filter: an exact name or a pattern with `*` standing for any run of
 * characters (`charge.*`, `*.succeeded`).
 */
export function typePatternMatcher(pattern: string): (type: string) => boolean {
  if (!pattern.includes('*')) return (type) => type === pattern;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return (type) => regex.test(type);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
