import { ConfigError, resolveConfig, type HeraldConfig } from '../config/config.js';
import { newId } from '../domain/ids.js';
import type { Account } from '../domain/types.js';
import { openStore, type Store } from '../store/index.js';
import { CliError } from './output.js';

/**
 * The operator commands (`accounts`, `keys`, `secrets`) work on the database directly, with the same
 * settings as `herald serve` (HERALD_* variables or flags), whether Herald is running or not.
 * `own` lists the command's own flags; the rest must be serve's settings.
 */
export async function withConfiguredStore<T>(
  flags: Record<string, string>,
  own: readonly string[],
  work: (store: Store, config: HeraldConfig) => Promise<T>,
): Promise<T> {
  const settings = Object.fromEntries(Object.entries(flags).filter(([name]) => !own.includes(name) && name !== '--help'));
  let config: HeraldConfig;
  try {
    config = resolveConfig(process.env, settings);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  const store = await openStore(config.database);
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}

/** The account a command names with --account, or the default account (created on first use, as serve does). */
export async function accountFor(store: Store, config: HeraldConfig, id: string | undefined): Promise<Account> {
  if (id !== undefined) {
    const account = await store.getAccount(id);
    if (!account) throw new CliError(`no account '${id}' in this database (see \`herald accounts list\`)`, 2);
    return account;
  }
  const { account } = await store.ensureDefaultAccount({
    id: newId.account(),
    name: 'Default account',
    applicationId: newId.application(),
    defaultApiVersion: config.apiVersion,
    created: Date.now(),
  });
  return account;
}

export function modeFlag(value: string | undefined): ('test' | 'live')[] {
  if (value === undefined) return ['test', 'live'];
  if (value !== 'test' && value !== 'live') throw new CliError(`--mode must be test or live, got '${value}'`, 2);
  return [value];
}

/** Runs an operator command: a CliError becomes one line on stderr and its exit code. */
export async function runAdmin(command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`herald: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
