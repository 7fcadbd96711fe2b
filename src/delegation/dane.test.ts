/**
 * DANE with SRV (RFC 7673) and TLSA matching (RFC 6698, RFC 7218, RFC 7671) on certificates
 * made here: every usage, selector and matching type matching and not matching, the reference
 * identifiers a secure or insecure SRV answer allows, and the keyless pair check of the 2011
 * delegation draft.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { makeCertificate, type TestCertificate } from '../../test/support/certs.ts';
import type { SrvRecord } from '../net/dns-srv-order.ts';
import { daneVerdict, srvDelegationVerdict, type DaneInput } from './dane.ts';
import { lookupDane } from './dane-lookup.ts';
import type { DnssecStatus, SecureAnswer, TlsaRecord } from './secure-resolver.ts';
import { isUsableTlsa, tlsaMatchesCertificate, tlsaQueryName, tlsaRecordFor, TLSA_USAGE } from './tlsa.ts';

const DOMAIN = 'delegated.example';
const TARGET = 'xmpp1.host.net';

function answer<T>(status: DnssecStatus, records: T[]): SecureAnswer<T> {
  return { status, records, authenticated: status === 'secure', ttl: records.length > 0 ? 60 : 0 };
}

const srv = (status: DnssecStatus, target = TARGET): SecureAnswer<SrvRecord> => answer(status, [{ name: target, port: 5269, priority: 0, weight: 0 }]);
const tlsaFor = (status: DnssecStatus, records: TlsaRecord[]) => new Map([[TARGET, answer(status, records)]]);

describe('DANE TLSA matching and verdicts', () => {
  let ca: TestCertificate;
  let other: TestCertificate;
  let hostLeaf: TestCertificate;
  let domainLeaf: TestCertificate;
  let nobody: TestCertificate;

  before(async () => {
    ca = await makeCertificate({ commonName: 'Test CA', ca: true });
    other = await makeCertificate({ commonName: 'Other CA', ca: true });
    hostLeaf = await makeCertificate({ commonName: TARGET, dnsIds: [TARGET], issuer: ca });
    domainLeaf = await makeCertificate({ commonName: DOMAIN, dnsIds: [DOMAIN], issuer: ca });
    // self-signed, naming neither the domain nor the SRV target
    nobody = await makeCertificate({ commonName: 'unrelated.example', dnsIds: ['unrelated.example'] });
  });

  const verdict = (overrides: Partial<DaneInput>) =>
    daneVerdict({ domain: DOMAIN, srv: srv('secure'), chain: [hostLeaf.node, ca.node], trustAnchors: [ca.node], ...overrides });

  test('the TLSA name for SRV 0 0 5269 xmpp1.host.net is _5269._tcp.xmpp1.host.net', () => {
    assert.equal(tlsaQueryName('XMPP1.host.net.', 5269), '_5269._tcp.xmpp1.host.net');
  });

  // RFC 7218: usage 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE; selector 0 Cert, 1 SPKI; matching 0 Full, 1 SHA2-256, 2 SHA2-512
  const cases: { usage: number; method: string; chain: () => X509Certificate[]; anchors: () => X509Certificate[]; associated: () => X509Certificate }[] = [
    { usage: TLSA_USAGE.PKIX_TA, method: 'pkix-ta', chain: () => [hostLeaf.node, ca.node], anchors: () => [ca.node], associated: () => ca.node },
    { usage: TLSA_USAGE.PKIX_EE, method: 'pkix-ee', chain: () => [hostLeaf.node, ca.node], anchors: () => [ca.node], associated: () => hostLeaf.node },
    { usage: TLSA_USAGE.DANE_TA, method: 'dane-ta', chain: () => [hostLeaf.node, ca.node], anchors: () => [], associated: () => ca.node },
    { usage: TLSA_USAGE.DANE_EE, method: 'dane-ee', chain: () => [nobody.node], anchors: () => [], associated: () => nobody.node },
  ];
  for (const { usage, method, chain, anchors, associated } of cases) {
    for (const selector of [0, 1]) {
      for (const matching of [0, 1, 2]) {
        test(`usage ${usage} selector ${selector} matching ${matching}: a match proves (${method}), another certificate's data does not`, () => {
          const record = tlsaRecordFor(associated(), usage, selector, matching);
          assert.ok(tlsaMatchesCertificate(record, associated()));
          const matched = verdict({ chain: chain(), trustAnchors: anchors(), tlsa: tlsaFor('secure', [record]) });
          assert.deepEqual([matched.proven, matched.method], [true, method], matched.reason);
          const wrong = tlsaRecordFor(other.node, usage, selector, matching);
          const refused = verdict({ chain: chain(), trustAnchors: anchors(), tlsa: tlsaFor('secure', [wrong]) });
          assert.deepEqual([refused.proven, refused.method], [false, 'none']);
          assert.match(refused.reason, /no TLSA record matches/);
        });
      }
    }
  }

  test('DANE-EE on a self-signed certificate naming neither domain: accepted; the same with insecure TLSA: refused by PKIX', () => {
    const record = tlsaRecordFor(nobody.node, TLSA_USAGE.DANE_EE, 1, 1);
    assert.equal(verdict({ chain: [nobody.node], tlsa: tlsaFor('secure', [record]) }).method, 'dane-ee');
    const insecure = verdict({ chain: [nobody.node], tlsa: tlsaFor('insecure', [record]) });
    assert.equal(insecure.proven, false);
    assert.match(insecure.reason, /self-signed/);
    // an unsigned SRV answer never leads to TLSA
    assert.equal(verdict({ chain: [nobody.node], srv: srv('insecure'), tlsa: tlsaFor('secure', [record]) }).proven, false);
  });

  test('usages other than DANE-EE need the names: a matching record for a certificate naming neither is refused', async () => {
    const unnamed = await makeCertificate({ commonName: 'unrelated.example', dnsIds: ['unrelated.example'], issuer: ca });
    for (const usage of [TLSA_USAGE.PKIX_TA, TLSA_USAGE.PKIX_EE, TLSA_USAGE.DANE_TA]) {
      const record = tlsaRecordFor(usage === TLSA_USAGE.PKIX_EE ? unnamed.node : ca.node, usage, 0, 1);
      const result = verdict({ chain: [unnamed.node, ca.node], tlsa: tlsaFor('secure', [record]) });
      assert.equal(result.proven, false, `usage ${usage}`);
      assert.match(result.reason, /names none of delegated\.example, xmpp1\.host\.net/);
    }
  });

  test('PKIX usages also need the chain to pass PKIX against our own anchors', () => {
    const record = tlsaRecordFor(hostLeaf.node, TLSA_USAGE.PKIX_EE, 0, 1);
    assert.equal(verdict({ trustAnchors: [], tlsa: tlsaFor('secure', [record]) }).proven, false);
    assert.equal(verdict({ trustAnchors: [ca.node], tlsa: tlsaFor('secure', [record]) }).method, 'pkix-ee');
  });

  test('secure SRV, no TLSA: a certificate for the SRV target is accepted; with insecure SRV it is refused', () => {
    assert.equal(verdict({}).method, 'dnssec-srv');
    assert.equal(verdict({ tlsa: tlsaFor('insecure', []) }).method, 'dnssec-srv');
    assert.equal(verdict({ tlsa: tlsaFor('nxdomain', []) }).method, 'dnssec-srv');
    const insecure = verdict({ srv: srv('insecure') });
    assert.equal(insecure.proven, false);
    assert.match(insecure.reason, /its SRV answer is not signed/);
  });

  test('local policy may accept an unsigned SRV target', () => {
    const accepted = verdict({ srv: srv('insecure'), acceptUnsignedSrv: true });
    assert.deepEqual([accepted.proven, accepted.method], [true, 'unsigned-srv']);
  });

  test('a certificate naming the service domain itself is enough (PKIX), whatever the SRV says', () => {
    for (const status of ['secure', 'insecure', 'nxdomain', 'failed'] as const) {
      assert.equal(verdict({ chain: [domainLeaf.node, ca.node], srv: srv(status) }).method, 'pkix', status);
    }
    assert.equal(verdict({ chain: [domainLeaf.node, ca.node], srv: undefined }).method, 'pkix');
  });

  test('a bogus SRV answer proves nothing, even for a certificate naming the domain', () => {
    const result = verdict({ chain: [domainLeaf.node, ca.node], srv: srv('bogus') });
    assert.equal(result.proven, false);
    assert.match(result.reason, /bogus/);
  });

  test('a bogus or unanswered TLSA set takes the target out', () => {
    for (const status of ['bogus', 'failed'] as const) {
      const result = verdict({ tlsa: tlsaFor(status, []) });
      assert.equal(result.proven, false);
      assert.match(result.reason, new RegExp(`TLSA answer for ${TARGET.replaceAll('.', '\\.')} is ${status}`));
    }
  });

  test('a secure, usable TLSA set must match: PKIX for the target is not enough then', () => {
    const wrong = tlsaRecordFor(other.node, TLSA_USAGE.DANE_EE, 1, 1);
    assert.equal(verdict({ tlsa: tlsaFor('secure', [wrong]) }).proven, false);
  });

  test('unusable records are ignored (RFC 7671 section 4.1): a set of only those counts as none', () => {
    const unknownUsage = { ...tlsaRecordFor(hostLeaf.node, 3, 1, 1), usage: 4 };
    const shortDigest = { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(20) };
    const unknownMatching = { usage: 3, selector: 1, matchingType: 3, data: Buffer.alloc(32) };
    for (const record of [unknownUsage, shortDigest, unknownMatching]) assert.equal(isUsableTlsa(record), false);
    assert.equal(verdict({ tlsa: tlsaFor('secure', [unknownUsage, shortDigest, unknownMatching]) }).method, 'dnssec-srv');
  });

  test('no certificate, nothing proven', () => {
    assert.equal(verdict({ chain: [] }).proven, false);
  });
});

describe('keyless pair requests: is the sender domain delegated to a host this connection proved?', () => {
  const names = ['xmpp1.host.net', 'host.net'];

  test('a DNSSEC-signed SRV record pointing at a proven host name: valid', () => {
    assert.deepEqual(srvDelegationVerdict(DOMAIN, srv('secure'), names), { proven: true, method: 'dnssec-srv', reason: `the DNSSEC-signed SRV record of ${DOMAIN} points at ${TARGET}` });
  });

  test('an SRV answer without AD: not authorized, unless policy accepts unsigned delegation', () => {
    assert.match(srvDelegationVerdict(DOMAIN, srv('insecure'), names).reason, /not DNSSEC-signed/);
    assert.equal(srvDelegationVerdict(DOMAIN, srv('insecure'), names, true).method, 'unsigned-srv');
  });

  test('bogus, failed and missing answers, and targets the connection did not prove, are refused', () => {
    for (const status of ['bogus', 'failed', 'nxdomain'] as const) assert.equal(srvDelegationVerdict(DOMAIN, srv(status), names).proven, false, status);
    assert.match(srvDelegationVerdict(DOMAIN, srv('secure', 'elsewhere.example'), names).reason, /no SRV target/);
  });
});

describe('the DNS questions asked for DANE (RFC 7673 section 3)', () => {
  /** answers by "TYPE name"; everything asked is recorded */
  function fakeResolver(answers: Record<string, SecureAnswer<unknown>>) {
    const asked: string[] = [];
    const ask = async <T>(key: string): Promise<SecureAnswer<T>> => {
      asked.push(key);
      return (answers[key] ?? answer('nxdomain', [])) as SecureAnswer<T>;
    };
    return {
      asked,
      resolver: { srv: (name: string) => ask<SrvRecord>(`SRV ${name}`), tlsa: (name: string) => ask<TlsaRecord>(`TLSA ${name}`), a: (host: string) => ask<string>(`A ${host}`), aaaa: (host: string) => ask<string>(`AAAA ${host}`) },
    };
  }
  const SRV = `SRV _xmpp-server._tcp.${DOMAIN}`;
  const record = { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32) };

  test('secure SRV, secure addresses: the TLSA records of each target at its port', async () => {
    const { asked, resolver } = fakeResolver({ [SRV]: srv('secure'), [`A ${TARGET}`]: answer('secure', ['192.0.2.1']), [`TLSA _5269._tcp.${TARGET}`]: answer('secure', [record]) });
    const lookup = await lookupDane(resolver, DOMAIN);
    assert.deepEqual(lookup.tlsa.get(TARGET)?.records, [record]);
    assert.deepEqual(asked.sort(), [`A ${TARGET}`, `AAAA ${TARGET}`, SRV, `TLSA _5269._tcp.${TARGET}`].sort());
  });

  test('an insecure SRV answer or insecure addresses: no TLSA question', async () => {
    const cases: Record<string, SecureAnswer<unknown>>[] = [{ [SRV]: srv('insecure') }, { [SRV]: srv('secure'), [`A ${TARGET}`]: answer('insecure', ['192.0.2.1']) }];
    for (const answers of cases) {
      const { asked, resolver } = fakeResolver(answers);
      const lookup = await lookupDane(resolver, DOMAIN);
      assert.equal(lookup.tlsa.size, 0);
      assert.ok(!asked.some((key) => key.startsWith('TLSA')));
    }
  });

  test('bogus addresses take the target out', async () => {
    const { resolver } = fakeResolver({ [SRV]: srv('secure'), [`A ${TARGET}`]: answer('bogus', []) });
    const lookup = await lookupDane(resolver, DOMAIN);
    assert.equal(lookup.tlsa.get(TARGET)?.status, 'bogus');
  });
});
