/**
 * The per-pair authorization decision (draft-ietf-xmpp-dna-01 section 6): which proof grants a
 * keyless request, in the order of strength, each method on only where `s2s.delegation` says.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeCertificate, type TestCertificate } from '../../test/support/certs.ts';
import type { DelegationMethodName } from '../config/types.ts';
import type { DelegationChecks } from '../delegation/from-config.ts';
import type { PoshVerifier } from '../delegation/posh.ts';
import type { DnssecStatus, SecureResolver } from '../delegation/secure-resolver.ts';
import { proveSender, type PairEvidence } from './pair-authorization.ts';
import type { CertificateStatus } from './peer-certificate.ts';

const SENDER = 'hosted.example';
const HOST = 'xmpp1.host.net';

function checks(options: { methods?: DelegationMethodName[]; srv?: DnssecStatus; target?: string; posh?: boolean; unsigned?: boolean; resolver?: boolean } = {}): DelegationChecks & { asked: string[] } {
  const asked: string[] = [];
  const answer = <T>(status: DnssecStatus, records: T[]) => ({ status, records, authenticated: status === 'secure', ttl: 60 });
  const resolver = {
    srv: async (name: string) => {
      asked.push(`SRV ${name}`);
      return answer(options.srv ?? 'secure', options.srv === 'bogus' ? [] : [{ name: options.target ?? HOST, port: 5269, priority: 0, weight: 0 }]);
    },
    tlsa: async (name: string) => (asked.push(`TLSA ${name}`), answer('insecure', [])),
    a: async () => answer('insecure', ['192.0.2.1']),
    aaaa: async () => answer('insecure', []),
  } as SecureResolver;
  const posh = {
    verify: async (domain: string) => {
      asked.push(`POSH ${domain}`);
      return options.posh ? { proven: true, method: 'posh', reason: 'fingerprint matches' } : { proven: false, method: 'none', reason: 'no POSH document' };
    },
  } as unknown as PoshVerifier;
  const methods = new Set<DelegationMethodName>(options.methods ?? ['dnssec_srv', 'dane', 'posh']);
  return {
    asked,
    methods,
    ...(options.resolver === false ? {} : { resolver }),
    ...(methods.has('posh') ? { posh } : {}),
    acceptsUnsignedSrv: () => options.unsigned ?? false,
  };
}

describe('per-pair authorization: proving the sender for a connection', () => {
  let ca: TestCertificate;
  let leaf: TestCertificate;
  before(async () => {
    ca = await makeCertificate({ commonName: 'Test CA', ca: true });
    leaf = await makeCertificate({ commonName: HOST, dnsIds: [HOST], issuer: ca });
  });
  const evidence = (names: Record<string, CertificateStatus> = { [HOST]: 'valid' }, chain = true): PairEvidence => ({
    certificate: (name) => ({ status: names[name] ?? 'wrong-name', reason: `the certificate does not name ${name}` }),
    chain: chain ? [leaf.node, ca.node] : [],
    anchors: [ca.node],
  });

  test('a certificate naming the sender proves it at once, nothing else is asked', async () => {
    const delegation = checks();
    const verdict = await proveSender(SENDER, evidence({ [SENDER]: 'valid' }), delegation);
    assert.deepEqual([verdict.proven, verdict.proven && verdict.method, verdict.proven && verdict.level], [true, 'certificate', 'trusted']);
    assert.deepEqual(delegation.asked, []);
  });

  test('a DNSSEC-signed SRV record pointing at a name the certificate proves: dnssec-srv, trusted', async () => {
    for (const methods of [['dnssec_srv'], ['dane', 'dnssec_srv']] as DelegationMethodName[][]) {
      const verdict = await proveSender(SENDER, evidence(), checks({ methods }));
      assert.equal(verdict.proven && verdict.method, 'dnssec-srv', JSON.stringify(verdict));
      assert.equal(verdict.proven && verdict.level, 'trusted');
    }
  });

  test('DANE alone does not accept what only the signed SRV record proves', async () => {
    const verdict = await proveSender(SENDER, evidence(), checks({ methods: ['dane'] }));
    assert.equal(verdict.proven, false);
  });

  test('an unsigned SRV record: refused, unless policy accepts it for the domain (then only encrypted)', async () => {
    const refused = await proveSender(SENDER, evidence(), checks({ srv: 'insecure', methods: ['dnssec_srv'] }));
    assert.equal(refused.proven, false);
    assert.match(refused.reason, /not DNSSEC-signed/);
    const allowed = await proveSender(SENDER, evidence(), checks({ srv: 'insecure', methods: ['dnssec_srv'], unsigned: true }));
    assert.deepEqual([allowed.proven && allowed.method, allowed.proven && allowed.level], ['unsigned-srv', 'encrypted']);
  });

  test('a bogus SRV answer (broken signature) is refused, and POSH is not asked', async () => {
    const delegation = checks({ srv: 'bogus', posh: true });
    const verdict = await proveSender(SENDER, evidence(), delegation);
    assert.equal(verdict.proven, false);
    assert.match(verdict.reason, /bogus/);
    assert.ok(!delegation.asked.some((line) => line.startsWith('POSH')));
  });

  test('an SRV target the certificate does not prove: refused', async () => {
    const verdict = await proveSender(SENDER, evidence(), checks({ target: 'elsewhere.example', methods: ['dnssec_srv'] }));
    assert.equal(verdict.proven, false);
    assert.match(verdict.reason, /no SRV target/);
  });

  test('POSH proves what DNS does not; off, it is not asked', async () => {
    const proven = await proveSender(SENDER, evidence(), checks({ srv: 'insecure', posh: true }));
    assert.deepEqual([proven.proven && proven.method, proven.proven && proven.level], ['posh', 'trusted']);
    const off = checks({ srv: 'insecure', posh: true, methods: ['dnssec_srv'] });
    assert.equal((await proveSender(SENDER, evidence(), off)).proven, false);
    assert.ok(!off.asked.some((line) => line.startsWith('POSH')));
  });

  test('without a validating resolver, no DNS method runs; without delegation checks, only the certificate counts', async () => {
    const noResolver = checks({ resolver: false, methods: ['posh'] });
    assert.equal((await proveSender(SENDER, evidence(), noResolver)).proven, false);
    assert.deepEqual(noResolver.asked, [`POSH ${SENDER}`]);
    const none = await proveSender(SENDER, evidence(), undefined);
    assert.equal(none.proven, false);
    assert.match(none.reason, /does not name hosted.example/);
  });

  test('no certificate presented: nothing can be proven', async () => {
    const delegation = checks();
    assert.equal((await proveSender(SENDER, evidence({}, false), delegation)).proven, false);
    assert.deepEqual(delegation.asked, []);
  });
});
