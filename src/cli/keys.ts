import { hashApiKey, newApiKey, newRestrictedApiKey } from '../domain/ids.js';
import { accountFor, modeFlag, withConfiguredStore } from './admin.js';
import { CliError } from './output.js';

export const KEYS_HELP = `Usage: herald keys roll [--account acct_…] [--mode test|live] [--database URL]
       herald keys create-restricted [--account acct_…] --mode test|live [--database URL]

roll               Replaces an account's secret key(s) (sk_…) with new ones and prints them. The old
                   keys stop working at once.
create-restricted  Adds a restricted key (rk_…): it reads everything its account and mode can
                   (GET requests, the dashboard) and is refused every change (403). Printed once.

Keys are stored only as SHA-256 hashes. Without --account, the default account. Run with Herald
stopped or running; the same database settings as serve (HERALD_DATABASE_URL or --database).

Examples:
  herald keys roll
  herald keys roll --account acct_1a2b3c --mode live
  herald keys create-restricted --mode test
`;

const OWN_FLAGS = ['--mode', '--account'] as const;

export async function keys(positionals: string[], flags: Record<string, string>): Promise<number> {
  const action = positionals[0];
  if (action !== 'roll' && action !== 'create-restricted') {
    process.stderr.write(KEYS_HELP);
    return 2;
  }
  if (action === 'create-restricted' && flags['--mode'] === undefined) throw new CliError('create-restricted needs --mode test or --mode live', 2);
  const modes = modeFlag(flags['--mode']);
  return withConfiguredStore(flags, OWN_FLAGS, async (store, config) => {
    const account = await accountFor(store, config, flags['--account']);
    const now = Date.now();
    for (const mode of modes) {
      if (action === 'roll') {
        const key = newApiKey(mode);
        await store.setApiKey(account.id, mode, hashApiKey(key), now);
        process.stdout.write(`${mode}: ${key}\n`);
      } else {
        const key = newRestrictedApiKey(mode);
        await store.addRestrictedApiKey(account.id, mode, hashApiKey(key), now);
        process.stdout.write(`${key}\n`);
      }
    }
    return 0;
  });
}
