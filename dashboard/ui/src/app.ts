/** The dashboard's shell: sign-in, header with the test/live switch, and the page router. */
import { ApiFailure, getSession, setCsrfToken, signIn, signOut, type Mode, type Session } from './api.js';
import type { PageContext } from './context.js';
import { h, replace } from './dom.js';
import { attemptPage } from './pages/attempt.js';
import { endpointDetailPage } from './pages/endpoint-detail.js';
import { endpointFormPage } from './pages/endpoint-form.js';
import { endpointsPage } from './pages/endpoints.js';
import { eventPage, eventsPage } from './pages/events.js';
import { busy, field, notice } from './ui.js';

const BASE = '/dashboard';

type Page = (ctx: PageContext, match: string[]) => Promise<void>;
const ROUTES: [RegExp, Page][] = [
  [/^\/(test|live)\/endpoints\/?$/, endpointsPage],
  [/^\/(test|live)\/endpoints\/new$/, (ctx) => endpointFormPage(ctx, null)],
  [/^\/(test|live)\/endpoints\/(we_[A-Za-z0-9]+)\/edit$/, (ctx, m) => endpointFormPage(ctx, m[2]!)],
  [/^\/(test|live)\/endpoints\/((?:we|ed)_[A-Za-z0-9]+)$/, (ctx, m) => endpointDetailPage(ctx, m[2]!)],
  [/^\/(test|live)\/attempts\/(whatt_[A-Za-z0-9]+)$/, (ctx, m) => attemptPage(ctx, m[2]!)],
  [/^\/(test|live)\/events\/?$/, eventsPage],
  [/^\/(test|live)\/events\/(evt_[A-Za-z0-9]+)$/, (ctx, m) => eventPage(ctx, m[2]!)],
];

let session: Session | null = null;
let leaveCurrentPage: () => void = () => undefined;

const root = document.getElementById('app')!;

function appPath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '/';
  return path === '' ? '/' : path;
}

export function navigate(path: string, replaceState = false): void {
  const url = path.startsWith(BASE) ? path : `${BASE}${path}`;
  if (replaceState) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  void render();
}

async function render(): Promise<void> {
  leaveCurrentPage();
  leaveCurrentPage = () => undefined;
  if (!session) {
    try {
      session = await getSession();
    } catch (err) {
      renderFatal(err);
      return;
    }
  }
  if (!session) return renderSignIn();
  setCsrfToken(session.csrf_token);
  const path = appPath();
  if (path === '/' || path === '/signin') return navigate(`/${session.modes[0] ?? 'test'}/endpoints`, true);
  const route = ROUTES.map(([re, page]) => [re.exec(path), page] as const).find(([m]) => m);
  const mode = (/^\/(test|live)\//.exec(path)?.[1] as Mode | undefined) ?? 'test';
  const main = h('main', { id: 'main', tabindex: '-1' });
  replace(root, header(mode, path), h('div', { class: mode === 'test' ? 'mode-bar mode-bar-test' : 'mode-bar mode-bar-live' }, mode === 'test' ? 'Test mode: test data only' : 'Live mode'), main);
  if (!route) {
    replace(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: `${BASE}/${mode}/endpoints` }, 'Go to event destinations')));
    return;
  }
  if (!session.modes.includes(mode)) return renderUnlock(main, mode);

  const timers: number[] = [];
  let active = true;
  leaveCurrentPage = () => {
    active = false;
    timers.forEach((t) => clearInterval(t));
  };
  const ctx: PageContext = {
    mode,
    main,
    navigate: (p) => navigate(p),
    link: (p) => `${BASE}/${mode}/${p}`,
    current: () => active,
    every(ms, fn) {
      let running = false;
      timers.push(
        window.setInterval(async () => {
          if (running || document.hidden || !active) return;
          running = true;
          try {
            await fn();
          } finally {
            running = false;
          }
        }, ms),
      );
    },
  };
  try {
    await route[1](ctx, [...route[0]!]);
  } catch (err) {
    if (err instanceof ApiFailure && err.code === 'dashboard_signed_out') {
      session = null;
      return renderSignIn('Your session ended. Sign in again.');
    }
    const n = notice();
    n.error(err);
    replace(main, h('h1', {}, 'Something went wrong'), n.el);
  }
  main.querySelector('h1')?.setAttribute('tabindex', '-1');
  if (document.activeElement === document.body || document.activeElement === null) main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
}

function header(mode: Mode, path: string): HTMLElement {
  const section = path.includes('/events') ? 'events' : 'endpoints';
  // Objects never cross modes, so the switch opens the same section, not the same object.
  const switchTo = (target: Mode) => navigate(target === mode ? path : `/${target}/${section}`);
  return h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    h('a', { class: 'brand', href: `${BASE}/${mode}/endpoints` }, 'Herald'),
    h(
      'nav',
      { class: 'mainnav', 'aria-label': 'Main' },
      h('a', { href: `${BASE}/${mode}/endpoints`, 'aria-current': section === 'endpoints' ? 'page' : false }, 'Event destinations'),
      h('a', { href: `${BASE}/${mode}/events`, 'aria-current': section === 'events' ? 'page' : false }, 'Events'),
    ),
    h(
      'div',
      { class: 'mode-switch', role: 'group', 'aria-label': 'Mode' },
      (['test', 'live'] as const).map((m) =>
        h('button', { type: 'button', class: `mode-option mode-${m}`, 'aria-pressed': String(m === mode), onclick: () => switchTo(m) }, m === 'test' ? 'Test' : 'Live'),
      ),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'button button-quiet',
        onclick: async () => {
          await signOut().catch(() => undefined);
          session = null;
          navigate('/signin');
        },
      },
      'Sign out',
    ),
  );
}

function keyForm(options: { title: string; intro: string; submitLabel: string; message?: string; onDone: (s: Session) => void; expectMode?: Mode }): HTMLElement {
  const n = notice();
  if (options.message) n.info(options.message);
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: options.expectMode ? `sk_${options.expectMode}_…` : 'sk_test_… or sk_live_…' });
  const button = h('button', { type: 'submit', class: 'button button-primary' }, options.submitLabel);
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        n.clear();
        const key = input.value.trim();
        if (options.expectMode && !key.startsWith(`sk_${options.expectMode}_`)) {
          n.error(new ApiFailure(`That is not a ${options.expectMode} key: it should start with sk_${options.expectMode}_.`, 400, undefined, 'key'));
          input.focus();
          return;
        }
        try {
          const s = await busy(button, () => signIn(key));
          input.value = '';
          options.onDone(s);
        } catch (err) {
          n.error(err);
          input.select();
        }
      },
    },
    h('h1', {}, options.title),
    h('p', {}, options.intro),
    field('Secret key', input, 'The key stays on the Herald server for this session; your browser keeps only a session cookie.'),
    n.el,
    h('div', { class: 'actions' }, button),
  );
  queueMicrotask(() => input.focus());
  return form;
}

function renderSignIn(message?: string): void {
  // A deep link opened while signed out is where sign-in leads back to.
  const wanted = appPath();
  const returnTo = /^\/(test|live)\//.test(wanted) ? wanted : null;
  if (wanted !== '/signin') history.replaceState(null, '', `${BASE}/signin`);
  replace(
    root,
    h(
      'main',
      { id: 'main', class: 'signin-page' },
      h('p', { class: 'brand brand-large' }, 'Herald'),
      keyForm({
        title: 'Sign in',
        intro: 'Use a secret key of your account: sk_test_… for test mode, sk_live_… for live mode. Herald prints them when it starts for the first time.',
        submitLabel: 'Sign in',
        message,
        onDone: (s) => {
          session = s;
          navigate(returnTo && s.modes.some((m) => returnTo.startsWith(`/${m}/`)) ? returnTo : `/${s.modes[0] ?? 'test'}/endpoints`, true);
        },
      }),
    ),
  );
}

/** The switch asks for the other mode's key once; the session then holds both. */
function renderUnlock(main: HTMLElement, mode: Mode): void {
  replace(
    main,
    keyForm({
      title: `Enter your ${mode} key`,
      intro: `You signed in with your ${mode === 'live' ? 'test' : 'live'} key. To see ${mode} mode, enter the same account's ${mode} secret key (sk_${mode}_…).`,
      submitLabel: `Show ${mode} mode`,
      expectMode: mode,
      onDone: (s) => {
        session = s;
        void render();
      },
    }),
  );
}

function renderFatal(err: unknown): void {
  const n = notice();
  n.error(err);
  replace(root, h('main', { id: 'main', class: 'signin-page' }, h('h1', {}, 'Herald dashboard'), n.el, h('button', { type: 'button', class: 'button', onclick: () => location.reload() }, 'Try again')));
}

// Links inside the app navigate without a reload (modifier keys keep the browser's behaviour).
document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  const href = a.getAttribute('href') ?? '';
  if (!href.startsWith(`${BASE}/`) || href.startsWith(`${BASE}/assets/`)) return;
  e.preventDefault();
  navigate(href);
});
window.addEventListener('popstate', () => void render());
void render();
