import { CliError } from './output.js';

/** One flag of a client command. `list` flags may be repeated (`-d a=1 -d b=2`). */
export interface FlagSpec {
  name: string; // --forward-to
  short?: string; // -f
  aliases?: string[]; // --use-configured-webhooks
  kind: 'string' | 'boolean' | 'list';
  /** Shown in --help; `value` names the argument. */
  description: string;
  value?: string;
}

export interface ParsedFlags {
  positionals: string[];
  strings: Record<string, string>;
  booleans: Set<string>;
  lists: Record<string, string[]>;
}

/** Flags every client command takes. */
export const COMMON_FLAGS: FlagSpec[] = [
  { name: '--api-key', kind: 'string', value: 'sk_…', description: 'Secret key (default: $HERALD_API_KEY); its mode (test/live) decides what you see.' },
  { name: '--api-base', kind: 'string', value: 'url', description: 'Herald server (default: $HERALD_API_BASE or http://127.0.0.1:8420).' },
  { name: '--json', kind: 'boolean', description: 'Print JSON for scripts instead of human output.' },
  { name: '--help', short: '-h', kind: 'boolean', description: 'Show this help.' },
];

/**
 * Parses `--name value`, `--name=value`, `-x value`, bare booleans and repeated list flags. Unknown
 * flags are errors naming the flag, so a typo never silently changes what a command does.
 */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) {
    byName.set(spec.name, spec);
    if (spec.short) byName.set(spec.short, spec);
    for (const alias of spec.aliases ?? []) byName.set(alias, spec);
  }
  const parsed: ParsedFlags = { positionals: [], strings: {}, booleans: new Set(), lists: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      parsed.positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const spec = byName.get(name);
    if (!spec) throw new CliError(`unknown flag ${name} (see --help)`, 2);
    if (spec.kind === 'boolean') {
      const value = eq === -1 ? 'true' : arg.slice(eq + 1);
      if (value !== 'true' && value !== 'false') throw new CliError(`${spec.name} takes no value (or =true/=false)`, 2);
      if (value === 'true') parsed.booleans.add(spec.name);
      else parsed.booleans.delete(spec.name);
      continue;
    }
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new CliError(`${spec.name} needs a value${spec.value ? ` (${spec.value})` : ''}`, 2);
      value = next;
      i++;
    }
    if (spec.kind === 'list') (parsed.lists[spec.name] ??= []).push(value);
    else parsed.strings[spec.name] = value;
  }
  return parsed;
}

/** The flags section of a command's help. */
export function flagsHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((spec) => {
    const names = [spec.short, spec.name, ...(spec.aliases ?? [])].filter(Boolean).join(', ');
    return [`${names}${spec.value ? ` <${spec.value}>` : ''}`, spec.description + (spec.kind === 'list' ? ' (repeatable)' : '')] as const;
  });
  const width = Math.min(44, Math.max(...rows.map(([left]) => left.length)) + 2);
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${left.length >= width ? `\n  ${' '.repeat(width)}` : ''}${right}`).join('\n');
}
