// The private database server `npm start` and `npm test` start when nothing answers at the default
// host and port: a mariadbd/mysqld found on this machine, its data under <state dir>/mariadb/ and its
// own loopback port (kept in <state dir>/mariadb/port), left running so the next start reuses it and
// its data. `npm run db:stop` stops it. See docs/design.md#private-database-server.

import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, link, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import {
  awaitRootLogin,
  dropAnonymousUsers,
  findServerBinaries,
  freePort,
  installDataDir,
  LOOPBACK,
  serverAnswers,
  serverArgs,
} from './mariadb-server.js';

const START_TIMEOUT_MS = 60_000;
/** How long a second start waits for the first to finish creating and starting the server. */
const START_LOCK_WAIT_MS = 3 * START_TIMEOUT_MS;
const START_LOCK_POLL_MS = 100;
const SERVER_NAMES = new Set(['mariadbd', 'mysqld']);

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
    startLock: join(dir, 'start.lock'),
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
  const { dir, startLock } = paths(stateDir);
  // As root the server runs as `mysql`, which must be able to walk into its data directory.
  await mkdir(dir, { recursive: true });
  await chmod(stateDir, 0o755);
  await chmod(dir, 0o755);
  // Two commands starting at once (npm start and npm run process) once both created the data
  // directory and corrupted it: the second waits here, then finds the first's server running.
  return withStartLock(startLock, async () => {
    return (await runningPrivateServer(stateDir)) ?? startPrivateServer(stateDir, binaries);
  });
}

/**
 * Runs `work` holding `lockFile`, which appears with this process's pid already in it: the pid is
 * written to a file of this process's own and hard-linked into place (link fails with EEXIST while
 * another start holds it). Created empty and then written, a waiter that read it in between took the
 * empty lock for a stale one and removed it, and both starts ran. A lock whose pid no longer runs (a
 * start that crashed or was killed) is stale and removed.
 */
export async function withStartLock<T>(lockFile: string, work: () => Promise<T>): Promise<T> {
  const startedMs = Date.now();
  const ownFile = `${lockFile}.${process.pid}.${randomUUID()}`;
  await writeFile(ownFile, `${process.pid}\n`);
  try {
    for (;;) {
      try {
        await link(ownFile, lockFile);
        break;
      } catch (error) {
        if (!hasCode(error, 'EEXIST')) throw error;
      }
      const holder = await readFile(lockFile, 'utf8').catch(() => undefined);
      if (holder !== undefined && !processRuns(Number(holder.trim()))) {
        // Read again just before removing, so a lock another start has just taken is left alone.
        if ((await readFile(lockFile, 'utf8').catch(() => undefined)) === holder) {
          await unlink(lockFile).catch(() => undefined);
        }
        continue;
      }
      if (Date.now() - startedMs > START_LOCK_WAIT_MS) {
        throw new Error(
          `Another start of the private database server (pid ${holder?.trim()}) has held ${lockFile} for ${START_LOCK_WAIT_MS / 1000} s; if no such start is running, remove the file.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, START_LOCK_POLL_MS));
    }
  } finally {
    await unlink(ownFile).catch(() => undefined);
  }
  try {
    return await work();
  } finally {
    await unlink(lockFile).catch(() => undefined);
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return hasCode(error, 'EPERM');
  }
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

/** Starts the server on its data, creating the data on first use. Only under the start lock. */
async function startPrivateServer(
  stateDir: string,
  binaries: NonNullable<ReturnType<typeof findServerBinaries>>,
): Promise<PrivateServer> {
  const { dir, dataDir, portFile, errorLog } = paths(stateDir);
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
  child.unref();
  const root = await awaitRootLogin(child, {
    port,
    errorLog,
    timeoutMs: START_TIMEOUT_MS,
    pollMs: 100,
    what: `The private database server (${binaries.server}, data in ${dataDir})`,
  });
  try {
    if (created) await dropAnonymousUsers(root);
  } finally {
    await root.end();
  }
  return { host: LOOPBACK, port, state: created ? 'created' : 'started', dir };
}

/**
 * Stops the private server under `stateDir` (SIGTERM, a clean shutdown); false if none was running.
 * The pid file can outlive its server (a crash, a reboot) and its pid be reused: only a mariadbd or
 * mysqld started on this data directory is signalled.
 */
export async function stopPrivateServer(stateDir: string, timeoutMs = 30_000): Promise<boolean> {
  const { pidFile, dataDir } = paths(stateDir);
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!(await isServerOn(pid, dataDir))) return false;
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

/** Whether `pid` is a mariadbd/mysqld run with `--datadir=<dataDir>`: /proc on Linux, else ps. */
async function isServerOn(pid: number, dataDir: string): Promise<boolean> {
  let args: string[];
  if (existsSync('/proc/self/cmdline')) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    args = cmdline.split('\0').filter((arg) => arg !== '');
  } else {
    const ps = await promisify(execFile)('ps', ['-o', 'command=', '-p', String(pid)]).catch(() => undefined);
    args = (ps?.stdout ?? '').trim().split(/\s+/);
  }
  const [program = ''] = args;
  return SERVER_NAMES.has(basename(program)) && args.includes(`--datadir=${dataDir}`);
}
