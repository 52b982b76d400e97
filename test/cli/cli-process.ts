import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runClientCommand } from '../../src/cli/client-commands.js';
import type { CliIO } from '../../src/cli/output.js';
import { waitFor } from '../helpers/herald.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A running `herald …` process with its output split into lines. */
export interface CliProcess {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Waits for a line of stdout (or stderr) matching `pattern`, after the first `from` lines. */
  waitForLine(pattern: RegExp, options?: { stream?: 'stdout' | 'stderr'; from?: number; timeoutMs?: number }): Promise<string>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The test runner's own HERALD_* settings must not leak into the processes it starts. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith('HERALD_') && name !== 'FORCE_COLOR') out[name] = value;
  return { ...out, ...extra };
}

/** Spawns the real CLI from the TypeScript sources (`node --import tsx src/cli/main.ts …`). */
export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (stream: NodeJS.ReadableStream, lines: string[]) => {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
    });
    stream.on('end', () => {
      if (partial) lines.push(partial);
    });
  };
  collect(child.stdout!, stdout);
  collect(child.stderr!, stderr);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    stdout,
    stderr,
    exited,
    async waitForLine(pattern, options = {}) {
      const lines = options.stream === 'stderr' ? stderr : stdout;
      const from = options.from ?? 0;
      return waitFor(() => lines.slice(from).find((l) => pattern.test(l)), {
        timeoutMs: options.timeoutMs ?? 30_000, // generous: the machine running the tests may be busy
        message: `a line matching ${pattern} on ${options.stream ?? 'stdout'} (stdout: ${JSON.stringify(stdout.slice(-5))}, stderr: ${JSON.stringify(stderr.slice(-5))})`,
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout.join('\n'), stderr: cli.stderr.join('\n') };
}

/** `herald listen …` started and ready: its signing secret from the Ready line. */
export async function startListen(args: string[], env: Record<string, string>): Promise<{ cli: CliProcess; secret: string }> {
  const cli = spawnCli(['listen', ...args], env);
  const ready = await cli.waitForLine(/Ready! Your webhook signing secret is whsec_\S+ \(\^C to quit\)/, { stream: 'stderr', timeoutMs: 60_000 });
  return { cli, secret: /(whsec_\S+)/.exec(ready)![1]! };
}

/** A free TCP port on 127.0.0.1 (for a server that must come back on the same port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `herald serve` as its own process, to kill and restart. */
export async function spawnServe(env: Record<string, string>): Promise<CliProcess> {
  const serve = spawnCli(['serve'], { HERALD_LOG_LEVEL: 'warn', ...env });
  await serve.waitForLine(/Herald is running\./, { timeoutMs: 60_000 });
  return serve;
}

/** Lines `herald listen` prints per event (stripe-cli's formats). */
export const RECEIVED_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} {3}--> (connect )?([a-z_.]+) \[(evt_[A-Za-z0-9]+)\]$/;
export const RESPONSE_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} {2}<-- {2}\[(\d{3})\] POST (\S+) \[(evt_[A-Za-z0-9]+)\]$/;

/**
 * Runs a client command inside the test process with captured output: the same code as the binary
 * minus process start-up, for tests that run many commands on a busy machine.
 */
export async function runInProcess(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const io: CliIO = { env, stdout, stderr, interrupted: new Promise(() => undefined) };
  const code = await runClientCommand(args[0]!, args.slice(1), io);
  // As runCli gives them: without the final newline.
  return { code, stdout: out.replace(/\n$/, ''), stderr: err.replace(/\n$/, '') };
}
