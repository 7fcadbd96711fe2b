import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedCache } from './bounded-cache.ts';

test('never holds more than its capacity', () => {
  const cache = new BoundedCache<number>(10);
  for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
  assert.ok(cache.size <= 10);
  assert.equal(cache.get('k99'), 99);
  assert.equal(cache.get('k0'), undefined);
});

test('keeps entries that are read', () => {
  const cache = new BoundedCache<number>(4);
  cache.set('hot', 1);
  for (let i = 0; i < 20; i++) {
    cache.set(`k${i}`, i);
    assert.equal(cache.get('hot'), 1);
  }
});

test('overwrites a key without duplicating it', () => {
  const cache = new BoundedCache<number>(4);
  cache.set('a', 1);
  cache.set('b', 2);
  cache.set('c', 3);
  cache.set('a', 4);
  assert.equal(cache.get('a'), 4);
  assert.equal(cache.size, 3);
});
