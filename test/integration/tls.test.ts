// DB_TLS against a disposable MariaDB that requires secure transport, with a certificate authority
// made by openssl and a server certificate for 127.0.0.1 only (test/helpers/tls-mariadb.ts): `verify`
// with that CA connects over TLS; every other combination (no TLS, Node's roots, the RDS bundle, the
// right CA but another host name) is refused before any work runs, and no attempt leaves a session.

import type { TLSSocket } from 'node:tls';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { logger } from '../../lib/logger.js';
import type { TestDatabase } from '../helpers/database.js';
import { startTlsMariaDb, type TlsMariaDb } from '../helpers/tls-mariadb.js';

let tlsServer: TlsMariaDb;
let testDb: TestDatabase;

beforeAll(async () => {
  tlsServer = await startTlsMariaDb();
  testDb = await tlsServer.server.createDatabase({ maxUserConnections: 5 });
  // From here on every new TCP login must use TLS; the root session opened above stays as it is.
  await testDb.admin.query('SET GLOBAL require_secure_transport = ON');
}, 120_000);

afterAll(async () => {
  await testDb?.drop();
  await tlsServer?.destroy();
});

async function refusal(settings: Record<string, string>): Promise<unknown> {
  const config = testDb.config(settings);
  return withConnection(config.db, async () => 'connected').catch((error: unknown) => error);
}

describe('TLS to the database (DB_TLS)', () => {
  it('connects over TLS with DB_TLS=verify and the CA in DB_TLS_CA_FILE, ends cleanly, and leaves no session', async () => {
    const config = testDb.config({ DB_TLS: 'verify', DB_TLS_CA_FILE: tlsServer.caFile });
    const warned = vi.spyOn(logger, 'warn');
    try {
      const status = await withConnection(config.db, async (db) => {
        const [rows] = await db.query<RowDataPacket[]>(
          "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')",
        );
        return new Map(rows.map((row) => [String(row.Variable_name), String(row.Value)]));
      });
      expect(status.get('Ssl_version')).toMatch(/^TLSv1\.[23]$/);
      expect(status.get('Ssl_cipher')).toMatch(/\w/);
      // The server's close is seen through TLS too: no wait runs out, nothing is destroyed.
      expect(warned).not.toHaveBeenCalled();
    } finally {
      warned.mockRestore();
    }
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('resumes the TLS session on the next invocation in the same environment', async () => {
    const config = testDb.config({ DB_TLS: 'verify', DB_TLS_CA_FILE: tlsServer.caFile });
    // Seen from the client: MariaDB's Ssl_sessions_reused does not count TLS 1.3 ticket resumption.
    const resumed = () =>
      withConnection(config.db, async (db) => {
        const { stream } = (db as unknown as { connection: { stream: TLSSocket } }).connection;
        return { protocol: stream.getProtocol(), resumed: stream.isSessionReused() };
      });
    await resumed();
    // mysql2 keeps resumable sessions on the ssl options object: the same one must come back each time.
    expect(await resumed()).toEqual({ protocol: expect.stringMatching(/^TLSv1\.[23]$/), resumed: true });
    expect(await resumed()).toMatchObject({ resumed: true });
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
      DB_TLS_CA_FILE: tlsServer.caFile,
      DB_HOST: 'localhost',
    });
    expect(error).toMatchObject({ name: 'DatabaseError', code: 'HANDSHAKE_SSL_ERROR' });
    expect((error as Error).message).toMatch(/does not match certificate's altnames/);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });
});
