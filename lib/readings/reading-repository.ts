// SQL for reading meter readings back: the meter by its code (compared as the importer compares it,
// through the column's case-insensitive collation) and one keyset page of its readings. Takes the
// connection it is given.

import type { RowDataPacket } from 'mysql2/promise';
import type { Db } from '../db.js';
import { formatUtcSql } from '../time/settlement-calendar.js';
import type { ReadingsQuery } from './reading-requests.js';

export type MeterRecord = { readonly id: number; readonly code: string };

export type ReadingView = {
  readonly settlement_date: string;
  readonly period: number | null;
  readonly start: string;
  readonly kwh: string;
  readonly type: 'actual' | 'estimated';
};

export async function findMeterByCode(db: Db, code: string): Promise<MeterRecord | null> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT id, mpan FROM meters WHERE mpan = ? LIMIT 1', [
    code,
  ]);
  const row = rows[0];
  return row === undefined ? null : { id: Number(row.id), code: String(row.mpan) };
}

/**
 * Readings of one meter and interval whose start lies in [from, to), after the cursor, ordered by
 * start: a range scan of the primary key (meter_id, reading_interval, start_utc). Returns up to
 * limit + 1 rows so the caller can tell whether another page follows.
 */
export async function listReadings(db: Db, meterId: number, query: ReadingsQuery): Promise<ReadingView[]> {
  const lower =
    query.afterUtcMs === undefined ? query.fromUtcMs : Math.max(query.fromUtcMs, query.afterUtcMs);
  const lowerOperator = query.afterUtcMs !== undefined && query.afterUtcMs >= query.fromUtcMs ? '>' : '>=';
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT DATE_FORMAT(settlement_date, '%Y-%m-%d') AS settlement_date, period_number,
            DATE_FORMAT(start_utc, '%Y-%m-%dT%H:%i:%sZ') AS start, reading_value, reading_type
       FROM meter_readings
      WHERE meter_id = ? AND reading_interval = ? AND start_utc ${lowerOperator} ? AND start_utc < ?
        AND settlement_date BETWEEN ? AND ?
      ORDER BY start_utc
      LIMIT ?`,
    [
      meterId,
      query.interval,
      formatUtcSql(lower),
      formatUtcSql(query.toUtcMs),
      query.from.date,
      query.to.date,
      query.limit + 1,
    ],
  );
  return rows.map((row) => ({
    settlement_date: String(row.settlement_date),
    period: row.period_number === null ? null : Number(row.period_number),
    start: String(row.start),
    kwh: String(row.reading_value),
    type: row.reading_type === 'estimated' ? 'estimated' : 'actual',
  }));
}
