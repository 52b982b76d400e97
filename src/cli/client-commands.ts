import { listen } from './listen.js';
import { CliError, processIO, type CliIO } from './output.js';
import { RESOURCE_NAMES, resourcesHelpLines, runResource } from './resources.js';
import { fixtures, trigger } from './trigger.js';

/** The commands that talk to a running Herald through its API (`herald serve` is the server). */
const COMMANDS: Record<string, (argv: string[], io: CliIO) => Promise<number>> = {
  listen,
  trigger,
  fixtures,
  ...Object.fromEntries(RESOURCE_NAMES.map((name) => [name, (argv: string[], io: CliIO) => runResource(name, argv, io)])),
};

/** Lines for `herald --help`. */
export const CLIENT_COMMANDS_HELP = [
  '  listen       Forward events to a local handler (like stripe listen)',
  '  trigger      Publish a realistic scenario of events (like stripe trigger)',
  '  fixtures     Run a fixture file of events',
  ...resourcesHelpLines(),
].join('\n');

export function isClientCommand(command: string): boolean {
  return Object.hasOwn(COMMANDS, command);
}

/** Runs a client command; a CliError becomes one line on stderr and its exit code. */
export async function runClientCommand(command: string, argv: string[], io: CliIO = processIO()): Promise<number> {
  try {
    return await COMMANDS[command]!(argv, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`herald: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
