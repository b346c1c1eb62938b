// Migration 003 on a populated meter_readings: every old row either gets its UTC instant, settlement
// date and period, or (a spring-gap local time) moves to meter_readings_unplaced. Checked against
// lib/time for every local half-hour of 2025 and 2026.
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { applyMigrations, readMigrations, splitStatements } from '../../lib/migrate.js';
import { formatUtcSql, PERIOD_MS, settlementDay } from '../../lib/time/settlement-calendar.js';
import { resolveLocalTime } from '../../lib/time/wall-clock.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

let testDb: TestDatabase;

type OldRow = [number, 'hh' | 'daily', string, string, number | null, string, 'actual' | 'estimated', string];

function localTimes(): string[] {
  return Array.from(
    { length: 48 },
    (_, i) => `${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 === 0 ? '00' : '30'}:00`,
  );
}

function datesBetween(from: string, to: string): string[] {
  const dates: string[] = [];
  for (let ms = Date.parse(`${from}T00:00:00Z`); ms <= Date.parse(`${to}T00:00:00Z`); ms += 86_400_000) {
    dates.push(new Date(ms).toISOString().slice(0, 10));
  }
  return dates;
}

/** Rows as the old importer stored them: 48 local half-hours a day, period floor(minutes/30)+1. */
function oldRows(): OldRow[] {
  const rows: OldRow[] = [];
  for (const date of datesBetween('2025-01-01', '2026-12-31')) {
    localTimes().forEach((time, index) => {
      rows.push([
        1,
        'hh',
        date,
        time,
        index + 1,
        `${index}.5`,
        index % 5 === 0 ? 'estimated' : 'actual',
        'b1',
      ]);
    });
    rows.push([1, 'daily', date, '00:00:00', null, '24', 'actual', 'b2']);
  }
  return rows;
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  const migrations = await readMigrations(MIGRATIONS_DIR);
  const before = migrations.filter((migration) => migration.version < 3);
  await withConnection(testDb.config().db, (db) => applyMigrations(db, before));
  await testDb.admin.query(`USE \`${testDb.name}\``);
  await testDb.admin.query("INSERT INTO meters (id, mpan) VALUES (1, 'E1')");
  const rows = oldRows();
  for (let i = 0; i < rows.length; i += 5000) {
    await testDb.admin.query(
      `INSERT INTO meter_readings
         (meter_id, reading_interval, reading_date, reading_time, period_number, reading_value, reading_type, import_batch_id)
       VALUES ?`,
      [rows.slice(i, i + 5000)],
    );
  }
  const applied = await withConnection(testDb.config().db, (db) => applyMigrations(db, migrations));
  expect(applied).toContain(3);
}, 120_000);

afterAll(async () => {
  await testDb.drop();
});

describe('migration 003_reading_instants', () => {
  it('keys meter_readings on (meter_id, reading_interval, start_utc) and drops the local columns', async () => {
    const [keys] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'meter_readings' AND CONSTRAINT_NAME = 'PRIMARY'
        ORDER BY ORDINAL_POSITION`,
      [testDb.name],
    );
    expect(keys.map((row) => row.COLUMN_NAME)).toEqual(['meter_id', 'reading_interval', 'start_utc']);
    const [columns] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT COLUMN_NAME FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'meter_readings' ORDER BY ORDINAL_POSITION`,
      [testDb.name],
    );
    expect(columns.map((row) => row.COLUMN_NAME)).toEqual([
      'meter_id',
      'reading_interval',
      'start_utc',
      'settlement_date',
      'period_number',
      'reading_value',
      'reading_type',
      'import_batch_id',
    ]);
  });

  it('keeps every row: migrated plus unplaced equals what was there', async () => {
    const [[migrated], [unplaced]] = await Promise.all([
      testDb.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM meter_readings'),
      testDb.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM meter_readings_unplaced'),
    ]);
    expect(Number(unplaced[0]?.n)).toBe(4);
    expect(Number(migrated[0]?.n) + Number(unplaced[0]?.n)).toBe(oldRows().length);
  });

  it('gives every half-hour the instant and period lib/time gives its local date and time', async () => {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT DATE_FORMAT(start_utc, '%Y-%m-%d %H:%i:%s') AS start_utc,
              DATE_FORMAT(settlement_date, '%Y-%m-%d') AS settlement_date, period_number
         FROM meter_readings WHERE reading_interval = 'hh' ORDER BY start_utc`,
    );
    const expected: Array<[string, string, number]> = [];
    for (const date of datesBetween('2025-01-01', '2026-12-31')) {
      const day = settlementDay(date);
      if (day === null) throw new Error(date);
      for (let i = 0; i < 48; i++) {
        const resolution = resolveLocalTime(day, i * PERIOD_MS);
        if (resolution.kind === 'nonexistent') continue;
        const utcMs = resolution.kind === 'unique' ? resolution.utcMs : resolution.bstUtcMs;
        expected.push([formatUtcSql(utcMs), date, (utcMs - day.midnightUtcMs) / PERIOD_MS + 1]);
      }
    }
    expected.sort((a, b) => a[0].localeCompare(b[0]));
    const actual = rows.map((row) => `${row.start_utc} ${row.settlement_date} ${row.period_number}`);
    const wanted = expected.map((row) => row.join(' '));
    // Compared as lines, listing the first differences (a deep diff of 35,000 rows takes minutes).
    expect(actual.length).toBe(wanted.length);
    expect(actual.filter((line, i) => line !== wanted[i]).slice(0, 5)).toEqual([]);
  });

  it.each([
    ['2025-10-26', '01:00:00', '2025-10-26 00:00:00', 3],
    ['2025-10-26', '02:00:00', '2025-10-26 02:00:00', 7],
    ['2025-10-26', '23:30:00', '2025-10-26 23:30:00', 50],
    ['2025-03-30', '02:00:00', '2025-03-30 01:00:00', 3],
    ['2025-03-30', '23:30:00', '2025-03-30 22:30:00', 46],
    ['2026-03-29', '00:30:00', '2026-03-29 00:30:00', 2],
    ['2026-07-01', '00:00:00', '2026-06-30 23:00:00', 1],
  ])('moves %s %s local to %s UTC, period %i', async (date, time, start, period) => {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT DATE_FORMAT(start_utc, '%Y-%m-%d %H:%i:%s') AS start_utc, period_number FROM meter_readings
        WHERE reading_interval = 'hh' AND settlement_date = ? AND reading_value = ?`,
      [date, `${localTimes().indexOf(time)}.5`],
    );
    expect(rows.map((row) => [row.start_utc, row.period_number])).toEqual([[start, period]]);
  });

  it('keeps value, type and batch of each reading', async () => {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT reading_value, reading_type, import_batch_id FROM meter_readings
        WHERE reading_interval = 'hh' AND start_utc = '2025-06-01 09:00:00'`,
    );
    expect(rows).toEqual([{ reading_value: '20.5000', reading_type: 'estimated', import_batch_id: 'b1' }]);
  });

  it('starts daily readings at local midnight in UTC, with no period', async () => {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT DATE_FORMAT(settlement_date, '%Y-%m-%d') AS settlement_date,
              DATE_FORMAT(start_utc, '%Y-%m-%d %H:%i:%s') AS start_utc, period_number
         FROM meter_readings WHERE reading_interval = 'daily' AND settlement_date IN ('2025-03-30', '2025-10-26')
        ORDER BY settlement_date`,
    );
    expect(rows).toEqual([
      { settlement_date: '2025-03-30', start_utc: '2025-03-30 00:00:00', period_number: null },
      { settlement_date: '2025-10-26', start_utc: '2025-10-25 23:00:00', period_number: null },
    ]);
  });

  it('moves the spring 01:00–01:59 rows to meter_readings_unplaced with the reason', async () => {
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT DATE_FORMAT(reading_date, '%Y-%m-%d') AS reading_date, reading_time, reading_value, reason
         FROM meter_readings_unplaced
        ORDER BY reading_date, reading_time`,
    );
    const reason = 'Local time did not exist: UK clocks went forward from 01:00 GMT to 02:00 BST that day';
    expect(rows).toEqual([
      { reading_date: '2025-03-30', reading_time: '01:00:00', reading_value: '2.5000', reason },
      { reading_date: '2025-03-30', reading_time: '01:30:00', reading_value: '3.5000', reason },
      { reading_date: '2026-03-29', reading_time: '01:00:00', reading_value: '2.5000', reason },
      { reading_date: '2026-03-29', reading_time: '01:30:00', reading_value: '3.5000', reason },
    ]);
  });

  it('refuses a period outside 1..50', async () => {
    await expect(
      testDb.admin.query(
        `INSERT INTO meter_readings (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value)
         VALUES (1, 'hh', '2030-01-01 00:00:00', '2030-01-01', 51, 1)`,
      ),
    ).rejects.toMatchObject({ errno: 4025 });
  });

  it('leaves no copy table behind and the app user with no session', async () => {
    const [tables] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'meter_readings%'
        ORDER BY TABLE_NAME`,
      [testDb.name],
    );
    expect(tables.map((row) => row.TABLE_NAME)).toEqual(['meter_readings', 'meter_readings_unplaced']);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });
});

describe('migration 003 after a run that stopped before its RENAME', () => {
  let partial: TestDatabase;

  beforeAll(async () => {
    partial = await createTestDatabase();
  });

  afterAll(async () => {
    await partial.drop();
  });

  it('completes from the left-over copy tables with every row once and right', async () => {
    const migrations = await readMigrations(MIGRATIONS_DIR);
    await withConnection(partial.config().db, (db) =>
      applyMigrations(
        db,
        migrations.filter((migration) => migration.version < 3),
      ),
    );
    await partial.admin.query(`USE \`${partial.name}\``);
    await partial.admin.query("INSERT INTO meters (id, mpan) VALUES (1, 'E1')");
    await partial.admin.query(
      `INSERT INTO meter_readings
         (meter_id, reading_interval, reading_date, reading_time, period_number, reading_value, reading_type)
       VALUES (1, 'hh', '2025-10-26', '01:30:00', 4, 7, 'actual'),
              (1, 'hh', '2025-03-30', '01:30:00', 4, 8, 'actual'),
              (1, 'daily', '2025-07-01', '00:00:00', NULL, 9, 'estimated')`,
    );
    // What an interrupted first attempt leaves: both copy tables, one holding a stale value.
    const statements = splitStatements(migrations.find((migration) => migration.version === 3)?.sql ?? '');
    const creates = statements.filter((statement) => statement.startsWith('CREATE TABLE'));
    expect(creates).toHaveLength(2);
    for (const create of creates) await partial.admin.query(create);
    await partial.admin.query(
      `INSERT INTO meter_readings_003 (meter_id, reading_interval, start_utc, settlement_date, period_number, reading_value)
       VALUES (1, 'hh', '2025-10-26 00:30:00', '2025-10-26', 4, 1)`,
    );

    const applied = await withConnection(partial.config().db, (db) => applyMigrations(db, migrations));

    expect(applied).toContain(3);
    const [rows] = await partial.admin.query<RowDataPacket[]>(
      `SELECT reading_interval, DATE_FORMAT(start_utc, '%Y-%m-%d %H:%i:%s') AS start_utc, period_number,
              reading_value, reading_type FROM meter_readings ORDER BY start_utc`,
    );
    expect(rows).toEqual([
      {
        reading_interval: 'daily',
        start_utc: '2025-06-30 23:00:00',
        period_number: null,
        reading_value: '9.0000',
        reading_type: 'estimated',
      },
      {
        reading_interval: 'hh',
        start_utc: '2025-10-26 00:30:00',
        period_number: 4,
        reading_value: '7.0000',
        reading_type: 'actual',
      },
    ]);
    const [unplaced] = await partial.admin.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM meter_readings_unplaced',
    );
    expect(Number(unplaced[0]?.n)).toBe(1);
    expect(await partial.waitForSessions(0)).toBe(0);
  });
});
