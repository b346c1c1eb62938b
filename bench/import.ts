// `npm run bench:import`: the real processor against the database's own bulk-load limit, side by side
// in one process. Generates 1,000,320 half-hourly readings (long format, 1,042 meters × 20 days × 48)
// and, for each write path (LOAD DATA LOCAL, then INSERT as a server with local_infile OFF runs it),
// imports them with processImports() into an empty table and re-imports the file (all updates), with
// LOAD DATA LOCAL INFILE of exactly the rows the processor stored into an identically-indexed table right
// before and after;
// then imports the readings in wide format. Prints rows/s, each path's ratio to LOAD DATA, what each
// run sent the server (statements, bytes), and the processor's peak RSS. Own database, dropped after.
//
// It runs on a disposable MariaDB with the shared server's buffer pool, redo log and packet size, so it
// can switch the GLOBAL local_infile OFF around the INSERT path's runs (MariaDB has no SESSION form) and
// the processor reaches that path the way production does, through IMPORT_WRITE_MODE=auto.
// BENCH_SERVER=shared uses DB_HOST's server instead (leaving local_infile alone, forcing
// IMPORT_WRITE_MODE=insert); BENCH_PATHS=insert (or load) runs one path only; BENCH_ROUNDS=N repeats each
// path's LOAD DATA, first import and re-import N times and prints each ratio's median (bench/stats.ts).
// The processor runs as Lambda runs it: bundled by esbuild into one file (run through tsx instead, its
// loader thread alone adds about 55 MB of RSS). BENCH_WORKER=tsx runs it through tsx.

import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type Connection, createConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { storeFileChunks } from '../lib/imports/file-store.js';
import { applyMigrations, readMigrations } from '../lib/migrate.js';
import { startDisposableMariaDb } from '../test/helpers/disposable-mariadb.js';
import { median } from './stats.js';
import { dumpReadingsTsv } from './stored-readings.js';
import { buildWorkerBundle } from './worker-bundle.js';

const run = promisify(execFile);
const METERS = Number(process.env.BENCH_METERS ?? 1042);
const DAYS = Number(process.env.BENCH_DAYS ?? 20);
const BATCH = Number(process.env.IMPORT_BATCH_SIZE ?? 10_000);
const PATHS = (process.env.BENCH_PATHS ?? 'load,insert').split(',') as WritePath[];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const WORKER = process.env.BENCH_WORKER === 'tsx' ? 'tsx' : 'bundle';
const server =
  process.env.BENCH_SERVER === 'shared'
    ? null
    : await startDisposableMariaDb({
        serverOptions: [
          '--innodb-buffer-pool-size=128M',
          '--innodb-log-file-size=96M',
          '--max-allowed-packet=16M',
          '--local-infile=1',
        ],
      });
const host = server?.host ?? process.env.DB_HOST ?? '127.0.0.1';
const port = server?.port ?? Number(process.env.DB_PORT ?? 3306);
const rootUser = server === null ? (process.env.DB_ROOT_USER ?? 'root') : 'root';
const rootPassword = server === null ? (process.env.DB_ROOT_PASSWORD ?? '') : '';
type WritePath = 'load' | 'insert';

const suffix = randomBytes(4).toString('hex');
const database = `bench_import_${suffix}`;
const user = `bench_${suffix}`;
const password = randomBytes(12).toString('hex');
const workDir = await mkdtemp(join(tmpdir(), 'eclectyc-bench-'));
const workerBundle = await buildWorkerBundle(workDir);
const admin = await createConnection({ host, port, user: rootUser, password: rootPassword });
await admin.query(`CREATE DATABASE \`${database}\``);
await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
await admin.query(`GRANT ALL ON \`${database}\`.* TO ?@'%'`, [user]);
const config = loadConfig({
  DB_HOST: host,
  DB_PORT: String(port),
  DB_NAME: database,
  DB_USER: user,
  DB_PASSWORD: password,
  FUNCTION_TIMEOUT_S: '900',
});

const meterCode = (m: number) => `E${String(m).padStart(9, '0')}`;
const dateOf = (d: number) => new Date(Date.UTC(2024, 0, 1 + d)).toISOString().slice(0, 10);
const timeOf = (p: number) => `${String(Math.floor(p / 2)).padStart(2, '0')}:${p % 2 === 0 ? '00' : '30'}:00`;
const readingValueOf = (m: number, d: number, p: number) => ((m * 7 + d * 3 + p) % 1000) / 10 + 0.125;

async function writeLines(path: string, produce: (write: (line: string) => void) => void): Promise<void> {
  const out = createWriteStream(path);
  let buffer = '';
  produce((line) => {
    buffer += `${line}\n`;
    if (buffer.length > 1 << 20) {
      out.write(buffer);
      buffer = '';
    }
  });
  out.end(buffer);
  await finished(out);
}

async function queueFile(type: 'hh', path: string): Promise<string> {
  const batchId = randomUUID();
  const gzipped = gzipSync(await readFile(path));
  await withConnection(config.db, async (db) => {
    const [result] = await db.query<ResultSetHeader>(
      'INSERT INTO import_jobs (batch_id, filename, import_type) VALUES (?, ?, ?)',
      [batchId, 'bench.csv', type],
    );
    await storeFileChunks(db, result.insertId, gzipped);
  });
  return batchId;
}

/** The disposable server's process id, found by its port on its command line (Linux /proc). */
function serverPid(serverPort: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some((arg) => /mariadbd|mysqld/.test(arg)) && args.includes(`--port=${serverPort}`))
        return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no server process for port ${serverPort}`);
}
const pid = server === null ? null : serverPid(server.port);

/** CPU seconds the server process has used so far (user + system; NaN on a shared server). */
function serverCpuSeconds(): number {
  if (pid === null) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, 100 a second on Linux
}

type WorkerReport = { seconds: number; peakRssMb: number; outcomes: string[] };

/** What the server counted: statements by kind and bytes received (all sessions: exact on our own server). */
async function serverCounters(): Promise<Record<string, number>> {
  const [rows] = await admin.query<RowDataPacket[]>(
    `SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_replace', 'Com_insert', 'Com_load', 'Com_set_option', 'Com_commit', 'Questions', 'Bytes_received')`,
  );
  return Object.fromEntries(rows.map((row) => [String(row.Variable_name), Number(row.Value)]));
}

/**
 * Runs the processor in a child process (bench/import-worker.ts) so its peak RSS is its own. On our own
 * server the INSERT path runs with local_infile switched OFF and write mode auto.
 */
async function runProcessor(path: WritePath | 'auto'): Promise<{
  seconds: number;
  readings: number;
  status: string;
  peakRssMb: number;
  serverCpuS: number;
  sent: string;
}> {
  const switchOff = path === 'insert' && server !== null;
  if (switchOff) await admin.query('SET GLOBAL local_infile = 0');
  const before = await serverCounters();
  const cpuBefore = serverCpuSeconds();
  // BENCH_CPU_PROF_DIR=dir writes each processor run's CPU profile there (node --cpu-prof).
  const profile = process.env.BENCH_CPU_PROF_DIR;
  const flags = profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`];
  const worker = WORKER === 'tsx' ? ['--import', 'tsx', 'bench/import-worker.ts'] : [workerBundle];
  const { stdout } = await run(process.execPath, [...flags, ...worker], {
    env: {
      ...process.env,
      DB_HOST: host,
      DB_PORT: String(port),
      DB_NAME: database,
      DB_USER: user,
      DB_PASSWORD: password,
      FUNCTION_TIMEOUT_S: '900',
      IMPORT_BATCH_SIZE: String(BATCH),
      IMPORT_WRITE_MODE: path === 'insert' && !switchOff ? 'insert' : 'auto',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
    maxBuffer: 1 << 20,
  }).finally(async () => {
    if (switchOff) await admin.query('SET GLOBAL local_infile = 1');
  });
  const serverCpuS = serverCpuSeconds() - cpuBefore;
  const after = await serverCounters();
  const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
  const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as WorkerReport;
  const [rows] = await admin.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM \`${database}\`.meter_readings`,
  );
  return {
    seconds: report.seconds,
    readings: Number(rows[0]?.n),
    status: report.outcomes.join(','),
    peakRssMb: report.peakRssMb,
    serverCpuS,
    sent: `${delta('Questions')} statements (${delta('Com_replace')} REPLACE, ${delta('Com_load')} LOAD DATA, ${delta('Com_insert')} INSERT, ${delta('Com_commit')} COMMIT), ${(delta('Bytes_received') / 1e6).toFixed(0)} MB`,
  };
}

/** One LOAD DATA of the stored rows into the empty copy: its seconds and the server's CPU seconds. */
async function loadData(
  connection: Connection,
  path: string,
): Promise<{ seconds: number; serverCpuS: number }> {
  await connection.query(`TRUNCATE TABLE \`${database}\`.readings_load`);
  const cpuBefore = serverCpuSeconds();
  const startedAt = performance.now();
  await connection.query({
    sql: `LOAD DATA LOCAL INFILE 'readings.tsv' INTO TABLE \`${database}\`.readings_load`,
    infileStreamFactory: () => createReadStream(path),
  });
  return { seconds: (performance.now() - startedAt) / 1000, serverCpuS: serverCpuSeconds() - cpuBefore };
}

try {
  await withConnection(config.db, async (db) => applyMigrations(db, await readMigrations('migrations')));
  await admin.query(`CREATE TABLE \`${database}\`.readings_load LIKE \`${database}\`.meter_readings`);
  const longPath = join(workDir, 'long.csv');
  await writeLines(longPath, (write) => {
    write('MPAN,ReadDateTime,ReadValue,Unit,ReadingType');
    for (let m = 0; m < METERS; m++)
      for (let d = 0; d < DAYS; d++)
        for (let p = 0; p < 48; p++)
          write(`${meterCode(m)},${dateOf(d)} ${timeOf(p)},${readingValueOf(m, d, p)},kWh,A`);
  });
  const expected = METERS * DAYS * 48;
  // Meters first (the LOAD DATA rows need their ids): one untimed import, then an empty table per path.
  await queueFile('hh', longPath);
  const warmUp = await runProcessor('auto');
  if (warmUp.status !== 'completed') throw new Error(`warm-up import ended ${warmUp.status}`);

  // LOAD DATA's rows: exactly what the processor stored (batch id, decimal text, dates), in key order.
  const tsvPath = join(workDir, 'readings.tsv');
  const dumped = await dumpReadingsTsv(
    { host, port, user: rootUser, password: rootPassword, database },
    tsvPath,
  );
  if (dumped !== expected) throw new Error(`warm-up stored ${dumped} readings, expected ${expected}`);
  type Run = Awaited<ReturnType<typeof runProcessor>>;
  const paths: {
    path: WritePath;
    round: number;
    first: Run;
    reimport: Run;
    loadSeconds: number;
    loadCpuS: number;
  }[] = [];
  const loader = await createConnection({ host, port, user: rootUser, password: rootPassword });
  try {
    for (let round = 1; round <= ROUNDS; round++)
      for (const path of PATHS) {
        // LOAD DATA right before and right after each path's two runs: each ratio compares neighbours.
        const loadBefore = await loadData(loader, tsvPath);
        await admin.query(`TRUNCATE TABLE \`${database}\`.meter_readings`);
        await queueFile('hh', longPath);
        const first = await runProcessor(path);
        await queueFile('hh', longPath);
        const reimport = await runProcessor(path);
        const loadAfter = await loadData(loader, tsvPath);
        paths.push({
          path,
          round,
          first,
          reimport,
          loadSeconds: (loadBefore.seconds + loadAfter.seconds) / 2,
          loadCpuS: (loadBefore.serverCpuS + loadAfter.serverCpuS) / 2,
        });
      }
  } finally {
    await loader.end();
  }

  await admin.query(`TRUNCATE TABLE \`${database}\`.meter_readings`);
  const widePath = join(workDir, 'wide.csv');
  await writeLines(widePath, (write) => {
    write(
      `MPAN,Date,${Array.from({ length: 48 }, (_, p) => `HH${String(p + 1).padStart(2, '0')}`).join(',')}`,
    );
    for (let m = 0; m < METERS; m++)
      for (let d = 0; d < DAYS; d++) {
        const [y, mo, da] = dateOf(d).split('-');
        write(
          `${meterCode(m)},${da}/${mo}/${y},${Array.from({ length: 48 }, (_, p) => readingValueOf(m, d, p)).join(',')}`,
        );
      }
  });
  await queueFile('hh', widePath);
  const wide = await runProcessor('auto');

  const rate = (rows: number, seconds: number) => Math.round(rows / seconds);
  const label = { load: 'LOAD DATA path', insert: 'INSERT path (local_infile OFF)' } as const;
  const row = (run: string, result: Run) => ({
    run,
    readings: result.readings,
    seconds: result.seconds.toFixed(2),
    rowsPerS: rate(expected, result.seconds),
    serverCpuS: result.serverCpuS.toFixed(1),
    peakRssMb: result.peakRssMb.toFixed(0),
    sent: result.sent,
  });
  console.table([
    ...paths.flatMap(({ path, round, first, reimport, loadSeconds, loadCpuS }) => [
      {
        run: `${ROUNDS > 1 ? `round ${round}: ` : ''}LOAD DATA LOCAL INFILE, around the ${path} runs (mean of 2)`,
        readings: expected,
        seconds: loadSeconds.toFixed(2),
        rowsPerS: rate(expected, loadSeconds),
        serverCpuS: loadCpuS.toFixed(1),
        peakRssMb: '',
        sent: '1 statement',
      },
      row(`processor, ${label[path]}, first import`, first),
      row(`processor, ${label[path]}, re-import (updates)`, reimport),
    ]),
    row('processor, wide format, first import (auto)', wide),
  ]);
  const runs = [...paths.flatMap(({ first, reimport }) => [first, reimport]), wide];
  const ok = runs.every((run) => run.readings === expected && run.status === 'completed');
  console.log(`readings expected ${expected}; every run completed with exactly that many: ${ok}`);
  const targets = { load: { ratio: 0.6, reimport: 1.6 }, insert: { ratio: 0.5, reimport: 1.5 } } as const;
  for (const path of PATHS) {
    const rounds = paths.filter((entry) => entry.path === path);
    const ratios = rounds.map(({ first, loadSeconds }) => loadSeconds / first.seconds);
    const reimports = rounds.map(({ first, reimport }) => reimport.seconds / first.seconds);
    const each = (values: number[]) =>
      values.length > 1 ? ` (rounds: ${values.map((v) => v.toFixed(3)).join(', ')})` : '';
    console.log(
      `${label[path]}: processor / LOAD DATA rate ratio (first import) ${median(ratios).toFixed(3)}${each(ratios)} (target ≥ ${targets[path].ratio}); re-import / first import time ${median(reimports).toFixed(3)}${each(reimports)} (target ≤ ${targets[path].reimport})${rounds.length > 1 ? '; medians' : ''}`,
    );
  }
  const peakRssMb = Math.max(...runs.map((run) => run.peakRssMb));
  console.log(
    `processor peak RSS (its own process, worst of the runs): ${peakRssMb.toFixed(0)} MB  (target < 200 MB)`,
  );
  console.log(
    `batch size ${BATCH}; ${server === null ? `shared server (INSERT path forced with IMPORT_WRITE_MODE=insert)` : 'disposable server, local_infile OFF for the INSERT path, write mode auto'}; processor run as ${WORKER === 'tsx' ? 'TypeScript through tsx' : 'an esbuild bundle'}; node ${process.version}; ${(await admin.query<RowDataPacket[]>('SELECT VERSION() AS v'))[0][0]?.v}`,
  );
  if (!ok) process.exitCode = 1;
} finally {
  await admin.query(`DROP USER IF EXISTS ?@'%'`, [user]);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
  await rm(workDir, { recursive: true, force: true });
  await server?.destroy();
}
