// `npm run bench:round-trip`: one withConnection invocation (connect, SET SESSION, query, end) against
// raw mysql2 connect/query/end on loopback, interleaved in one process so machine noise hits both alike.
// Creates and drops its own database and user.

import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 500);
const host = process.env.DB_HOST ?? '127.0.0.1';
const port = Number(process.env.DB_PORT ?? 3306);
const admin = await createConnection({
  host,
  port,
  user: process.env.DB_ROOT_USER ?? 'root',
  password: process.env.DB_ROOT_PASSWORD ?? '',
});
const suffix = randomBytes(4).toString('hex');
const database = `bench_${suffix}`;
const user = `bench_${suffix}`;
const password = randomBytes(12).toString('hex');
await admin.query(`CREATE DATABASE \`${database}\``);
await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
await admin.query(`GRANT ALL ON \`${database}\`.* TO ?@'%'`, [user]);

const config = loadConfig({
  DB_HOST: host,
  DB_PORT: String(port),
  DB_NAME: database,
  DB_USER: user,
  DB_PASSWORD: password,
});

async function ours(): Promise<void> {
  await withConnection(config.db, (db) => db.query('SELECT 1'));
}

async function raw(): Promise<void> {
  const connection = await createConnection({ host, port, user, password, database });
  try {
    await connection.query('SELECT 1');
  } finally {
    await connection.end();
  }
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

try {
  for (let i = 0; i < 50; i++) {
    await ours();
    await raw();
  }
  const timings = { ours: [] as number[], raw: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate the order each round so neither client always runs on a warmer machine.
    const order: Array<keyof typeof timings> = i % 2 === 0 ? ['ours', 'raw'] : ['raw', 'ours'];
    for (const name of order) {
      const startedAt = performance.now();
      await (name === 'ours' ? ours() : raw());
      timings[name].push(performance.now() - startedAt);
    }
  }
  const rows = (['ours', 'raw'] as const).map((name) => ({
    client: name === 'ours' ? 'withConnection' : 'raw mysql2',
    p50Ms: percentile(timings[name], 50).toFixed(3),
    p99Ms: percentile(timings[name], 99).toFixed(3),
  }));
  console.table(rows);
  const ratio = percentile(timings.ours, 50) / percentile(timings.raw, 50);
  console.log(`rounds: ${ROUNDS}; p50 ratio withConnection / raw mysql2: ${ratio.toFixed(3)}`);
} finally {
  await admin.query(`DROP USER IF EXISTS ?@'%'`, [user]);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
}
