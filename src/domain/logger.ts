export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Secrets as Herald issues them: API keys (`sk_`, `rk_`, `pk_`) and signing secrets (`whsec_`).
 * Whatever reaches a log line (a path a client typed a key into, an error message quoting a
 * request) is redacted to its prefix and last four characters, as Stripe prints keys.
 */
const SECRET_PATTERN = /\b((?:sk|rk|pk)_(?:test|live)_|whsec_)([A-Za-z0-9+/=_%-]{4,})/g; // % : URL-encoded too

export function redactSecrets(text: string): string {
  return text.replace(SECRET_PATTERN, (_match, prefix: string, rest: string) => `${prefix}****${rest.slice(-4)}`);
}

/** One line per entry on stderr: time, level, message, then key=value fields; secrets redacted. */
export function consoleLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  const log = (entryLevel: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (RANK[entryLevel] < RANK[level]) return;
    const extra = fields
      ? Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
          .join(' ')
      : '';
    write(redactSecrets(`${new Date().toISOString()} ${entryLevel.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ''}`));
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
