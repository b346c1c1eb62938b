// A disposable MariaDB that speaks TLS with a certificate authority made here by openssl: the server's
// certificate names 127.0.0.1 only (no host name), so connecting as "localhost" fails the name check.
// Used by tls.test.ts and bench/tls.ts.

import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DisposableMariaDb, startDisposableMariaDb } from './disposable-mariadb.js';

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
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certDir, stdio: 'pipe' });
  await writeFile(join(certDir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  const days = ['-days', '2'];
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    ...days,
    '-subj',
    '/CN=eclectyc test CA',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=eclectyc test server',
    '-keyout',
    'server-key.pem',
    '-out',
    'server.csr',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    ...days,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-extfile',
    'san.cnf',
    '-out',
    'server.pem',
  );
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
