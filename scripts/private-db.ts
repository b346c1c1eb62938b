// The private database server `npm start` and `npm test` start when nothing answers at the default
// host and port: a mariadbd/mysqld found on this machine, its data under <state dir>/mariadb/ and its
// own loopback port (kept in <state dir>/mariadb/port), left running so the next start reuses it and
// its data. `npm run db:stop` stops it. See docs/design.md#private-database-server.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  connectRoot,
  dropAnonymousUsers,
  findServerBinaries,
  freePort,
  installDataDir,
  LOOPBACK,
  serverAnswers,
  serverArgs,
} from './mariadb-server.js';

const START_TIMEOUT_MS = 60_000;

export type PrivateServer = {
  readonly host: string;
  readonly port: number;
  /** What happened: started now (new data or existing), or already running. */
  readonly state: 'created' | 'started' | 'running';
  readonly dir: string;
};

function paths(stateDir: string) {
  const dir = join(stateDir, 'mariadb');
  return {
    dir,
    dataDir: join(dir, 'data'),
    portFile: join(dir, 'port'),
    errorLog: join(dir, 'error.log'),
    pidFile: join(dir, 'data', 'mariadb.pid'),
  };
}

/** The port of the private server under `stateDir`, if one was ever set up there. */
export async function privateServerPort(stateDir: string): Promise<number | undefined> {
  try {
    const port = Number((await readFile(paths(stateDir).portFile, 'utf8')).trim());
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** The private server under `stateDir` if it answers now; never starts one. */
export async function runningPrivateServer(stateDir: string): Promise<PrivateServer | undefined> {
  const port = await privateServerPort(stateDir);
  if (port === undefined || !(await serverAnswers(LOOPBACK, port))) return undefined;
  return { host: LOOPBACK, port, state: 'running', dir: paths(stateDir).dir };
}

/**
 * The private server under `stateDir`, running: reused when it answers, started on its data when it
 * does not, created (system tables, root over TCP with no password) on first use. Undefined when this
 * machine has no server binary.
 */
export async function ensurePrivateServer(stateDir: string): Promise<PrivateServer | undefined> {
  const running = await runningPrivateServer(stateDir);
  if (running !== undefined) return running;
  const binaries = findServerBinaries();
  if (binaries === undefined) return undefined;
  const { dir, dataDir, portFile, errorLog } = paths(stateDir);
  // As root the server runs as `mysql`, which must be able to walk into its data directory.
  await mkdir(dir, { recursive: true });
  await chmod(stateDir, 0o755);
  await chmod(dir, 0o755);
  let port = await privateServerPort(stateDir);
  if (port === undefined || (await serverAnswers(LOOPBACK, port))) {
    port = await freePort();
    await writeFile(portFile, `${port}\n`);
  }
  const created = !existsSync(join(dataDir, 'mysql'));
  if (created) {
    await rm(dataDir, { recursive: true, force: true });
    await installDataDir(binaries, dataDir);
  }
  const child = spawn(binaries.server, serverArgs({ dataDir, port, errorLog }), {
    detached: true,
    stdio: 'ignore',
  });
  let exitCode: number | null = null;
  child.once('exit', (code) => {
    exitCode = code ?? -1;
  });
  child.unref();
  const startedMs = Date.now();
  while (Date.now() - startedMs < START_TIMEOUT_MS && exitCode === null) {
    try {
      const root = await connectRoot(port);
      try {
        if (created) await dropAnonymousUsers(root);
      } finally {
        await root.end();
      }
      return { host: LOOPBACK, port, state: created ? 'created' : 'started', dir };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const log = await readFile(errorLog, 'utf8').catch(() => '');
  child.kill('SIGKILL');
  throw new Error(
    `The private database server (${binaries.server}, data in ${dataDir}) did not answer on port ${port}:\n${log.split('\n').slice(-10).join('\n')}`,
  );
}

/** Stops the private server under `stateDir` (SIGTERM, a clean shutdown); false if none was running. */
export async function stopPrivateServer(stateDir: string, timeoutMs = 30_000): Promise<boolean> {
  const { pidFile } = paths(stateDir);
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const startedMs = Date.now();
  while (Date.now() - startedMs < timeoutMs) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the private database server (pid ${pid}) did not stop within ${timeoutMs / 1000} s`);
}
