/** `--name value`, `--name=value` and bare `--flag` (value 'true'); the rest are positionals. */
export function parseArgs(argv: string[], booleanFlags: readonly string[] = []): { positionals: string[]; flags: Record<string, string> } {
  const positionals: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq !== -1) {
        flags[arg.slice(0, eq)] = arg.slice(eq + 1);
      } else if (booleanFlags.includes(arg) || i + 1 >= argv.length || argv[i + 1]!.startsWith('--')) {
        flags[arg] = 'true';
      } else {
        flags[arg] = argv[++i]!;
      }
    } else {
      positionals.push(arg);
    }
  }
  return { positionals, flags };
}
