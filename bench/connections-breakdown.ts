// Where withConnection's time goes compared with raw mysql2: the same sequential primary-key read as
// six steps from mysql2's defaults up (raw → our connection options → a small prepared-statement
// cache → the SET SESSION withConnection sends under a deadline → waiting for the server's close →
// the real withConnection, under a deadline as bench:connections calls it), interleaved per round,
// with connect / SET / query / end timed separately.

import { createConnection } from 'mysql2/promise';
import { ownSocket, PREPARED_STATEMENT_CACHE, withConnection } from '../lib/db.js';
import { type Credentials, configFor, PK_READ } from './connections-clients.js';

export type Breakdown = {
  /** p50 ms of each step, in order. */
  readonly steps: ReadonlyArray<{ readonly step: string; readonly p50Ms: number }>;
  /** p50 ms of each phase of step 4. */
  readonly phases: Readonly<Record<'connect' | 'setSession' | 'query' | 'end', number>>;
};

type Phases = { connect: number[]; setSession: number[]; query: number[]; end: number[] };

export async function measureBreakdown(
  credentials: Credentials,
  rounds: number,
  settleMs: number,
): Promise<Breakdown> {
  const config = configFor(credentials);
  // The options lib/db.ts connectOnce passes, so steps 2 and 3 isolate their cost from the statement.
  const ourOptions = {
    ...credentials,
    charset: 'UTF8MB4_UNICODE_CI',
    timezone: 'Z',
    dateStrings: ['DATE' as const],
    connectTimeout: config.db.connectTimeoutMs,
    connectAttributes: { program_name: config.db.programName },
  };
  const ourOptionsWithCache = { ...ourOptions, maxPreparedStatements: PREPARED_STATEMENT_CACHE };
  const phases: Phases = { connect: [], setSession: [], query: [], end: [] };
  // What withConnection sends to MariaDB under a deadline (lib/db.ts createServerBounds): 30 s left.
  const setSql =
    "SET SESSION wait_timeout = ?, time_zone = '+00:00', innodb_lock_wait_timeout = ?, max_statement_time = ?";
  const setValues = () => [config.db.sessionWaitTimeoutSeconds, 31, 30.5];
  // Our own socket, as withConnection gives mysql2, so that the server's close can be awaited.
  const withOwnSocket = () => {
    const socket = ownSocket(credentials.host, credentials.port);
    return { options: { ...ourOptionsWithCache, stream: socket.stream }, closed: socket.closed };
  };

  const steps: Array<{ step: string; run: (record: boolean) => Promise<void>; samples: number[] }> = [
    {
      step: '1 raw mysql2: connect, query, end',
      samples: [],
      run: async () => {
        const connection = await createConnection({ ...credentials });
        await connection.query(PK_READ, [1]);
        await connection.end();
      },
    },
    {
      step: '2 + our connection options',
      samples: [],
      run: async () => {
        const connection = await createConnection(ourOptions);
        await connection.query(PK_READ, [1]);
        await connection.end();
      },
    },
    {
      step: `3 + statement cache of ${PREPARED_STATEMENT_CACHE} (mysql2: 16,000)`,
      samples: [],
      run: async () => {
        const connection = await createConnection(ourOptionsWithCache);
        await connection.query(PK_READ, [1]);
        await connection.end();
      },
    },
    {
      step: '4 + SET SESSION wait_timeout, time_zone, lock wait, statement time',
      samples: [],
      run: async (record) => {
        const t0 = performance.now();
        const connection = await createConnection(ourOptionsWithCache);
        const t1 = performance.now();
        await connection.query(setSql, setValues());
        const t2 = performance.now();
        await connection.query(PK_READ, [1]);
        const t3 = performance.now();
        await connection.end();
        const t4 = performance.now();
        if (record) {
          phases.connect.push(t1 - t0);
          phases.setSession.push(t2 - t1);
          phases.query.push(t3 - t2);
          phases.end.push(t4 - t3);
        }
      },
    },
    {
      step: "5 + waiting for the server's close",
      samples: [],
      run: async () => {
        const socket = withOwnSocket();
        const connection = await createConnection(socket.options);
        await connection.query(setSql, setValues());
        await connection.query(PK_READ, [1]);
        await connection.end();
        await socket.closed();
      },
    },
    {
      step: '6 withConnection (under a deadline)',
      samples: [],
      run: async () => {
        const deadlineMs = Date.now() + 30_000;
        await withConnection(config.db, (db) => db.query(PK_READ, [1]), {
          invocation: { getRemainingTimeInMillis: () => deadlineMs - Date.now() },
        });
      },
    },
  ];

  for (let round = -Math.min(50, rounds); round < rounds; round++) {
    const record = round >= 0;
    for (let k = 0; k < steps.length; k++) {
      const step = steps[(k + Math.max(0, round)) % steps.length];
      if (step === undefined) continue;
      const startedMs = performance.now();
      await step.run(record);
      if (record) step.samples.push(performance.now() - startedMs);
      if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
  }
  return {
    steps: steps.map(({ step, samples }) => ({ step, p50Ms: percentile(samples, 50) })),
    phases: {
      connect: percentile(phases.connect, 50),
      setSession: percentile(phases.setSession, 50),
      query: percentile(phases.query, 50),
      end: percentile(phases.end, 50),
    },
  };
}

export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
