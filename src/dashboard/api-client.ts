import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ApiHandler } from '../api/app.js';

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/**
 * Calls the public API handler in-process, exactly as an HTTP client would (a bodiless request
 * with `Authorization: Bearer <key>`), and collects its JSON answer. The dashboard uses it only to
 * check a key at sign-in; the browser's own calls are forwarded to the same handler.
 */
export async function callApi(api: ApiHandler, method: 'GET', path: string, key: string): Promise<ApiAnswer> {
  const req = Object.assign(Readable.from([]), { method, url: path, headers: { authorization: `Bearer ${key}` } });
  let status = 200;
  let text = '';
  const res = {
    headersSent: false,
    get statusCode() {
      return status;
    },
    set statusCode(value: number) {
      status = value;
    },
    setHeader() {
      return this;
    },
    end(chunk?: string) {
      text = chunk ?? '';
      this.headersSent = true;
      return this;
    },
  };
  await api(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { status, body };
}
