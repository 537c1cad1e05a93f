// A throwaway certificate authority for TLS tests, made with the openssl CLI:
// a CA, a server certificate for 127.0.0.1/localhost and a client certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: trusting only it must fail. */
  otherCa: string;
  cleanup(): void;
}

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'xo-certs-'));
  const p = (name: string) => join(dir, name);
  openssl('req', '-x509', ...EC, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-subj', '/CN=xmpp-oauth test CA', '-days', '2');
  openssl('req', '-x509', ...EC, '-keyout', p('other-ca.key'), '-out', p('other-ca.crt'), '-subj', '/CN=unrelated CA', '-days', '2');
  const sign = (name: string, subject: string, ext: string) => {
    writeFileSync(p(`${name}.ext`), ext);
    openssl('req', ...EC, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', subject);
    openssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-out', p(`${name}.crt`), '-days', '2', '-extfile', p(`${name}.ext`));
  };
  sign('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  sign('client', '/CN=xmpp-oauth', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.crt'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
