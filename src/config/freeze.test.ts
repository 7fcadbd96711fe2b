import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze } from './freeze.ts';

test('deepFreeze freezes nested objects and arrays and returns its argument', () => {
  const value = { a: { b: [1, { c: 2 }] }, d: 'text' };
  assert.equal(deepFreeze(value), value);
  assert.ok(Object.isFrozen(value));
  assert.ok(Object.isFrozen(value.a));
  assert.ok(Object.isFrozen(value.a.b));
  assert.ok(Object.isFrozen(value.a.b[1]));
});
