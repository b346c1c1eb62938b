// Child process of bench/import.ts: runs the real processor once against the queued jobs and reports
// its time and this process's peak RSS as one JSON line, so the figure is the processor's alone.

import { randomUUID } from 'node:crypto';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { processImports } from '../lib/imports/processor.js';

const config = loadConfig(process.env);
const startedAt = performance.now();
const outcomes = await withConnection(config.db, (db) =>
  processImports(db, {
    leaseOwner: randomUUID(),
    remainingMs: () => 900_000,
    batchSize: config.imports.batchSize,
    stopMarginMs: 1000,
    writeMode: config.imports.writeMode,
  }),
);
const seconds = (performance.now() - startedAt) / 1000;
console.log(
  JSON.stringify({
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    outcomes: outcomes.map((outcome) => outcome.outcome),
  }),
);
