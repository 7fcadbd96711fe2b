import { test } from 'node:test';
import assert from 'node:assert/strict';
import { achievedLevel, demandsOf, meetsLevel, requiredLevel } from './levels.ts';

test('the most specific peer rule decides the required level', () => {
  const config = {
    min_level: 'encrypted' as const,
    peers: [
      { domain: '*.example.org', level: 'verified' as const },
      { domain: '*.lab.example.org', level: 'permissive' as const },
      { domain: 'bank.example.org', level: 'trusted' as const },
    ],
  };
  assert.equal(requiredLevel(config, 'bank.example.org'), 'trusted');
  assert.equal(requiredLevel(config, 'a.lab.example.org'), 'permissive');
  assert.equal(requiredLevel(config, 'x.y.lab.example.org'), 'permissive');
  assert.equal(requiredLevel(config, 'chat.example.org'), 'verified');
  assert.equal(requiredLevel(config, 'example.org'), 'encrypted', 'a wildcard does not cover the bare domain');
  assert.equal(requiredLevel(config, 'elsewhere.net'), 'encrypted');
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

test('the achieved level follows from TLS and the authentication method', () => {
  assert.equal(achievedLevel({ tls: false, method: 'none' }), 'permissive');
  assert.equal(achievedLevel({ tls: false, method: 'dialback' }), 'verified');
  assert.equal(achievedLevel({ tls: true, method: 'dialback' }), 'encrypted');
  assert.equal(achievedLevel({ tls: true, method: 'sasl-external' }), 'trusted');
  assert.equal(achievedLevel({ tls: true, method: 'certificate' }), 'trusted');
});
