// The private database server's start lock and db:stop's pid check, on a state dir of its own:
// two starts at once (npm start and npm run process) make one server that both use, and a pid file
// naming some other process never gets that process signalled.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRoot, findServerBinaries } from '../../scripts/mariadb-server.js';
import { ensurePrivateServer, stopPrivateServer, withStartLock } from '../../scripts/private-db.js';

let stateDir: string;
let bystander: ChildProcess | undefined;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'eclectyc-private-db-'));
});

afterAll(async () => {
  bystander?.kill('SIGKILL');
  await stopPrivateServer(stateDir).catch(() => false);
  // A server this file started whose pid file no longer names it (a failed test) is stopped too.
  for (const pid of await serversOn(join(stateDir, 'mariadb', 'data'))) process.kill(pid, 'SIGTERM');
  await rm(stateDir, { recursive: true, force: true });
}, 60_000);

/** Server processes whose command line names this data directory (read from /proc). */
async function serversOn(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (/(mariadbd|mysqld)$/.test(args[0] ?? '') && args.includes(`--datadir=${dataDir}`)) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

async function answers(port: number): Promise<number> {
  const root = await connectRoot(port, undefined, 5000);
  try {
    const [rows] = await root.query<RowDataPacket[]>('SELECT 41 + 1 AS answer');
    return Number(rows[0]?.answer);
  } finally {
    await root.end();
  }
}

describe('the private database server', () => {
  it('is created once when two starts race: the second waits for the first and uses its server', async () => {
    expect(findServerBinaries()).toBeDefined();
    const [first, second] = await Promise.all([ensurePrivateServer(stateDir), ensurePrivateServer(stateDir)]);
    expect([first?.state, second?.state].sort()).toEqual(['created', 'running']);
    expect(second?.port).toBe(first?.port);
    const port = Number(first?.port);
    expect(await Promise.all([answers(port), answers(port)])).toEqual([42, 42]);
    expect(await serversOn(join(stateDir, 'mariadb', 'data'))).toHaveLength(1);
    // The lock is given back: a later start finds the server without waiting.
    await expect(readFile(join(stateDir, 'mariadb', 'start.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  }, 120_000);

  it('takes over a start lock left by a process that no longer runs', async () => {
    const port = Number((await readFile(join(stateDir, 'mariadb', 'port'), 'utf8')).trim());
    expect(await stopPrivateServer(stateDir)).toBe(true);
    // Pid 2^22 + 1 is past Linux's pid_max ceiling: no process can have it.
    await writeFile(join(stateDir, 'mariadb', 'start.lock'), `${2 ** 22 + 1}\n`);
    const started = await ensurePrivateServer(stateDir);
    expect([started?.state, started?.port]).toEqual(['started', port]);
    expect(await answers(port)).toBe(42);
  }, 120_000);

  it('never shows a start lock without its pid, which a waiter would take for a stale lock and remove', async () => {
    const lockFile = join(stateDir, 'probe.lock');
    let taking = true;
    const seen: string[] = [];
    const reader = (async () => {
      while (taking) {
        const text = await readFile(lockFile, 'utf8').catch(() => undefined);
        if (text !== undefined) seen.push(text);
      }
    })();
    for (let round = 0; round < 300; round += 1) await withStartLock(lockFile, async () => {});
    taking = false;
    await reader;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((text) => text !== `${process.pid}\n`)).toEqual([]);
    // Nothing is left behind: neither the lock nor the file each take links it from.
    expect((await readdir(stateDir)).filter((name) => name.startsWith('probe.lock'))).toEqual([]);
  });

  it('db:stop signals only a server on its data: a pid file naming another process is left alone', async () => {
    const pidFile = join(stateDir, 'mariadb', 'data', 'mariadb.pid');
    const serverPid = (await readFile(pidFile, 'utf8')).trim();
    bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    await writeFile(pidFile, `${bystander.pid}\n`);
    expect(await stopPrivateServer(stateDir)).toBe(false);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    expect(() => process.kill(Number(bystander?.pid), 0)).not.toThrow();
    // With the server's own pid back, it stops.
    await writeFile(pidFile, `${serverPid}\n`);
    expect(await stopPrivateServer(stateDir)).toBe(true);
    expect(await serversOn(join(stateDir, 'mariadb', 'data'))).toEqual([]);
  }, 60_000);
});
