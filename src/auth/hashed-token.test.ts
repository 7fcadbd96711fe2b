import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { FastToken } from '../storage/types.ts';
import type { ChannelBindings } from './channel-binding.ts';
import { HashedTokenServerExchange, hashedTokenMechanisms, newToken, type HashedTokenMechanism } from './hashed-token.ts';

const ENDPOINT = Buffer.alloc(32, 7);
const bindings: ChannelBindings = { types: ['tls-server-end-point'], data: (type) => (type === 'tls-server-end-point' ? ENDPOINT : undefined) };

/** What a client computes (draft-schmaus-kitten-sasl-ht section 3.1): keyed with the token itself, not its hash. */
function clientMessage(user: string, token: string, cbData = Buffer.alloc(0)): Buffer {
  const proof = createHmac('sha256', token).update(Buffer.concat([Buffer.from('Initiator'), cbData])).digest();
  return Buffer.concat([Buffer.from(`${user}\0`), proof]);
}

function exchange(mechanism: HashedTokenMechanism, tokens: FastToken[], channelBindings?: ChannelBindings) {
  return new HashedTokenServerExchange({ mechanism, channelBindings, tokens: async () => tokens });
}

test('a token is checked against its stored hash alone, and the server proves it knows the token', async () => {
  const { token, hash } = newToken();
  assert.ok(Buffer.byteLength(token) > 64, 'longer than the HMAC block, so HMAC keys with its hash');
  const stored: FastToken = { clientId: 'c', mechanism: 'HT-SHA-256-NONE', hash, expiresAt: Date.now() + 1000 };
  const step = await exchange('HT-SHA-256-NONE', [stored]).step(clientMessage('alice', token));
  assert.equal(step.kind, 'success');
  assert.equal(step.kind === 'success' && step.fastToken, stored);
  const expected = createHmac('sha256', token).update('Responder').digest();
  assert.deepEqual(step.kind === 'success' && step.additionalData, expected);
});

test('a wrong token, a token of another mechanism or channel, and malformed messages fail', async () => {
  const { token, hash } = newToken();
  const none: FastToken = { clientId: 'c', mechanism: 'HT-SHA-256-NONE', hash, expiresAt: Date.now() + 1000 };
  const endp: FastToken = { ...none, mechanism: 'HT-SHA-256-ENDP' };
  assert.deepEqual(await exchange('HT-SHA-256-NONE', [none]).step(clientMessage('alice', newToken().token)), { kind: 'failure', condition: 'not-authorized' });
  // XEP-0484 section 3.4: a token issued for a binding mechanism does not work without the binding.
  assert.deepEqual(await exchange('HT-SHA-256-NONE', [endp]).step(clientMessage('alice', token)), { kind: 'failure', condition: 'not-authorized' });
  assert.equal((await exchange('HT-SHA-256-ENDP', [endp], bindings).step(clientMessage('alice', token, ENDPOINT))).kind, 'success');
  assert.equal((await exchange('HT-SHA-256-ENDP', [endp], bindings).step(clientMessage('alice', token, Buffer.alloc(32, 8)))).kind, 'failure', 'another channel');
  assert.equal((await exchange('HT-SHA-256-EXPR', [endp], bindings).step(clientMessage('alice', token))).kind, 'failure');
  assert.equal((await exchange('HT-SHA-256-NONE', [none]).step(Buffer.alloc(0))).kind, 'failure');
  assert.equal((await exchange('HT-SHA-256-NONE', [none]).step(Buffer.from('alice'))).kind, 'failure');
  const ex = exchange('HT-SHA-256-NONE', [none]);
  await ex.step(clientMessage('alice', token));
  assert.equal((await ex.step(clientMessage('alice', token))).kind, 'failure', 'one message per exchange');
});

test('the binding mechanisms are offered only where the channel has their data', () => {
  assert.deepEqual(hashedTokenMechanisms(undefined), ['HT-SHA-256-NONE']);
  assert.deepEqual(hashedTokenMechanisms(bindings), ['HT-SHA-256-ENDP', 'HT-SHA-256-NONE']);
});
