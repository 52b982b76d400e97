import { errors } from '../domain/errors.js';
import { isApiVersion } from '../domain/ids.js';
import type { RequestContext } from './app.js';

/** A version events and endpoints may name: dated, and declared by the operator when versions are (HERALD_API_VERSIONS_DIR). */
export function checkApiVersion(ctx: RequestContext, version: string, param: string): void {
  const versions = ctx.deps.versions;
  if (!isApiVersion(version)) throw errors.parameterInvalid(param, `Invalid ${param}: '${version}' is not an API version (e.g. ${ctx.account.defaultApiVersion}).`);
  if (versions && !versions.knows(version)) {
    throw errors.parameterInvalid(param, `Invalid ${param}: '${version}' is not one of this Herald's API versions (${versions.declared.join(', ')}).`, 'api_version_unknown');
  }
}
