import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredCredentials } from '../storage/types.ts';
import { createSaslServer } from './sasl.ts';
import { fakeScramVerifier, makeScramVerifier, makeStoredCredentials, passwordMatches, type ScramHash } from './scram.ts';
import { ScramClient, ScramClientError } from './scram-client.ts';

interface Vector {
  rfc: string;
  hash: ScramHash;
  clientNonce: string;
  serverNonce: string;
  salt: string;
  clientFirst: string;
  serverFirst: string;
  clientFinal: string;
  serverFinal: string;
}

const vectors: Vector[] = [
  {
    rfc: 'RFC 5802 section 5 (SCRAM-SHA-1)',
    hash: 'SHA-1',
    clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
    serverNonce: '3rfcNHYJY1ZVvWVs7j',
    salt: 'QSXCR+Q6sek8bf92',
    clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
    serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
    clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
  {
    rfc: 'RFC 7677 section 3 (SCRAM-SHA-256)',
    hash: 'SHA-256',
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
];

const text = (data: Buffer) => data.toString('utf8');

for (const v of vectors) {
  describe(`test vector of ${v.rfc}`, () => {
    const verifier = makeScramVerifier('pencil', v.hash, 4096, Buffer.from(v.salt, 'base64'));

    test('the client produces the exact messages', async () => {
      const client = new ScramClient({ hash: v.hash, username: 'user', password: 'pencil', clientNonce: v.clientNonce });
      assert.equal(text(client.firstMessage()), v.clientFirst);
      assert.equal(text(await client.finalMessage(Buffer.from(v.serverFirst))), v.clientFinal);
      client.verifyServerFinal(Buffer.from(v.serverFinal));
    });

    test('the server produces the exact messages', async () => {
      const credentials = { 'SCRAM-SHA-1': verifier, 'SCRAM-SHA-256': verifier } as StoredCredentials;
      const server = createSaslServer(`SCRAM-${v.hash}`, { domain: 'example.com', lookup: async () => credentials }, { serverNonce: v.serverNonce });
      const first = await server.step(Buffer.from(v.clientFirst));
      assert.equal(first.kind, 'challenge');
      assert.equal(first.kind === 'challenge' && text(first.data), v.serverFirst);
      const final = await server.step(Buffer.from(v.clientFinal));
      assert.equal(final.kind, 'success');
      assert.equal(final.kind === 'success' && final.username, 'user');
      assert.equal(final.kind === 'success' && final.additionalData && text(final.additionalData), v.serverFinal);
    });

    test('the client rejects a wrong server signature', async () => {
      const client = new ScramClient({ hash: v.hash, username: 'user', password: 'pencil', clientNonce: v.clientNonce });
      await client.finalMessage(Buffer.from(v.serverFirst));
      assert.throws(() => client.verifyServerFinal(Buffer.from(`v=${Buffer.alloc(v.hash === 'SHA-1' ? 20 : 32).toString('base64')}`)), ScramClientError);
      assert.throws(() => client.verifyServerFinal(Buffer.from('e=invalid-proof')), /invalid-proof/);
    });
  });
}

describe('ScramClient checks the server-first-message', () => {
  const cases: [string, string, RegExp][] = [
    ['nonce not starting with the client nonce', 'r=other123,s=QSXCR+Q6sek8bf92,i=4096', /nonce/],
    ['nonce equal to the client nonce', 'r=abc,s=QSXCR+Q6sek8bf92,i=4096', /nonce/],
    ['missing salt', 'r=abcdef,i=4096', /"s"/],
    ['salt not base64', 'r=abcdef,s=***,i=4096', /base64/],
    ['zero iterations', 'r=abcdef,s=QSXCR+Q6sek8bf92,i=0', /iteration/],
    ['mandatory extension', 'm=x,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096', /extension/],
  ];
  for (const [name, serverFirst, message] of cases) {
    test(name, async () => {
      const client = new ScramClient({ hash: 'SHA-256', username: 'user', password: 'pencil', clientNonce: 'abc' });
      await assert.rejects(client.finalMessage(Buffer.from(serverFirst)), (error: unknown) => error instanceof ScramClientError && message.test(error.message));
    });
  }

  test('server-final before client-final', () => {
    const client = new ScramClient({ hash: 'SHA-256', username: 'user', password: 'pencil' });
    assert.throws(() => client.verifyServerFinal(Buffer.from('v=AAAA')), ScramClientError);
  });
});

describe('verifiers', () => {
  test('makeStoredCredentials derives both hashes with distinct random salts', async () => {
    const credentials = makeStoredCredentials('secret', 64);
    const sha1 = credentials['SCRAM-SHA-1'];
    const sha256 = credentials['SCRAM-SHA-256'];
    assert.equal(sha1.iterations, 64);
    assert.equal(Buffer.from(sha1.storedKey, 'base64').length, 20);
    assert.equal(Buffer.from(sha256.serverKey, 'base64').length, 32);
    assert.notEqual(sha1.salt, sha256.salt);
    assert.equal(await passwordMatches('secret', 'SHA-256', sha256), true);
    assert.equal(await passwordMatches('Secret', 'SHA-256', sha256), false);
    assert.equal(await passwordMatches('secret', 'SHA-1', sha1), true);
  });

  test('passwords are prepared with OpaqueString: non-ASCII spaces equal U+0020, NFC applies', async () => {
    const verifier = makeScramVerifier('correct horse', 'SHA-256', 16);
    assert.equal(await passwordMatches('correct\u00a0horse', 'SHA-256', verifier), true);
    const accented = makeScramVerifier('caf\u00e9', 'SHA-256', 16);
    assert.equal(await passwordMatches('cafe\u0301', 'SHA-256', accented), true);
  });

  test('invalid passwords and iteration counts are refused', () => {
    assert.throws(() => makeScramVerifier('', 'SHA-256', 16), /empty/);
    assert.throws(() => makeScramVerifier('a\u0000b', 'SHA-256', 16), /U\+0000/);
    assert.throws(() => makeScramVerifier('a', 'SHA-256', 0), RangeError);
  });

  test('fake verifiers are stable per username and look like real ones', () => {
    const a = fakeScramVerifier('SHA-256', 'ghost', 4096);
    assert.deepEqual(fakeScramVerifier('SHA-256', 'ghost', 4096), a);
    assert.notEqual(fakeScramVerifier('SHA-256', 'other', 4096).salt, a.salt);
    assert.equal(Buffer.from(a.salt, 'base64').length, 16);
    assert.equal(Buffer.from(a.storedKey, 'base64').length, 32);
  });
});
