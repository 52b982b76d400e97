import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiHandler } from '../api/app.js';
import { readBody } from '../api/http.js';
import type { Clock } from '../domain/clock.js';
import { ApiError } from '../domain/errors.js';
import { modeOfApiKey } from '../domain/ids.js';
import type { Logger } from '../domain/logger.js';
import type { Mode } from '../domain/types.js';
import { callApi } from './api-client.js';
import { csrfTokenMatches, SessionStore, type DashboardSession } from './sessions.js';

export interface DashboardOptions {
  /** The public API handler; every dashboard call goes through it with the session's key. */
  api: ApiHandler;
  clock: Clock;
  logger: Logger;
  /** A session unused this long is signed out. */
  idleMs?: number;
}

export interface DashboardHandler {
  /** Whether a request path belongs to the dashboard (`/` and `/dashboard…`). */
  handles(url: string | undefined): boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export const DASHBOARD_PATH = '/dashboard';
const COOKIE = 'herald_dashboard';
const SIGN_IN_BODY_LIMIT = 4096;
const DEFAULT_IDLE_MS = 12 * 3600_000;

// Both src/dashboard/ (tsx) and dist/dashboard/ (built) sit two levels below the package root.
const PACKAGE_ROOT = new URL('../../', import.meta.url);
const STATIC_DIR = new URL('dashboard/ui/static/', PACKAGE_ROOT);
const SCRIPT_DIR = new URL('dist/dashboard-ui/', PACKAGE_ROOT);

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

/** No inline script or style, nothing from elsewhere, never framed. */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The dashboard: a single-page app (static files) plus three kinds of routes. `/dashboard/session`
 * signs in with a secret key and keeps it server-side; `/dashboard/api/{test|live}/v1/…` (and `/v2/…`) forwards
 * the page's calls to the public API with that mode's key; everything else under `/dashboard`
 * answers the app's page, which routes in the browser.
 */
export function createDashboardHandler(options: DashboardOptions): DashboardHandler {
  const sessions = new SessionStore(options.clock, options.idleMs ?? DEFAULT_IDLE_MS);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://herald.local');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/') return redirect(res, `${DASHBOARD_PATH}/`);
    if (path === DASHBOARD_PATH) return redirect(res, `${DASHBOARD_PATH}/`);
    const rest = path.slice(DASHBOARD_PATH.length);
    if (rest === '/session') return sessionRoute(req, res, method);
    const forward = /^\/api\/(test|live)(\/v[12]\/.*)$/.exec(rest);
    if (forward) return forwardToApi(req, res, forward[1] as Mode, `${forward[2]}${url.search}`);
    if (rest.startsWith('/api/')) return sendError(res, 404, 'resource_missing', 'Dashboard API calls look like /dashboard/api/test/v1/… or /dashboard/api/live/v1/… (or …/v2/…).');
    if (method !== 'GET' && method !== 'HEAD') return sendError(res, 405, 'method_not_allowed', `${method} is not allowed here.`);
    const asset = /^\/assets\/((?:pages\/)?[a-z0-9-]+\.(js|css|svg))$/.exec(rest);
    if (asset) return sendAsset(res, asset[1]!, asset[2]!);
    if (rest.startsWith('/assets/')) return sendError(res, 404, 'resource_missing', 'No such dashboard asset.');
    return sendAsset(res, 'index.html', 'html');
  };

  async function sessionRoute(req: IncomingMessage, res: ServerResponse, method: string) {
    const session = sessions.touch(readCookie(req));
    if (method === 'GET') {
      return sendJson(res, 200, session ? sessionObject(session) : { signed_in: false });
    }
    if (method === 'DELETE') {
      if (session) {
        if (!csrfTokenMatches(session, header(req, 'x-csrf-token'))) return csrfFailure(res);
        sessions.delete(session.id);
      }
      res.setHeader('Set-Cookie', cookie('', 0));
      return sendJson(res, 200, { signed_in: false });
    }
    if (method !== 'POST') return sendError(res, 405, 'method_not_allowed', `${method} is not allowed on the session.`);
    // JSON only: a cross-site HTML form cannot send it, so nobody can sign a browser in behind its back.
    if (!(header(req, 'content-type') ?? '').toLowerCase().startsWith('application/json')) {
      return sendError(res, 415, 'unsupported_content_type', 'Send the key as JSON: {"key": "sk_test_…"}.');
    }
    let key: unknown;
    try {
      key = (JSON.parse(await readBody(req, SIGN_IN_BODY_LIMIT)) as { key?: unknown })?.key;
    } catch (err) {
      if (err instanceof ApiError) return sendJson(res, err.status, err.toJSON());
      return sendError(res, 400, 'parameter_invalid', 'The body must be JSON: {"key": "sk_test_…"}.');
    }
    if (typeof key !== 'string' || key.trim() === '') return sendError(res, 400, 'parameter_missing', 'Enter a secret key (sk_test_… or sk_live_…).', 'key');
    key = key.trim();
    const mode = modeOfApiKey(key as string);
    if (!mode) return sendError(res, 400, 'secret_key_required', 'That is not a secret key: it should start with sk_test_ or sk_live_.', 'key');
    const answer = await callApi(options.api, 'GET', '/v1/account', key as string);
    if (answer.status !== 200) {
      // Stripe's message redacts the key; show it as the API put it.
      const message = (answer.body as { error?: { message?: string } } | null)?.error?.message ?? 'That key was not accepted.';
      return sendError(res, answer.status === 401 ? 401 : 502, 'api_key_invalid', message, 'key');
    }
    const accountId = (answer.body as { id: string }).id;
    if (session && session.accountId === accountId) {
      // Adding the other mode's key to a signed-in session (the test/live switch asks for it).
      if (!csrfTokenMatches(session, header(req, 'x-csrf-token'))) return csrfFailure(res);
      session.keys[mode] = key as string;
      return sendJson(res, 200, sessionObject(session));
    }
    if (session) sessions.delete(session.id);
    const created = sessions.create(accountId, mode, key as string);
    res.setHeader('Set-Cookie', cookie(created.id, Math.floor((options.idleMs ?? DEFAULT_IDLE_MS) / 1000)));
    return sendJson(res, 200, sessionObject(created));
  }

  async function forwardToApi(req: IncomingMessage, res: ServerResponse, mode: Mode, apiPath: string) {
    const session = sessions.touch(readCookie(req));
    if (!session) return sendError(res, 401, 'dashboard_signed_out', 'Your dashboard session has ended. Sign in again.');
    const key = session.keys[mode];
    if (!key) return sendError(res, 403, 'dashboard_mode_locked', `Enter your ${mode} secret key (sk_${mode}_…) to see ${mode} mode.`);
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD' && !csrfTokenMatches(session, header(req, 'x-csrf-token'))) return csrfFailure(res);
    // The request goes on as the public API sees any client's: the session's key, no cookie.
    req.url = apiPath;
    req.headers.authorization = `Bearer ${key}`;
    delete req.headers.cookie;
    delete req.headers['x-csrf-token'];
    await options.api(req, res);
  }

  return {
    handles: (raw) => {
      const path = (raw ?? '/').split('?')[0]!;
      return path === '/' || path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`);
    },
    handle: async (req, res) => {
      try {
        await handle(req, res);
      } catch (err) {
        options.logger.error('dashboard request failed', { path: req.url, error: (err as Error)?.stack ?? String(err) });
        if (!res.headersSent) sendError(res, 500, 'api_error', 'The dashboard hit an unexpected error; it was logged. Try again.');
        else res.destroy();
      }
    },
  };
}

function sessionObject(session: DashboardSession) {
  return {
    signed_in: true,
    account: session.accountId,
    modes: (['test', 'live'] as const).filter((m) => session.keys[m] !== undefined),
    csrf_token: session.csrfToken,
  };
}

function cookie(value: string, maxAgeSeconds: number): string {
  return `${COOKIE}=${value}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

function readCookie(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function sendAsset(res: ServerResponse, name: string, ext: string) {
  const dir = ext === 'js' ? SCRIPT_DIR : STATIC_DIR;
  let content: Buffer;
  try {
    content = await readFile(new URL(name, dir));
  } catch {
    if (ext === 'js') return sendError(res, 503, 'dashboard_not_built', 'The dashboard is not built; run `npm install` (or `npm run build`).');
    return sendError(res, 404, 'resource_missing', 'No such dashboard asset.');
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', CONTENT_TYPES[ext]!);
  // The page is small and changes with each release: revalidate rather than serve a stale app.
  res.setHeader('Cache-Control', 'no-cache');
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  res.end(content);
}

function redirect(res: ServerResponse, location: string) {
  res.statusCode = 302;
  res.setHeader('Location', location);
  res.end();
}

function csrfFailure(res: ServerResponse) {
  return sendError(res, 403, 'csrf_token_invalid', 'This request did not come from the dashboard page (missing or wrong CSRF token). Reload the page and try again.');
}

function sendError(res: ServerResponse, status: number, code: string, message: string, param?: string) {
  sendJson(res, status, { error: { type: 'invalid_request_error', code, message, ...(param ? { param } : {}) } });
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(body));
}
