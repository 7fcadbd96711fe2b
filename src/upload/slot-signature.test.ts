import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sanitizeFilename } from './service.ts';
import { signSlot, slotSignatureValid, type SlotTerms } from './slot-signature.ts';

describe('upload slot signatures', () => {
  const secret = randomBytes(32);
  const terms: SlotTerms = { path: '/upload/upload.example.com/abcdefghijklmnopqrstuvwx/a.png', size: 1000, type: 'image/png', expires: 2_000_000_000, owner: 'alice@example.com' };

  test('only the terms signed, under the secret, verify', () => {
    const signature = signSlot(secret, terms);
    assert.ok(slotSignatureValid(secret, terms, signature));
    for (const changed of [{ path: terms.path.replace('a.png', 'b.png') }, { size: 1001 }, { type: 'text/html' }, { expires: terms.expires + 1 }, { owner: 'mallory@example.com' }]) {
      assert.ok(!slotSignatureValid(secret, { ...terms, ...changed }, signature), JSON.stringify(changed));
    }
    assert.ok(!slotSignatureValid(randomBytes(32), terms, signature));
    assert.ok(!slotSignatureValid(secret, terms, signature.slice(1)));
    assert.ok(!slotSignatureValid(secret, terms, ''));
  });

  test('a field with a line break cannot be signed, so two sets of terms never sign the same text', () => {
    assert.throws(() => signSlot(secret, { ...terms, type: 'image/png\n2000000000' }));
  });
});

describe('upload file names', () => {
  test('one path segment: no separators, control characters or leading dots; at most 200 bytes', () => {
    assert.equal(sanitizeFilename('../../etc/passwd'), '_.._etc_passwd');
    assert.equal(sanitizeFilename('..\\x\u0000y'), '_x_y');
    assert.equal(sanitizeFilename('...'), 'file');
    assert.equal(sanitizeFilename('photo 1.jpg'), 'photo 1.jpg');
    const long = sanitizeFilename('é'.repeat(300));
    assert.equal(Buffer.byteLength(long), 200);
    assert.ok(Buffer.byteLength(sanitizeFilename('😀'.repeat(100))) <= 200);
  });
});
