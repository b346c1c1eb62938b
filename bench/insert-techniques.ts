// `npx tsx bench/insert-techniques.ts`: an experiment, not the product's benchmark. Writes the same
// readings into the same table shape with each candidate technique for the no-LOAD-DATA write path,
// batch by batch in transactions as the processor does, and prints each one's time against LOAD DATA
// LOCAL run side by side in this process (first import, then a re-import of the same keys with a new
// batch id). Also prints the server's view of one batch per technique (SHOW PROFILE stages, bytes sent)
// and this process's CPU time, so client and server cost can be told apart. Own database, dropped after.
//
// TECH_READINGS (default 200,000), TECH_BATCH (10,000), TECH_ORDER (key | date: the order rows arrive
// in a batch), TECH_ONLY (comma-separated words a technique's name must hold), TECH_ROUNDS (2: every
// technique runs once per round, right after LOAD DATA, and ratios pair them up). The table is
// meter_readings as migration 003 defines it.
//
// Techniques named "REJECTED literal VALUES" build the VALUES text themselves from checked literals
// instead of placeholders. They are here only as the measurement behind that decision (the house rule
// is that every SQL value is a placeholder; docs/design.md#the-bulk-write-path): the product never
// sends them. The rows they write are this script's own generated numbers, never outside input.

import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { type Connection, createConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { startDisposableMariaDb } from '../test/helpers/disposable-mariadb.js';

const READINGS = Number(process.env.TECH_READINGS ?? 200_000);
const BATCH = Number(process.env.TECH_BATCH ?? 10_000);
const ORDER = process.env.TECH_ORDER ?? 'key';
const ONLY = process.env.TECH_ONLY?.split(',');
const ROUNDS = Number(process.env.TECH_ROUNDS ?? 2);
// TECH_SERVER=disposable: a private server (performance_schema on), so its CPU time is this run's alone.
const DISPOSABLE = process.env.TECH_SERVER === 'disposable';

/** One reading as its column values, in the table's column order. */
type Row = [
  meterId: number,
  interval: 'hh' | 'daily',
  startUtc: string,
  settlementDate: string,
  period: number | null,
  value: string,
  type: 'actual' | 'estimated',
  batchId: string,
];

const schema = {
  columns:
    'meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value, reading_type, import_batch_id',
  ddl: `meter_id BIGINT UNSIGNED NOT NULL, reading_interval ENUM('hh','daily') NOT NULL, start_utc DATETIME NOT NULL,
        settlement_date DATE NOT NULL, period_number TINYINT UNSIGNED NULL, reading_value DECIMAL(12,4) NOT NULL,
        reading_type ENUM('actual','estimated') NOT NULL DEFAULT 'actual', import_batch_id CHAR(36) NULL,
        PRIMARY KEY (meter_id, reading_interval, start_utc)`,
  jsonTypes: [
    'BIGINT UNSIGNED',
    'VARCHAR(5)',
    'DATETIME',
    'DATE',
    'TINYINT UNSIGNED',
    'DECIMAL(12,4)',
    'VARCHAR(9)',
    'CHAR(36)',
  ],
  aLiteral: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/,
  bLiteral: /^\d{4}-\d{2}-\d{2}$/,
} as const;
const COLUMN_NAMES = schema.columns.split(', ');
const UPDATE_CLAUSE = `settlement_date = VALUES(settlement_date), period_number = VALUES(period_number), reading_value = VALUES(reading_value),
  reading_type = VALUES(reading_type), import_batch_id = VALUES(import_batch_id)`;

// ---- the readings: meters × days × 48, as bench/import.ts generates them ----
const METERS = Math.ceil(READINGS / (20 * 48));
const pad2 = (n: number) => String(n).padStart(2, '0');
function makeRows(batchId: string): Row[] {
  const rows: Row[] = [];
  const push = (m: number, d: number, p: number) => {
    const day = new Date(Date.UTC(2024, 0, 1 + d));
    const date = day.toISOString().slice(0, 10);
    const time = `${pad2(Math.floor(p / 2))}:${p % 2 === 0 ? '00' : '30'}:00`;
    const value = String(((m * 7 + d * 3 + p) % 1000) / 10 + 0.125);
    // January is GMT: the local time is the UTC start.
    rows.push([m + 1, 'hh', `${date} ${time}`, date, p + 1, value, 'actual', batchId]);
  };
  // 'key': meter by meter (a long file sorted by meter); 'date': every meter's day d before day d+1
  // (a wide file exported by date), so a batch touches many meters' key ranges.
  if (ORDER === 'key') {
    for (let m = 0; m < METERS; m++) for (let d = 0; d < 20; d++) for (let p = 0; p < 48; p++) push(m, d, p);
  } else {
    for (let d = 0; d < 20; d++) for (let m = 0; m < METERS; m++) for (let p = 0; p < 48; p++) push(m, d, p);
  }
  return rows.slice(0, READINGS);
}

// ---- value text: every value is either a placeholder or a literal proven to be of a known shape ----
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KWH = /^\d{1,8}(?:\.\d{1,4})?$/;
function tupleText(row: Row): string {
  const [meterId, interval, a, b, period, value, type, batchId] = row;
  if (!Number.isSafeInteger(meterId) || meterId < 1) throw new Error('bad meter id');
  if (interval !== 'hh' && interval !== 'daily') throw new Error('bad interval');
  if (!schema.aLiteral.test(a) || !schema.bLiteral.test(b)) throw new Error('bad date/time');
  if (period !== null && !(Number.isInteger(period) && period >= 1 && period <= 50))
    throw new Error('bad period');
  if (!KWH.test(value)) throw new Error('bad value');
  if (type !== 'actual' && type !== 'estimated') throw new Error('bad type');
  if (!UUID.test(batchId)) throw new Error('bad batch id');
  return `(${meterId},'${interval}','${a}','${b}',${period === null ? 'NULL' : period},${value},'${type}','${batchId}')`;
}
function valuesText(rows: readonly Row[]): string {
  const parts = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) parts[i] = tupleText(rows[i] as Row);
  return parts.join(',');
}
function keyCompare(x: Row, y: Row): number {
  return x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
}
function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

type Technique = {
  name: string;
  /** Once per connection, outside the timing (a temporary table, say). */
  setUp?: (c: Connection) => Promise<void>;
  /** Not an upsert (measures what ON DUPLICATE KEY UPDATE costs): no re-import. */
  firstOnly?: boolean;
  /** Writes one batch inside the caller's transaction. */
  write: (c: Connection, table: string, rows: readonly Row[]) => Promise<void>;
};

const insertSql = (table: string, values: string) =>
  `INSERT INTO ${table} (${schema.columns}) VALUES ${values} ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`;

function handBuilt(rowsPerStatement: number, sorted: boolean): Technique['write'] {
  return async (c, table, rows) => {
    const ordered = sorted ? [...rows].sort(keyCompare) : rows;
    for (const part of chunks(ordered, rowsPerStatement)) await c.query(insertSql(table, valuesText(part)));
  };
}

const JSON_COLUMNS = COLUMN_NAMES.map((name, i) => `${name} ${schema.jsonTypes[i]} PATH '$[${i}]'`).join(
  ', ',
);

const techniques: Technique[] = [
  {
    name: 'mysql2 VALUES ?, dates as text (placeholders)',
    write: async (c, table, rows) => {
      await c.query(
        `INSERT INTO ${table} (${schema.columns}) VALUES ? ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`,
        [rows],
      );
    },
  },
  {
    name: 'REJECTED literal VALUES: hand-built VALUES, 1 statement',
    write: handBuilt(Number.MAX_SAFE_INTEGER, false),
  },
  {
    name: 'REJECTED literal VALUES: hand-built VALUES, sorted',
    write: handBuilt(Number.MAX_SAFE_INTEGER, true),
  },
  { name: 'REJECTED literal VALUES: hand-built VALUES, 1,000 rows/stmt', write: handBuilt(1000, false) },
  { name: 'REJECTED literal VALUES: hand-built VALUES, 2,500 rows/stmt', write: handBuilt(2500, false) },
  {
    name: 'REJECTED literal VALUES: hand-built INSERT IGNORE (no ODKU)',
    firstOnly: true,
    write: async (c, table, rows) => {
      await c.query(`INSERT IGNORE INTO ${table} (${schema.columns}) VALUES ${valuesText(rows)}`);
    },
  },
  {
    name: 'REJECTED literal VALUES: hand-built REPLACE, 1 statement',
    write: async (c, table, rows) => {
      await c.query(`REPLACE INTO ${table} (${schema.columns}) VALUES ${valuesText(rows)}`);
    },
  },
  {
    name: 'REJECTED literal VALUES: hand-built REPLACE, batch id as @variable',
    write: async (c, table, rows) => {
      await c.query('SET @import_batch_id = ?', [rows[0]?.[7]]);
      const parts = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const tuple = tupleText(rows[i] as Row);
        parts[i] = `${tuple.slice(0, -39)}@import_batch_id)`;
      }
      await c.query(`REPLACE INTO ${table} (${schema.columns}) VALUES ${parts.join(',')}`);
    },
  },
  {
    name: 'REJECTED literal VALUES: hand-built REPLACE, @variable, numeric date and time',
    write: async (c, table, rows) => {
      await c.query('SET @import_batch_id = ?', [rows[0]?.[7]]);
      const parts = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i] as Row;
        tupleText(row);
        const a = row[2].replace(/[- :]/g, '');
        const b = row[3].replaceAll('-', '');
        parts[i] =
          `(${row[0]},'${row[1]}',${a},${b},${row[4] ?? 'NULL'},${row[5]},'${row[6]}',@import_batch_id)`;
      }
      await c.query(`REPLACE INTO ${table} (${schema.columns}) VALUES ${parts.join(',')}`);
    },
  },
  ...(['ODKU', 'REPLACE'] as const).map(
    (verb): Technique => ({
      name: `mysql2 ${verb} VALUES ?, numeric date and time (placeholders)`,
      write: async (c, table, rows) => {
        // start_utc and settlement_date as the numbers YYYYMMDDhhmmss and YYYYMMDD, still placeholders:
        // mysql2 writes a number as plain digits, which the server converts cheaper than a quoted string.
        const values = rows.map((row) => [
          row[0],
          row[1],
          Number(row[2].replace(/[- :]/g, '')),
          Number(row[3].replaceAll('-', '')),
          row[4],
          row[5],
          row[6],
          row[7],
        ]);
        await c.query(
          verb === 'ODKU' ? insertSql(table, '?') : `REPLACE INTO ${table} (${schema.columns}) VALUES ?`,
          [values],
        );
      },
    }),
  ),
  {
    name: 'JSON_TABLE(?) one statement',
    write: async (c, table, rows) => {
      await c.query(
        `INSERT INTO ${table} (${schema.columns})
         SELECT ${schema.columns} FROM JSON_TABLE(?, '$[*]' COLUMNS (${JSON_COLUMNS})) AS j
         ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`,
        [JSON.stringify(rows)],
      );
    },
  },
  {
    name: 'JSON_TABLE(?) via execute() (no escaping)',
    write: async (c, table, rows) => {
      await c.execute(
        `INSERT INTO ${table} (${schema.columns})
         SELECT ${schema.columns} FROM JSON_TABLE(?, '$[*]' COLUMNS (${JSON_COLUMNS})) AS j
         ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`,
        [JSON.stringify(rows)],
      );
    },
  },
  {
    name: 'JSON_TABLE(?) REPLACE via execute()',
    write: async (c, table, rows) => {
      await c.execute(
        `REPLACE INTO ${table} (${schema.columns})
         SELECT ${schema.columns} FROM JSON_TABLE(?, '$[*]' COLUMNS (${JSON_COLUMNS})) AS j`,
        [JSON.stringify(rows)],
      );
    },
  },
  {
    name: 'REJECTED literal VALUES: hand-built REPLACE, 2,500 rows/stmt, next built while server runs',
    write: async (c, table, rows) => {
      const parts = chunks(rows, 2500);
      let text = valuesText(parts[0] ?? []);
      for (let i = 0; i < parts.length; i++) {
        const running = c.query(`REPLACE INTO ${table} (${schema.columns}) VALUES ${text}`);
        const next = parts[i + 1];
        if (next !== undefined) text = valuesText(next);
        await running;
      }
    },
  },
  {
    name: 'mysql2 REPLACE VALUES ?, 2,500 rows/stmt, next built while server runs',
    write: async (c, table, rows) => {
      // The rejected literal technique's shape, with mysql2 escaping every value (placeholders).
      const parts = chunks(rows, 2500);
      let sql = c.format(`REPLACE INTO ${table} (${schema.columns}) VALUES ?`, [parts[0] ?? []]);
      for (let i = 0; i < parts.length; i++) {
        const running = c.query(sql);
        const next = parts[i + 1];
        if (next !== undefined) sql = c.format(`REPLACE INTO ${table} (${schema.columns}) VALUES ?`, [next]);
        await running;
      }
    },
  },
  {
    name: 'REJECTED literal VALUES: hand-built REPLACE, sorted, 2,500 rows/stmt, next built while server runs',
    write: async (c, table, rows) => {
      const parts = chunks([...rows].sort(keyCompare), 2500);
      let text = valuesText(parts[0] ?? []);
      for (let i = 0; i < parts.length; i++) {
        const running = c.query(`REPLACE INTO ${table} (${schema.columns}) VALUES ${text}`);
        const next = parts[i + 1];
        if (next !== undefined) text = valuesText(next);
        await running;
      }
    },
  },
  {
    name: 'REJECTED literal VALUES: hand-built ODKU, 2,500 rows/stmt, next built while server runs',
    write: async (c, table, rows) => {
      const parts = chunks(rows, 2500);
      let text = valuesText(parts[0] ?? []);
      for (let i = 0; i < parts.length; i++) {
        const running = c.query(insertSql(table, text));
        const next = parts[i + 1];
        if (next !== undefined) text = valuesText(next);
        await running;
      }
    },
  },
  {
    name: 'temp table + INSERT…SELECT merge',
    setUp: async (c) => {
      await c.query(`CREATE TEMPORARY TABLE staging (${schema.ddl}) ENGINE=InnoDB`);
    },
    write: async (c, table, rows) => {
      await c.query(`INSERT INTO staging (${schema.columns}) VALUES ?`, [rows]);
      await c.query(
        `INSERT INTO ${table} (${schema.columns}) SELECT ${schema.columns} FROM staging ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`,
      );
      await c.query('DELETE FROM staging');
    },
  },
  {
    name: 'temp MEMORY table + merge',
    setUp: async (c) => {
      await c.query(`CREATE TEMPORARY TABLE staging_mem (${schema.ddl}) ENGINE=MEMORY`);
    },
    write: async (c, table, rows) => {
      await c.query(`INSERT INTO staging_mem (${schema.columns}) VALUES ?`, [rows]);
      await c.query(
        `INSERT INTO ${table} (${schema.columns}) SELECT ${schema.columns} FROM staging_mem ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`,
      );
      await c.query('TRUNCATE TABLE staging_mem');
    },
  },
  {
    name: 'split: probe keys, INSERT new / ODKU rest',
    write: async (c, table, rows) => {
      // Which of this batch's keys exist: one range read over the meters and instants the batch touches.
      const meters = [...new Set(rows.map((row) => row[0]))];
      let low = rows[0]?.[2] ?? '';
      let high = low;
      for (const row of rows) {
        if (row[2] < low) low = row[2];
        if (row[2] > high) high = row[2];
      }
      const [existing] = await c.query<RowDataPacket[]>({
        sql: `SELECT meter_id, reading_interval, ${COLUMN_NAMES[2]} FROM ${table}
               WHERE meter_id IN (?) AND ${COLUMN_NAMES[2]} BETWEEN ? AND ?`,
        values: [meters, low, high],
        rowsAsArray: true,
        dateStrings: true,
      });
      const seen = new Set(existing.map((key) => (key as unknown as unknown[]).join('|')));
      const fresh: Row[] = [];
      const old: Row[] = [];
      for (const row of rows) (seen.has(`${row[0]}|${row[1]}|${row[2]}`) ? old : fresh).push(row);
      if (fresh.length > 0) await c.query(`INSERT INTO ${table} (${schema.columns}) VALUES ?`, [fresh]);
      if (old.length > 0) await c.query(insertSql(table, '?'), [old]);
    },
  },
  {
    name: 'prepared execute(), 1,000 rows/stmt',
    write: async (c, table, rows) => {
      for (const part of chunks(rows, 1000)) {
        const tuples = `(?,?,?,?,?,?,?,?)${',(?,?,?,?,?,?,?,?)'.repeat(part.length - 1)}`;
        await c.execute(
          `INSERT INTO ${table} (${schema.columns}) VALUES ${tuples} ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`,
          part.flat(),
        );
      }
    },
  },
  ...[
    [
      'ODKU',
      (t: string, tuples: string) =>
        `INSERT INTO ${t} (${schema.columns}) VALUES ${tuples} ON DUPLICATE KEY UPDATE ${UPDATE_CLAUSE}`,
    ],
    ['REPLACE', (t: string, tuples: string) => `REPLACE INTO ${t} (${schema.columns}) VALUES ${tuples}`],
  ].map(
    ([verb, sql]): Technique => ({
      name: `prepared ${verb as string}, 5,000 rows/stmt`,
      write: async (c, table, rows) => {
        for (const part of chunks(rows, 5000)) {
          const tuples = `(?,?,?,?,?,?,?,?)${',(?,?,?,?,?,?,?,?)'.repeat(part.length - 1)}`;
          const values: (string | number | null)[] = [];
          for (const row of part) for (const value of row) values.push(value);
          await c.execute((sql as (t: string, tuples: string) => string)(table, tuples), values);
        }
      },
    }),
  ),
];

// ---- the LOAD DATA baseline, as lib/imports/reading-repository.ts loadReadings sends it ----
async function loadData(c: Connection, table: string, rows: readonly Row[]): Promise<void> {
  let text = '';
  for (const r of rows)
    text += `${r[0]}\t${r[1]}\t${r[2]}\t${r[3]}\t${r[4] === null ? '\\N' : r[4]}\t${r[5]}\t${r[6]}\t${r[7]}\n`;
  const data = Buffer.from(text);
  await c.query({
    sql: `LOAD DATA LOCAL INFILE 'r.tsv' REPLACE INTO TABLE ${table} CHARACTER SET utf8mb4
          FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${schema.columns})`,
    infileStreamFactory: () => Readable.from([data]),
  });
}

type Phase = { seconds: number; clientCpuS: number; serverCpuS: number; bytesToServer: number };

const CLOCK_TICKS_PER_S = 100;
/** CPU seconds the server process has used so far (NaN on the shared server, which others load too). */
function serverCpuSeconds(pid: number | null): number {
  if (pid === null) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** The disposable server's pid, found by the port on its command line. */
function serverPid(port: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline.some((arg) => /mariadbd|mysqld/.test(arg)) && cmdline.includes(`--port=${port}`))
        return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no server process for port ${port}`);
}

async function sessionBytes(c: Connection): Promise<number> {
  const [rows] = await c.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Bytes_received'");
  return Number(rows[0]?.Value);
}

/** Writes every row in batches, each in a transaction with a checkpoint-sized UPDATE, as the processor does. */
async function importAll(
  c: Connection,
  pid: number | null,
  table: string,
  rows: readonly Row[],
  write: Technique['write'],
): Promise<Phase> {
  const bytesBefore = await sessionBytes(c);
  const cpu = process.cpuUsage();
  const serverBefore = serverCpuSeconds(pid);
  const startedAt = performance.now();
  for (const batch of chunks(rows, BATCH)) {
    await c.beginTransaction();
    await write(c, table, batch);
    await c.query<ResultSetHeader>('UPDATE checkpoint SET n = n + 1 WHERE id = 1');
    await c.commit();
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    seconds,
    clientCpuS: (used.user + used.system) / 1e6,
    serverCpuS: serverCpuSeconds(pid) - serverBefore,
    bytesToServer: (await sessionBytes(c)) - bytesBefore,
  };
}

/** SHOW PROFILE of the second batch written with this technique (the first fills an empty table). */
async function profileOneBatch(
  c: Connection,
  write: Technique['write'],
  rows: readonly Row[],
): Promise<string> {
  await c.query('DROP TABLE IF EXISTS profiled');
  await c.query(`CREATE TABLE profiled (${schema.ddl}) ENGINE=InnoDB`);
  await write(c, 'profiled', rows.slice(0, BATCH));
  const [before] = await c.query<RowDataPacket[]>('SHOW PROFILES');
  const seenUpTo = Math.max(0, ...before.map((profile) => Number(profile.Query_ID)));
  await c.query('SET profiling_history_size = 100, profiling = 1');
  await write(c, 'profiled', rows.slice(BATCH, 2 * BATCH));
  await c.query('SET profiling = 0');
  const [profiles] = await c.query<RowDataPacket[]>('SHOW PROFILES');
  const stages = new Map<string, number>();
  for (const profile of profiles) {
    if (Number(profile.Query_ID) <= seenUpTo || !/profiled|staging/.test(String(profile.Query))) continue;
    const [steps] = await c.query<RowDataPacket[]>(`SHOW PROFILE FOR QUERY ${Number(profile.Query_ID)}`);
    for (const step of steps)
      stages.set(String(step.Status), (stages.get(String(step.Status)) ?? 0) + Number(step.Duration));
  }
  const total = [...stages.values()].reduce((a, b) => a + b, 0);
  return `${(total * 1000).toFixed(0)} ms: ${[...stages]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([stage, s]) => `${stage} ${(s * 1000).toFixed(0)}`)
    .join(', ')}`;
}

const server = DISPOSABLE
  ? await startDisposableMariaDb({
      serverOptions: [
        '--innodb-buffer-pool-size=256M',
        '--innodb-log-file-size=96M',
        '--max-allowed-packet=16M',
      ],
    })
  : null;
const host = server?.host ?? process.env.DB_HOST ?? '127.0.0.1';
const port = server?.port ?? Number(process.env.DB_PORT ?? 3306);
const pid = server === null ? null : serverPid(port);
const suffix = randomBytes(4).toString('hex');
const database = `bench_tech_${suffix}`;
const admin = await createConnection({ host, port, user: 'root', password: '' });
await admin.query(`CREATE DATABASE \`${database}\``);
const c = await createConnection({ host, port, user: 'root', password: '', database });
try {
  await c.query('CREATE TABLE checkpoint (id INT PRIMARY KEY, n INT NOT NULL)');
  await c.query('INSERT INTO checkpoint VALUES (1, 0)');
  const firstRows = makeRows(randomUUID());
  const reimportId = randomUUID();
  const secondRows = firstRows.map((row) => {
    const copy: Row = [...row];
    copy[7] = reimportId;
    return copy;
  });

  async function measure(technique: Technique) {
    await c.query('DROP TABLE IF EXISTS target');
    await c.query(`CREATE TABLE target (${schema.ddl}) ENGINE=InnoDB`);
    await c.query('DROP TEMPORARY TABLE IF EXISTS staging, staging_mem');
    if (technique.setUp) await technique.setUp(c);
    const first = await importAll(c, pid, 'target', firstRows, technique.write);
    const again = technique.firstOnly ? null : await importAll(c, pid, 'target', secondRows, technique.write);
    const [count] = await c.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n, SUM(import_batch_id = ?) AS latest FROM target',
      [technique.firstOnly ? firstRows[0]?.[7] : reimportId],
    );
    if (Number(count[0]?.n) !== firstRows.length || Number(count[0]?.latest) !== firstRows.length)
      throw new Error(`${technique.name}: stored ${count[0]?.n} rows, ${count[0]?.latest} re-imported`);
    return { first, again };
  }

  const load: Technique = { name: 'LOAD DATA LOCAL (baseline)', write: loadData };
  const chosen = [load, ...techniques.filter((t) => !ONLY || ONLY.some((word) => t.name.includes(word)))];
  type Sample = { first: Phase; again: Phase | null; loadFirst: Phase; loadAgain: Phase };
  const samples = new Map<string, Sample[]>(chosen.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const technique of chosen.slice(1)) {
      // LOAD DATA right before each technique, so each ratio compares neighbours in time.
      const base = await measure(load);
      const { first, again } = await measure(technique);
      samples
        .get(technique.name)
        ?.push({ first, again, loadFirst: base.first, loadAgain: base.again ?? base.first });
      samples.get(load.name)?.push({
        first: base.first,
        again: base.again,
        loadFirst: base.first,
        loadAgain: base.again ?? base.first,
      });
      process.stderr.write(
        `${technique.name}: first ${first.seconds.toFixed(2)} s (LOAD ${base.first.seconds.toFixed(2)}), re ${again?.seconds.toFixed(2)} (LOAD ${base.again?.seconds.toFixed(2)}), cpu client ${first.clientCpuS.toFixed(2)} server ${first.serverCpuS.toFixed(2)} (LOAD ${base.first.clientCpuS.toFixed(2)}/${base.first.serverCpuS.toFixed(2)})\n`,
      );
    }
  }
  process.stderr.write('\n');
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const rows = [];
  for (const technique of chosen) {
    const list = samples.get(technique.name) ?? [];
    await c.query('DROP TEMPORARY TABLE IF EXISTS staging, staging_mem');
    if (technique.setUp) await technique.setUp(c);
    const profile = await profileOneBatch(c, technique.write, firstRows);
    const againList = list.flatMap((sample) =>
      sample.again === null ? [] : [sample.again.seconds / sample.first.seconds],
    );
    rows.push({
      technique: technique.name,
      firstS: mean(list.map((sample) => sample.first.seconds)).toFixed(2),
      'vs LOAD': mean(list.map((sample) => sample.loadFirst.seconds / sample.first.seconds)).toFixed(3),
      're/first': againList.length === 0 ? '-' : mean(againList).toFixed(2),
      're vs LOAD re': mean(
        list.flatMap((sample) =>
          sample.again === null ? [] : [sample.loadAgain.seconds / sample.again.seconds],
        ),
      ).toFixed(2),
      clientCpuS: mean(list.map((sample) => sample.first.clientCpuS)).toFixed(2),
      serverCpuS: mean(list.map((sample) => sample.first.serverCpuS)).toFixed(2),
      MB: (mean(list.map((sample) => sample.first.bytesToServer)) / 1e6).toFixed(1),
      'one batch, SHOW PROFILE': profile,
    });
    await c.query('DROP TEMPORARY TABLE IF EXISTS staging, staging_mem');
  }
  console.table(rows);
  console.log(
    `${firstRows.length} readings, batch ${BATCH}, order ${ORDER}, ${ROUNDS} round(s), ${server === null ? 'shared' : 'disposable'} server`,
  );
} finally {
  await c.end();
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
  await server?.destroy();
}
