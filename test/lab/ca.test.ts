/**
 * The lab CA's certificates as OpenSSL reads them: chain, identities (RFC 6125 DNS-ID, RFC 4985
 * SRVName, RFC 6120 section 13.7.1.4 XmppAddr) and extended key usages. Needs no namespace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { createTestCa, selfSigned, writeCertificateFiles } from '../support/lab/ca.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';

const dir = makeScratchDir('ca-test');

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

describe('lab CA', () => {
  after(() => removeScratchDir(dir));

  it('issues certificates that chain to it, with every kind of identity', async () => {
    const ca = await createTestCa();
    const { certFile: caFile } = writeCertificateFiles(dir, 'ca', ca);
    const leaf = await ca.issue({
      names: ['a.example.test', '*.a.example.test'],
      srvNames: ['_xmpp-server.a.example.test'],
      xmppAddrs: ['a.example.test'],
    });
    const { certFile, keyFile } = writeCertificateFiles(dir, 'a.example.test', leaf);
    assert.match(openssl('verify', '-CAfile', caFile, certFile), /: OK/);
    const text = openssl('x509', '-in', certFile, '-noout', '-ext', 'subjectAltName,extendedKeyUsage,basicConstraints');
    assert.match(text, /DNS:a\.example\.test, DNS:\*\.a\.example\.test, othername: SRVName::_xmpp-server\.a\.example\.test, othername: XmppAddr::a\.example\.test/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /CA:FALSE/);
    // The key belongs to the certificate.
    const publicFromKey = openssl('pkey', '-in', keyFile, '-pubout');
    const publicFromCert = openssl('x509', '-in', certFile, '-noout', '-pubkey');
    assert.equal(publicFromKey, publicFromCert);
  });

  it('leaves clientAuth out when asked for a server-only certificate', async () => {
    const ca = await createTestCa();
    const { certFile } = writeCertificateFiles(dir, 'server-only', await ca.issue({ names: ['b.example.test'], eku: 'server' }));
    const text = openssl('x509', '-in', certFile, '-noout', '-ext', 'extendedKeyUsage');
    assert.match(text, /TLS Web Server Authentication/);
    assert.doesNotMatch(text, /Client/);
  });

  it('encodes a long XmppAddr with a long-form DER length', async () => {
    const ca = await createTestCa();
    const long = `${'x'.repeat(150)}.example.test`;
    const { certFile } = writeCertificateFiles(dir, 'long', await ca.issue({ names: [long], xmppAddrs: [long] }));
    assert.match(openssl('x509', '-in', certFile, '-noout', '-ext', 'subjectAltName'), new RegExp(`XmppAddr::${long.replaceAll('.', '\\.')}`));
  });

  it('makes self-signed certificates', async () => {
    const { certFile } = writeCertificateFiles(dir, 'self', await selfSigned('c.example.test'));
    assert.match(openssl('verify', '-CAfile', certFile, certFile), /: OK/);
    assert.match(openssl('x509', '-in', certFile, '-noout', '-ext', 'subjectAltName'), /DNS:c\.example\.test/);
  });
});
