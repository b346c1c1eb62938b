// A throwaway MariaDB server for destructive fault tests (restart, crash): its own data directory in a
// temp dir, listening on a free loopback port. Never the shared server. Runs as root in CI: the server
// drops to the `mysql` user, so the temp dir is made traversable and the data dir belongs to mysql.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { createTestDatabase, type TestDatabase } from './database.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
// Small InnoDB files make the install and each start take about a second instead of five.
const SERVER_OPTIONS = ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=32M', '--skip-name-resolve'];

export type DisposableTestDatabase = TestDatabase & {
  /** Opens a new root connection after a restart (the old one died with the server). */
  reconnectAdmin(): Promise<void>;
};

export type DisposableMariaDb = {
  readonly host: string;
  readonly port: number;
  /** How long `mariadb-install-db` and the first start took, in ms. */
  readonly timings: { readonly installMs: number; readonly startMs: number };
  /** Starts the server on the same port and data dir; resolves once it answers, with the ms it took. */
  start(): Promise<number>;
  /** Shuts the server down cleanly (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL), as a crash or a lost host would; InnoDB recovers at the next start. */
  crash(): Promise<void>;
  /** A root connection to the running server. */
  connectRoot(): Promise<Connection>;
  /** A database and an app user with a per-account limit, as createTestDatabase makes them. */
  createDatabase(options?: { maxUserConnections?: number }): Promise<DisposableTestDatabase>;
  /** Kills the server if it runs and deletes its directory. */
  destroy(): Promise<void>;
};

function findBinary(names: readonly string[], dirs: readonly string[]): string {
  for (const dir of dirs) {
    for (const name of names) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
  }
  throw new Error(`none of ${names.join(', ')} found in ${dirs.join(', ')}: install mariadb-server`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `serverOptions` are added to the server's command line at every start (e.g. TLS certificates). */
export async function startDisposableMariaDb(
  options: { serverOptions?: readonly string[] } = {},
): Promise<DisposableMariaDb> {
  const binDirs = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db'], binDirs);
  const serverBinary = findBinary(['mariadbd', 'mysqld'], binDirs);
  const asRoot = process.getuid?.() === 0;
  const baseDir = await mkdtemp(join(tmpdir(), 'eclectyc-mariadb-'));
  // The server runs as mysql when we are root: it must be able to reach its data dir inside ours.
  await chmod(baseDir, 0o755);
  const dataDir = join(baseDir, 'data');
  const errorLog = join(baseDir, 'error.log');
  const userOption = asRoot ? ['--user=mysql'] : [];
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const connectRoot = async (): Promise<Connection> => {
    const connection = await createConnection({
      host: HOST,
      port,
      user: 'root',
      password: '',
      connectTimeout: 1000,
    });
    // Restarts are the point here: an idle root connection losing its server must not crash the run.
    connection.on('error', () => undefined);
    return connection;
  };

  async function start(): Promise<number> {
    const startedMs = Date.now();
    const spawned = spawn(
      serverBinary,
      [
        '--no-defaults',
        ...userOption,
        `--datadir=${dataDir}`,
        `--port=${port}`,
        `--bind-address=${HOST}`,
        `--socket=${join(dataDir, 'mariadb.sock')}`,
        `--pid-file=${join(dataDir, 'mariadb.pid')}`,
        `--log-error=${errorLog}`,
        ...SERVER_OPTIONS,
        ...(options.serverOptions ?? []),
      ],
      { stdio: 'ignore' },
    );
    child = spawned;
    let hasExited = false;
    exited = new Promise((resolve) => {
      spawned.once('exit', () => {
        hasExited = true;
        resolve();
      });
    });
    while (Date.now() - startedMs < START_TIMEOUT_MS) {
      if (hasExited) break;
      try {
        const connection = await connectRoot();
        await connection.end();
        return Date.now() - startedMs;
      } catch {
        await sleep(50);
      }
    }
    const log = await readFile(errorLog, 'utf8').catch(() => '');
    spawned.kill('SIGKILL');
    throw new Error(
      `disposable MariaDB did not answer on port ${port}:\n${log.split('\n').slice(-15).join('\n')}`,
    );
  }

  async function stopWith(signal: NodeJS.Signals): Promise<void> {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  const installStartedMs = Date.now();
  await run(installDb, [
    '--no-defaults',
    ...userOption,
    `--datadir=${dataDir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    ...SERVER_OPTIONS,
  ]);
  const installMs = Date.now() - installStartedMs;
  const startMs = await start();
  // Anonymous accounts (''@localhost) would shadow 'app'@'%' logins from localhost with error 1045.
  const root = await connectRoot();
  try {
    const [anonymous] = await root.query<RowDataPacket[]>("SELECT Host FROM mysql.user WHERE User = ''");
    for (const row of anonymous) await root.query("DROP USER ''@?", [String(row.Host)]);
  } finally {
    await root.end();
  }

  return {
    host: HOST,
    port,
    timings: { installMs, startMs },
    start,
    stop: () => stopWith('SIGTERM'),
    crash: () => stopWith('SIGKILL'),
    connectRoot,
    createDatabase: (options = {}) =>
      createTestDatabase({ ...options, server: { host: HOST, port, connectRoot, dropOnCleanup: false } }),
    async destroy() {
      await stopWith('SIGKILL');
      process.removeListener('exit', killOnExit);
      await rm(baseDir, { recursive: true, force: true });
    },
  };
}
