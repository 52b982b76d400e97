/** Events: the list with type and date filters and each event's delivery state per endpoint; one event's JSON. */
import { api, type List } from '../api.js';
import { allEndpoints, type EndpointObject, type PageContext } from '../context.js';
import { typeAndTimeFields, type TypeAndTimeFilter } from '../filters.js';
import { formatTime, h, replace, shortId, timeEl } from '../dom.js';
import { busy, fact, httpStatusText, notice, pager, pre, refreshingRegion, responseLink, statusBadge, table } from '../ui.js';
import type { DeliveryObject } from './endpoint-detail.js';

interface EventObject {
  id: string;
  type: string;
  created: number;
  api_version: string;
  account?: string;
  pending_webhooks: number;
  livemode: boolean;
}

export async function eventsPage(ctx: PageContext): Promise<void> {
  const n = notice();
  const region = refreshingRegion();
  const body = h('div', { class: 'card' }, region.el);
  const typeAndTime = typeAndTimeFields(ctx.mode, 'e.g. invoice.paid or charge.*');
  let applied: TypeAndTimeFilter = {};
  let cursor: { starting_after?: string; ending_before?: string } = {};
  let endpoints = new Map<string, EndpointObject>();

  const load = async () => {
    const list = await api<List<EventObject>>(ctx.mode, 'GET', '/v1/events', { limit: 15, ...applied, ...cursor });
    const deliveries = await Promise.all(list.data.map((e) => api<List<DeliveryObject>>(ctx.mode, 'GET', `/v1/events/${e.id}/deliveries`, { limit: 20 }).then((l) => l.data).catch(() => [])));
    if (!ctx.current()) return;
    n.clear();
    const backwards = cursor.ending_before !== undefined;
    const onFirstPage = !cursor.starting_after && !(backwards && list.has_more);
    region.update({ events: list.data, deliveries, cursor }, () => [
      table<[EventObject, DeliveryObject[]]>(
        [
          { label: 'Event', cell: ([e]) => h('div', {}, h('a', { href: ctx.link(`events/${e.id}`), class: 'mono' }, shortId(e.id)), h('div', { class: 'small' }, e.type)) },
          { label: 'Created', cell: ([e]) => timeEl(e.created) },
          { label: 'Deliveries', cell: ([, ds]) => deliveryChips(ctx, ds, endpoints) },
        ],
        list.data.map((e, i) => [e, deliveries[i]!] as [EventObject, DeliveryObject[]]),
        applied.type || applied.created ? 'No event matches these filters.' : 'No events in the last 30 days. Publish one with POST /v1/events.',
        'Events',
      ),
      pager({
        hasNewer: !onFirstPage,
        hasOlder: backwards ? true : list.has_more,
        onNewer: () => {
          cursor = list.data[0] ? { ending_before: list.data[0].id } : {};
          void load().catch((err) => n.error(err));
        },
        onOlder: () => {
          cursor = list.data.at(-1) ? { starting_after: list.data.at(-1)!.id } : {};
          void load().catch((err) => n.error(err));
        },
      }),
    ]);
  };

  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        applied = typeAndTime.read();
        cursor = {};
        void load().catch((err) => n.error(err));
      },
    },
    typeAndTime.fields,
    h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'button' }, 'Apply filters')),
  );
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Events'), h('span', { class: 'live-dot', title: 'Updates every 3 seconds' }, 'Live')), h('p', { class: 'lead' }, 'Events published in ', ctx.mode, ' mode over the last 30 days, and where each one went.'), form, n.el, body);
  endpoints = new Map((await allEndpoints(ctx.mode)).map((e) => [e.id, e]));
  await load().catch((err) => n.error(err));
  ctx.every(3000, async () => {
    if (!cursor.starting_after && !cursor.ending_before) await load().catch((err) => n.error(err));
  });
}

function deliveryChips(ctx: PageContext, deliveries: DeliveryObject[], endpoints: Map<string, EndpointObject>): HTMLElement {
  if (deliveries.length === 0) return h('span', { class: 'muted' }, 'No destination');
  return h(
    'ul',
    { class: 'chips' },
    deliveries.map((d) => {
      const where = endpoints.get(d.webhook_endpoint)?.url ?? shortId(d.webhook_endpoint);
      const code = d.last_attempt ? httpStatusText(d.last_attempt.http_status, d.last_attempt.failure_kind) : '';
      const label = `${where}: ${d.status}${code ? ` (${code})` : ''}${d.kind === 'manual' ? ', resend' : ''}`;
      const inner = [statusBadge(d.status), ' ', h('span', { class: 'chip-url' }, where), code ? h('span', { class: 'muted small' }, ` ${code}`) : null, d.kind === 'manual' ? h('span', { class: 'muted small' }, ' · resend') : null];
      return h('li', {}, d.last_attempt ? h('a', { href: ctx.link(`attempts/${d.last_attempt.id}`), class: 'chip', 'aria-label': label }, inner) : h('span', { class: 'chip', 'aria-label': label }, inner));
    }),
  );
}

export async function eventPage(ctx: PageContext, id: string): Promise<void> {
  const event = await api<EventObject>(ctx.mode, 'GET', `/v1/events/${id}`);
  const endpoints = new Map((await allEndpoints(ctx.mode)).map((e) => [e.id, e]));
  if (!ctx.current()) return;
  const n = notice();
  const deliveriesRegion = refreshingRegion();
  const deliveries = deliveriesRegion.el;
  const refresh = async () => {
    const list = await api<List<DeliveryObject>>(ctx.mode, 'GET', `/v1/events/${id}/deliveries`, { limit: 100 });
    if (!ctx.current()) return;
    deliveriesRegion.update(list.data, () => [
      table<DeliveryObject>(
        [
          { label: 'Destination', cell: (d) => h('a', { href: ctx.link(`endpoints/${d.webhook_endpoint}`) }, endpoints.get(d.webhook_endpoint)?.url ?? shortId(d.webhook_endpoint)) },
          { label: 'Status', cell: (d) => h('span', {}, statusBadge(d.status), d.kind === 'manual' ? h('span', { class: 'muted small' }, ' resend') : null) },
          { label: 'Last response', cell: (d) => responseLink(ctx, d.last_attempt) },
          { label: 'Attempts', cell: (d) => String(d.attempt_count), className: 'num' },
          { label: 'Next retry', cell: (d) => (d.next_attempt_at && d.status === 'failed' ? timeEl(d.next_attempt_at) : h('span', { class: 'muted' }, '—')) },
          { label: 'Resend', cell: (d) => (d.kind === 'automatic' && endpoints.has(d.webhook_endpoint) ? resendButton(d) : null) },
        ],
        list.data,
        'No destination listened to this event when it was published.',
        'Deliveries of this event',
      ),
    ]);
  };
  /** Sends the event again to one endpoint now; automatic retries carry on. */
  const resendButton = (d: DeliveryObject) => {
    const where = endpoints.get(d.webhook_endpoint)?.url ?? d.webhook_endpoint;
    const button = h('button', { type: 'button', class: 'button', 'aria-label': `Resend to ${where}` }, 'Resend');
    button.addEventListener('click', () =>
      busy(button, async () => {
        n.clear();
        try {
          await api(ctx.mode, 'POST', `/v1/events/${id}/retry`, { webhook_endpoint: d.webhook_endpoint });
          n.success(`Resend to ${where} queued: the new delivery appears in this table.`);
          await refresh();
        } catch (err) {
          n.error(err);
        }
      }),
    );
    return button;
  };
  replace(
    ctx.main,
    h('p', { class: 'breadcrumb' }, h('a', { href: ctx.link('events') }, 'Events'), ' / ', shortId(id)),
    h('h1', {}, event.type),
    n.el,
    h(
      'section',
      { class: 'card' },
      h(
        'dl',
        { class: 'facts' },
        fact('ID', h('code', {}, event.id)),
        fact('Created', formatTime(event.created)),
        fact('API version', event.api_version),
        fact('Connected account', event.account ?? '—'),
        fact('Destinations still pending', String(event.pending_webhooks)),
      ),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'ev-del-h' }, h('h2', { id: 'ev-del-h' }, 'Deliveries'), deliveries),
    h('section', { class: 'card', 'aria-labelledby': 'ev-json-h' }, h('h2', { id: 'ev-json-h' }, 'Event data'), pre(JSON.stringify(event, null, 2), 'Event JSON')),
  );
  await refresh().catch((err) => n.error(err));
  ctx.every(2000, () => refresh().catch((err) => n.error(err)));
}
