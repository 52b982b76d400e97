/**
 * API errors in Stripe's shape: `{"error":{"type","code","message","param","doc_url"}}`.
 * Every error the API can answer with is built by one of the functions below, so the codes form one
 * registry (see the README's error table).
 */
export type ApiErrorType = 'invalid_request_error' | 'idempotency_error' | 'api_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    readonly code: string | undefined,
    message: string,
    readonly param?: string,
    /** Extra response headers, e.g. Stripe-Should-Retry. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): { error: Record<string, string> } {
    const error: Record<string, string> = { type: this.type, message: this.message };
    if (this.code) {
      error.code = this.code;
      error.doc_url = `https://docs.stripe.com/error-codes/${this.code.replaceAll('_', '-')}`;
    }
    if (this.param) error.param = this.param;
    return { error };
  }
}

const invalid = (status: number, code: string | undefined, message: string, param?: string) =>
  new ApiError(status, 'invalid_request_error', code, message, param);

export const errors = {
  noApiKey: () =>
    invalid(
      401,
      undefined,
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    ),
  invalidApiKey: (key: string) =>
    invalid(401, 'api_key_invalid', `Invalid API Key provided: ${redactKey(key)}`),
  notSecretKey: () =>
    invalid(401, 'secret_key_required', 'This API call cannot be made with a publishable or restricted API key. Please use a secret API key (sk_test_… or sk_live_…).'),
  restrictedKeyWrite: (key: string, accountId: string) =>
    invalid(
      403,
      undefined,
      `The provided key '${redactKey(key)}' does not have the required permissions for this endpoint on account '${accountId}'. Restricted keys (rk_…) in Herald can only read (GET requests); use a secret key (sk_…) to make changes.`,
    ),
  restrictedKeySecret: (key: string, accountId: string) =>
    invalid(
      403,
      undefined,
      `The provided key '${redactKey(key)}' does not have the required permissions for this endpoint on account '${accountId}'. Restricted keys (rk_…) cannot reveal signing secrets; use a secret key (sk_…).`,
    ),
  /** The same answer whether the connected account does not exist or belongs to another platform. */
  accountInvalid: (key: string, account: string, param?: string) =>
    invalid(
      403,
      'account_invalid',
      `The provided key '${redactKey(key)}' does not have access to account '${account}' (or that account does not exist). Create connected accounts with POST /v1/accounts or \`herald accounts create --platform\`.`,
      param,
    ),
  stripeAccountUnsupported: (method: string, path: string) =>
    invalid(400, 'parameter_unknown', `The Stripe-Account header is not supported on ${method} ${path}: Herald acts for connected accounts on /v1/events only (publishing, listing and retrieving their events).`),
  unknownRoute: (method: string, path: string) =>
    invalid(404, undefined, `Unrecognized request URL (${method}: ${path}). Please see https://docs.stripe.com/api or Herald's README.`),
  resourceMissing: (noun: string, id: string, param = 'id', otherModeHint?: 'test' | 'live') =>
    invalid(
      404,
      'resource_missing',
      `No such ${noun}: '${id}'` +
        (otherModeHint
          ? `; a similar object exists in ${otherModeHint} mode, but a ${otherModeHint === 'live' ? 'test' : 'live'} mode key was used to make this request.`
          : ''),
      param,
    ),
  parameterMissing: (param: string) => invalid(400, 'parameter_missing', `Missing required param: ${param}.`, param),
  parameterUnknown: (param: string) =>
    invalid(400, 'parameter_unknown', `Received unknown parameter: ${param}`, param),
  parameterInvalid: (param: string, message: string, code = 'parameter_invalid') => invalid(400, code, message, param),
  parametersExclusive: (a: string, b: string) =>
    invalid(400, 'parameters_exclusive', `You may only specify one of these parameters: ${a}, ${b}.`, a),
  invalidInteger: (param: string, message: string) => invalid(400, 'parameter_invalid_integer', message, param),
  urlInvalid: (url: string, message: string) => invalid(400, 'url_invalid', `Invalid URL: ${url}. ${message}`, 'url'),
  liveModeHttps: (url: string) =>
    invalid(400, 'url_invalid', `Invalid URL: ${url}. URLs in livemode must begin with "https://"`, 'url'),
  unknownEventType: (param: string, type: string) =>
    invalid(
      400,
      'parameter_invalid',
      `Invalid ${param}: '${type}' is not a known event type. Use one of Stripe's event types, a type added with HERALD_EVENT_TYPES, or '*' (enabled_events only).`,
      param,
    ),
  endpointLimit: (max: number, mode: string) =>
    invalid(
      400,
      'webhook_endpoint_limit_reached',
      `You have reached the maximum of ${max} webhook endpoints in ${mode} mode for this account. Delete an endpoint before creating another one.`,
    ),
  malformedBody: (detail: string) => invalid(400, 'parameter_invalid', `The request body could not be parsed: ${detail}`),
  unsupportedMediaType: (type: string) =>
    invalid(
      400,
      'unsupported_content_type',
      `Unsupported Content-Type '${type}'. Send application/x-www-form-urlencoded (as Stripe's SDKs do) or application/json.`,
    ),
  bodyTooLarge: (limit: number) =>
    new ApiError(413, 'invalid_request_error', 'request_too_large', `The request body is larger than the limit of ${limit} bytes.`),
  headersTooLarge: () =>
    new ApiError(431, 'invalid_request_error', 'request_too_large', 'The request line and headers are larger than the server accepts; send long parameters in the body of a POST.'),
  malformedHttp: () => invalid(400, undefined, 'The request is not valid HTTP/1.1.'),
  idempotencyMismatch: (key: string) =>
    new ApiError(
      400,
      'idempotency_error',
      'idempotency_key_reused',
      `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
    ),
  idempotencyKeyTooLong: () =>
    invalid(400, 'idempotency_key_invalid', 'Idempotency keys can be at most 255 characters long.'),
  idempotencyInProgress: (key: string) =>
    new ApiError(
      409,
      'invalid_request_error',
      'idempotency_key_in_use',
      `There is currently another in-progress request using this Idempotent Key ('${key}'), probably a network retry. Wait for it to finish before trying again.`,
      undefined,
      { 'Stripe-Should-Retry': 'true' },
    ),
  rateLimited: () =>
    new ApiError(429, 'invalid_request_error', 'rate_limit', 'Too many requests hit the API too quickly. Retry with exponential backoff.', undefined, {
      'Retry-After': '1',
      'Stripe-Should-Retry': 'true',
    }),
  shuttingDown: () =>
    new ApiError(503, 'api_error', 'service_unavailable', 'Herald is shutting down; retry the request.', undefined, {
      'Stripe-Should-Retry': 'true',
    }),
  internal: () => new ApiError(500, 'api_error', undefined, 'An unexpected error occurred in Herald. The error was logged; retry the request.'),
};

/** `sk_test_****abcd`, as Stripe prints keys in errors. */
export function redactKey(key: string): string {
  const prefix = /^(sk|rk|pk)_(test|live)_/.exec(key)?.[0] ?? '';
  return `${prefix}****${key.slice(-4)}`;
}
