// DB_TLS against a disposable MariaDB that requires secure transport, with a certificate authority
// made here by openssl and a server certificate for 127.0.0.1 only: `verify` with that CA connects
// over TLS; every other combination (no TLS, Node's roots, the RDS bundle, the right CA but another
// host name) is refused before any work runs, and no attempt leaves a session behind.

import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import type { TestDatabase } from '../helpers/database.js';
import { type DisposableMariaDb, startDisposableMariaDb } from '../helpers/disposable-mariadb.js';

let certDir: string;
let server: DisposableMariaDb;
let testDb: TestDatabase;

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: certDir, stdio: 'pipe' });
}

/** A CA, and a server certificate it signs for `names` (subjectAltName entries), in certDir. */
async function makeCertificates(prefix: string, names: string): Promise<void> {
  await writeFile(join(certDir, `${prefix}-san.cnf`), `subjectAltName=${names}\n`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${prefix} test CA`,
    '-keyout',
    `${prefix}-ca-key.pem`,
    '-out',
    `${prefix}-ca.pem`,
  ]);
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    `/CN=${prefix} test server`,
    '-keyout',
    `${prefix}-server-key.pem`,
    '-out',
    `${prefix}-server.csr`,
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    `${prefix}-server.csr`,
    '-days',
    '2',
    '-CA',
    `${prefix}-ca.pem`,
    '-CAkey',
    `${prefix}-ca-key.pem`,
    '-CAcreateserial',
    '-extfile',
    `${prefix}-san.cnf`,
    '-out',
    `${prefix}-server.pem`,
  ]);
}

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'eclectyc-tls-'));
  // The server runs as mysql when the tests run as root: it must read its key in our directory.
  await chmod(certDir, 0o755);
  await makeCertificates('good', 'IP:127.0.0.1');
  for (const file of ['good-server-key.pem', 'good-server.pem', 'good-ca.pem']) {
    await chmod(join(certDir, file), 0o644);
  }
  server = await startDisposableMariaDb({
    serverOptions: [
      `--ssl-ca=${join(certDir, 'good-ca.pem')}`,
      `--ssl-cert=${join(certDir, 'good-server.pem')}`,
      `--ssl-key=${join(certDir, 'good-server-key.pem')}`,
    ],
  });
  testDb = await server.createDatabase({ maxUserConnections: 5 });
  // From here on every new TCP login must use TLS; the root session opened above stays as it is.
  await testDb.admin.query('SET GLOBAL require_secure_transport = ON');
}, 120_000);

afterAll(async () => {
  await testDb?.drop();
  await server?.destroy();
  await rm(certDir, { recursive: true, force: true });
});

async function refusal(settings: Record<string, string>): Promise<unknown> {
  const config = testDb.config(settings);
  return withConnection(config.db, async () => 'connected').catch((error: unknown) => error);
}

describe('TLS to the database (DB_TLS)', () => {
  it('connects over TLS with DB_TLS=verify and the CA in DB_TLS_CA_FILE, and leaves no session', async () => {
    const config = testDb.config({ DB_TLS: 'verify', DB_TLS_CA_FILE: join(certDir, 'good-ca.pem') });
    const status = await withConnection(config.db, async (db) => {
      const [rows] = await db.query<RowDataPacket[]>(
        "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')",
      );
      return new Map(rows.map((row) => [String(row.Variable_name), String(row.Value)]));
    });
    expect(status.get('Ssl_version')).toMatch(/^TLSv1\.[23]$/);
    expect(status.get('Ssl_cipher')).toMatch(/\w/);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('is refused by a server that requires secure transport when DB_TLS is off', async () => {
    const error = await refusal({});
    // MySQL 8 names the reason; MariaDB answers it as access denied.
    expect(error).toMatchObject({ name: 'DatabaseError' });
    expect((error as { code?: string }).code).toMatch(
      /^(ER_SECURE_TRANSPORT_REQUIRED|ER_ACCESS_DENIED_ERROR)$/,
    );
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it.each([
    ['DB_TLS=verify with Node’s public roots', { DB_TLS: 'verify' }],
    ['DB_TLS=rds (the Amazon RDS bundle)', { DB_TLS: 'rds' }],
  ])('rejects a certificate from an unknown authority: %s', async (_, settings) => {
    const error = await refusal(settings);
    expect(error).toMatchObject({ name: 'DatabaseError', code: 'HANDSHAKE_SSL_ERROR' });
    expect((error as Error).message).toMatch(/self[- ]signed|unable to (get|verify)/i);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('rejects the right CA’s certificate when it names another host than the one connected to', async () => {
    // "localhost" reaches the same server, but its certificate names 127.0.0.1 only.
    const error = await refusal({
      DB_TLS: 'verify',
      DB_TLS_CA_FILE: join(certDir, 'good-ca.pem'),
      DB_HOST: 'localhost',
    });
    expect(error).toMatchObject({ name: 'DatabaseError', code: 'HANDSHAKE_SSL_ERROR' });
    expect((error as Error).message).toMatch(/does not match certificate's altnames/);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });
});
