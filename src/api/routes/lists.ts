import { errors } from '../../domain/errors.js';
import type { Page, PageRequest } from '../../domain/types.js';
import { Params } from '../params.js';

/** Longer than any id Herald makes, short enough that a cursor never costs more than an id. */
const MAX_ID_LENGTH = 255;

export const PAGE_PARAMS = ['limit', 'starting_after', 'ending_before'] as const;

/** Reads `limit` (1–100, default 10) and one of `starting_after` / `ending_before`. */
export function readPage(params: Params): PageRequest {
  const limit = params.integer('limit', { min: 1, max: 100 }) ?? 10;
  const startingAfter = params.string('starting_after', { maxLength: MAX_ID_LENGTH }) ?? undefined;
  const endingBefore = params.string('ending_before', { maxLength: MAX_ID_LENGTH }) ?? undefined;
  if (startingAfter !== undefined && endingBefore !== undefined) throw errors.parametersExclusive('starting_after', 'ending_before');
  return { limit, startingAfter, endingBefore };
}

/** The list object, or a 404 naming the cursor parameter when the cursor object does not exist. */
export function listObject<T>(page: Page<T>, request: PageRequest, url: string, noun: string, toObject: (item: T) => unknown) {
  if (page.missingCursor) {
    const param = request.startingAfter !== undefined ? 'starting_after' : 'ending_before';
    throw errors.resourceMissing(noun, (request.startingAfter ?? request.endingBefore)!, param);
  }
  return { object: 'list', data: page.data.map(toObject), has_more: page.hasMore, url };
}

/** Stripe's v2 lists: `limit` and an opaque `page` token taken from the previous page's `next_page_url`. */
export const V2_PAGE_PARAMS = ['limit', 'page'] as const;

export function readV2Page(params: Params): PageRequest {
  const limit = params.integer('limit', { min: 1, max: 100 }) ?? 10;
  const token = params.string('page') ?? undefined;
  return { limit, startingAfter: token === undefined ? undefined : decodePageToken(token) };
}

/**
 * `{ data, next_page_url, previous_page_url }`. The next page continues after this page's last item
 * with the same parameters: stripe-node follows `next_page_url` as it is, without re-sending them.
 */
export function v2ListObject<T extends { id: string }>(page: Page<T>, path: string, params: Record<string, unknown>, toObject: (item: T) => unknown) {
  if (page.missingCursor) throw errors.parameterInvalid('page', 'Invalid page: the page token is not valid (its position no longer exists).');
  const last = page.data[page.data.length - 1];
  const { page: _page, ...kept } = params;
  const query = [...encodeQuery(kept), `page=${encodeURIComponent(last ? encodePageToken(last.id) : '')}`].join('&');
  return {
    data: page.data.map(toObject),
    next_page_url: page.hasMore && last ? `${path}?${query}` : null,
    previous_page_url: null,
  };
}

/** Parameters back into a query string, with `a[0]=` and `a[b]=` for lists and objects. */
function encodeQuery(params: Record<string, unknown>, prefix = ''): string[] {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    if (value === undefined) continue;
    if (value !== null && typeof value === 'object') pairs.push(...encodeQuery(Array.isArray(value) ? Object.fromEntries(value.entries()) : (value as Record<string, unknown>), name));
    else pairs.push(`${encodeURIComponent(name)}=${encodeURIComponent(value === null ? '' : String(value))}`);
  }
  return pairs;
}

/** v2 page tokens are opaque: here, the last id of the page before. */
function encodePageToken(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');
}

function decodePageToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // falls through to the error below
  }
  throw errors.parameterInvalid('page', 'Invalid page: use the next_page_url of the previous page.');
}
