import type { FailureKind } from '../domain/types.js';

/** What one HTTP exchange produced, before any judgement. */
export type SendResult =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string; durationMs: number }
  | { kind: 'error'; error: FailureKind; message: string; durationMs: number };

export type Verdict = { outcome: 'succeeded' } | { outcome: 'failed'; failureKind: FailureKind; message: string };

/** Success is a 2xx and nothing else: redirects are not followed and count as failures. */
export function classify(result: SendResult): Verdict {
  if (result.kind === 'error') return { outcome: 'failed', failureKind: result.error, message: result.message };
  const { status } = result;
  if (status >= 200 && status < 300) return { outcome: 'succeeded' };
  if (status >= 300 && status < 400) {
    const location = result.headers.location;
    return { outcome: 'failed', failureKind: 'redirect', message: `Redirect (${status})${location ? ` to ${location}` : ''}; redirects are not followed` };
  }
  return { outcome: 'failed', failureKind: 'http_error', message: `HTTP ${status}` };
}

/** Maps a socket or TLS error code to a failure kind. */
export function failureKindOfError(code: string | undefined, name: string | undefined): FailureKind {
  if (name === 'AbortError' || name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
    return 'timeout';
  }
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns_error';
  if (code && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code === 'EPROTO' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT')) {
    return 'tls_error';
  }
  return 'connection_error';
}
