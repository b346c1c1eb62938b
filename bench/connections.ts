// `npm run bench:connections`: withConnection next to raw mysql2, serverless-mysql and a module-scope
// mysql2 pool, in one process against one server, each Lambda execution environment modelled as its own
// module state (bench/connections-clients.ts). Workloads: (a) sequential warm invocations of a one-row
// primary-key read, interleaved round-robin; (b) a burst of 200 invocations from 50 environments against
// a user limited to 10 connections, next to an ideal shared pool of exactly 10; (c) 30 environments
// that serve one invocation each and are then frozen. Prints one Markdown table, the targets for ours,
// and where ours spends its time. Creates and drops its own database and users.

import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { measureBreakdown, percentile } from './connections-breakdown.js';
import { countError, runBurst } from './connections-burst.js';
import {
  type Client,
  type Credentials,
  createClients,
  type Environment,
  openIdealPool,
} from './connections-clients.js';
import { endAllSessions, heldSessions, sleep } from './connections-sessions.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1000);
const WARMUP_ROUNDS = 100;
/**
 * A pause after each sequential invocation, outside its timing: raw mysql2's end() resolves once QUIT
 * is written and its socket closes 0.1–2 ms later, so without it that teardown would be timed as part
 * of whichever client runs next (on Lambda it happens after the response). 0 turns it off.
 */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 2);
const BURST_INVOCATIONS = 200;
const BURST_CONCURRENCY = 50;
const USER_LIMIT = 10;
/** How long each burst invocation holds its connection after the read (server-side SLEEP). */
const BURST_HOLD_MS = Number(process.env.BENCH_BURST_HOLD_MS ?? 20);
const FROZEN_ENVIRONMENTS = 30;
const FROZEN_WAIT_MS = 5000;
const AFTER_MS = 1000;
/** Above the 30 frozen environments, so the limit is not what (a) and (c) measure. */
const ROOMY_LIMIT = 50;
const ITEMS = 1000;
const IDEAL = 'ideal pool of 10 (reference)';
/** e.g. `DB_CONNECT_RETRY_CAP_MS=200,DB_CONNECT_RETRY_BASE_MS=10`: loadConfig settings for ours only. */
const OURS_SETTINGS = parseSettings(process.env.BENCH_OURS_ENV ?? '');
const CLIENTS = createClients(OURS_SETTINGS);

const host = process.env.DB_HOST ?? '127.0.0.1';
const port = Number(process.env.DB_PORT ?? 3306);
const admin = await createConnection({
  host,
  port,
  user: process.env.DB_ROOT_USER ?? 'root',
  password: process.env.DB_ROOT_PASSWORD ?? '',
});
const suffix = randomBytes(3).toString('hex');
const database = `bench_conn_${suffix}`;
const users: string[] = [];

type Row = {
  workload: string;
  client: string;
  ok: number;
  errors: Map<string, number>;
  p50Ms?: number;
  p99Ms?: number;
  peak?: number;
  openAfter: number;
  wallMs?: number;
};

async function createUser(tag: string, limit: number): Promise<Credentials> {
  const user = `bc_${suffix}_${tag}`;
  const password = randomBytes(12).toString('hex');
  await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ?`, [user, password, limit]);
  await admin.query(`GRANT SELECT ON \`${database}\`.* TO ?@'%'`, [user]);
  users.push(user);
  return { host, port, user, password, database };
}

function parseSettings(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [name, value] = pair.split('=').map((part) => part.trim());
    if (name && value !== undefined) settings[name] = value;
  }
  return settings;
}

async function sequential(): Promise<Row[]> {
  const runs = await Promise.all(
    CLIENTS.map(async (client, index) => {
      const credentials = await createUser(`s${index}`, ROOMY_LIMIT);
      return {
        client,
        credentials,
        environment: client.createEnvironment(credentials),
        samples: [] as number[],
        errors: new Map<string, number>(),
      };
    }),
  );
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    // Round-robin with a rotating start, so no client always runs first on a warmer machine.
    for (let k = 0; k < runs.length; k++) {
      const run = runs[(k + round + WARMUP_ROUNDS) % runs.length];
      if (run === undefined) continue;
      const startedMs = performance.now();
      try {
        await run.environment.invoke({ id: 1 + ((round + WARMUP_ROUNDS) % ITEMS), holdMs: 0 });
        if (round >= 0) run.samples.push(performance.now() - startedMs);
      } catch (error) {
        if (round >= 0) countError(run.errors, error);
      }
      if (SETTLE_MS > 0) await sleep(SETTLE_MS);
    }
  }
  await sleep(AFTER_MS);
  const rows: Row[] = [];
  for (const run of runs) {
    rows.push({
      workload: `(a) sequential, ${ROUNDS} warm invocations`,
      client: run.client.name,
      ok: run.samples.length,
      errors: run.errors,
      p50Ms: percentile(run.samples, 50),
      p99Ms: percentile(run.samples, 99),
      openAfter: await heldSessions(admin, run.credentials.user),
    });
    await run.environment.release();
    await endAllSessions(admin, run.credentials.user);
  }
  return rows;
}

async function burst(
  client: string,
  credentials: Credentials,
  environments: readonly Environment[],
): Promise<Row> {
  const result = await runBurst({
    admin,
    user: credentials.user,
    environments,
    invocations: BURST_INVOCATIONS,
    concurrency: BURST_CONCURRENCY,
    holdMs: BURST_HOLD_MS,
    afterMs: AFTER_MS,
  });
  return {
    workload: `(b) burst ${BURST_INVOCATIONS} at concurrency ${BURST_CONCURRENCY}, limit ${USER_LIMIT}, hold ${BURST_HOLD_MS} ms`,
    client,
    ...result,
  };
}

async function bursts(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [index, client] of CLIENTS.entries()) {
    const credentials = await createUser(`b${index}`, USER_LIMIT);
    const environments = Array.from({ length: BURST_CONCURRENCY }, () =>
      client.createEnvironment(credentials),
    );
    rows.push(await burst(client.name, credentials, environments));
  }
  const credentials = await createUser('bi', USER_LIMIT);
  rows.push(await burst(IDEAL, credentials, [await openIdealPool(credentials, USER_LIMIT)]));
  return rows;
}

async function frozen(client: Client, index: number): Promise<Row> {
  const credentials = await createUser(`f${index}`, ROOMY_LIMIT);
  const errors = new Map<string, number>();
  // Kept referenced, like a frozen environment's module scope; nothing calls release() before counting.
  const environments: Environment[] = [];
  let ok = 0;
  for (let i = 0; i < FROZEN_ENVIRONMENTS; i++) {
    const environment = client.createEnvironment(credentials);
    environments.push(environment);
    try {
      await environment.invoke({ id: 1 + i, holdMs: 0 });
      ok++;
    } catch (error) {
      countError(errors, error);
    }
  }
  await sleep(FROZEN_WAIT_MS);
  const openAfter = await heldSessions(admin, credentials.user);
  await Promise.all(environments.map((environment) => environment.release()));
  await endAllSessions(admin, credentials.user);
  return {
    workload: `(c) ${FROZEN_ENVIRONMENTS} frozen environments, open after ${FROZEN_WAIT_MS / 1000} s`,
    client: client.name,
    ok,
    errors,
    openAfter,
  };
}

function formatMs(value: number | undefined): string {
  if (value === undefined) return '–';
  return value >= 100 ? value.toFixed(0) : value.toFixed(2);
}

function formatRatio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}×`;
}

function formatErrors(errors: Map<string, number>): string {
  if (errors.size === 0) return '0';
  return [...errors].map(([label, n]) => `${n} ${label}`).join('; ');
}

function markdownTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function printTable(rows: readonly Row[]): void {
  const rawP50 = rows.find((row) => row.workload.startsWith('(a)') && row.client === 'raw mysql2')?.p50Ms;
  const idealWall = rows.find((row) => row.client === IDEAL)?.wallMs;
  const body = rows.map((row) => [
    row.workload,
    row.client,
    String(row.ok),
    formatErrors(row.errors),
    formatMs(row.p50Ms),
    formatMs(row.p99Ms),
    row.peak === undefined ? '–' : String(row.peak),
    String(row.openAfter),
    formatMs(row.wallMs),
    formatRatio(row.p50Ms !== undefined && rawP50 !== undefined ? row.p50Ms / rawP50 : undefined),
    formatRatio(row.wallMs !== undefined && idealWall !== undefined ? row.wallMs / idealWall : undefined),
  ]);
  console.log(
    markdownTable(
      [
        'Workload',
        'Client',
        'OK',
        'Errors',
        'p50 ms',
        'p99 ms',
        'Peak sessions',
        'Open after',
        'Wall ms',
        'p50 vs raw',
        'Wall vs ideal',
      ],
      body,
    ),
  );
}

function printTargets(rows: readonly Row[]): void {
  const ours = rows.filter((row) => row.client === 'withConnection');
  const rawP50 = rows.find((row) => row.workload.startsWith('(a)') && row.client === 'raw mysql2')?.p50Ms;
  const oursP50 = ours.find((row) => row.workload.startsWith('(a)'))?.p50Ms;
  const oursBurst = ours.find((row) => row.workload.startsWith('(b)'));
  const idealWall = rows.find((row) => row.client === IDEAL)?.wallMs;
  const p50Ratio = (oursP50 ?? Number.NaN) / (rawP50 ?? Number.NaN);
  const wallRatio = (oursBurst?.wallMs ?? Number.NaN) / (idealWall ?? Number.NaN);
  const left = ours.map((row) => row.openAfter);
  const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
  console.log('\nTargets for withConnection:');
  console.log(
    `  p50 within 1.10× raw mysql2:              ${formatRatio(p50Ratio)}  ${verdict(p50Ratio <= 1.1)}`,
  );
  console.log(
    `  0 sessions left in every workload:        ${left.join(' / ')}  ${verdict(left.every((n) => n === 0))}`,
  );
  console.log(
    `  at most ${USER_LIMIT} sessions at any instant:        peak ${oursBurst?.peak ?? '?'}  ${verdict((oursBurst?.peak ?? Infinity) <= USER_LIMIT)}`,
  );
  console.log(
    `  burst wall time within 1.4× ideal pool:   ${formatRatio(wallRatio)}  ${verdict(wallRatio <= 1.4)}`,
  );
}

/** Other work on the machine shows in the figures (the burst most): the load before and after. */
const loadAtStart = loadavg();

async function printMachine(): Promise<void> {
  const [rows] = await admin.query<RowDataPacket[]>('SELECT VERSION() AS version');
  const format = (load: number[]) => load.map((n) => n.toFixed(2)).join(' ');
  const load = `${format(loadAtStart)} at the start, ${format(loadavg())} at the end`;
  console.log(
    `Machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ` +
      `server ${String(rows[0]?.version)}, load average ${load}`,
  );
}

try {
  await admin.query(`CREATE DATABASE \`${database}\``);
  await admin.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY, label VARCHAR(40) NOT NULL)`);
  await admin.query(`INSERT INTO \`${database}\`.items (id, label) VALUES ?`, [
    Array.from({ length: ITEMS }, (_, i) => [i + 1, `item ${i + 1}`]),
  ]);
  const startedMs = performance.now();
  const rows = [
    ...(await sequential()),
    ...(await bursts()),
    ...(await Promise.all(CLIENTS.map((client, index) => frozen(client, index)))),
  ];
  const breakdown = await measureBreakdown(
    await createUser('bd', ROOMY_LIMIT),
    Math.min(ROUNDS, 500),
    SETTLE_MS,
  );
  await printMachine();
  const settings =
    Object.keys(OURS_SETTINGS).length === 0 ? '' : `, BENCH_OURS_ENV=${process.env.BENCH_OURS_ENV}`;
  console.log(
    `Command: npm run bench:connections (BENCH_ROUNDS=${ROUNDS}, BENCH_BURST_HOLD_MS=${BURST_HOLD_MS}, ` +
      `BENCH_SETTLE_MS=${SETTLE_MS}${settings})\n`,
  );
  printTable(rows);
  printTargets(rows);
  console.log('\nWhere withConnection spends its time (sequential, p50 ms):');
  console.log(
    markdownTable(
      ['Step', 'p50 ms'],
      breakdown.steps.map(({ step, p50Ms }) => [step, p50Ms.toFixed(3)]),
    ),
  );
  const { connect, setSession, query, end } = breakdown.phases;
  console.log(
    `Step 4 by phase: connect ${connect.toFixed(3)}, SET SESSION ${setSession.toFixed(3)}, ` +
      `query ${query.toFixed(3)}, end ${end.toFixed(3)} ms`,
  );
  console.log(`\nTotal bench time: ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
} finally {
  for (const user of users) await admin.query(`DROP USER IF EXISTS ?@'%'`, [user]);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
}
