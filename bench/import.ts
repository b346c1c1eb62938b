// `npm run bench:import`: the real processor against the database's own bulk-load limit, side by side
// in one process. Generates 1,000,320 half-hourly readings (long format, 1,042 meters × 20 days × 48),
// imports them with processImports(), loads the same rows with LOAD DATA LOCAL INFILE into an
// identically-indexed table, re-imports the file (all updates), and imports the same readings in wide
// format. Prints rows/s, the ratio to LOAD DATA, and the processor's peak RSS. Own database, dropped after.
// The processor runs as Lambda runs it: bundled by esbuild into one file (run through tsx instead, its
// loader thread alone adds about 55 MB of RSS). BENCH_WORKER=tsx runs it through tsx.

import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { type Connection, createConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { storeFileChunks } from '../lib/imports/file-store.js';
import { applyMigrations, readMigrations } from '../lib/migrate.js';

const run = promisify(execFile);
const METERS = Number(process.env.BENCH_METERS ?? 1042);
const DAYS = Number(process.env.BENCH_DAYS ?? 20);
const BATCH = Number(process.env.IMPORT_BATCH_SIZE ?? 10_000);
const WRITE_MODE = process.env.IMPORT_WRITE_MODE ?? 'auto';
const WORKER = process.env.BENCH_WORKER === 'tsx' ? 'tsx' : 'bundle';
const host = process.env.DB_HOST ?? '127.0.0.1';
const port = Number(process.env.DB_PORT ?? 3306);
const rootUser = process.env.DB_ROOT_USER ?? 'root';
const rootPassword = process.env.DB_ROOT_PASSWORD ?? '';

const suffix = randomBytes(4).toString('hex');
const database = `bench_import_${suffix}`;
const user = `bench_${suffix}`;
const password = randomBytes(12).toString('hex');
const workDir = await mkdtemp(join(tmpdir(), 'eclectyc-bench-'));
const workerBundle = join(workDir, 'import-worker.mjs');
await build({
  entryPoints: ['bench/import-worker.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: workerBundle,
  // Bundled CommonJS (mysql2) requires Node's built-ins: give the ES module a require.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
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

type WorkerReport = { seconds: number; peakRssMb: number; outcomes: string[] };

/** Runs the processor in a child process (bench/import-worker.ts) so its peak RSS is its own. */
async function runProcessor(): Promise<{
  seconds: number;
  readings: number;
  status: string;
  peakRssMb: number;
}> {
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
      IMPORT_WRITE_MODE: WRITE_MODE,
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
    maxBuffer: 1 << 20,
  });
  const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as WorkerReport;
  const [rows] = await admin.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM \`${database}\`.meter_readings`,
  );
  return {
    seconds: report.seconds,
    readings: Number(rows[0]?.n),
    status: report.outcomes.join(','),
    peakRssMb: report.peakRssMb,
  };
}

async function loadData(connection: Connection, path: string): Promise<number> {
  await connection.query(`TRUNCATE TABLE \`${database}\`.readings_load`);
  const startedAt = performance.now();
  await connection.query({
    sql: `LOAD DATA LOCAL INFILE 'readings.tsv' INTO TABLE \`${database}\`.readings_load
          (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value, reading_type, import_batch_id)`,
    infileStreamFactory: () => createReadStream(path),
  });
  return (performance.now() - startedAt) / 1000;
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
  await queueFile('hh', longPath);
  const first = await runProcessor();

  // The same rows in the table's own column order, meter ids resolved, for LOAD DATA. January is GMT:
  // each local time is its UTC start.
  const [meters] = await admin.query<RowDataPacket[]>(`SELECT id, mpan FROM \`${database}\`.meters`);
  const ids = new Map(meters.map((row) => [String(row.mpan), Number(row.id)]));
  const tsvPath = join(workDir, 'readings.tsv');
  await writeLines(tsvPath, (write) => {
    for (let m = 0; m < METERS; m++)
      for (let d = 0; d < DAYS; d++)
        for (let p = 0; p < 48; p++)
          write(
            `${ids.get(meterCode(m))}\thh\t${dateOf(d)} ${timeOf(p)}\t${dateOf(d)}\t${p + 1}\t${readingValueOf(m, d, p)}\tactual\tbench`,
          );
  });
  const loader = await createConnection({ host, port, user: rootUser, password: rootPassword });
  let loadFirst: number;
  let loadSecond: number;
  let reimport: Awaited<ReturnType<typeof runProcessor>>;
  try {
    loadFirst = await loadData(loader, tsvPath);
    await queueFile('hh', longPath);
    reimport = await runProcessor();
    loadSecond = await loadData(loader, tsvPath);
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
  const wide = await runProcessor();

  const loadSeconds = (loadFirst + loadSecond) / 2;
  const rate = (rows: number, seconds: number) => Math.round(rows / seconds);
  console.table([
    {
      run: 'LOAD DATA LOCAL INFILE (mean of 2)',
      readings: expected,
      seconds: loadSeconds.toFixed(2),
      rowsPerS: rate(expected, loadSeconds),
    },
    {
      run: 'processor, long format, first import',
      readings: first.readings,
      seconds: first.seconds.toFixed(2),
      rowsPerS: rate(expected, first.seconds),
    },
    {
      run: 'processor, long format, re-import (updates)',
      readings: reimport.readings,
      seconds: reimport.seconds.toFixed(2),
      rowsPerS: rate(expected, reimport.seconds),
    },
    {
      run: 'processor, wide format, first import',
      readings: wide.readings,
      seconds: wide.seconds.toFixed(2),
      rowsPerS: rate(expected, wide.seconds),
    },
  ]);
  const ok = [first, reimport, wide].every((run) => run.readings === expected && run.status === 'completed');
  console.log(`readings expected ${expected}; every run completed with exactly that many: ${ok}`);
  console.log(
    `processor / LOAD DATA rate ratio (first import): ${(loadSeconds / first.seconds).toFixed(3)}  (target ≥ 0.6)`,
  );
  console.log(
    `re-import time / first import time: ${(reimport.seconds / first.seconds).toFixed(3)}  (target ≤ 1.6)`,
  );
  const peakRssMb = Math.max(first.peakRssMb, reimport.peakRssMb, wide.peakRssMb);
  console.log(
    `processor peak RSS (its own process, worst of the three runs): ${peakRssMb.toFixed(0)} MB  (target < 200 MB)`,
  );
  console.log(
    `batch size ${BATCH}; write mode ${WRITE_MODE}; processor run as ${WORKER === 'tsx' ? 'TypeScript through tsx' : 'an esbuild bundle'}; node ${process.version}; ${(await admin.query<RowDataPacket[]>('SELECT VERSION() AS v'))[0][0]?.v}`,
  );
  if (!ok) process.exitCode = 1;
} finally {
  await admin.query(`DROP USER IF EXISTS ?@'%'`, [user]);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
  await rm(workDir, { recursive: true, force: true });
}
