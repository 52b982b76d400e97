/** The dashboard's client: every call goes to /dashboard/api/{mode}/v1/…, which the server forwards to the public API. */

export type Mode = 'test' | 'live';

export interface Session {
  signed_in: true;
  account: string;
  modes: Mode[];
  csrf_token: string;
}

export interface List<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

/** An API error, with a message meant for people. */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly param: string | undefined,
  ) {
    super(message);
  }
}

let csrfToken = '';

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

type Params = Record<string, unknown>;

/** Stripe's form encoding: `a[0]=x`, `metadata[k]=v`. */
export function encodeParams(params: Params, prefix = ''): string[] {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const name = prefix ? `${prefix}[${key}]` : key;
    if (Array.isArray(value)) value.forEach((item, i) => parts.push(...encodeParams({ [i]: item }, name)));
    else if (value !== null && typeof value === 'object') parts.push(...encodeParams(value as Params, name));
    else parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(value === null ? '' : String(value))}`);
  }
  return parts;
}

async function send(method: string, url: string, body?: string, contentType?: string): Promise<unknown> {
  let response: Response;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (contentType) headers['content-type'] = contentType;
  try {
    response = await fetch(url, { method, headers, body, credentials: 'same-origin' });
  } catch {
    throw new ApiFailure('Herald did not answer. Check that it is still running, then try again.', 0, 'network', undefined);
  }
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiFailure(`Herald answered with something unexpected (HTTP ${response.status}).`, response.status, undefined, undefined);
  }
  if (!response.ok) {
    const error = json?.error ?? {};
    throw new ApiFailure(plainMessage(response.status, error.message), response.status, error.code, error.param);
  }
  return json;
}

function plainMessage(status: number, message: string | undefined): string {
  if (message) return message;
  if (status >= 500) return 'Herald hit an unexpected error. Try again in a moment.';
  return `The request failed (HTTP ${status}).`;
}

export function api<T = any>(mode: Mode, method: 'GET' | 'POST' | 'DELETE', path: string, params: Params = {}): Promise<T> {
  const encoded = encodeParams(params).join('&');
  const base = `/dashboard/api/${mode}${path}`;
  if (method === 'POST') return send(method, base, encoded, 'application/x-www-form-urlencoded') as Promise<T>;
  return send(method, encoded ? `${base}?${encoded}` : base) as Promise<T>;
}

export async function getSession(): Promise<Session | null> {
  const answer = (await send('GET', '/dashboard/session')) as Session | { signed_in: false };
  return answer.signed_in ? answer : null;
}

export async function signIn(key: string): Promise<Session> {
  return (await send('POST', '/dashboard/session', JSON.stringify({ key }), 'application/json')) as Session;
}

export async function signOut(): Promise<void> {
  await send('DELETE', '/dashboard/session');
}
