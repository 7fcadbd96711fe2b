import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { certificateIdentities, certificateMatchesDomain, type XmppService } from './certificate-identity.ts';
import { makeCertificate, type CertificateSpec } from '../../test/support/certs.ts';
import { createTestCa } from '../../test/support/lab/ca.ts';

interface Case {
  certificate: CertificateSpec;
  domain: string;
  service?: XmppService;
  matches: boolean;
}

/** RFC 6125 section 6 and RFC 6120 section 13.7.1, one certificate per row */
const CASES: Record<string, Case> = {
  'DNS-ID equal to the domain': { certificate: { commonName: 'x', dnsIds: ['example.net'] }, domain: 'example.net', matches: true },
  'DNS-ID compared without case': { certificate: { dnsIds: ['Example.NET'] }, domain: 'eXample.net', matches: true },
  'a trailing dot on the reference is ignored': { certificate: { dnsIds: ['example.net'] }, domain: 'example.net.', matches: true },
  'DNS-ID for another domain': { certificate: { dnsIds: ['example.org'] }, domain: 'example.net', matches: false },
  'DNS-ID of a subdomain does not cover the parent': { certificate: { dnsIds: ['chat.example.net'] }, domain: 'example.net', matches: false },
  'second DNS-ID matches': { certificate: { dnsIds: ['example.org', 'example.net'] }, domain: 'example.net', matches: true },
  'wildcard covers one left-most label': { certificate: { dnsIds: ['*.example.net'] }, domain: 'chat.example.net', matches: true },
  'wildcard does not cover the bare domain': { certificate: { dnsIds: ['*.example.net'] }, domain: 'example.net', matches: false },
  'wildcard does not cover two labels': { certificate: { dnsIds: ['*.example.net'] }, domain: 'a.chat.example.net', matches: false },
  'wildcard directly above a top-level label': { certificate: { dnsIds: ['*.net'] }, domain: 'example.net', matches: false },
  'partial-label wildcard is not honoured': { certificate: { dnsIds: ['c*.example.net'] }, domain: 'chat.example.net', matches: false },
  'wildcard not in the left-most label': { certificate: { dnsIds: ['chat.*.net'] }, domain: 'chat.example.net', matches: false },
  'IDN reference matches the A-label DNS-ID': { certificate: { dnsIds: ['xn--bcher-kva.example'] }, domain: 'bücher.example', matches: true },
  'IDN reference in other case': { certificate: { dnsIds: ['xn--bcher-kva.example'] }, domain: 'BÜCHER.example', matches: true },
  'wildcard over an IDN domain': { certificate: { dnsIds: ['*.xn--bcher-kva.example'] }, domain: 'muc.bücher.example', matches: true },
  'SRV-ID for xmpp-server authenticates a server': {
    certificate: { srvIds: ['_xmpp-server.example.net'] },
    domain: 'example.net',
    matches: true,
  },
  'SRV-ID for xmpp-client does not authenticate a server': {
    certificate: { srvIds: ['_xmpp-client.example.net'] },
    domain: 'example.net',
    matches: false,
  },
  'SRV-ID for xmpp-client authenticates the client service': {
    certificate: { srvIds: ['_xmpp-client.example.net'] },
    domain: 'example.net',
    service: 'xmpp-client',
    matches: true,
  },
  'SRV-ID for another domain': { certificate: { srvIds: ['_xmpp-server.example.org'] }, domain: 'example.net', matches: false },
  'SRV-ID with an IDN domain': { certificate: { srvIds: ['_xmpp-server.xn--bcher-kva.example'] }, domain: 'bücher.example', matches: true },
  'SRV-ID service compared without case': { certificate: { srvIds: ['_XMPP-Server.Example.net'] }, domain: 'example.net', matches: true },
  'SRV-ID is not a wildcard': { certificate: { srvIds: ['_xmpp-server.*.net'] }, domain: 'example.net', matches: false },
  'XmppAddr alone names the domain': { certificate: { xmppAddrs: ['example.net'] }, domain: 'example.net', matches: true },
  'XmppAddr with U-labels': { certificate: { xmppAddrs: ['bücher.example'] }, domain: 'xn--bcher-kva.example', matches: true },
  'XmppAddr for another domain': { certificate: { xmppAddrs: ['example.org'] }, domain: 'example.net', matches: false },
  'CN alone equal to the domain': { certificate: { commonName: 'Example.net' }, domain: 'example.net', matches: true },
  'CN alone with a wildcard': { certificate: { commonName: '*.example.net' }, domain: 'muc.example.net', matches: true },
  'CN alone for another domain': { certificate: { commonName: 'example.org' }, domain: 'example.net', matches: false },
  'CN ignored when a DNS-ID is present': { certificate: { commonName: 'example.net', dnsIds: ['example.org'] }, domain: 'example.net', matches: false },
  'CN ignored when an SRV-ID is present': {
    certificate: { commonName: 'example.net', srvIds: ['_xmpp-server.example.org'] },
    domain: 'example.net',
    matches: false,
  },
  'CN ignored when an XmppAddr is present': { certificate: { commonName: 'example.net', xmppAddrs: ['example.org'] }, domain: 'example.net', matches: false },
  'CN ignored when a URI-ID is present': { certificate: { commonName: 'example.net', uriIds: ['xmpp:example.org'] }, domain: 'example.net', matches: false },
  'an empty reference matches nothing': { certificate: { commonName: 'example.net', dnsIds: ['*.example.net'] }, domain: '', matches: false },
};

describe('certificate identity (RFC 6125, RFC 6120 section 13.7)', () => {
  for (const [name, row] of Object.entries(CASES)) {
    test(`${name} → ${row.matches ? 'match' : 'no match'}`, async () => {
      const { der } = await makeCertificate(row.certificate);
      assert.equal(certificateMatchesDomain(certificateIdentities(der), row.domain, row.service ?? 'xmpp-server'), row.matches);
    });
  }

  test('every kind of identity is read from the certificate, lowercase', async () => {
    const { der } = await makeCertificate({
      commonName: 'Example.NET',
      dnsIds: ['Example.net', '*.Example.net'],
      srvIds: ['_xmpp-server.Example.net', '_xmpp-client.example.net'],
      xmppAddrs: ['Bücher.example'],
    });
    assert.deepEqual(certificateIdentities(der), {
      dnsIds: ['example.net', '*.example.net'],
      srvIds: ['_xmpp-server.example.net', '_xmpp-client.example.net'],
      uriIds: [],
      xmppAddrs: ['bücher.example'],
      commonNames: ['example.net'],
    });
  });

  test('URI-IDs are read', async () => {
    const { der } = await makeCertificate({ uriIds: ['xmpp:example.net'] });
    assert.deepEqual(certificateIdentities(der).uriIds, ['xmpp:example.net']);
  });

  test('a certificate without names has no identities and matches nothing', async () => {
    const { der } = await makeCertificate({});
    const identities = certificateIdentities(der);
    assert.deepEqual(identities, { dnsIds: [], srvIds: [], uriIds: [], xmppAddrs: [], commonNames: [] });
    assert.equal(certificateMatchesDomain(identities, 'example.net', 'xmpp-server'), false);
  });

  test('a malformed subjectAltName is an error, not an empty list', async () => {
    const { der } = await makeCertificate({
      commonName: 'example.net',
      extraExtension: { oid: '2.5.29.17', critical: false, value: new Uint8Array([0x30, 0x05, 0x82, 0x10, 0x61]) },
    });
    assert.throws(() => certificateIdentities(der));
  });

  test('garbage is not a certificate', () => {
    assert.throws(() => certificateIdentities(Buffer.from('not a certificate')));
  });

  describe('certificates from the lab CA', () => {
    let der: Buffer;
    before(async () => {
      const ca = await createTestCa();
      const leaf = await ca.issue({ names: ['capulet.test'], srvNames: ['_xmpp-server.capulet.test'], xmppAddrs: ['rooms.capulet.test'] });
      der = new X509Certificate(leaf.certPem).raw;
    });

    test('name the domains they were issued for, through each kind of identity', () => {
      const identities = certificateIdentities(der);
      assert.deepEqual(identities.srvIds, ['_xmpp-server.capulet.test']);
      assert.equal(certificateMatchesDomain(identities, 'capulet.test', 'xmpp-server'), true);
      assert.equal(certificateMatchesDomain(identities, 'rooms.capulet.test', 'xmpp-server'), true);
      assert.equal(certificateMatchesDomain(identities, 'montague.test', 'xmpp-server'), false);
    });
  });
});
