// Child process for the "abandoned invocation" test: opens a session through withConnection, reports
// its id, and then never finishes its work, so `finally` is never reached (as when Lambda freezes).

import { loadConfig } from '../../lib/config.js';
import { withConnection } from '../../lib/db.js';

const config = loadConfig(process.env);
await withConnection(config.db, async (db) => {
  await db.query('SELECT 1');
  process.stdout.write(`thread ${db.threadId}\n`);
  await new Promise(() => {
    setInterval(() => undefined, 60_000);
  });
});
