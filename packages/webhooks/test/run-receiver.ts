// Runs a receiver program as its user would, and collects its output for the tests to wait on.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../../test/helpers/herald.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface RunningReceiver {
  port: number;
  output: string[];
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `node <args>` from the repository root; resolves once it prints `Listening on …:<port>/`. */
export async function runReceiver(args: string[], env: Record<string, string>): Promise<RunningReceiver> {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (chunk: string) => output.push(...chunk.split('\n').filter(Boolean));
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const line = await waitFor(() => output.find((l) => l.startsWith('Listening on')), { message: `${args.join(' ').slice(0, 60)} to listen`, timeoutMs: 15_000 });
    return { port: Number(/:(\d+)\//.exec(line)![1]), output, child, stop };
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\noutput:\n${output.join('\n')}`);
  }
}
