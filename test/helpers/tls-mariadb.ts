// A disposable MariaDB that speaks TLS with a certificate authority made here by openssl: the server's
// certificate names 127.0.0.1 only (no host name), so connecting as "localhost" fails the name check.
// Used by tls.test.ts and bench/tls.ts.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DisposableMariaDb, startDisposableMariaDb } from './disposable-mariadb.js';
import { makeTestCertificates } from './test-certificates.js';

export type TlsMariaDb = {
  readonly server: DisposableMariaDb;
  /** PEM of the CA that signed the server's certificate. */
  readonly caFile: string;
  destroy(): Promise<void>;
};

export async function startTlsMariaDb(): Promise<TlsMariaDb> {
  const certDir = await mkdtemp(join(tmpdir(), 'eclectyc-tls-'));
  // The server runs as mysql when we are root: it must read its key inside our directory.
  await chmod(certDir, 0o755);
  await makeTestCertificates(certDir, 'IP:127.0.0.1');
  for (const file of ['server-key.pem', 'server.pem', 'ca.pem']) await chmod(join(certDir, file), 0o644);
  const server = await startDisposableMariaDb({
    serverOptions: [
      `--ssl-ca=${join(certDir, 'ca.pem')}`,
      `--ssl-cert=${join(certDir, 'server.pem')}`,
      `--ssl-key=${join(certDir, 'server-key.pem')}`,
    ],
  });
  return {
    server,
    caFile: join(certDir, 'ca.pem'),
    async destroy() {
      await server.destroy();
      await rm(certDir, { recursive: true, force: true });
    },
  };
}
