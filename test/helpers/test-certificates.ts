// A certificate authority and a server certificate signed by it, made by openssl in a directory the
// caller owns: for test servers that speak TLS (a disposable MariaDB, the fake RDS endpoint).

import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type TestCertificates = {
  /** PEM paths inside the directory. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
};

/** `subjectAltName` as openssl takes it, e.g. `IP:127.0.0.1`. Valid for two days. */
export async function makeTestCertificates(
  directory: string,
  subjectAltName: string,
): Promise<TestCertificates> {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: directory, stdio: 'pipe' });
  await writeFile(join(directory, 'san.cnf'), `subjectAltName=${subjectAltName}\n`);
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
  return {
    caFile: join(directory, 'ca.pem'),
    certFile: join(directory, 'server.pem'),
    keyFile: join(directory, 'server-key.pem'),
  };
}
