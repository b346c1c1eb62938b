// The baseline both import benchmarks compare against: LOAD DATA of exactly the rows the processor
// stored (its batch id, its decimal text, its dates), so the ratio compares the same rows.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { type ConnectionOptions, createConnection } from 'mysql2';

/** Writes meter_readings to `path` as LOAD DATA's default text (tab-separated, \N for NULL), in key order. */
export async function dumpReadingsTsv(connection: ConnectionOptions, path: string): Promise<number> {
  const dump = createConnection({ ...connection, dateStrings: true });
  const out = createWriteStream(path);
  let count = 0;
  try {
    const rows = dump
      .query({
        sql: 'SELECT * FROM meter_readings ORDER BY meter_id, reading_interval, start_utc',
        rowsAsArray: true,
      })
      .stream();
    let buffer = '';
    for await (const row of rows) {
      if (!Array.isArray(row)) throw new TypeError('rowsAsArray gave a row that is not an array');
      buffer += `${row.map((value: unknown) => (value === null ? '\\N' : String(value))).join('\t')}\n`;
      count++;
      if (buffer.length > 1 << 20) {
        if (!out.write(buffer)) await once(out, 'drain');
        buffer = '';
      }
    }
    out.end(buffer);
    await finished(out);
  } finally {
    dump.end();
  }
  return count;
}
