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
  if (code === 'HERALD_BLOCKED_ADDRESS') return 'blocked_address';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns_error';
  if (code && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || TLS_VERIFY_CODES.has(code) || code === 'EPROTO')) {
    return 'tls_error';
  }
  return 'connection_error';
}

/** OpenSSL certificate verification codes without CERT in their name. */
const TLS_VERIFY_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE', 'CRL_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_SIGNATURE_FAILURE', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'HOSTNAME_MISMATCH', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID']);
