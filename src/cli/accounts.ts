import { hashApiKey, newApiKey, newId } from '../domain/ids.js';
import type { Account, ConnectedAccount, Mode } from '../domain/types.js';
import type { Store } from '../store/store.js';
import { withConfiguredStore } from './admin.js';
import { CliError } from './output.js';

export const ACCOUNTS_HELP = `Usage: herald accounts create [--name NAME] [--json] [--database URL]
       herald accounts create --platform acct_… [--name NAME] [--email E] [--json]
       herald accounts list [--json] [--database URL]

create              A new account (a tenant): its own endpoints, events and keys, invisible to every
                    other account. Prints its test and live secret keys once (stored only as hashes).
create --platform   A connected account (Connect) of that platform account: events published with
                    its id (the account parameter or the Stripe-Account header) go to the platform's
                    connect endpoints. The API does the same with POST /v1/accounts.
list                Every account, with its connected accounts.

Same database settings as serve (HERALD_DATABASE_URL or --database); Herald may be running.

Examples:
  herald accounts create --name "Acme"
  herald accounts create --platform acct_1a2b3c --name "Rocket Rides driver"
  herald accounts list --json
`;

const OWN_FLAGS = ['--name', '--platform', '--email', '--json'] as const;

export async function accounts(positionals: string[], flags: Record<string, string>): Promise<number> {
  const action = positionals[0];
  const json = flags['--json'] === 'true';
  if (action === 'create') {
    return withConfiguredStore(flags, OWN_FLAGS, async (store, config) => {
      const name = flags['--name'];
      if (name !== undefined && (name.trim() === '' || name.length > 200)) throw new CliError('--name must be 1 to 200 characters', 2);
      const now = Date.now();
      const platform = flags['--platform'];
      if (platform !== undefined) {
        if (!(await store.getAccount(platform))) throw new CliError(`no account '${platform}' in this database (see \`herald accounts list\`)`, 2);
        const connected: ConnectedAccount = { id: newId.account(), platformAccountId: platform, name: name ?? null, email: flags['--email'] ?? null, created: now };
        await store.ensureConnectedAccount(connected);
        write(json ? JSON.stringify({ id: connected.id, platform, name: connected.name, email: connected.email }) : `Connected account ${connected.id} of ${platform}`);
        return 0;
      }
      if (flags['--email'] !== undefined) throw new CliError('--email is for connected accounts (with --platform)', 2);
      const account: Account = { id: newId.account(), name: name ?? 'Account', applicationId: newId.application(), defaultApiVersion: config.apiVersion, created: now };
      await store.createAccount(account);
      const keys: Record<Mode, string> = { test: newApiKey('test'), live: newApiKey('live') };
      for (const mode of ['test', 'live'] as const) await store.setApiKey(account.id, mode, hashApiKey(keys[mode]), now);
      if (json) write(JSON.stringify({ id: account.id, name: account.name, keys }));
      else {
        write(`Account ${account.id} (${account.name})`);
        write(`  Secret keys (stored hashed: copy them now, they are not shown again):`);
        write(`    test: ${keys.test}`);
        write(`    live: ${keys.live}`);
      }
      return 0;
    });
  }
  if (action === 'list') {
    return withConfiguredStore(flags, OWN_FLAGS, async (store) => {
      const all = await store.listAccounts();
      const rows = await Promise.all(all.map(async (a) => ({ account: a, connected: await allConnected(store, a.id) })));
      if (json) {
        write(JSON.stringify(rows.map(({ account, connected }) => ({ id: account.id, name: account.name, created: Math.floor(account.created / 1000), connected_accounts: connected.map((c) => c.id) }))));
        return 0;
      }
      for (const { account, connected } of rows) {
        write(`${account.id}  ${new Date(account.created).toISOString().slice(0, 19).replace('T', ' ')}  ${account.name}`);
        for (const c of connected) write(`  └ ${c.id}${c.name ? `  ${c.name}` : ''}  (connected)`);
      }
      return 0;
    });
  }
  process.stderr.write(ACCOUNTS_HELP);
  return 2;
}

function write(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function allConnected(store: Store, platformId: string): Promise<ConnectedAccount[]> {
  const out: ConnectedAccount[] = [];
  for (let startingAfter: string | undefined; ; ) {
    const page = await store.listConnectedAccounts(platformId, { limit: 100, startingAfter });
    out.push(...page.data);
    if (!page.hasMore || page.data.length === 0) return out.reverse(); // oldest first
    startingAfter = page.data[page.data.length - 1]!.id;
  }
}
