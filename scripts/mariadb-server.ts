// Running a MariaDB/MySQL server binary found on this machine, with a data directory of our own, on a
// loopback port: shared by the private server `npm start` and `npm test` start when no database
// answers (scripts/private-db.ts) and the disposable servers of the fault tests
// (test/helpers/disposable-mariadb.ts). Never used in Lambda.

import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';

const run = promisify(execFile);
export const LOOPBACK = '127.0.0.1';
const BIN_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/usr/local/mysql/bin'];
// Small InnoDB files make the install and each start take about a second instead of five.
const SERVER_OPTIONS = ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=32M', '--skip-name-resolve'];

/** The first of `names` found in the usual binary directories, or undefined. */
export function findBinary(names: readonly string[]): string | undefined {
  for (const dir of BIN_DIRS) {
    for (const name of names) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

export type ServerBinaries = { readonly installDb: string; readonly server: string };

/** mariadbd/mysqld and its install tool, or undefined when this machine has none. */
export function findServerBinaries(): ServerBinaries | undefined {
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db']);
  const server = findBinary(['mariadbd', 'mysqld']);
  return installDb === undefined || server === undefined ? undefined : { installDb, server };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/** As root the server drops to the `mysql` user, so it must own its data directory. */
function userOption(): string[] {
  return process.getuid?.() === 0 ? ['--user=mysql'] : [];
}

/** Creates the system tables in an empty `dataDir`, root logging in over TCP with no password. */
export async function installDataDir(binaries: ServerBinaries, dataDir: string): Promise<void> {
  await run(binaries.installDb, [
    '--no-defaults',
    ...userOption(),
    `--datadir=${dataDir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    ...SERVER_OPTIONS,
  ]);
}

/** The server's command line: only loopback, its own socket, pid file and error log in `dataDir`. */
export function serverArgs(options: {
  dataDir: string;
  port: number;
  errorLog: string;
  extra?: readonly string[];
}): string[] {
  return [
    '--no-defaults',
    ...userOption(),
    `--datadir=${options.dataDir}`,
    `--port=${options.port}`,
    `--bind-address=${LOOPBACK}`,
    `--socket=${join(options.dataDir, 'mariadb.sock')}`,
    `--pid-file=${join(options.dataDir, 'mariadb.pid')}`,
    `--log-error=${options.errorLog}`,
    ...SERVER_OPTIONS,
    ...(options.extra ?? []),
  ];
}

export async function connectRoot(port: number, host = LOOPBACK, connectTimeout = 1000): Promise<Connection> {
  const connection = await createConnection({ host, port, user: 'root', password: '', connectTimeout });
  // Restarts are expected here: an idle root connection losing its server must not crash the process.
  connection.on('error', () => undefined);
  return connection;
}

/**
 * Polls until the server just spawned as `child` takes a root login on `port`, and returns that
 * login. If the server exits or does not answer within `timeoutMs`, kills it and throws with the tail
 * of its error log, naming it as `what`.
 */
export async function awaitRootLogin(
  child: ChildProcess,
  options: { port: number; errorLog: string; timeoutMs: number; pollMs: number; what: string },
): Promise<Connection> {
  let exited = child.exitCode !== null;
  child.once('exit', () => {
    exited = true;
  });
  const startedMs = Date.now();
  while (!exited && Date.now() - startedMs < options.timeoutMs) {
    try {
      return await connectRoot(options.port);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, options.pollMs));
    }
  }
  const log = await readFile(options.errorLog, 'utf8').catch(() => '');
  child.kill('SIGKILL');
  throw new Error(
    `${options.what} did not answer on port ${options.port}:\n${log.split('\n').slice(-15).join('\n')}`,
  );
}

/** Whether a MySQL-protocol server answers at host:port (any answer, even a refused login, counts). */
export async function serverAnswers(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  try {
    const connection = await createConnection({
      host,
      port,
      user: 'eclectyc_probe',
      password: '',
      connectTimeout: timeoutMs,
    });
    await connection.end();
    return true;
  } catch (error) {
    // A MySQL error number means a server answered and refused us: it is there.
    return (
      error instanceof Error && 'errno' in error && typeof error.errno === 'number' && error.errno > 1000
    );
  }
}

/** Anonymous accounts (''@localhost) would shadow 'app'@'%' logins from localhost with error 1045. */
export async function dropAnonymousUsers(root: Connection): Promise<void> {
  const [anonymous] = await root.query<RowDataPacket[]>("SELECT Host FROM mysql.user WHERE User = ''");
  for (const row of anonymous) await root.query("DROP USER ''@?", [String(row.Host)]);
}
