// `npm start`: bootstraps the local stack (database, migrations, app and monitor users, an API token),
// then serves the real handlers through serverless-offline: the API on http://localhost:3000 and both
// schedules at their configured rates. Prints a ready-to-run curl once the API answers.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../lib/config.js';
import {
  explainConnectFailure,
  LOCAL_CREDENTIALS_FILE,
  loadOrCreateCredentials,
  localEnv,
  prepareLocalStack,
  sha256Hex,
} from './local-db.js';

const env = localEnv(process.env);
const adminConfig = loadConfig({
  ...env,
  DB_USER: env.LOCAL_ADMIN_USER ?? 'root',
  DB_PASSWORD: env.LOCAL_ADMIN_PASSWORD ?? '',
});
const { credentials } = await loadOrCreateCredentials();
try {
  await prepareLocalStack(adminConfig, credentials, {
    appMaxUserConnections: Number(env.LOCAL_APP_MAX_USER_CONNECTIONS ?? 20),
  });
} catch (error) {
  const explained = explainConnectFailure(error, adminConfig);
  if (explained === undefined) throw error;
  console.error(explained);
  process.exit(1);
}

const port = env.HTTP_PORT ?? '3000';
const base = `http://localhost:${port}`;
console.log(
  `Database ${adminConfig.db.database} on ${adminConfig.db.host}:${adminConfig.db.port} is ready; starting the API…`,
);

const osls = fileURLToPath(new URL('../node_modules/.bin/osls', import.meta.url));
const child = spawn(
  osls,
  ['offline', 'start', '--stage', 'local', '--localEnvironment', '--httpPort', port],
  {
    stdio: 'inherit',
    env: {
      ...env,
      // The functions run as the local app and monitor users, never as the admin account.
      DB_USER: credentials.appUser,
      DB_PASSWORD: credentials.appPassword,
      MONITOR_DB_USER: credentials.monitorUser,
      MONITOR_DB_PASSWORD: credentials.monitorPassword,
      MONITOR_TARGET_USERS: credentials.appUser,
      API_TOKEN_HASHES: sha256Hex(credentials.apiToken),
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
    },
  },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === null ? 0 : 1);
});

// Announce once the API answers, so the curl below works when it is printed.
for (let attempt = 0; attempt < 120 && child.exitCode === null; attempt++) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const answered = await fetch(`${base}/api/health`).then(
    (response) => response.status,
    () => 0,
  );
  if (answered === 0) continue;
  console.log(`
  eclectyc is running (health answered ${answered})
    API         ${base}        curl ${base}/api/health
    API token   ${credentials.apiToken}   (kept in ${LOCAL_CREDENTIALS_FILE})
    Schedules   processImports every minute, monitor every 5 minutes
    Upload a sample file:
      curl -sS -X POST '${base}/api/import/jobs?type=daily' -H 'Authorization: Bearer ${credentials.apiToken}' -H 'Content-Type: text/csv' --data-binary @examples/daily.csv
    Then: npm run smoke   (uploads every example, runs the processor and the monitor, checks the results)
`);
  break;
}
