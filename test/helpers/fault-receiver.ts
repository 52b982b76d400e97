import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FailureKind } from '../../src/domain/types.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fault-receiver-process.ts', import.meta.url));

/** What the fault-injecting receiver can do with one request. */
export const FAULT_ACTIONS = [
  'ok', // a 2xx at once
  'slow_body', // 200, then the body trickles out (well within the delivery timeout)
  'server_error', // 500 or 502
  'redirect', // 301, 302, 307 or 308 with a Location
  'timeout', // never answers
  'reset_request', // RST while the request is read, no answer
  'reset_response', // headers and part of the body, then RST
  'truncated', // Content-Length larger than the body, then a clean close
  'garbage_status', // a status line that is not HTTP
] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

/** One request as the receiver saw and answered it. */
export interface FaultLogEntry {
  path: string;
  /** From the first bytes of the body (null if none arrived). */
  eventId: string | null;
  action: FaultAction;
  /** The status it answered with, when it sent one. */
  status: number | null;
  /** When the request arrived. */
  at: number;
  /**
   * When the receiver finished answering (last byte, reset or close), null if it never did. A
   * sender whose timeout ran out first rightly records a timeout instead.
   */
  answeredAt: number | null;
  /** When its connection closed (either side), null while open. */
  closedAt: number | null;
}

/** What Herald must have recorded for an attempt the receiver answered with `action`. */
export function expectedOutcome(action: FaultAction): { outcome: 'succeeded' } | { outcome: 'failed'; failureKind: FailureKind } {
  switch (action) {
    case 'ok':
    case 'slow_body':
      return { outcome: 'succeeded' };
    case 'server_error':
      return { outcome: 'failed', failureKind: 'http_error' };
    case 'redirect':
      return { outcome: 'failed', failureKind: 'redirect' };
    case 'timeout':
      return { outcome: 'failed', failureKind: 'timeout' };
    case 'reset_request':
    case 'reset_response':
    case 'truncated':
    case 'garbage_status':
      return { outcome: 'failed', failureKind: 'connection_error' };
  }
}

export interface FaultReceiver {
  /** http://127.0.0.1:<port> */
  url: string;
  seed: number;
  pid: number;
  /** Everything the receiver did so far, in arrival order. */
  log(): Promise<FaultLogEntry[]>;
  stop(): Promise<void>;
}

/**
 * Starts the fault-injecting receiver in its own process (fault-receiver-process.ts). `weights`
 * sets how often each action is drawn (1 each by default; 0 never).
 */
export async function startFaultReceiver(options: { seed: number; weights?: Partial<Record<FaultAction, number>>; slowBodyMs?: number }): Promise<FaultReceiver> {
  const child: ChildProcess = fork(CHILD, [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: {
      PATH: process.env.PATH ?? '',
      FAULT_SEED: String(options.seed),
      FAULT_WEIGHTS: JSON.stringify(options.weights ?? {}),
      FAULT_SLOW_BODY_MS: String(options.slowBodyMs ?? 200),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fault receiver did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the fault receiver exited with ${code} before it started`)));
    child.on('message', (message: { type: string; port?: number }) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message.port!);
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    seed: options.seed,
    pid: child.pid!,
    log: () =>
      new Promise((resolve, reject) => {
        const onMessage = (message: { type: string; entries?: FaultLogEntry[] }) => {
          if (message.type !== 'log') return;
          child.off('message', onMessage);
          resolve(message.entries!);
        };
        child.on('message', onMessage);
        if (!child.send({ type: 'log' })) reject(new Error('the fault receiver is gone'));
      }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ type: 'stop' });
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(force);
      }
    },
  };
}
