// Turns the configured target users into names: a list as given, or the app user's name read from the
// app's secret at run time (with DB_SECRET_ID the name is only in the secret). Never connects.

import type { MonitorTargetUsers } from '../config.js';
import { parseDbSecret, type SecretCache } from '../secrets.js';

export async function resolveTargetUsers(
  target: MonitorTargetUsers,
  secrets: SecretCache,
): Promise<readonly string[]> {
  if (target.from === 'list') return target.users;
  const secret = parseDbSecret(target.secretId, await secrets.getString(target.secretId));
  return [secret.username];
}
