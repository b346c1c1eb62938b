// `npm run bench:backoff`: what withConnection's connect-retry settings cost. (1) The burst of
// bench:connections (200 invocations from 50 environments against a user limited to 10 connections,
// each holding its connection 20 ms) run through withConnection with several retry caps, next to the
// ideal shared pool of 10, interleaved and repeated: wall time against the pool and refused logins.
// (2) What one login costs, accepted and refused, on the client and (when the server runs on this
// machine, so its CPU time can be read from /proc) on the server. Creates and drops its own database
// and user.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { PREPARED_STATEMENT_CACHE } from '../lib/db.js';
import { createTestDatabase } from '../test/helpers/database.js';
import { percentile } from './connections-breakdown.js';
import { runBurst } from './connections-burst.js';
import { type Credentials, createClients, openIdealPool } from './connections-clients.js';
import { endAllSessions } from './connections-sessions.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const USER_LIMIT = 10;
const LOGINS = Number(process.env.BENCH_LOGINS ?? 1000);
/** [base ms, cap ms]: the default first, then shorter and longer caps, then the defaults before 2026-11-27. */
const SETTINGS: ReadonlyArray<readonly [number, number]> = [
  [20, 50],
  [20, 100],
  [20, 250],
  [20, 1000],
  [50, 2000],
];

const testDb = await createTestDatabase({ maxUserConnections: USER_LIMIT });
const { admin, user } = testDb;
const credentials: Credentials = {
  host: testDb.config().db.host,
  port: testDb.config().db.port,
  user,
  password: testDb.password,
  database: testDb.name,
};

/** The table bench:connections reads: one row per invocation id. */
async function createItems(): Promise<void> {
  await admin.query(`CREATE TABLE \`${testDb.name}\`.items (id INT PRIMARY KEY, label VARCHAR(40) NOT NULL)`);
  await admin.query(`INSERT INTO \`${testDb.name}\`.items (id, label) VALUES ?`, [
    Array.from({ length: 200 }, (_, i) => [i + 1, `item ${i + 1}`]),
  ]);
}

async function abortedConnects(): Promise<number> {
  const [rows] = await admin.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Aborted_connects'");
  return Number(rows[0]?.Value);
}

type Sample = { ratio: number; refused: number; ok: number; errors: number; peak: number; openAfter: number };

async function burstOnce(environments: Parameters<typeof runBurst>[0]['environments']) {
  const refusedBefore = await abortedConnects();
  const result = await runBurst({
    admin,
    user,
    environments,
    invocations: 200,
    concurrency: 50,
    holdMs: 20,
    afterMs: 200,
  });
  return { ...result, refused: (await abortedConnects()) - refusedBefore };
}

async function sweep(): Promise<Map<string, Sample[]>> {
  // One unmeasured round first, so the first measured one does not pay for JIT compilation.
  await burstOnce([await openIdealPool(credentials, USER_LIMIT)]);
  await burstOnce(Array.from({ length: 50 }, () => oursWith(20, 50).createEnvironment(credentials)));
  const samples = new Map<string, Sample[]>(SETTINGS.map(([base, cap]) => [label(base, cap), []]));
  for (let rep = 0; rep < REPS; rep++) {
    const ideal = await burstOnce([await openIdealPool(credentials, USER_LIMIT)]);
    if (ideal.ok !== 200) throw new Error(`the ideal pool failed: ${[...ideal.errors.keys()].join(', ')}`);
    for (const [base, cap] of SETTINGS) {
      const ours = oursWith(base, cap);
      const environments = Array.from({ length: 50 }, () => ours.createEnvironment(credentials));
      const result = await burstOnce(environments);
      samples.get(label(base, cap))?.push({
        ratio: result.wallMs / ideal.wallMs,
        refused: result.refused,
        ok: result.ok,
        errors: [...result.errors.values()].reduce((sum, n) => sum + n, 0),
        peak: result.peak,
        openAfter: result.openAfter,
      });
    }
  }
  return samples;
}

function oursWith(base: number, cap: number) {
  const ours = createClients({
    DB_CONNECT_RETRY_BASE_MS: String(base),
    DB_CONNECT_RETRY_CAP_MS: String(cap),
  })[0];
  if (ours === undefined) throw new Error('no withConnection client');
  return ours;
}

function label(base: number, cap: number): string {
  return `base ${base}, cap ${cap}`;
}

/** The server's process on this machine, for its CPU time; undefined when the server is elsewhere. */
function localServerPid(): string | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const name = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (name === 'mariadbd' || name === 'mysqld') return entry;
    } catch {
      // The process ended while the list was read.
    }
  }
  return undefined;
}

function serverCpuMs(pid: string | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return (ticks * 1000) / ticksPerSecond;
}

type LoginCost = { wallMs: number; clientCpuMs: number; serverCpuMs: number | undefined };

/** mysql2's default statement cache (16,000 slots, allocated per connection) or ours. */
type CacheSize = 'mysql2 default' | typeof PREPARED_STATEMENT_CACHE;

async function loginCost(expectRefusal: boolean, cache: CacheSize): Promise<LoginCost> {
  const options =
    cache === 'mysql2 default' ? { ...credentials } : { ...credentials, maxPreparedStatements: cache };
  const login = async () => {
    let connection: Connection | undefined;
    try {
      connection = await createConnection(options);
    } catch (error) {
      if (!expectRefusal) throw error;
    }
    if (connection !== undefined) {
      await connection.end();
      if (expectRefusal) throw new Error('a login was accepted while the user was at its limit');
    }
  };
  // Unmeasured first, so each kind is timed warm, whatever ran before it.
  for (let i = 0; i < LOGINS / 5; i++) await login();
  const pid = localServerPid();
  const serverBefore = serverCpuMs(pid);
  const clientBefore = process.cpuUsage();
  const startedMs = performance.now();
  for (let i = 0; i < LOGINS; i++) await login();
  const wallMs = performance.now() - startedMs;
  const client = process.cpuUsage(clientBefore);
  const serverAfter = serverCpuMs(pid);
  return {
    wallMs: wallMs / LOGINS,
    clientCpuMs: (client.user + client.system) / 1000 / LOGINS,
    serverCpuMs:
      serverBefore === undefined || serverAfter === undefined
        ? undefined
        : (serverAfter - serverBefore) / LOGINS,
  };
}

async function loginCosts(): Promise<Record<string, LoginCost>> {
  const withDefaultCache = await loginCost(false, 'mysql2 default');
  const accepted = await loginCost(false, PREPARED_STATEMENT_CACHE);
  const holders = await Promise.all(
    Array.from({ length: USER_LIMIT }, () => createConnection({ ...credentials })),
  );
  try {
    return {
      'accepted, mysql2 default statement cache': withDefaultCache,
      [`accepted, statement cache ${PREPARED_STATEMENT_CACHE} (ours)`]: accepted,
      [`refused (user at its limit), statement cache ${PREPARED_STATEMENT_CACHE}`]: await loginCost(
        true,
        PREPARED_STATEMENT_CACHE,
      ),
    };
  } finally {
    await Promise.all(holders.map((holder) => holder.end()));
    await endAllSessions(admin, user);
  }
}

const fixed = (value: number | undefined, digits = 2) => (value === undefined ? '–' : value.toFixed(digits));

try {
  const [versionRows] = await admin.query<RowDataPacket[]>('SELECT VERSION() AS version');
  await createItems();
  const samples = await sweep();
  const costs = await loginCosts();
  console.log(
    `Machine: ${availableParallelism()} CPUs, Node ${process.version}, server ${String(versionRows[0]?.version)}`,
  );
  console.log(`Command: npm run bench:backoff (BENCH_REPS=${REPS}, BENCH_LOGINS=${LOGINS})\n`);
  console.log(
    `Burst 200 at concurrency 50, limit ${USER_LIMIT}, hold 20 ms, through withConnection; ${REPS} runs each, interleaved with the ideal pool of ${USER_LIMIT}:\n`,
  );
  console.log(
    '| retry settings (ms) | wall vs ideal, median (min–max) | refused logins, median | OK | errors | peak | open after |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [setting, runs] of samples) {
    const ratios = runs.map((run) => run.ratio);
    console.log(
      `| ${setting} | ${fixed(percentile(ratios, 50))}× (${fixed(Math.min(...ratios))}–${fixed(Math.max(...ratios))}) | ` +
        `${percentile(
          runs.map((run) => run.refused),
          50,
        )} | ${runs.map((run) => run.ok).join('/')} | ${runs.map((run) => run.errors).join('/')} | ${Math.max(...runs.map((run) => run.peak))} | ` +
        `${Math.max(...runs.map((run) => run.openAfter))} |`,
    );
  }
  console.log(`\nOne login, mean of ${LOGINS} in a row:\n`);
  console.log('| login | wall ms | client CPU ms | server CPU ms |');
  console.log('|---|---|---|---|');
  for (const [kind, cost] of Object.entries(costs)) {
    console.log(
      `| ${kind} | ${fixed(cost.wallMs, 3)} | ${fixed(cost.clientCpuMs, 3)} | ${fixed(cost.serverCpuMs, 3)} |`,
    );
  }
  if (Object.values(costs).some((cost) => cost.serverCpuMs === undefined)) {
    console.log('(server CPU is read from /proc: shown only when the server runs on this machine)');
  }
} finally {
  await testDb.drop();
}
