import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredCredentials } from '../storage/types.ts';
import { createSaslServer, type SaslContext, type SaslStep } from './sasl.ts';
import { makeStoredCredentials } from './scram.ts';

const accounts = new Map<string, StoredCredentials>([
  ['juliet', makeStoredCredentials('r0m3o!', 64)],
  // imported from another server that kept SCRAM-SHA-1 keys only (XEP-0227)
  ['nurse', { 'SCRAM-SHA-1': makeStoredCredentials('herbs', 64)['SCRAM-SHA-1'] }],
]);
const context: SaslContext = { domain: 'example.com', lookup: async (username) => accounts.get(username), scramIterations: 64 };

function plain(authzid: string, authcid: string, password: string): Buffer {
  return Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8');
}

async function login(message: Buffer): Promise<SaslStep> {
  return createSaslServer('PLAIN', context).step(message);
}

describe('PLAIN (RFC 4616)', () => {
  test('succeeds with the right password', async () => {
    assert.deepEqual(await login(plain('', 'juliet', 'r0m3o!')), { kind: 'success', username: 'juliet' });
  });

  test('checks an account with SCRAM-SHA-1 keys only against them', async () => {
    assert.deepEqual(await login(plain('', 'nurse', 'herbs')), { kind: 'success', username: 'nurse' });
    assert.deepEqual(await login(plain('', 'nurse', 'weeds')), { kind: 'failure', condition: 'not-authorized' });
  });

  test('prepares the username', async () => {
    assert.deepEqual(await login(plain('', 'JULIET', 'r0m3o!')), { kind: 'success', username: 'juliet' });
  });

  test('accepts the own bare JID as authzid', async () => {
    assert.deepEqual(await login(plain('juliet@example.com', 'juliet', 'r0m3o!')), { kind: 'success', username: 'juliet' });
  });

  const failures: [string, Buffer, string][] = [
    ['wrong password', plain('', 'juliet', 'wrong'), 'not-authorized'],
    ['password with other case', plain('', 'juliet', 'R0M3O!'), 'not-authorized'],
    ['unknown user', plain('', 'romeo', 'r0m3o!'), 'not-authorized'],
    ['username that is no localpart', plain('', 'jul iet', 'r0m3o!'), 'not-authorized'],
    ['password that is no OpaqueString', plain('', 'juliet', 'r0m3o!\u0007'), 'not-authorized'],
    ['authzid of another user', plain('admin@example.com', 'juliet', 'r0m3o!'), 'invalid-authzid'],
    ['authzid with a resource', plain('juliet@example.com/x', 'juliet', 'r0m3o!'), 'invalid-authzid'],
    ['authzid in another domain', plain('juliet@example.org', 'juliet', 'r0m3o!'), 'invalid-authzid'],
    ['two fields', Buffer.from('juliet\0r0m3o!'), 'malformed-request'],
    ['four fields', Buffer.from('\0juliet\0r0m3o!\0'), 'malformed-request'],
    ['empty authcid', plain('', '', 'r0m3o!'), 'malformed-request'],
    ['empty password', plain('', 'juliet', ''), 'malformed-request'],
    ['field over 255 bytes', plain('', 'juliet', 'x'.repeat(256)), 'malformed-request'],
    ['invalid UTF-8', Buffer.from([0, 0x6a, 0, 0xff]), 'malformed-request'],
  ];
  for (const [name, message, condition] of failures) {
    test(`fails: ${name}`, async () => {
      const step = await login(message);
      assert.equal(step.kind, 'failure');
      assert.equal(step.kind === 'failure' && step.condition, condition);
    });
  }

  test('answers an empty initial response with an empty challenge', async () => {
    const server = createSaslServer('PLAIN', context);
    assert.deepEqual(await server.step(Buffer.alloc(0)), { kind: 'challenge', data: Buffer.alloc(0) });
    assert.deepEqual(await server.step(plain('', 'juliet', 'r0m3o!')), { kind: 'success', username: 'juliet' });
  });

  test('fails every step after the outcome', async () => {
    const server = createSaslServer('PLAIN', context);
    assert.equal((await server.step(plain('', 'juliet', 'wrong'))).kind, 'failure');
    const again = await server.step(plain('', 'juliet', 'r0m3o!'));
    assert.equal(again.kind, 'failure');
  });
});
