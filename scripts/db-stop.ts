// `npm run db:stop`: stops the private database server npm start started when nothing answered on
// 127.0.0.1:3306 (its data stays under .local/mariadb/; the next npm start starts it again).

import { localStateDir } from './local-db.js';
import { privateServerPort, stopPrivateServer } from './private-db.js';

const stateDir = localStateDir(process.env);
const port = await privateServerPort(stateDir);
if (await stopPrivateServer(stateDir)) {
  console.log(`Stopped the private database server on port ${port}; its data stays in ${stateDir}/mariadb.`);
} else {
  console.log(`No private database server is running from ${stateDir}/mariadb.`);
}
