// The processor as Lambda runs it, for the import benchmarks' child processes: bench/import-worker.ts
// bundled by esbuild into one file. Run through tsx instead, its loader thread alone adds about 55 MB
// of RSS to every invocation measured.

import { join } from 'node:path';
import { build } from 'esbuild';

/** Bundles the worker into `directory`; returns the bundle's path. */
export async function buildWorkerBundle(directory: string): Promise<string> {
  const outfile = join(directory, 'import-worker.mjs');
  await build({
    entryPoints: ['bench/import-worker.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    // Bundled CommonJS (mysql2) requires Node's built-ins: give the ES module a require.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return outfile;
}
