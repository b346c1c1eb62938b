// A throwaway MariaDB server for destructive fault tests (restart, crash): its own data directory in a
// temp dir, listening on a free loopback port. Never the shared server. Runs as root in CI: the server
// drops to the `mysql` user, so the temp dir is made traversable and the data dir belongs to mysql.

import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import {
  awaitRootLogin,
  connectRoot as connectRootAt,
  dropAnonymousUsers,
  findServerBinaries,
  freePort,
  LOOPBACK as HOST,
  installDataDir,
  serverArgs,
} from '../../scripts/mariadb-server.js';
import { createTestDatabase, type TestDatabase } from './database.js';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

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
  /** Stops the server process (SIGSTOP): its sockets stay open and nothing answers, as on a hung host. */
  freeze(): void;
  /** Lets a frozen server run on (SIGCONT). */
  thaw(): void;
  /** A root connection to the running server. */
  connectRoot(): Promise<Connection>;
  /** A database and an app user with a per-account limit, as createTestDatabase makes them. */
  createDatabase(options?: { maxUserConnections?: number }): Promise<DisposableTestDatabase>;
  /** Kills the server if it runs and deletes its directory. */
  destroy(): Promise<void>;
};

/** `serverOptions` are added to the server's command line at every start (e.g. TLS certificates). */
export async function startDisposableMariaDb(
  options: { serverOptions?: readonly string[] } = {},
): Promise<DisposableMariaDb> {
  const found = findServerBinaries();
  if (found === undefined) throw new Error('no mariadbd/mysqld on this machine: install mariadb-server');
  const binaries = found;
  const baseDir = await mkdtemp(join(tmpdir(), 'eclectyc-mariadb-'));
  // The server runs as mysql when we are root: it must be able to reach its data dir inside ours.
  await chmod(baseDir, 0o755);
  const dataDir = join(baseDir, 'data');
  const errorLog = join(baseDir, 'error.log');
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const connectRoot = (): Promise<Connection> => connectRootAt(port);

  async function start(): Promise<number> {
    const startedMs = Date.now();
    const spawned = spawn(
      binaries.server,
      serverArgs({ dataDir, port, errorLog, extra: options.serverOptions ?? [] }),
      { stdio: 'ignore' },
    );
    child = spawned;
    exited = new Promise((resolve) => spawned.once('exit', () => resolve()));
    const connection = await awaitRootLogin(spawned, {
      port,
      errorLog,
      timeoutMs: START_TIMEOUT_MS,
      pollMs: 50,
      what: 'disposable MariaDB',
    });
    await connection.end();
    return Date.now() - startedMs;
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
  await installDataDir(binaries, dataDir);
  const installMs = Date.now() - installStartedMs;
  const startMs = await start();
  const root = await connectRoot();
  try {
    await dropAnonymousUsers(root);
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
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
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
