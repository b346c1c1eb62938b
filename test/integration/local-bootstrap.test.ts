import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { type LocalCredentials, loadOrCreateCredentials, prepareLocalStack } from '../../scripts/local-db.js';
import { ADMIN_CONNECTION, uniqueName } from '../helpers/database.js';

const database = uniqueName('boot');
const suffix = database.slice(-8);
const credentials: LocalCredentials = {
  appUser: `app_${suffix}`,
  appPassword: 'app-password-1',
  monitorUser: `mon_${suffix}`,
  monitorPassword: 'monitor-password-1',
  apiToken: 'token',
};
const adminConfig = loadConfig({
  DB_HOST: ADMIN_CONNECTION.host,
  DB_PORT: String(ADMIN_CONNECTION.port),
  DB_NAME: database,
  DB_USER: ADMIN_CONNECTION.user,
  DB_PASSWORD: ADMIN_CONNECTION.password,
});

async function snapshot(): Promise<unknown> {
  const admin = await createConnection(ADMIN_CONNECTION);
  try {
    const grants: unknown[] = [];
    for (const user of [credentials.appUser, credentials.monitorUser]) {
      const [rows] = await admin.query<RowDataPacket[]>(`SHOW GRANTS FOR ?@'%'`, [user]);
      grants.push(rows.map((row) => Object.values(row)[0]).sort());
    }
    const [users] = await admin.query<RowDataPacket[]>(
      `SELECT User, authentication_string, max_user_connections FROM mysql.user WHERE User IN (?, ?) ORDER BY User`,
      [credentials.appUser, credentials.monitorUser],
    );
    const [migrations] = await admin.query<RowDataPacket[]>(
      `SELECT version, checksum, applied_at FROM \`${database}\`.schema_migrations ORDER BY version`,
    );
    return { grants, users, migrations };
  } finally {
    await admin.end();
  }
}

afterAll(async () => {
  const admin = await createConnection(ADMIN_CONNECTION);
  await admin.query(`DROP USER IF EXISTS ?@'%', ?@'%'`, [credentials.appUser, credentials.monitorUser]);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
});

describe('the local bootstrap behind npm start', () => {
  it('creates the database, the limited app user and the monitor user with its grants', async () => {
    await prepareLocalStack(adminConfig, credentials, { appMaxUserConnections: 7 });
    const state = (await snapshot()) as { grants: string[][]; users: RowDataPacket[]; migrations: unknown[] };
    expect(state.users.map((row) => [row.User, Number(row.max_user_connections)])).toEqual([
      [credentials.appUser, 7],
      [credentials.monitorUser, 2],
    ]);
    expect(state.grants[0]?.join('\n')).toContain(
      `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${database}\`.*`,
    );
    expect(state.grants[1]?.join('\n')).toMatch(/GRANT PROCESS, CONNECTION ADMIN ON \*\.\*/);
    expect(state.grants[1]?.join('\n')).toContain('GRANT SELECT ON `mysql`.`user`');
    expect(state.grants[1]?.join('\n')).toContain(`GRANT SELECT ON \`${database}\`.\`import_jobs\``);
    expect(state.grants[1]?.join('\n')).toContain(
      `GRANT SELECT, INSERT, UPDATE ON \`${database}\`.\`monitor_counters\``,
    );
    expect(state.migrations.length).toBeGreaterThan(0);
    const app = await createConnection({
      ...ADMIN_CONNECTION,
      user: credentials.appUser,
      password: credentials.appPassword,
      database,
    });
    await app.end();
  });

  it('changes nothing when it runs again', async () => {
    const before = await snapshot();
    await prepareLocalStack(adminConfig, credentials, { appMaxUserConnections: 7 });
    expect(await snapshot()).toEqual(before);
  });

  it('brings a changed connection limit back in line', async () => {
    await prepareLocalStack(adminConfig, credentials, { appMaxUserConnections: 9 });
    const state = (await snapshot()) as { users: RowDataPacket[] };
    expect(Number(state.users[0]?.max_user_connections)).toBe(9);
  });
});

describe('the local bootstrap after another checkout changed a password', () => {
  it('sets the password from its credentials file again', async () => {
    const admin = await createConnection(ADMIN_CONNECTION);
    await admin.query(`ALTER USER ?@'%' IDENTIFIED BY 'someone-else'`, [credentials.appUser]);
    await admin.end();
    await prepareLocalStack(adminConfig, credentials, { appMaxUserConnections: 9 });
    const app = await createConnection({
      ...ADMIN_CONNECTION,
      user: credentials.appUser,
      password: credentials.appPassword,
    });
    await app.end();
  });
});

describe('loadOrCreateCredentials', () => {
  it('creates random credentials once and then reads the same ones back', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'eclectyc-credentials-'));
    try {
      const path = join(directory, 'credentials.json');
      const first = await loadOrCreateCredentials(path);
      const second = await loadOrCreateCredentials(path);
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);
      expect(second.credentials).toEqual(first.credentials);
      expect(first.credentials.apiToken).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
