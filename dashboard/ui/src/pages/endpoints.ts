/** Event destinations: every endpoint with its status, events, 24 h success rate and last delivery. */
import { api, type List } from '../api.js';
import { allEndpoints, describeEvents, type EndpointObject, type PageContext } from '../context.js';
import { h, replace, timeEl } from '../dom.js';
import { endpointActions } from './endpoint-actions.js';
import { renderAlertBanner } from '../alerts.js';
import { notice, refreshingRegion, responsePill, statusBadge, table } from '../ui.js';

interface Health {
  stats: { success_rate: number | null; succeeded: number; failed: number } | null;
  last: { created: number; last_attempt: { created: number; http_status: number | null; failure_kind: string | null; outcome: string } | null; status: string } | null;
}

export async function endpointsPage(ctx: PageContext): Promise<void> {
  const n = notice();
  const region = refreshingRegion();
  replace(region.el, h('p', { class: 'muted' }, 'Loading…'));
  const body = h('div', { class: 'card' }, region.el);
  const banner = h('div', { class: 'alert-area', 'aria-live': 'polite' });
  replace(
    ctx.main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Event destinations'),
      h('a', { class: 'button button-primary', href: ctx.link('endpoints/new') }, '+ Add destination'),
    ),
    h('p', { class: 'lead' }, 'Webhook endpoints that receive your ', ctx.mode, '-mode events, signed with their own secret.'),
    n.el,
    banner,
    body,
  );

  const load = async () => {
    const endpoints = await allEndpoints(ctx.mode);
    const health = await Promise.all(endpoints.map((e) => loadHealth(ctx, e)));
    if (!ctx.current()) return;
    await renderAlertBanner(banner, ctx.mode, ctx.link, new Set(endpoints.map((e) => e.id))).catch(() => undefined);
    const byId = new Map(endpoints.map((e, i) => [e.id, health[i]!]));
    region.update({ endpoints, health }, () => [
      table<EndpointObject>(
        [
          { label: 'URL', cell: (e) => h('div', {}, h('a', { href: ctx.link(`endpoints/${e.id}`), class: 'url' }, e.url), e.description ? h('div', { class: 'muted small' }, e.description) : null) },
          { label: 'Status', cell: (e) => statusBadge(e.status) },
          { label: 'Listening to', cell: (e) => h('span', { title: e.enabled_events.join(', ') }, describeEvents(e.enabled_events), e.application ? h('span', { class: 'muted small' }, ' · connected accounts') : null) },
          {
            label: 'Success (24 h)',
            cell: (e) => {
              const s = byId.get(e.id)?.stats;
              if (!s || s.success_rate === null) return h('span', { class: 'muted' }, 'No attempts');
              const pct = Math.floor(s.success_rate * 1000) / 10;
              return h('span', { class: pct >= 99 ? 'rate rate-ok' : pct >= 80 ? 'rate rate-warn' : 'rate rate-bad', title: `${s.succeeded} succeeded, ${s.failed} failed` }, `${pct}%`);
            },
          },
          {
            label: 'Last delivery',
            cell: (e) => {
              const last = byId.get(e.id)?.last;
              if (!last) return h('span', { class: 'muted' }, 'None yet');
              const a = last.last_attempt;
              return h('span', {}, timeEl(a ? a.created : last.created), ' ', a ? responsePill(a) : statusBadge(last.status));
            },
          },
          { label: 'Actions', cell: (e) => endpointActions(ctx, e, n, { toggled: () => load(), deleted: () => void load() }) },
        ],
        endpoints,
        'No event destinations yet. Add one to start receiving events.',
        'Event destinations',
      ),
    ]);
  };
  try {
    await load();
  } catch (err) {
    n.error(err);
    region.el.replaceChildren();
  }
  ctx.every(5000, () => load().catch((err) => n.error(err)));
}

async function loadHealth(ctx: PageContext, endpoint: EndpointObject): Promise<Health> {
  const [stats, last] = await Promise.all([
    api(ctx.mode, 'GET', `/v1/webhook_endpoints/${endpoint.id}/delivery_stats`).catch(() => null),
    api<List<any>>(ctx.mode, 'GET', `/v1/webhook_endpoints/${endpoint.id}/deliveries`, { limit: 1 })
      .then((l) => l.data[0] ?? null)
      .catch(() => null),
  ]);
  return { stats, last };
}
