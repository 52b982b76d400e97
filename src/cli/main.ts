import { readFileSync } from 'node:fs';
import { parseArgs } from './args.js';
import { CLIENT_COMMANDS_HELP, isClientCommand, runClientCommand } from './client-commands.js';
import { accounts, ACCOUNTS_HELP } from './accounts.js';
import { runAdmin } from './admin.js';
import { keys, KEYS_HELP } from './keys.js';
import { secrets, SECRETS_HELP } from './secrets.js';
import { serve, SERVE_HELP } from './serve.js';

const HELP = `Usage: herald <command> [flags]

Commands:
  serve        Run the API and the delivery workers
  accounts     Create and list accounts (tenants) and connected accounts
  keys         Roll secret keys; create restricted (read-only) keys
  secrets      Encryption of signing secrets at rest: new-key, rotate-encryption-key, decrypt
${CLIENT_COMMANDS_HELP}

Run 'herald <command> --help' for a command's flags and examples.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { positionals, flags } = parseArgs(rest, ['--help', '--json']);
  if (command === '--version' || command === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`herald ${pkg.version}\n`);
    return 0;
  }
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(HELP);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'serve':
      if (flags['--help']) return help(SERVE_HELP);
      return serve(flags);
    case 'keys':
      if (flags['--help']) return help(KEYS_HELP);
      return runAdmin(() => keys(positionals, flags));
    case 'accounts':
      if (flags['--help']) return help(ACCOUNTS_HELP);
      return runAdmin(() => accounts(positionals, flags));
    case 'secrets':
      if (flags['--help']) return help(SECRETS_HELP);
      return runAdmin(() => secrets(positionals, flags));
    default:
      if (isClientCommand(command)) return runClientCommand(command, rest);
      process.stderr.write(`herald: unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`herald: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
