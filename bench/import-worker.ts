// Child process of bench/import.ts and bench/s3.ts: one processor invocation against the queued jobs.
// Reports its time, this process's peak RSS and each job's outcome as one JSON line, so the figures are
// the processor's alone. BENCH_INVOCATION_MS plays Lambda's timeout (the processor stops and releases
// the job before it), BENCH_STOP_MARGIN_MS its stop margin; S3 jobs use the environment's credentials.

import { randomUUID } from 'node:crypto';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { processImports } from '../lib/imports/processor.js';
import { createS3Client } from '../lib/storage/s3-client.js';

const config = loadConfig(process.env);
const invocationMs = Number(process.env.BENCH_INVOCATION_MS ?? 900_000);
const startedAt = performance.now();
const deadline = startedAt + invocationMs;
const outcomes = await withConnection(config.db, (db) =>
  processImports(db, {
    leaseOwner: randomUUID(),
    remainingMs: () => deadline - performance.now(),
    batchSize: config.imports.batchSize,
    stopMarginMs: Number(process.env.BENCH_STOP_MARGIN_MS ?? 1000),
    writeMode: config.imports.writeMode,
    createS3Client: () => createS3Client(config.storage),
  }),
);
const seconds = (performance.now() - startedAt) / 1000;
console.log(
  JSON.stringify({
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    outcomes: outcomes.map((outcome) => outcome.outcome),
    jobs: outcomes,
  }),
);
