import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pooledRandomBytes } from './random-pool.ts';

test('pooled random bytes are never handed out twice, across refills', () => {
  const seen = new Set<string>();
  // 2,000 draws of 16 bytes cross several refills of the 4 KiB pool.
  for (let draw = 0; draw < 2000; draw++) {
    const bytes = pooledRandomBytes(16);
    assert.equal(bytes.length, 16);
    const hex = bytes.toString('hex');
    assert.ok(!seen.has(hex), 'a repeated draw');
    seen.add(hex);
  }
});

test('each draw owns its bytes, and they look random', () => {
  const first = pooledRandomBytes(32);
  const copy = Buffer.from(first);
  pooledRandomBytes(32);
  assert.deepEqual(first, copy, 'a later draw does not change an earlier one');
  // Over 64 KiB, every byte value turns up (a zeroed or stuck pool would not).
  const counts = new Uint32Array(256);
  for (let draw = 0; draw < 64; draw++) for (const byte of pooledRandomBytes(1024)) counts[byte]!++;
  assert.ok(counts.every((count) => count > 0));
});

test('sizes outside the pool are refused', () => {
  assert.throws(() => pooledRandomBytes(4097), RangeError);
  assert.throws(() => pooledRandomBytes(-1), RangeError);
  assert.equal(pooledRandomBytes(0).length, 0);
});
