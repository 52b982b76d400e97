/** What every page gets: its mode, navigation, a place to render, and timers that stop when it is left. */
import { api, type List, type Mode } from './api.js';

export interface PageContext {
  mode: Mode;
  main: HTMLElement;
  navigate(path: string): void;
  /** Runs `fn` every `ms` while this page is shown and the tab is visible. */
  every(ms: number, fn: () => Promise<void> | void): void;
  /** Whether the user is still on this page (async work checks before rendering). */
  current(): boolean;
  /** The path of a page in this mode, e.g. `link('endpoints')` → `/dashboard/test/endpoints`. */
  link(path: string): string;
}

export interface EndpointObject {
  id: string;
  url: string;
  status: 'enabled' | 'disabled';
  enabled_events: string[];
  description: string | null;
  api_version: string | null;
  application: string | null;
  created: number;
  livemode: boolean;
  metadata: Record<string, string>;
}

let catalog: Promise<string[]> | null = null;

/** The event type catalog (the same in both modes), fetched once. */
export function eventTypes(mode: Mode): Promise<string[]> {
  catalog ??= api<List<{ id: string }>>(mode, 'GET', '/v1/event_types').then((l) => l.data.map((t) => t.id));
  catalog.catch(() => (catalog = null));
  return catalog;
}

/** All endpoints of the mode (a few dozen at most: the API caps them per account). */
export async function allEndpoints(mode: Mode): Promise<EndpointObject[]> {
  const out: EndpointObject[] = [];
  let startingAfter: string | undefined;
  for (let page = 0; page < 20; page++) {
    const list = await api<List<EndpointObject>>(mode, 'GET', '/v1/webhook_endpoints', { limit: 100, starting_after: startingAfter });
    out.push(...list.data);
    if (!list.has_more || list.data.length === 0) break;
    startingAfter = list.data.at(-1)!.id;
  }
  return out;
}

export function describeEvents(events: string[]): string {
  if (events.includes('*')) return events.length === 1 ? 'All events' : `All events + ${events.length - 1}`;
  return events.length === 1 ? events[0]! : `${events.length} event types`;
}
