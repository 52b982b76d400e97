import { ConfigError, resolveConfig } from '../config/config.js';
import { loadVersionsDirectory } from '../delivery/versions.js';
import { isApiVersion } from '../domain/ids.js';
import { openStore } from '../store/index.js';
import { accountFor } from './admin.js';

export const SET_DEFAULT_VERSION_HELP = `Usage: herald accounts set-default-version <version> [--database URL] [--api-versions-dir DIR]

Sets the default account's API version. Events published without a version, and endpoints created
without api_version, use it, for events created from now on: events already created keep the
version they were created in. With HERALD_API_VERSIONS_DIR set, the version must be one it declares.
Run it with Herald stopped or running; it uses the same database settings as serve.
(The API way: POST /v1/account with default_api_version.)

Examples:
  herald accounts set-default-version 2025-03-31.basil
  HERALD_API_VERSIONS_DIR=./examples/api-versions herald accounts set-default-version 2026-10-28.endive
`;

/** `herald accounts set-default-version <version>`. */
export async function setDefaultVersion(positionals: string[], flags: Record<string, string>): Promise<number> {
  const version = positionals[0];
  if (!version || positionals.length > 1) {
    process.stderr.write(SET_DEFAULT_VERSION_HELP);
    return 2;
  }
  if (!isApiVersion(version)) {
    process.stderr.write(`herald: '${version}' is not an API version (a date, optionally named: 2026-10-28.endive)\n`);
    return 2;
  }
  let config;
  try {
    config = resolveConfig(process.env, flags);
    if (config.apiVersionsDir) {
      const { versions } = await loadVersionsDirectory(config.apiVersionsDir);
      if (!versions.includes(version)) throw new ConfigError('HERALD_API_VERSIONS_DIR', `'${version}' is not one of its versions (${versions.join(', ')})`);
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof Error) {
      process.stderr.write(`herald: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const store = await openStore(config.database);
  try {
    const account = await accountFor(store, config, undefined);
    const previous = account.defaultApiVersion;
    await store.setDefaultApiVersion(account.id, version);
    process.stdout.write(`${account.id}: default API version ${previous} -> ${version} (events created from now on)\n`);
  } finally {
    await store.close();
  }
  return 0;
}
