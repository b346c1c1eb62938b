// `npm run bench:s3`: a file of ≥ 10 million half-hourly readings (~400 MB) generated as a stream,
// uploaded through the presigned-POST flow to a local s3rver. Prints generation and upload figures.
// TODO(lead, after the processor is wired to lib/storage/job-file.ts): queue the job via the arrival
// handler, run processImports invocations until it completes, and print rows/s against LOAD DATA on
// the same rows, the processor's peak RSS, the invocation count, and the resumed invocation's
// time-to-checkpoint (ranged GetObject) as a share of its run.

import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createS3Client } from '../lib/storage/s3-client.js';
import { loadStorageConfig } from '../lib/storage/storage-config.js';
import { signUploadForm } from '../lib/storage/upload-policy.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../scripts/local-s3.js';

const READINGS = Number(process.env.BENCH_S3_READINGS ?? 10_000_000);
const METERS = 1000;

/** Long-format HH rows: meter, date, period, value; one row per reading, meters × days × 48. */
async function* hhRows(readings: number): AsyncGenerator<string> {
  yield 'MPAN,Date,Period,Reading,Unit\n';
  const perMeter = Math.ceil(readings / METERS);
  let written = 0;
  let lines: string[] = [];
  for (let meter = 0; meter < METERS && written < readings; meter++) {
    const mpan = `E${String(1_000_000_000 + meter)}`;
    for (let i = 0; i < perMeter && written < readings; i++, written++) {
      const day = new Date(Date.UTC(2023, 0, 1) + Math.floor(i / 48) * 86_400_000);
      const date = `${String(day.getUTCDate()).padStart(2, '0')}/${String(day.getUTCMonth() + 1).padStart(2, '0')}/${day.getUTCFullYear()}`;
      lines.push(`${mpan},${date},${(i % 48) + 1},${((meter * 7 + i) % 1000) / 10},kWh\n`);
      if (lines.length === 10_000) {
        yield lines.join('');
        lines = [];
      }
    }
  }
  if (lines.length > 0) yield lines.join('');
}

const directory = await mkdtemp(join(tmpdir(), 'eclectyc-bench-s3-'));
const s3 = await startLocalS3({ port: 0, directory: join(directory, 's3'), bucket: 'bench-imports' });
try {
  const file = join(directory, 'hh.csv');
  let started = performance.now();
  await pipeline(Readable.from(hhRows(READINGS)), createWriteStream(file));
  const { size } = await stat(file);
  console.log(
    `generated ${READINGS} readings, ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const storage = loadStorageConfig({
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: s3.endpoint,
    AWS_REGION: 'us-east-1',
  });
  const client = createS3Client(storage, { credentials: { ...LOCAL_S3_CREDENTIALS } });
  const form = await signUploadForm(client, {
    bucket: s3.bucket,
    key: 'imports/00000000-0000-4000-8000-000000000000/hh.csv',
    maxBytes: storage.maxObjectBytes,
    expiresInSeconds: 900,
  });
  client.destroy();
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  // fetch's FormData needs a Blob: this holds the file in memory once, on the client side only.
  body.append('file', new Blob([await readFile(file)]));
  started = performance.now();
  const response = await fetch(form.url, { method: 'POST', body });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `presigned POST upload: HTTP ${response.status}, ${(size / 1e6 / seconds).toFixed(0)} MB/s (${seconds.toFixed(1)} s)`,
  );
  console.log(
    'import, LOAD DATA baseline, peak RSS, invocations, resume time: TODO (needs the processor wiring)',
  );
} finally {
  await s3.close();
  await rm(directory, { recursive: true, force: true });
}
