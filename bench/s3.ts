// `npm run bench:s3`: a file of ≥ 10 million half-hourly readings (~450 MB) generated as a stream,
// uploaded through the presigned-POST flow (POST /api/import/uploads, a streamed multipart form to a
// local s3rver, the object-created event through the arrival handler), then imported by the real
// processor in as many simulated Lambda invocations as it takes (each a child process stopped by a
// deadline, so the job is released and resumed from its checkpoint's byte offset with a ranged GetObject).
// Prints rows/s against LOAD DATA of the very same rows (dumped from the table the processor filled,
// so the comparison holds whatever the reading columns), the processor's peak RSS, the number of
// invocations, and how long each resumed invocation took to reach its checkpoint. Own database, dropped after.

// First: the handler modules build a config from process.env when imported; the bench passes its own.
import '../test/helpers/env.js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { createApiHandler } from '../functions/api.js';
import { createS3UploadArrivedHandler } from '../functions/s3-upload-arrived.js';
import { hashToken } from '../lib/auth.js';
import type { Config } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import type { JobOutcome } from '../lib/imports/processor.js';
import { openJobFile } from '../lib/storage/job-file.js';
import { createS3Client } from '../lib/storage/s3-client.js';
import { asSqsEvent, LOCAL_S3_CREDENTIALS, type S3Notification, startLocalS3 } from '../scripts/local-s3.js';
import { ADMIN_CONNECTION, createTestDatabase } from '../test/helpers/database.js';
import { httpEvent } from '../test/helpers/http-events.js';
import { fakeContext } from '../test/helpers/lambda.js';
import { migrate } from '../test/helpers/schema.js';
import { median } from './stats.js';
import { dumpReadingsTsv } from './stored-readings.js';
import { buildWorkerBundle } from './worker-bundle.js';

const run = promisify(execFile);
const TARGET_READINGS = Number(process.env.BENCH_S3_READINGS ?? 10_000_000);
const METERS = Number(process.env.BENCH_S3_METERS ?? 5000);
const DAYS = Math.ceil(TARGET_READINGS / (METERS * 48));
const READINGS = METERS * DAYS * 48;
/** Simulated Lambda timeout per invocation: the processor stops (checkpointed) before it. */
const INVOCATION_S = Number(process.env.BENCH_S3_INVOCATION_S ?? 60);
const STOP_MARGIN_MS = Number(process.env.BENCH_S3_STOP_MARGIN_MS ?? 3000);
const BATCH = Number(process.env.IMPORT_BATCH_SIZE ?? 10_000);
const MAX_INVOCATIONS = 200;
// Days from 1 November, all in GMT (UTC = UK time), so no reading falls on a clock change.
const FIRST_DAY_MS = Date.UTC(2023, 10, 1);
if (DAYS > 140) throw new Error(`BENCH_S3_METERS too small: ${DAYS} days would reach British Summer Time`);

const meterCode = (m: number) => `E${String(1_000_000_000 + m)}`;

/** Long-format HH rows, meter by meter: MPAN, date-time, value, unit, type. */
async function* hhRows(): AsyncGenerator<string> {
  yield 'MPAN,ReadDateTime,ReadValue,Unit,ReadingType\n';
  const dates = Array.from({ length: DAYS }, (_, d) =>
    new Date(FIRST_DAY_MS + d * 86_400_000).toISOString().slice(0, 10),
  );
  const times = Array.from(
    { length: 48 },
    (_, p) => `${String(Math.floor(p / 2)).padStart(2, '0')}:${p % 2 === 0 ? '00' : '30'}:00`,
  );
  for (let m = 0; m < METERS; m++) {
    const lines: string[] = [];
    for (let d = 0; d < DAYS; d++) {
      for (let p = 0; p < 48; p++) {
        lines.push(`${meterCode(m)},${dates[d]} ${times[p]},${((m * 7 + d * 3 + p) % 1000) / 10},kWh,A\n`);
      }
    }
    yield lines.join('');
  }
}

/** The browser's multipart form, built as a stream: the signed fields, then the file, never in memory. */
async function postFormStreaming(
  url: string,
  fields: Readonly<Record<string, string>>,
  path: string,
  size: number,
): Promise<number> {
  const boundary = `----eclectyc${randomBytes(12).toString('hex')}`;
  const head = `${Object.entries(fields)
    .map(
      ([name, value]) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
    )
    .join(
      '',
    )}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="hh.csv"\r\nContent-Type: text/csv\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const post = request(url, {
    method: 'POST',
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': Buffer.byteLength(head) + size + Buffer.byteLength(tail),
    },
  });
  const answered = new Promise<number>((resolve, reject) => {
    post.once('response', (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
      response.once('error', reject);
    });
    post.once('error', reject);
  });
  await pipeline(
    Readable.from(
      (async function* () {
        yield Buffer.from(head);
        yield* createReadStream(path);
        yield Buffer.from(tail);
      })(),
    ),
    post,
  );
  return answered;
}

type Invocation = { seconds: number; peakRssMb: number; jobs: JobOutcome[] };

const testDb = await createTestDatabase();
const directory = await mkdtemp(join(tmpdir(), 'eclectyc-bench-s3-'));
// Each invocation runs the processor as Lambda does: bundled (see worker-bundle.ts).
const workerBundle = await buildWorkerBundle(directory);
const arrivals: S3Notification[] = [];
const s3 = await startLocalS3({
  port: 0,
  directory: join(directory, 's3'),
  bucket: 'bench-imports',
  onObjectCreated: async (notification) => {
    arrivals.push(notification);
  },
});
const loadBefore = loadavg();
try {
  await migrate(testDb);
  const token = randomBytes(32).toString('hex');
  const env = {
    API_TOKEN_HASHES: hashToken(token),
    IMPORT_BUCKET: s3.bucket,
    IMPORT_S3_ENDPOINT: s3.endpoint,
    AWS_REGION: 'us-east-1',
    FUNCTION_TIMEOUT_S: String(INVOCATION_S),
  };
  const config = testDb.config(env);

  const file = join(directory, 'hh.csv');
  let started = performance.now();
  await pipeline(Readable.from(hhRows()), createWriteStream(file));
  const { size } = await stat(file);
  console.log(
    `generated ${READINGS} readings (${METERS} meters × ${DAYS} days × 48), ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  // 1. Ask for an upload, as a client would.
  const api = createApiHandler(config, { s3Credentials: { ...LOCAL_S3_CREDENTIALS } });
  const asked = await api(
    httpEvent('POST', '/api/import/uploads', {
      headers: { authorization: `Bearer ${token}` },
      query: { type: 'hh', filename: 'hh.csv' },
    }),
    fakeContext(),
  );
  const ticket = JSON.parse(String(asked.body)) as {
    batch_id: string;
    upload: { url: string; fields: Record<string, string> };
  };
  if (asked.statusCode !== 201) throw new Error(`POST /api/import/uploads answered ${asked.statusCode}`);

  // 2. Upload the file straight to S3 (s3rver), streamed.
  started = performance.now();
  const status = await postFormStreaming(ticket.upload.url, ticket.upload.fields, file, size);
  const uploadSeconds = (performance.now() - started) / 1000;
  console.log(
    `presigned POST upload (streamed multipart): HTTP ${status}, ${(size / 1e6 / uploadSeconds).toFixed(0)} MB/s (${uploadSeconds.toFixed(1)} s)`,
  );
  if (status !== 204) throw new Error(`the upload answered ${status}`);

  // 3. The object-created event, as the SQS queue delivers it, queues the job.
  for (let waited = 0; arrivals.length === 0 && waited < 200; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const [arrival] = arrivals;
  if (arrival === undefined) throw new Error('s3rver sent no object-created event');
  const queued = await createS3UploadArrivedHandler(config)(
    asSqsEvent(arrival, 'bench') as never,
    fakeContext(30_000),
  );
  if (queued.batchItemFailures.length > 0) throw new Error('the arrival handler failed the event');

  // 4. Import in simulated invocations until the job is done.
  const invocations: Invocation[] = [];
  const importStarted = performance.now();
  for (let i = 0; i < MAX_INVOCATIONS; i++) {
    const { stdout } = await run(process.execPath, [workerBundle], {
      env: {
        ...process.env,
        ...env,
        DB_HOST: ADMIN_CONNECTION.host,
        DB_PORT: String(ADMIN_CONNECTION.port),
        DB_NAME: testDb.name,
        DB_USER: testDb.user,
        DB_PASSWORD: testDb.password,
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
        IMPORT_BATCH_SIZE: String(BATCH),
        BENCH_INVOCATION_MS: String(INVOCATION_S * 1000),
        BENCH_STOP_MARGIN_MS: String(STOP_MARGIN_MS),
        POWERTOOLS_LOG_LEVEL: 'WARN',
      },
      maxBuffer: 1 << 22,
    });
    const invocation = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Invocation;
    invocations.push(invocation);
    const job = invocation.jobs[0];
    console.log(
      `invocation ${i + 1}: ${invocation.seconds.toFixed(1)} s, ${job?.outcome ?? 'nothing claimed'}, ` +
        `${job?.processedRows ?? 0} rows committed, peak RSS ${invocation.peakRssMb.toFixed(0)} MB` +
        (job?.resumed === undefined
          ? ''
          : `, resumed (${job.resumed.seek}) at byte ${job.resumed.byteOffset} in ${job.resumed.reachedMs} ms`),
    );
    if (job?.outcome !== 'released') break;
  }
  const importWallSeconds = (performance.now() - importStarted) / 1000;

  const storedReadings = Number((await firstRow('SELECT COUNT(*) AS n FROM meter_readings'))?.n);
  const job = await firstRow(
    'SELECT status, imported_rows, failed_rows FROM import_jobs WHERE batch_id = ?',
    [ticket.batch_id],
  );

  // 5. LOAD DATA of exactly the rows the processor stored, into an identically-indexed empty table.
  const tsv = join(directory, 'readings.tsv');
  await dumpReadingsTsv({ ...ADMIN_CONNECTION, database: testDb.name }, tsv);
  await testDb.admin.query('CREATE TABLE readings_load LIKE meter_readings');
  const loader = await createConnection({ ...ADMIN_CONNECTION, database: testDb.name });
  let loadSeconds: number;
  try {
    started = performance.now();
    await loader.query({
      sql: "LOAD DATA LOCAL INFILE 'readings.tsv' INTO TABLE readings_load",
      infileStreamFactory: () => createReadStream(tsv),
    });
    loadSeconds = (performance.now() - started) / 1000;
  } finally {
    await loader.end();
  }
  const loaded = await firstRow('SELECT COUNT(*) AS n FROM readings_load');

  // 6. What resuming a gzip upload costs: its bytes before the checkpoint are read again and inflated
  // (a range of compressed bytes is not a range of the file). Timed to the first byte past the offset.
  const resumedAt = invocations.flatMap((invocation) => invocation.jobs[0]?.resumed?.byteOffset ?? []);
  const probeOffset = resumedAt.at(-1) ?? Math.floor(size * 0.8);
  const gzipProbe = await timeGzipResume(file, probeOffset, config);

  const processorSeconds = invocations.reduce((sum, invocation) => sum + invocation.seconds, 0);
  const peakRssMb = Math.max(...invocations.map((invocation) => invocation.peakRssMb));
  const resumes = invocations.slice(1).flatMap((invocation) => {
    const resumed = invocation.jobs[0]?.resumed;
    return resumed === undefined
      ? []
      : // Against the invocation's time limit: the last one may run for a second only.
        [{ ...resumed, share: resumed.reachedMs / (INVOCATION_S * 1000) }];
  });
  const worst = resumes.reduce(
    (a, b) => (b.share > a.share ? b : a),
    resumes[0] ?? { share: 0, reachedMs: 0 },
  );
  const exact =
    storedReadings === READINGS && Number(job?.imported_rows) === READINGS && job?.status === 'completed';
  console.table([
    {
      run: 'LOAD DATA LOCAL INFILE (same rows)',
      readings: Number(loaded?.n),
      seconds: loadSeconds.toFixed(1),
      rowsPerS: Math.round(Number(loaded?.n) / loadSeconds),
    },
    {
      run: `processor from S3, ${invocations.length} invocations of ≤ ${INVOCATION_S} s`,
      readings: storedReadings,
      seconds: processorSeconds.toFixed(1),
      rowsPerS: Math.round(storedReadings / processorSeconds),
    },
  ]);
  console.log(
    `readings expected ${READINGS}; stored ${storedReadings}; job ${job?.status}, imported ${job?.imported_rows}, failed ${job?.failed_rows}: exact ${exact}`,
  );
  console.log(
    `processor / LOAD DATA rate ratio: ${(loadSeconds / processorSeconds).toFixed(3)}; wall time of all invocations (with process starts) ${importWallSeconds.toFixed(1)} s`,
  );
  console.log(
    `processor peak RSS (worst invocation, its own process): ${peakRssMb.toFixed(0)} MB  (target < 256 MB)`,
  );
  console.log(
    `resumed invocations: ${resumes.length} (${[...new Set(resumes.map((resume) => resume.seek))].join(', ')}); ` +
      `time to reach the checkpoint: worst ${worst.reachedMs} ms = ${(worst.share * 100).toFixed(2)} % of an invocation's ${INVOCATION_S} s, ` +
      `median ${median(resumes.map((resume) => resume.reachedMs))} ms  (target < 5 %)`,
  );
  console.log(
    `gzip upload (${(gzipProbe.gzipBytes / 1e6).toFixed(0)} MB compressed): reaching byte ${probeOffset} ` +
      `means reading and inflating everything before it: ${gzipProbe.skipMs} ms ` +
      `(a ranged read of the plain object to the same byte: ${gzipProbe.rangeMs} ms)`,
  );
  console.log(
    `batch size ${BATCH}; stop margin ${STOP_MARGIN_MS} ms; node ${process.version}; ${cpus().length} CPUs; ` +
      `load average before ${loadBefore.map((n) => n.toFixed(1)).join(' ')}, after ${loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')}`,
  );
  if (!exact || peakRssMb >= 256) process.exitCode = 1;
} finally {
  await s3.close();
  await testDb.drop();
  await rm(directory, { recursive: true, force: true });
}

/** Time to the first byte at `offset` from a .gz copy of the file (seek 'skip') and from the plain one ('range'). */
async function timeGzipResume(
  file: string,
  offset: number,
  config: Config,
): Promise<{ gzipBytes: number; skipMs: number; rangeMs: number }> {
  const gzipped = `${file}.gz`;
  await pipeline(createReadStream(file), createGzip({ level: 1 }), createWriteStream(gzipped));
  const gzipBytes = (await stat(gzipped)).size;
  const client = createS3Client(config.storage, { credentials: { ...LOCAL_S3_CREDENTIALS } });
  try {
    const bucket = config.storage.bucket ?? '';
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'imports/gzip-probe/hh.csv.gz',
        Body: createReadStream(gzipped),
        ContentLength: gzipBytes,
      }),
    );
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'imports/gzip-probe/hh.csv',
        Body: createReadStream(file),
        ContentLength: (await stat(file)).size,
      }),
    );
    const firstByteMs = (key: string) =>
      withConnection(config.db, async (db) => {
        const startedMs = performance.now();
        const opened = await openJobFile({ db, s3: client }, { kind: 's3', bucket, key, etag: null }, offset);
        for await (const _chunk of opened.stream) break;
        opened.stream.destroy();
        return Math.round(performance.now() - startedMs);
      });
    return {
      gzipBytes,
      skipMs: await firstByteMs('imports/gzip-probe/hh.csv.gz'),
      rangeMs: await firstByteMs('imports/gzip-probe/hh.csv'),
    };
  } finally {
    client.destroy();
    await rm(gzipped, { force: true });
  }
}

async function firstRow(sql: string, values: unknown[] = []): Promise<RowDataPacket | undefined> {
  const [rows] = await testDb.admin.query<RowDataPacket[]>(sql, values);
  return rows[0];
}
