/**
 * The delegation checks against real DNS in the lab namespace: nsd serving an unsigned zone, a
 * zone signed with ldns-signzone, and a signed zone whose record signatures were broken after
 * signing, all behind the validating unbound. The DNSSEC-aware resolver must report secure,
 * insecure and bogus; TLSA records published in the signed zone must match the lab
 * certificate (DANE) and a wrong one must not.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { lookupDane } from '../../src/delegation/dane-lookup.ts';
import { daneVerdict, srvDelegationVerdict } from '../../src/delegation/dane.ts';
import { createSecureResolver, type SecureResolver } from '../../src/delegation/secure-resolver.ts';
import { tlsaRecordFor, TLSA_USAGE } from '../../src/delegation/tlsa.ts';
import { createTestCa } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';

/** the hosting server's name, in the signed zone, with a matching TLSA record */
const HOST = 'xmpp.dna.test';
/** another host in the signed zone whose TLSA record matches some other certificate */
const WRONG_HOST = 'other.dna.test';
/** a host in the signed zone without TLSA records */
const PLAIN_HOST = 'plain.dna.test';
const SIGNED = 'signed.dna.test';
const MISMATCH = 'mismatch.dna.test';
const NO_TLSA = 'notlsa.dna.test';
const UNSIGNED = 'unsigned.test';
const BROKEN = 'broken.test';
const srvName = (domain: string) => `_xmpp-server._tcp.${domain}`;

describe('delegation proofs with real DNS (nsd, ldns-signzone, validating unbound)', () => {
  let dns: LabDns | undefined;
  let resolver: SecureResolver;
  let hostCertificate: X509Certificate;
  let caCertificate: X509Certificate;

  before(async () => {
    assertInsideLab();
    const ca = await createTestCa('Delegation Lab CA');
    caCertificate = new X509Certificate(ca.certPem);
    hostCertificate = new X509Certificate((await ca.issue({ names: [HOST, PLAIN_HOST] })).certPem);
    const otherCertificate = new X509Certificate((await ca.issue({ names: [WRONG_HOST] })).certPem);
    const tlsa = (certificate: X509Certificate) => tlsaRecordFor(certificate, TLSA_USAGE.DANE_EE, 1, 1).data.toString('hex');
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          { name: srvName(UNSIGNED), type: 'SRV', port: 5269, target: HOST },
        ],
      },
      {
        name: 'dna.test',
        signed: true,
        records: [
          { name: srvName(SIGNED), type: 'SRV', port: 5269, target: HOST },
          { name: srvName(MISMATCH), type: 'SRV', port: 5269, target: WRONG_HOST },
          { name: srvName(NO_TLSA), type: 'SRV', port: 5269, target: PLAIN_HOST },
          { name: HOST, type: 'A', address: '127.0.0.20' },
          { name: WRONG_HOST, type: 'A', address: '127.0.0.21' },
          { name: PLAIN_HOST, type: 'A', address: '127.0.0.22' },
          { name: `_5269._tcp.${HOST}`, type: 'TLSA', usage: 3, selector: 1, matchingType: 1, data: tlsa(hostCertificate) },
          { name: `_5269._tcp.${WRONG_HOST}`, type: 'TLSA', usage: 3, selector: 1, matchingType: 1, data: tlsa(otherCertificate) },
        ],
      },
      {
        name: BROKEN,
        signed: true,
        brokenSignatures: true,
        records: [{ name: srvName(BROKEN), type: 'SRV', port: 5269, target: HOST }],
      },
    ]);
    resolver = createSecureResolver({ servers: [LAB_RESOLVER_ADDRESS] });
  });

  after(async () => {
    await dns?.stop();
  });

  it('reports a signed zone\'s SRV as secure', async () => {
    const answer = await resolver.srv(srvName(SIGNED));
    assert.equal(answer.status, 'secure', answer.reason);
    assert.deepEqual(answer.records, [{ name: HOST, port: 5269, priority: 0, weight: 0 }]);
  });

  it('reports an unsigned zone\'s SRV as insecure', async () => {
    const answer = await resolver.srv(srvName(UNSIGNED));
    assert.equal(answer.status, 'insecure');
    assert.deepEqual(answer.records.map((record) => record.name), [HOST]);
  });

  it('reports a zone with a broken signature as bogus', async () => {
    assert.equal((await resolver.srv(srvName(BROKEN))).status, 'bogus');
  });

  it('reports a name missing from the signed zone as a validated nxdomain', async () => {
    const answer = await resolver.srv(srvName('missing.dna.test'));
    assert.deepEqual([answer.status, answer.authenticated], ['nxdomain', true]);
  });

  it('DANE: the TLSA record of the signed SRV target matches the lab certificate', async () => {
    const lookup = await lookupDane(resolver, SIGNED);
    assert.equal(lookup.tlsa.get(HOST)?.status, 'secure');
    const verdict = daneVerdict({ domain: SIGNED, ...lookup, chain: [hostCertificate], trustAnchors: [] });
    assert.deepEqual([verdict.proven, verdict.method], [true, 'dane-ee'], verdict.reason);
  });

  it('DANE: a TLSA record for another certificate does not match', async () => {
    const lookup = await lookupDane(resolver, MISMATCH);
    const verdict = daneVerdict({ domain: MISMATCH, ...lookup, chain: [hostCertificate], trustAnchors: [caCertificate] });
    assert.equal(verdict.proven, false);
    assert.match(verdict.reason, /no TLSA record matches/);
  });

  it('a signed SRV target without TLSA is a PKIX reference identifier; an unsigned or bogus one is not', async () => {
    const signed = daneVerdict({ domain: NO_TLSA, ...(await lookupDane(resolver, NO_TLSA)), chain: [hostCertificate], trustAnchors: [caCertificate] });
    assert.deepEqual([signed.proven, signed.method], [true, 'dnssec-srv'], signed.reason);
    const unsigned = daneVerdict({ domain: UNSIGNED, ...(await lookupDane(resolver, UNSIGNED)), chain: [hostCertificate], trustAnchors: [caCertificate] });
    assert.equal(unsigned.proven, false);
    const broken = daneVerdict({ domain: BROKEN, ...(await lookupDane(resolver, BROKEN)), chain: [hostCertificate], trustAnchors: [caCertificate] });
    assert.match(broken.reason, /bogus/);
  });

  it('keyless pair check: a signed delegation to a proven host is valid; unsigned and bogus are not', async () => {
    const names = [HOST];
    assert.equal(srvDelegationVerdict(SIGNED, await resolver.srv(srvName(SIGNED)), names).method, 'dnssec-srv');
    assert.match(srvDelegationVerdict(UNSIGNED, await resolver.srv(srvName(UNSIGNED)), names).reason, /not DNSSEC-signed/);
    assert.equal(srvDelegationVerdict(UNSIGNED, await resolver.srv(srvName(UNSIGNED)), names, true).method, 'unsigned-srv');
    assert.match(srvDelegationVerdict(BROKEN, await resolver.srv(srvName(BROKEN)), names).reason, /bogus/);
  });
});
