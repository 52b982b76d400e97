/** An error a command reports in one line (`herald: <message>`) before exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** What a client command may touch of the process: passed in, so only main.ts reads globals. */
export interface CliIO {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Resolves when the user asks to stop (^C). */
  interrupted: Promise<void>;
}

export function processIO(): CliIO {
  let interrupted: Promise<void> | null = null;
  return {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    // Handlers only for commands that ask (listen): elsewhere ^C keeps its default, exiting at once.
    get interrupted() {
      return (interrupted ??= new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }));
    },
  };
}

/** Colours, only when writing to a terminal and NO_COLOR is not set. */
export class Palette {
  constructor(readonly enabled: boolean) {}

  static for(stream: { isTTY?: boolean }, env: CliIO['env']): Palette {
    return new Palette(Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb');
  }

  private wrap(code: string, text: string): string {
    return this.enabled ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
  bold = (text: string) => this.wrap('1', text);
  dim = (text: string) => this.wrap('2', text);
  green = (text: string) => this.wrap('32', text);
  yellow = (text: string) => this.wrap('33', text);
  red = (text: string) => this.wrap('31', text);
  cyan = (text: string) => this.wrap('36', text);

  /** An HTTP status as stripe-cli colours it: green below 300, yellow below 500, red above. */
  status(code: number): string {
    const text = String(code);
    if (code < 300) return this.green(text);
    if (code < 500) return this.yellow(text);
    return this.red(text);
  }
}

/** `YYYY-MM-DD HH:MM:SS` in local time, the layout of stripe-cli's listen lines. */
export function localTimestamp(date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A Unix-seconds time as local `YYYY-MM-DD HH:MM:SS`. */
export function formatUnix(seconds: unknown): string {
  return typeof seconds === 'number' ? localTimestamp(new Date(seconds * 1000)) : '';
}

/** A plain text table: a header row and left-aligned columns two spaces apart. */
export function table(headers: string[], rows: string[][], palette: Palette): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [palette.bold(line(headers)), ...rows.map(line)].join('\n') + '\n';
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
