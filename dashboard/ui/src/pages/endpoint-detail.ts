/**
 * One endpoint: its health, a chart of attempts over time, the deliveries table (live), the signing
 * secret behind a reveal button, Roll secret, Recover events, and edit/disable/delete.
 */
import { api, type List } from '../api.js';
import { deliveryChart, type Bucket } from '../chart.js';
import { getEndpoint, type EndpointObject, type PageContext } from '../context.js';
import { endpointActions } from './endpoint-actions.js';
import { typeAndTimeFields, type TypeAndTimeFilter } from '../filters.js';
import { formatTime, fromLocalInput, h, replace, shortId, timeEl, toLocalInput } from '../dom.js';
import { announcer, busy, confirmDialog, fact, field, notice, pager, refreshingRegion, responseLink, statusBadge, table } from '../ui.js';

export interface DeliveryObject {
  id: string;
  event: string;
  event_type: string;
  status: 'succeeded' | 'failed' | 'pending' | 'cancelled';
  attempt_count: number;
  next_attempt_at: number | null;
  created: number;
  kind: 'automatic' | 'manual';
  webhook_endpoint: string;
  last_attempt: { id: string; created: number; http_status: number | null; failure_kind: string | null; outcome: string; duration_ms: number } | null;
}

interface Stats {
  succeeded: number;
  failed: number;
  success_rate: number | null;
  buckets: Bucket[];
  bucket_seconds: number;
}

interface Health {
  disabled_reason: string | null;
  disabled_at: number | null;
  failing_since: number | null;
  last_success_at: number | null;
}

const WINDOWS = [
  { label: 'Last hour (by minute)', seconds: 3600, bucket: 60 },
  { label: 'Last 24 hours (by hour)', seconds: 86_400, bucket: 3600 },
  { label: 'Last 7 days (by 6 hours)', seconds: 7 * 86_400, bucket: 6 * 3600 },
];

export async function endpointDetailPage(ctx: PageContext, id: string): Promise<void> {
  let endpoint = await getEndpoint(ctx.mode, id);
  if (!ctx.current()) return;
  const n = notice();
  const head = h('div');
  const health = h('div');
  const summary = h('div');
  const chartArea = h('div', { class: 'chart-area' });

  const renderHead = () => {
    const actions = endpointActions(ctx, endpoint, n, {
      toggled: async (updated) => {
        endpoint = updated;
        renderHead();
        // The health notice shown belongs to the old status: it goes now, not when the stats come back.
        health.replaceChildren();
        await refreshStats();
      },
      deleted: () => ctx.navigate(ctx.link('endpoints')),
    });
    replace(
      head,
      h('p', { class: 'breadcrumb' }, h('a', { href: ctx.link('endpoints') }, 'Event destinations'), ' / ', shortId(id)),
      h(
        'div',
        { class: 'page-head' },
        h('div', { class: 'title-block' }, h('h1', { class: 'url-title' }, endpoint.url), h('div', {}, statusBadge(endpoint.status), ' ', endpoint.description ? h('span', { class: 'muted' }, endpoint.description) : null)),
        actions,
      ),
    );
  };

  const renderHealth = (stats: Health) => {
    if (endpoint.status === 'disabled') {
      replace(
        health,
        h(
          'div',
          { class: 'notice notice-warn', role: 'status' },
          h('strong', {}, stats.disabled_reason ? 'Herald disabled this endpoint. ' : 'This endpoint is disabled. '),
          stats.disabled_reason ?? 'No events are sent to it until you enable it.',
          stats.disabled_reason ? ' Fix the receiver, enable the endpoint, then recover the events it missed.' : '',
        ),
      );
    } else if (stats.failing_since) {
      replace(health, h('div', { class: 'notice notice-warn', role: 'status' }, `Failing since ${formatTime(stats.failing_since)}: no successful delivery since then. Herald disables an endpoint that keeps failing for days.`));
    } else health.replaceChildren();
  };

  replace(
    summary,
    h(
      'dl',
      { class: 'facts' },
      fact('ID', h('code', {}, id)),
      fact('Listening to', h('span', { title: endpoint.enabled_events.join(', ') }, endpoint.enabled_events.includes('*') ? 'All events' : endpoint.enabled_events.join(', '))),
      fact('Events from', endpoint.application ? 'Connected accounts' : 'Your account'),
      fact('API version', endpoint.api_version ?? 'Account default'),
      fact('Created', formatTime(endpoint.created)),
    ),
  );

  // Chart and stats --------------------------------------------------------------------------
  let windowIndex = 1;
  const windowSelect = h('select', { onchange: () => ((windowIndex = Number(windowSelect.value)), void refreshStats()) }, WINDOWS.map((w, i) => h('option', { value: String(i), selected: i === windowIndex }, w.label)));
  const chartBody = h('div');
  const refreshStats = async () => {
    const w = WINDOWS[windowIndex]!;
    const until = Math.floor(Date.now() / 1000) + 1;
    const [stats, health] = await Promise.all([
      api<Stats>(ctx.mode, 'GET', `/v1/webhook_endpoints/${id}/delivery_stats`, { since: until - w.seconds, until, bucket_seconds: w.bucket }),
      api<Health>(ctx.mode, 'GET', `/v1/webhook_endpoints/${id}/health`),
    ]);
    if (!ctx.current()) return;
    renderHealth(health);
    const rate = stats.success_rate === null ? 'no attempts' : `${Math.floor(stats.success_rate * 1000) / 10}% succeeded`;
    replace(
      chartBody,
      h('p', { class: 'chart-summary' }, h('strong', {}, rate), ` · ${stats.succeeded} succeeded, ${stats.failed} failed`),
      deliveryChart(stats.buckets, stats.bucket_seconds, chartBody.clientWidth),
      h('p', { class: 'legend' }, h('span', { class: 'swatch swatch-ok' }), 'Succeeded ', h('span', { class: 'swatch swatch-bad' }), 'Failed'),
    );
  };
  replace(chartArea, h('div', { class: 'section-head' }, h('h2', {}, 'Delivery attempts over time'), field('Period', windowSelect)), chartBody);

  // Deliveries ---------------------------------------------------------------------------------
  let status = '';
  let applied: TypeAndTimeFilter = {};
  let cursor: { starting_after?: string; ending_before?: string } = {};
  let lastPage: { first?: string; last?: string; hasMore: boolean } = { hasMore: false };
  const statusSelect = h(
    'select',
    { name: 'status' },
    [['', 'All'], ['succeeded', 'Succeeded'], ['failed', 'Failed'], ['pending', 'Pending']].map(([v, l]) => h('option', { value: v }, l)),
  );
  const typeAndTime = typeAndTimeFields(ctx.mode, 'Any type');
  const filterForm = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        status = statusSelect.value;
        applied = typeAndTime.read();
        cursor = {};
        void refreshDeliveries();
      },
    },
    field('Status', statusSelect),
    typeAndTime.fields,
    h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'button' }, 'Apply filters')),
  );
  statusSelect.addEventListener('change', () => filterForm.requestSubmit());
  const deliveriesRegion = refreshingRegion();
  const announce = announcer();
  let seenDeliveries: Set<string> | null = null;
  const deliveriesNotice = notice();

  /** Fetches the deliveries page; true when it changed since the last look. */
  const refreshDeliveries = async (): Promise<boolean> => {
    let list: List<DeliveryObject>;
    try {
      list = await api<List<DeliveryObject>>(ctx.mode, 'GET', `/v1/webhook_endpoints/${id}/deliveries`, {
        limit: 20,
        status: status || undefined,
        ...applied,
        ...cursor,
      });
      deliveriesNotice.clear();
    } catch (err) {
      deliveriesNotice.error(err);
      return false;
    }
    if (!ctx.current()) return false;
    const backwards = cursor.ending_before !== undefined;
    lastPage = { first: list.data[0]?.id, last: list.data.at(-1)?.id, hasMore: list.has_more };
    const onFirstPage = !cursor.starting_after && !(backwards && list.has_more);
    const filtered = Boolean(status || applied.type || applied.created);
    if (onFirstPage && !filtered) {
      const fresh = seenDeliveries ? list.data.filter((d) => !seenDeliveries!.has(d.id)).length : 0;
      if (fresh > 0) announce.say(`${fresh} new ${fresh === 1 ? 'delivery' : 'deliveries'}`);
      seenDeliveries = new Set([...(seenDeliveries ?? []), ...list.data.map((d) => d.id)]);
    }
    return deliveriesRegion.update({ data: list.data, cursor, hasMore: list.has_more }, () => [
      table<DeliveryObject>(
        [
          { label: 'Event', cell: (d) => h('div', {}, h('a', { href: ctx.link(`events/${d.event}`), class: 'mono' }, shortId(d.event)), h('div', { class: 'small' }, d.event_type)) },
          { label: 'Status', cell: (d) => h('span', {}, statusBadge(d.status), d.kind === 'manual' ? h('span', { class: 'muted small' }, ' resend') : null) },
          {
            label: 'Last response',
            cell: (d) => responseLink(ctx, d.last_attempt),
          },
          { label: 'Attempts', cell: (d) => String(d.attempt_count), className: 'num' },
          { label: 'Next retry', cell: (d) => (d.next_attempt_at && d.status === 'failed' ? timeEl(d.next_attempt_at) : h('span', { class: 'muted' }, '—')) },
          { label: 'Time', cell: (d) => timeEl(d.last_attempt?.created ?? d.created) },
        ],
        list.data,
        filtered ? 'No delivery matches these filters.' : 'No deliveries yet. Events this endpoint listens to appear here as they are sent.',
        'Deliveries',
      ),
      pager({
        hasNewer: !onFirstPage,
        hasOlder: backwards ? true : list.has_more,
        onNewer: () => {
          cursor = lastPage.first ? { ending_before: lastPage.first } : {};
          void refreshDeliveries();
        },
        onOlder: () => {
          cursor = lastPage.last ? { starting_after: lastPage.last } : {};
          void refreshDeliveries();
        },
      }),
    ]);
  };

  // Secret, roll, recover ------------------------------------------------------------------------
  // An EventBridge destination has no signing secret: AWS authenticates Herald (IAM), not a signature.
  const secretArea = endpoint.type === 'amazon_eventbridge' ? eventBridgeSection() : secretSection(ctx, id, n);
  const recoverArea = recoverSection(ctx, id, () => endpoint);

  renderHead();
  replace(
    ctx.main,
    head,
    n.el,
    health,
    h('section', { class: 'card', 'aria-labelledby': 'about-h' }, h('h2', { id: 'about-h' }, 'About'), summary),
    h('section', { class: 'card' }, chartArea),
    h('section', { class: 'card', 'aria-labelledby': 'deliveries-h' }, h('div', { class: 'section-head' }, h('h2', { id: 'deliveries-h' }, 'Deliveries'), h('span', { class: 'live-dot', title: 'Updates every 2 seconds' }, 'Live')), filterForm, deliveriesNotice.el, announce.el, deliveriesRegion.el),
    h('div', { class: 'two-col' }, secretArea, recoverArea),
  );
  await Promise.all([refreshStats(), refreshDeliveries()]);
  // New deliveries appear without a reload: the first page is fetched again every 2 s.
  ctx.every(2000, async () => {
    // The chart follows the table: when deliveries changed, their counts did too.
    if (!cursor.starting_after && !cursor.ending_before && (await refreshDeliveries())) await refreshStats().catch(() => undefined);
  });
  ctx.every(10_000, () => refreshStats().catch(() => undefined));
}

function eventBridgeSection(): HTMLElement {
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'eventbridge-h' },
    h('h2', { id: 'eventbridge-h' }, 'Amazon EventBridge'),
    h('p', { class: 'small muted' }, 'Herald puts each event on this bus with PutEvents: Source herald.<account>, DetailType the event type, Detail the event. There is no signing secret: AWS authenticates Herald with the destination\'s credentials or the standard AWS chain.'),
  );
}

interface SecretInfo {
  secret: string | null;
  created: number | null;
  expiring: { secret: string; expires_at: number | null }[];
}

function secretSection(ctx: PageContext, id: string, pageNotice: ReturnType<typeof notice>): HTMLElement {
  const n = notice();
  const body = h('div', { class: 'secret-body' });
  let revealed = false;
  const revealButton = h('button', { type: 'button', class: 'button', 'aria-expanded': 'false' }, 'Reveal secret');
  const render = async () => {
    if (!revealed) {
      replace(body, h('p', { class: 'secret-masked mono', 'aria-label': 'Secret hidden' }, 'whsec_••••••••••••••••••••••••'));
      revealButton.textContent = 'Reveal secret';
      revealButton.setAttribute('aria-expanded', 'false');
      return;
    }
    const info = await api<SecretInfo>(ctx.mode, 'GET', `/v1/webhook_endpoints/${id}/secret`);
    replace(
      body,
      h('p', {}, h('code', { class: 'secret', 'data-testid': 'secret' }, info.secret ?? '—')),
      info.expiring.length
        ? h('div', {}, h('p', { class: 'small' }, 'Also signing with the previous secret until it expires:'), h('ul', { class: 'small' }, info.expiring.map((s) => h('li', {}, h('code', {}, s.secret), ' — expires ', formatTime(s.expires_at)))))
        : null,
    );
    revealButton.textContent = 'Hide secret';
    revealButton.setAttribute('aria-expanded', 'true');
  };
  revealButton.addEventListener('click', () =>
    busy(revealButton, async () => {
      revealed = !revealed;
      try {
        await render();
      } catch (err) {
        revealed = false;
        n.error(err);
      }
    }),
  );
  const expiry = h(
    'select',
    { name: 'expires_in' },
    [
      ['0', 'Now'],
      ['3600', 'In 1 hour'],
      ['7200', 'In 2 hours'],
      ['43200', 'In 12 hours'],
      ['86400', 'In 24 hours'],
    ].map(([v, l]) => h('option', { value: v }, l)),
  );
  const roll = h('button', { type: 'button', class: 'button' }, 'Roll secret…');
  roll.addEventListener('click', async () => {
    const label = expiry.selectedOptions[0]?.textContent?.toLowerCase() ?? 'now';
    const ok = await confirmDialog({
      title: 'Roll the signing secret?',
      body: h('p', {}, 'Herald creates a new secret and signs with it at once. The current secret expires ', h('strong', {}, label), expiry.value === '0' ? '' : '; until then each delivery carries both signatures, so you can update your receiver without missing events.', '.'),
      confirm: 'Roll secret',
    });
    if (!ok) return;
    await busy(roll, async () => {
      n.clear();
      try {
        await api(ctx.mode, 'POST', `/v1/webhook_endpoints/${id}/roll_secret`, { expires_in: expiry.value });
        revealed = true;
        await render();
        n.success('New secret created. Update your receiver with it.');
      } catch (err) {
        n.error(err);
      }
    });
  });
  void render().catch((err) => pageNotice.error(err));
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'secret-h' },
    h('h2', { id: 'secret-h' }, 'Signing secret'),
    h('p', { class: 'small muted' }, 'Verify the Stripe-Signature header of each delivery with it.'),
    body,
    h('div', { class: 'actions' }, revealButton),
    h('div', { class: 'inline-form' }, field('Expire the current secret', expiry), roll),
    n.el,
  );
}

function recoverSection(ctx: PageContext, id: string, endpoint: () => EndpointObject): HTMLElement {
  const n = notice();
  const since = h('input', { type: 'datetime-local', name: 'since', value: toLocalInput(Math.floor(Date.now() / 1000) - 86_400), required: true });
  const count = h('button', { type: 'submit', class: 'button' }, 'Count events');
  const result = h('div');
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        n.clear();
        result.replaceChildren();
        const sinceSeconds = fromLocalInput(since.value);
        if (sinceSeconds === undefined) return n.info('Choose the date and time to recover events from.');
        await busy(count, async () => {
          try {
            const dry = await api<{ queued: number }>(ctx.mode, 'POST', `/v1/webhook_endpoints/${id}/recover`, { since: sinceSeconds, dry_run: 'true' });
            if (dry.queued === 0) {
              n.info('No undelivered events since then: nothing to recover.');
              return;
            }
            const send = h('button', { type: 'button', class: 'button button-primary' }, `Send ${dry.queued} event${dry.queued === 1 ? '' : 's'} again`);
            send.addEventListener('click', () =>
              busy(send, async () => {
                try {
                  const done = await api<{ queued: number }>(ctx.mode, 'POST', `/v1/webhook_endpoints/${id}/recover`, { since: sinceSeconds });
                  result.replaceChildren();
                  n.success(`${done.queued} event${done.queued === 1 ? '' : 's'} queued for delivery.`);
                } catch (err) {
                  n.error(err);
                }
              }),
            );
            replace(result, h('p', { role: 'status' }, h('strong', {}, String(dry.queued)), ` event${dry.queued === 1 ? '' : 's'} since ${formatTime(sinceSeconds)} did not reach this endpoint.`), endpoint().status === 'disabled' ? h('p', { class: 'small' }, 'Enable the endpoint first to send them.') : send);
          } catch (err) {
            n.error(err);
          }
        });
      },
    },
    field('Since', since),
    count,
  );
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'recover-h' },
    h('h2', { id: 'recover-h' }, 'Recover events'),
    h('p', { class: 'small muted' }, 'Send again the events since a date that this endpoint has not received (for example after an outage). You see the count first.'),
    form,
    result,
    n.el,
  );
}

