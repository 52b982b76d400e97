import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from './herald.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A `herald serve` running as a separate operating-system process, as in a deployment. */
export interface HeraldProcess {
  child: ChildProcess;
  /** The API's base URL (null for `--role worker`). */
  url: string | null;
  /** What the process wrote to stderr (its log), for diagnosing a failure. */
  log(): string;
  /** SIGTERM, and waits for the graceful stop. */
  stop(): Promise<void>;
  /** SIGKILL: the process dies at once, mid-work, as in a crash. */
  kill(): Promise<void>;
  /**
   * Its memory after a full garbage collection (spawned with `memoryProbe` only), and its resident
   * set size from /proc.
   */
  memory(): Promise<ProcessMemory>;
}

export interface ProcessMemory {
  heapUsed: number;
  /** VmRSS from /proc/<pid>/status. */
  rss: number;
  /** False when the process could not collect garbage first (no --expose-gc). */
  collected: boolean;
}

export interface SpawnOptions {
  /**
   * A file the process writes its memory figures to, after a GC, on SIGUSR2 (the process runs
   * with --expose-gc and test/helpers/memory-probe.ts preloaded).
   */
  memoryProbe?: string;
}

const MEMORY_PROBE = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));

/** Resident set size of a process in bytes, from /proc (Linux). */
export function residentBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

/**
 * Spawns `herald serve` from the TypeScript sources (no build needed) with `args` and extra `env`,
 * and waits until it says it is running.
 */
export async function spawnHerald(args: string[], env: Record<string, string> = {}, options: SpawnOptions = {}): Promise<HeraldProcess> {
  const probe = options.memoryProbe ? ['--expose-gc', '--import', MEMORY_PROBE] : [];
  const child = spawn(process.execPath, ['--import', 'tsx', ...probe, 'src/cli/main.ts', 'serve', ...args], {
    cwd: ROOT,
    env: { ...withoutHeraldSettings(process.env), HERALD_LOG_LEVEL: 'warn', ...(options.memoryProbe ? { MEMORY_PROBE_FILE: options.memoryProbe } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`herald serve did not start within 60 s:\n${stderr}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.includes('Herald is running.') || !stdout.includes('Account:')) return;
      clearTimeout(timer);
      resolve(/API:\s+(http:\/\/\S+?)\/v1/.exec(stdout)?.[1] ?? null);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`herald serve exited with ${code} before it started:\n${stderr}`));
    });
  });
  return {
    child,
    url,
    log: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async memory() {
      const file = options.memoryProbe;
      if (!file) throw new Error('spawned without memoryProbe');
      const seqOf = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { seq: number }).seq : 0);
      const before = seqOf();
      child.kill('SIGUSR2');
      await waitFor(() => seqOf() > before, { timeoutMs: 10_000, message: 'the memory probe to answer' });
      const probed = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; collected: boolean };
      return { heapUsed: probed.heapUsed, collected: probed.collected, rss: residentBytes(child.pid!) };
    },
  };
}

/** The test runner's own HERALD_* settings must not leak into the processes it starts. */
function withoutHeraldSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !name.startsWith('HERALD_')) out[name] = value;
  return out;
}
