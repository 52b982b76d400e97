/** Shared pieces of the pages: badges, notices, tables that stack on phones, dialogs. */
import { ApiFailure } from './api.js';
import { h, replace, uid, type Child } from './dom.js';

export function badge(text: string, tone: 'ok' | 'bad' | 'warn' | 'neutral' | 'info'): HTMLElement {
  return h('span', { class: `badge badge-${tone}` }, text);
}

export function statusBadge(status: string): HTMLElement {
  const tone = status === 'succeeded' || status === 'enabled' ? 'ok' : status === 'failed' ? 'bad' : status === 'disabled' ? 'warn' : status === 'pending' ? 'info' : 'neutral';
  const text = status === 'succeeded' ? 'Succeeded' : status === 'failed' ? 'Failed' : status === 'pending' ? 'Pending' : status === 'enabled' ? 'Enabled' : status === 'disabled' ? 'Disabled' : status === 'cancelled' ? 'Cancelled' : status;
  return badge(text, tone);
}

/** The HTTP status of an attempt, or what stood in for one (timeout, refused connection…). */
export function httpStatusText(status: number | null | undefined, failureKind: string | null | undefined): string {
  if (status !== null && status !== undefined) return String(status);
  if (failureKind) return failureKindText(failureKind);
  return '—';
}

interface AttemptOutcome {
  id: string;
  outcome: string;
  http_status: number | null;
  failure_kind: string | null;
}

/** An attempt's result as a green or red code: `200`, `503`, `Timed out`. */
export function responsePill(attempt: Omit<AttemptOutcome, 'id'>): HTMLElement {
  return h('span', { class: attempt.outcome === 'succeeded' ? 'code-pill code-ok' : 'code-pill code-bad' }, httpStatusText(attempt.http_status, attempt.failure_kind));
}

/** The same, as a link to the attempt's page; "Not tried yet" when there is none. */
export function responseLink(ctx: { link(path: string): string }, attempt: AttemptOutcome | null): HTMLElement {
  if (!attempt) return h('span', { class: 'muted' }, 'Not tried yet');
  const text = httpStatusText(attempt.http_status, attempt.failure_kind);
  return h('a', { href: ctx.link(`attempts/${attempt.id}`), class: attempt.outcome === 'succeeded' ? 'code-pill code-ok' : 'code-pill code-bad', 'aria-label': `Attempt details: ${text}` }, text);
}

/** One row of a definition list. */
export function fact(label: string, value: Node | string): HTMLElement[] {
  return [h('dt', {}, label), h('dd', {}, value)];
}

export function failureKindText(kind: string): string {
  const words: Record<string, string> = {
    http_error: 'HTTP error (non-2xx)',
    redirect: 'Redirect (not followed)',
    timeout: 'Timed out',
    connection_refused: 'Connection refused',
    dns_error: 'Host name not found',
    tls_error: 'TLS error',
    connection_error: 'Connection error',
    endpoint_unavailable: 'Endpoint unavailable',
    blocked_address: 'Blocked address (private network)',
  };
  return words[kind] ?? kind;
}

/** A notice region; `show` replaces its content, `clear` empties it. Errors are announced to screen readers. */
export function notice() {
  const el = h('div', { class: 'notice-area', 'aria-live': 'polite' });
  return {
    el,
    error(err: unknown) {
      replace(el, h('div', { class: 'notice notice-bad', role: 'alert' }, errorText(err)));
    },
    info(...content: Child[]) {
      replace(el, h('div', { class: 'notice notice-info', role: 'status' }, ...content));
    },
    success(...content: Child[]) {
      replace(el, h('div', { class: 'notice notice-ok', role: 'status' }, ...content));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

export function errorText(err: unknown): string {
  if (err instanceof ApiFailure) return err.message;
  return 'Something went wrong in the dashboard. Reload the page and try again.';
}

export interface Column<T> {
  label: string;
  cell: (row: T) => Child;
  className?: string;
}

/** A table that becomes a list of labelled cards on narrow screens (see styles.css). */
export function table<T>(columns: Column<T>[], rows: T[], empty: string, caption?: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.className }, c.label)))),
      h(
        'tbody',
        {},
        rows.map((row) => h('tr', {}, columns.map((c) => h('td', { 'data-label': c.label, class: c.className }, c.cell(row))))),
      ),
    ),
  );
}

/** A labelled form control. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || uid();
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/**
 * A modal dialog (native <dialog>: focus moves into it, Escape closes it). Resolves with the
 * button pressed, or null when dismissed.
 */
export function confirmDialog(options: { title: string; body: Child; confirm: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
    const close = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h('h2', { id: titleId }, options.title),
      h('div', { class: 'dialog-body' }, options.body),
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'button', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: options.danger ? 'button button-danger' : 'button button-primary', onclick: () => close(true) }, options.confirm),
      ),
    );
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Disables a button while `work` runs, so a double click sends one request. */
export async function busy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

export function pager(options: { hasNewer: boolean; hasOlder: boolean; onNewer: () => void; onOlder: () => void }): HTMLElement {
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', class: 'button', disabled: !options.hasNewer, onclick: options.onNewer }, '← Newer'),
    h('button', { type: 'button', class: 'button', disabled: !options.hasOlder, onclick: options.onOlder }, 'Older →'),
  );
}

export function pre(text: string, label: string): HTMLElement {
  return h('pre', { class: 'code', tabindex: '0', 'aria-label': label }, text);
}

export function prettyJson(text: string | null | undefined): string {
  if (text === null || text === undefined || text === '') return '(empty)';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * Re-renders a region that refreshes on its own (polling) without disturbing the user: nothing
 * happens when the data did not change, and a link that had keyboard focus keeps it.
 */
export function refreshingRegion(): { el: HTMLElement; update(data: unknown, render: () => Child[]): boolean } {
  const el = h('div');
  let last = '';
  let renderedAt = 0;
  return {
    el,
    update(data, render) {
      const key = JSON.stringify(data);
      const changed = key !== last;
      // Unchanged data is redrawn only now and then, so relative times ("2 min ago") stay right.
      if (!changed && Date.now() - renderedAt < 30_000) return false;
      last = key;
      renderedAt = Date.now();
      const focused = document.activeElement;
      const focusedHref = focused && el.contains(focused) ? focused.getAttribute('href') : null;
      const focusedText = focused && el.contains(focused) ? focused.textContent : null;
      replace(el, ...render());
      if (focusedHref !== null || focusedText !== null) {
        const again = [...el.querySelectorAll<HTMLElement>('a, button')].find((c) => (focusedHref !== null ? c.getAttribute('href') === focusedHref : c.textContent === focusedText));
        again?.focus();
      }
      return changed;
    },
  };
}

/** A visually hidden live region: short announcements for screen readers ("2 new deliveries"). */
export function announcer(): { el: HTMLElement; say(text: string): void } {
  const el = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  return { el, say: (text) => (el.textContent = text) };
}
