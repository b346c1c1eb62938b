// Runs `osls package` offline (no AWS credentials, no telemetry) the way the package-*.test.ts files
// need it: one run at a time per checkout (test/helpers/package-lock.ts), osls's own explanation kept
// when it fails, the CloudFormation template read back.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Template } from './cloudformation.js';
import { withPackageLock } from './package-lock.js';

const run = promisify(execFile);

/** Packages stage ci into `directory` (the caller's temp dir) and returns its update-stack template. */
export async function packageInto<T extends object = Template>(
  directory: string,
  extraArgs: string[] = [],
): Promise<T> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value;
  }
  Object.assign(env, {
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    AWS_SDK_LOAD_CONFIG: '0',
  });
  try {
    await withPackageLock(() =>
      run('node_modules/.bin/osls', ['package', '--stage', 'ci', '--package', directory, ...extraArgs], {
        env,
        timeout: 120_000,
      }),
    );
  } catch (error) {
    // osls explains itself on stdout; without it a failure here says nothing.
    const output = error as { stdout?: unknown; stderr?: unknown };
    throw new Error(`osls package failed:\n${String(output.stdout)}\n${String(output.stderr)}`, {
      cause: error,
    });
  }
  return JSON.parse(await readFile(join(directory, 'cloudformation-template-update-stack.json'), 'utf8'));
}
