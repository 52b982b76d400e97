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
