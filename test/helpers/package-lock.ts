// `osls package` runs of one service must not overlap: they share `.esbuild/` and `.serverless/` and
// delete each other's files. Test files packaging side by side take this cross-process lock.

import { createHash } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_DIR = join(
  tmpdir(),
  `eclectyc-osls-package-${createHash('sha256').update(process.cwd()).digest('hex').slice(0, 12)}.lock`,
);
/** A lock older than this was left by a crashed run. */
const STALE_MS = 180_000;

export async function withPackageLock<T>(work: () => Promise<T>, timeoutMs = 170_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(LOCK_DIR); // atomic: exactly one process creates it
      break;
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
      const ageMs = Date.now() - ((await stat(LOCK_DIR).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (ageMs > STALE_MS) await rm(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > until) throw new Error(`Timed out waiting for ${LOCK_DIR}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
}
