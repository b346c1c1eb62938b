// `npm run package|deploy [-- osls options]`: checks the connection budget for the same stage and
// params first (scripts/budget.ts), then runs osls with the same arguments. A failed budget stops
// before anything is built or deployed.

import { spawn } from 'node:child_process';
import { checkStageBudget } from './budget.js';
import { OSLS, oslsEnv } from './osls.js';

const [command, ...args] = process.argv.slice(2);

if (command === undefined) {
  console.error('usage: tsx scripts/sls.ts <package|deploy> [osls options]');
  process.exitCode = 2;
} else if (!(await checkStageBudget(args))) {
  console.error(
    `\nRefusing to run osls ${command}: the stage can open more connections than its database allows.`,
  );
  process.exitCode = 1;
} else {
  console.log('');
  const child = spawn(OSLS, [command, ...args], {
    stdio: 'inherit',
    env: oslsEnv(),
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal === null ? 0 : 1);
  });
}
