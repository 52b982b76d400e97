import { ConfigError, resolveConfig } from '../config/config.js';
import { hashApiKey, newApiKey, newId } from '../domain/ids.js';
import type { Mode } from '../domain/types.js';
import { openStore } from '../store/index.js';

export const KEYS_HELP = `Usage: herald keys roll [--mode test|live] [--database URL]

Replaces the default account's secret key(s) with new ones and prints them. The old keys stop
working at once. Run it with Herald stopped or running; it uses the same database settings as serve.

Examples:
  herald keys roll
  herald keys roll --mode live --database sqlite:./herald-data/herald.db
`;

export async function keys(positionals: string[], flags: Record<string, string>): Promise<number> {
  if (positionals[0] !== 'roll') {
    process.stderr.write(KEYS_HELP);
    return 2;
  }
  const modeFlag = flags['--mode'];
  if (modeFlag !== undefined && modeFlag !== 'test' && modeFlag !== 'live') {
    process.stderr.write(`herald: --mode must be test or live, got '${modeFlag}'\n`);
    return 2;
  }
  const { '--mode': _mode, ...rest } = flags;
  let config;
  try {
    config = resolveConfig(process.env, rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const store = await openStore(config.database);
  try {
    const now = Date.now();
    const { account } = await store.ensureDefaultAccount({
      id: newId.account(),
      name: 'Default account',
      applicationId: newId.application(),
      defaultApiVersion: config.apiVersion,
      created: now,
    });
    const modes: Mode[] = modeFlag ? [modeFlag] : ['test', 'live'];
    for (const mode of modes) {
      const key = newApiKey(mode);
      await store.setApiKey(account.id, mode, hashApiKey(key), now);
      process.stdout.write(`${mode}: ${key}\n`);
    }
  } finally {
    await store.close();
  }
  return 0;
}
