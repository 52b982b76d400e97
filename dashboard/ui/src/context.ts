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
  /** Set for an Amazon EventBridge destination (read through the v2 API; its `url` is the bus ARN). */
  type?: 'amazon_eventbridge';
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
  // EventBridge destinations exist only in the v2 API.
  let next: string | null = '/v2/core/event_destinations?limit=100';
  for (let page = 0; next && page < 20; page++) {
    const list: { data: EventDestinationObject[]; next_page_url: string | null } = await api(mode, 'GET', next);
    out.push(...list.data.filter((d) => d.type === 'amazon_eventbridge').map(fromEventDestination));
    next = list.next_page_url;
  }
  return out;
}

/** EventBridge destinations have `ed_` ids; webhook endpoints, however created, `we_`. */
export const isEventBridge = (id: string) => id.startsWith('ed_');

/** One destination by id: a webhook endpoint (v1) or an EventBridge destination (v2). */
export async function getEndpoint(mode: Mode, id: string): Promise<EndpointObject> {
  if (isEventBridge(id)) return fromEventDestination(await api<EventDestinationObject>(mode, 'GET', `/v2/core/event_destinations/${id}`));
  return api<EndpointObject>(mode, 'GET', `/v1/webhook_endpoints/${id}`);
}

export interface EventDestinationObject {
  id: string;
  type: string;
  name: string;
  status: 'enabled' | 'disabled';
  enabled_events: string[];
  snapshot_api_version?: string | null;
  created: string;
  livemode: boolean;
  metadata: Record<string, string> | null;
  amazon_eventbridge?: { event_bus_arn?: string } | null;
}

/** A v2 EventBridge destination in the shape the pages show: its bus ARN where a webhook has its URL. */
export function fromEventDestination(d: EventDestinationObject): EndpointObject {
  return {
    id: d.id,
    url: d.amazon_eventbridge?.event_bus_arn ?? d.id,
    status: d.status,
    enabled_events: d.enabled_events,
    description: d.name,
    api_version: d.snapshot_api_version ?? null,
    application: null,
    created: Math.floor(Date.parse(d.created) / 1000),
    livemode: d.livemode,
    metadata: d.metadata ?? {},
    type: 'amazon_eventbridge',
  };
}

export function describeEvents(events: string[]): string {
  if (events.includes('*')) return events.length === 1 ? 'All events' : `All events + ${events.length - 1}`;
  return events.length === 1 ? events[0]! : `${events.length} event types`;
}
