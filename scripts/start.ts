// `npm start`: bootstraps the local stack (a database server if none answers, the database,
// migrations, app and monitor users, an API token), then serves the real handlers through
// serverless-offline: the API on http://localhost:3000 (HTTP_PORT) behind scripts/front-door.ts,
// the Lambda endpoint on 3002 (LAMBDA_PORT), and both schedules at their configured rates. Prints a
// ready-to-run curl once the API answers. See docs/operations.md#the-local-stack.

import { spawn } from 'node:child_process';
import { join, relative } from 'node:path';
import { startFrontDoor, UPSTREAM_DOWN_HEADER } from './front-door.js';
import {
  credentialsFile,
  DEFAULT_APP_MAX_USER_CONNECTIONS,
  explainConnectFailure,
  loadOrCreateCredentials,
  localAdminConfig,
  localPorts,
  prepareLocalStack,
  REPO_ROOT,
  resolveLocalDatabase,
  sha256Hex,
} from './local-db.js';
import { startLocalS3Stack } from './local-s3.js';
import { freePort } from './mariadb-server.js';
import { OSLS, oslsEnv } from './osls.js';

const database = await resolveLocalDatabase(process.env, { startPrivate: true });
const env = database.env;
const adminConfig = localAdminConfig(env);
const { credentials } = await loadOrCreateCredentials(credentialsFile(env));
const appMaxUserConnections = Number(env.LOCAL_APP_MAX_USER_CONNECTIONS ?? DEFAULT_APP_MAX_USER_CONNECTIONS);
try {
  await prepareLocalStack(adminConfig, credentials, { appMaxUserConnections });
} catch (error) {
  const explained = explainConnectFailure(error, adminConfig);
  if (explained === undefined) throw error;
  console.error(explained);
  process.exit(1);
}

const ports = localPorts(env);
const base = `http://localhost:${ports.http}`;
console.log(`Database ${adminConfig.db.database} on ${database.where} is ready; starting the API…`);

// The local S3 bucket for direct uploads; its object-created events go to the arrival function
// through the offline Lambda port, as SQS delivers them in AWS.
Object.assign(env, await startLocalS3Stack(env));

// The front door listens on HTTP_PORT; serverless-offline on a private port behind it.
const offlinePort = await freePort();
const frontDoor = await startFrontDoor({
  port: ports.http,
  upstreamPort: offlinePort,
  secrets: [REPO_ROOT.replace(/\/$/, '')],
  onWithheld: (detail) =>
    console.error(`[front door] answered 500 without the details (${detail}); see the error above`),
}).catch((error: unknown) => {
  console.error(`Cannot listen on port ${ports.http} (${String(error)}): set HTTP_PORT to a free port.`);
  process.exit(1);
});

// Its own build folder, which `npm run package` and the tests never delete
// (docs/design.md#separate-build-folders). Inside the repository, whatever LOCAL_STATE_DIR says: the
// bundles leave the AWS SDK out and find it in node_modules, as Lambda finds it in its runtime.
const buildFolder = join('.local', 'build', `offline-${ports.http}`);
const child = spawn(
  OSLS,
  [
    'offline',
    'start',
    '--stage',
    'local',
    '--localEnvironment',
    '--host',
    '127.0.0.1',
    '--httpPort',
    String(offlinePort),
    '--lambdaPort',
    String(ports.lambda),
  ],
  {
    stdio: 'inherit',
    env: oslsEnv({
      ...env,
      // The functions run as the local app and monitor users, never as the admin account.
      DB_USER: credentials.appUser,
      DB_PASSWORD: credentials.appPassword,
      MONITOR_DB_USER: credentials.monitorUser,
      MONITOR_DB_PASSWORD: credentials.monitorPassword,
      MONITOR_TARGET_USERS: credentials.appUser,
      API_TOKEN_HASHES: sha256Hex(credentials.apiToken),
      // serverless.yml's local stage budgets the same limit the app user was given above.
      LOCAL_APP_MAX_USER_CONNECTIONS: String(appMaxUserConnections),
      ECLECTYC_BUILD_FOLDER: buildFolder,
    }),
  },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  frontDoor.close();
  process.exitCode = code ?? (signal === null ? 0 : 1);
});

// Announce once the API answers, so the curl below works when it is printed.
for (let attempt = 0; attempt < 240 && child.exitCode === null; attempt++) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const answered = await fetch(`${base}/api/health`).then(
    (response) => (response.headers.has(UPSTREAM_DOWN_HEADER) ? 0 : response.status),
    () => 0,
  );
  if (answered === 0) continue;
  console.log(`
  eclectyc is running (health answered ${answered})
    API         ${base}        curl ${base}/api/health
    API token   ${credentials.apiToken}   (kept in ${relative(process.cwd(), credentialsFile(env)) || credentialsFile(env)})
    Database    ${adminConfig.db.database} on ${database.where}
    Schedules   processImports every minute, monitor every 5 minutes; run them now: npm run process, npm run monitor
    Upload a sample file:
      curl -sS -X POST '${base}/api/import/jobs?type=daily' -H 'Authorization: Bearer ${credentials.apiToken}' -H 'Content-Type: text/csv' --data-binary @examples/daily.csv
    Large files go straight to the local S3 bucket (${env.IMPORT_S3_ENDPOINT}): see docs/api.md#direct-uploads-to-s3-post-apiimportuploads
    Then: npm run smoke   (uploads every example, runs the processor and the monitor, checks the results)
    The tour: README.md#five-minute-tour
`);
  break;
}
