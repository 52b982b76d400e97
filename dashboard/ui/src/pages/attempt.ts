/** One delivery attempt: the request as sent, the response as received, and Resend. */
import { api, type List } from '../api.js';
import { getEndpoint, type EndpointObject, type PageContext } from '../context.js';
import { formatTime, h, replace, shortId, timeEl } from '../dom.js';
import { busy, fact, failureKindText, httpStatusText, notice, pre, prettyJson, refreshingRegion, responsePill, statusBadge, table } from '../ui.js';

interface AttemptObject {
  id: string;
  attempt_number: number;
  created: number;
  duration_ms: number;
  event: string;
  event_delivery: string;
  failure_kind: string | null;
  failure_message: string | null;
  http_status: number | null;
  kind: 'automatic' | 'manual';
  next_retry_at: number | null;
  outcome: 'succeeded' | 'failed';
  request_headers: Record<string, string>;
  request_body: string | null;
  response_body: string | null;
  response_headers: Record<string, string> | null;
  url: string;
  webhook_endpoint: string;
}

export async function attemptPage(ctx: PageContext, id: string): Promise<void> {
  const attempt = await api<AttemptObject>(ctx.mode, 'GET', `/v1/webhook_delivery_attempts/${id}`);
  const [event, endpoint] = await Promise.all([
    api(ctx.mode, 'GET', `/v1/events/${attempt.event}`).catch(() => null),
    getEndpoint(ctx.mode, attempt.webhook_endpoint).catch(() => null),
  ]);
  if (!ctx.current()) return;
  const n = notice();
  const historyRegion = refreshingRegion();
  const history = historyRegion.el;

  const resend = h('button', { type: 'button', class: 'button button-primary' }, 'Resend');
  resend.addEventListener('click', () =>
    busy(resend, async () => {
      n.clear();
      try {
        await api(ctx.mode, 'POST', `/v1/events/${attempt.event}/retry`, { webhook_endpoint: attempt.webhook_endpoint });
        n.success('Resend queued: Herald sends the event again now. The new attempt appears below.');
        await refreshHistory();
      } catch (err) {
        n.error(err);
      }
    }),
  );

  const refreshHistory = async () => {
    const list = await api<List<AttemptObject>>(ctx.mode, 'GET', `/v1/events/${attempt.event}/delivery_attempts`, { limit: 100 });
    if (!ctx.current()) return;
    const mine = list.data.filter((a) => a.webhook_endpoint === attempt.webhook_endpoint);
    historyRegion.update(mine, () => [
      table<AttemptObject>(
        [
          { label: 'Attempt', cell: (a) => (a.id === id ? h('strong', {}, `#${a.attempt_number} (this one)`) : h('a', { href: ctx.link(`attempts/${a.id}`) }, `#${a.attempt_number}`)) },
          { label: 'Kind', cell: (a) => (a.kind === 'manual' ? 'Resend' : 'Automatic') },
          { label: 'Result', cell: (a) => responsePill(a) },
          { label: 'Duration', cell: (a) => `${a.duration_ms} ms`, className: 'num' },
          { label: 'Time', cell: (a) => timeEl(a.created) },
        ],
        mine,
        'No attempts.',
        'Attempts of this event to this endpoint',
      ),
    ]);
  };

  const headersTable = (headers: Record<string, string> | null) =>
    headers && Object.keys(headers).length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'kv' }, h('tbody', {}, Object.entries(headers).map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', { class: 'mono' }, v))))))
      : h('p', { class: 'muted' }, 'None');

  replace(
    ctx.main,
    h(
      'p',
      { class: 'breadcrumb' },
      h('a', { href: ctx.link('endpoints') }, 'Event destinations'),
      ' / ',
      h('a', { href: ctx.link(`endpoints/${attempt.webhook_endpoint}`) }, endpoint ? endpoint.url : shortId(attempt.webhook_endpoint)),
      ' / attempt',
    ),
    h(
      'div',
      { class: 'page-head' },
      h('div', { class: 'title-block' }, h('h1', {}, `Attempt #${attempt.attempt_number} · `, h('span', { class: attempt.outcome === 'succeeded' ? 'ok-text' : 'bad-text' }, httpStatusText(attempt.http_status, attempt.failure_kind))), h('div', {}, statusBadge(attempt.outcome), ' ', h('span', { class: 'muted' }, (event as any)?.type ?? ''))),
      h('div', { class: 'actions' }, resend),
    ),
    n.el,
    h(
      'section',
      { class: 'card' },
      h(
        'dl',
        { class: 'facts' },
        fact('Event', h('a', { href: ctx.link(`events/${attempt.event}`), class: 'mono' }, attempt.event)),
        fact('Sent to', h('span', { class: 'mono' }, attempt.url)),
        fact('Time', formatTime(attempt.created)),
        fact('Duration', `${attempt.duration_ms} ms`),
        fact('HTTP status', attempt.http_status === null ? 'No response' : String(attempt.http_status)),
        fact('Failure', attempt.failure_kind ? `${failureKindText(attempt.failure_kind)}${attempt.failure_message ? ` — ${attempt.failure_message}` : ''}` : 'None'),
        fact('Kind', attempt.kind === 'manual' ? 'Resend (tried once)' : 'Automatic (retried on failure)'),
        fact('Next retry', attempt.next_retry_at ? formatTime(attempt.next_retry_at) : 'None scheduled'),
      ),
    ),
    h(
      'div',
      { class: 'two-col' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'req-h' },
        h('h2', { id: 'req-h' }, 'Request'),
        h('h3', {}, 'Headers (as sent)'),
        headersTable(attempt.request_headers),
        h('h3', {}, 'Body'),
        h('p', { class: 'small muted' }, attempt.request_body !== null ? 'Exactly as sent and signed (compact JSON), indented here.' : bodyNote(event as { api_version?: string } | null, endpoint)),
        pre(attempt.request_body !== null ? prettyJson(attempt.request_body) : event ? JSON.stringify(event, null, 2) : '(the event is no longer stored)', 'Request body'),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'res-h' },
        h('h2', { id: 'res-h' }, 'Response'),
        h('p', {}, 'Status: ', h('strong', {}, attempt.http_status === null ? 'no response' : String(attempt.http_status))),
        h('h3', {}, 'Headers'),
        headersTable(attempt.response_headers),
        h('h3', {}, 'Body'),
        h('p', { class: 'small muted' }, 'As stored: the first 4 KB.'),
        pre(prettyJson(attempt.response_body), 'Response body'),
      ),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'hist-h' }, h('h2', { id: 'hist-h' }, 'All attempts of this event to this endpoint'), history),
  );
  await refreshHistory();
  ctx.every(2000, refreshHistory);
}

/**
 * For attempts recorded without their body (a `herald listen` forward): the body shown is the
 * stored event (compact JSON when sent, indented here), possibly in another version.
 */
function bodyNote(event: { api_version?: string } | null, endpoint: EndpointObject | null): string {
  const base = 'The Event object as stored, indented here (it is sent as compact JSON); pending_webhooks shows its current value.';
  if (event?.api_version && endpoint?.api_version && endpoint.api_version !== event.api_version) {
    return `${base} This endpoint receives API version ${endpoint.api_version}: when Herald has changes for that version, the body it was sent was translated from ${event.api_version}.`;
  }
  return base;
}
