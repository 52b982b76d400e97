/** The failure-alert banner: endpoints whose latest alert says they are failing or were disabled. */
import { api, type List, type Mode } from './api.js';
import { formatTime, h, replace } from './dom.js';

interface AlertObject {
  id: string;
  type: 'webhook_endpoint.failing' | 'webhook_endpoint.disabled' | 'webhook_endpoint.recovered';
  webhook_endpoint: string;
  url: string;
  created: number;
  failing_since: number | null;
  disable_at: number | null;
  disabled_at: number | null;
  failures: { failure_kind: string; http_status: number | null; count: number }[];
}

/** Fills `el` with one line per endpoint still in trouble (an endpoint's newest alert decides). */
export async function renderAlertBanner(el: HTMLElement, mode: Mode, link: (path: string) => string, endpointIds: Set<string>): Promise<void> {
  const alerts = await api<List<AlertObject>>(mode, 'GET', '/v1/webhook_alerts', { limit: 100 });
  const latest = new Map<string, AlertObject>();
  for (const alert of alerts.data) if (!latest.has(alert.webhook_endpoint)) latest.set(alert.webhook_endpoint, alert);
  const open = [...latest.values()].filter((a) => a.type !== 'webhook_endpoint.recovered' && endpointIds.has(a.webhook_endpoint));
  if (open.length === 0) return replace(el);
  replace(
    el,
    h(
      'div',
      { class: 'notice notice-warn alert-banner', role: 'status' },
      h('strong', {}, open.length === 1 ? '1 destination needs attention' : `${open.length} destinations need attention`),
      h(
        'ul',
        {},
        open.map((a) => {
          const failures = a.failures.map((f) => `${f.count} × ${f.http_status !== null ? `HTTP ${f.http_status}` : f.failure_kind}`).join(', ');
          const what =
            a.type === 'webhook_endpoint.disabled'
              ? `disabled automatically ${formatTime(a.disabled_at)}`
              : `failing since ${formatTime(a.failing_since)}; will be disabled ${formatTime(a.disable_at)} unless a delivery succeeds`;
          return h('li', { 'data-alert': a.type }, h('a', { href: link(`endpoints/${a.webhook_endpoint}`), class: 'url' }, a.url), ` — ${what}`, failures ? ` (${failures})` : '');
        }),
      ),
    ),
  );
}
