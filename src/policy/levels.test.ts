import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FederationLevel } from '../config/types.ts';
import { demandsOf, levelReached, meetsLevel, RequiredLevels, type ProofStrength } from './levels.ts';

test('the most specific peer rule decides the required level, and names its key', () => {
  const levels = new RequiredLevels({
    min_level: 'encrypted',
    peering: [],
    peers: [
      { domain: '*.example.org', level: 'verified' },
      { domain: '*.lab.example.org', level: 'permissive' },
      { domain: 'bank.example.org', level: 'trusted' },
    ],
  });
  const cases: [domain: string | undefined, level: FederationLevel, rule: string][] = [
    ['bank.example.org', 'trusted', 's2s.peers["bank.example.org"].level'],
    ['a.lab.example.org', 'permissive', 's2s.peers["*.lab.example.org"].level'],
    ['x.y.lab.example.org', 'permissive', 's2s.peers["*.lab.example.org"].level'],
    ['chat.example.org', 'verified', 's2s.peers["*.example.org"].level'],
    ['example.org', 'encrypted', 's2s.min_level'],
    ['elsewhere.net', 'encrypted', 's2s.min_level'],
    [undefined, 'encrypted', 's2s.min_level'],
  ];
  for (const [domain, level, rule] of cases) assert.deepEqual(levels.of(domain), { level, rule }, domain);
});

test('levels are ordered and each demands what its name says', () => {
  assert.ok(meetsLevel('trusted', 'encrypted'));
  assert.ok(!meetsLevel('encrypted', 'trusted'));
  assert.ok(meetsLevel('verified', 'permissive'));
  assert.deepEqual(demandsOf('permissive'), { tls: false, authentication: false, trustedCertificate: false });
  assert.deepEqual(demandsOf('verified'), { tls: false, authentication: true, trustedCertificate: false });
  assert.deepEqual(demandsOf('encrypted'), { tls: true, authentication: true, trustedCertificate: false });
  assert.deepEqual(demandsOf('trusted'), { tls: true, authentication: true, trustedCertificate: true });
});

test('the level reached follows from TLS and what proved the domain', () => {
  const cases: [tls: boolean, strength: ProofStrength, level: FederationLevel][] = [
    [false, 'none', 'permissive'],
    [true, 'none', 'permissive'],
    [false, 'dns', 'verified'],
    [true, 'dns', 'encrypted'],
    [true, 'pki', 'trusted'],
    [false, 'pki', 'verified'],
  ];
  for (const [tls, strength, level] of cases) assert.equal(levelReached({ tls, strength }), level, `${strength} ${tls ? 'with' : 'without'} TLS`);
});
