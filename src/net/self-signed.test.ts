/**
 * Self-signed certificates as a fresh install makes them: what they say (read back by Node's
 * X.509 parser and by the extension reader the s2s checks use), reuse across restarts, and a
 * real TLS handshake that verifies one by name. The DER helpers are checked at their edges.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { certificateExtensions, objectIdentifier, readTlv } from '../s2s/der.ts';
import { oid, time, tlv, unsignedInteger } from './der-encode.ts';
import { ensureSelfSignedCertificate, generateSelfSigned } from './self-signed.ts';

describe('generateSelfSigned', () => {
  test('an ECDSA P-256 certificate for the domain, self-signed, not a CA, for both ends of a link', async () => {
    const { certificatePem, keyPem } = await generateSelfSigned('example.org');
    const certificate = new X509Certificate(certificatePem);
    assert.equal(certificate.subject, 'CN=example.org');
    assert.equal(certificate.issuer, 'CN=example.org');
    assert.equal(certificate.subjectAltName, 'DNS:example.org');
    assert.equal(certificate.checkHost('example.org'), 'example.org');
    assert.equal(certificate.checkHost('other.example.org'), undefined);
    assert.ok(certificate.verify(certificate.publicKey), 'signed by its own key');
    assert.ok(certificate.checkPrivateKey(createPrivateKey(keyPem)));
    assert.equal(certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(certificate.ca, false);
    assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const days = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 86_400_000;
    assert.equal(Math.round(days), 3650);
    assert.ok(Date.parse(certificate.validFrom) <= Date.now());
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    assert.match(certificatePem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
  });

  test('the extensions: basic constraints and key usage critical, digitalSignature and keyAgreement', async () => {
    const certificate = new X509Certificate((await generateSelfSigned('example.org')).certificatePem);
    const byId = new Map(certificateExtensions(certificate.raw).map((extension) => [extension.oid, extension]));
    assert.deepEqual([...byId.keys()].sort(), ['2.5.29.15', '2.5.29.17', '2.5.29.19', '2.5.29.37']);
    assert.equal(byId.get('2.5.29.19')!.critical, true);
    assert.deepEqual([...byId.get('2.5.29.19')!.value], [0x30, 0x00]);
    assert.equal(byId.get('2.5.29.15')!.critical, true);
    assert.deepEqual([...byId.get('2.5.29.15')!.value], [0x03, 0x02, 0x03, 0x88]);
    assert.equal(byId.get('2.5.29.17')!.critical, false);
  });

  test('an internationalized domain is a DNS-ID in its A-label form', async () => {
    const certificate = new X509Certificate((await generateSelfSigned('bücher.example')).certificatePem);
    assert.equal(certificate.subjectAltName, 'DNS:xn--bcher-kva.example');
  });

  test('an ASCII name is written as it is, even one WHATWG URLs would not take (a service of a host named by an address)', async () => {
    for (const name of ['conference.127.0.0.61', '127.0.0.61']) {
      assert.equal(new X509Certificate((await generateSelfSigned(name)).certificatePem).subjectAltName, `DNS:${name}`);
    }
  });

  test('each certificate has its own key and serial number', async () => {
    const [first, second] = await Promise.all([generateSelfSigned('example.org'), generateSelfSigned('example.org')]);
    assert.notEqual(new X509Certificate(first.certificatePem).serialNumber, new X509Certificate(second.certificatePem).serialNumber);
    assert.notEqual(first.keyPem, second.keyPem);
  });

  test('a TLS client that trusts it verifies the server by name', async () => {
    const { certificatePem, keyPem } = await generateSelfSigned('localhost');
    const server = createTlsServer({ cert: certificatePem, key: keyPem }, (socket) => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'localhost', ca: certificatePem });
      await once(client, 'secureConnect');
      assert.equal(client.authorized, true, String(client.authorizationError));
      client.destroy();
      const refused = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'elsewhere.example', ca: certificatePem });
      const [error] = await once(refused, 'error');
      assert.equal((error as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      server.close();
    }
  });
});

describe('ensureSelfSignedCertificate', () => {
  test('writes the files once and reuses them at the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-self-signed-'));
    try {
      const first = await ensureSelfSignedCertificate('example.org', dir);
      assert.equal(first.created, true);
      assert.equal(first.files.certificate, join(dir, 'certs', 'example.org.crt'));
      assert.equal((await stat(first.files.key!)).mode & 0o777, 0o600);
      const again = await ensureSelfSignedCertificate('example.org', dir);
      assert.equal(again.created, false);
      assert.deepEqual(again.files, first.files);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('der-encode', () => {
  test('lengths in the short form below 128 bytes, else the long form', () => {
    assert.deepEqual([...tlv(0x04, Buffer.alloc(127)).subarray(0, 2)], [0x04, 127]);
    assert.deepEqual([...tlv(0x04, Buffer.alloc(128)).subarray(0, 3)], [0x04, 0x81, 128]);
    assert.deepEqual([...tlv(0x04, Buffer.alloc(300)).subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c]);
    const long = tlv(0x04, Buffer.alloc(300));
    assert.equal(readTlv(long, 0).end, long.length);
  });

  test('integers are minimal and never negative', () => {
    assert.deepEqual([...unsignedInteger(Buffer.from([0, 0, 5]))], [0x02, 1, 5]);
    assert.deepEqual([...unsignedInteger(Buffer.from([0x80]))], [0x02, 2, 0, 0x80]);
    assert.deepEqual([...unsignedInteger(Buffer.from([0]))], [0x02, 1, 0]);
  });

  test('object identifiers read back as written', () => {
    for (const dotted of ['2.5.29.17', '1.2.840.10045.4.3.2', '1.3.6.1.5.5.7.3.1', '2.999.16384']) {
      const encoded = oid(dotted);
      assert.equal(objectIdentifier(encoded.subarray(2)), dotted);
    }
  });

  test('UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5)', () => {
    assert.equal(time(new Date('2049-12-31T23:59:59.500Z')).toString('latin1'), '\x17\x0d491231235959Z');
    assert.equal(time(new Date('2050-01-01T00:00:00Z')).toString('latin1'), '\x18\x0f20500101000000Z');
  });
});
