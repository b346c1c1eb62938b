// `npm start`'s local S3 when its port is taken: it must refuse with the advice to set LOCAL_S3_PORT,
// not die of an unhandled EADDRINUSE from inside s3rver (which it did).

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalS3Stack } from '../../scripts/local-s3.js';

let blocker: Server;
let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'local-s3-port-'));
  blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  await rm(directory, { recursive: true, force: true });
});

it('refuses a taken LOCAL_S3_PORT with advice, and the port stays with its owner', async () => {
  const address = blocker.address();
  if (typeof address !== 'object' || address === null) throw new Error('the blocker has no port');
  await expect(
    startLocalS3Stack({ LOCAL_S3_PORT: String(address.port), LOCAL_S3_DIRECTORY: directory }),
  ).rejects.toThrow(
    new RegExp(
      `^Cannot start the local S3 endpoint on port ${address.port} \\(Error: listen EADDRINUSE.*set LOCAL_S3_PORT to a free port\\.$`,
    ),
  );
  expect(blocker.listening).toBe(true);
});
