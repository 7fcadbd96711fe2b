import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingWindowLimit } from './sliding-window.ts';

test('allows up to the limit within the window, then again as events age out', () => {
  const limit = new SlidingWindowLimit(2, 1000);
  assert.ok(limit.allows('a', 0));
  limit.record('a', 0);
  limit.record('a', 500);
  assert.ok(!limit.allows('a', 999));
  assert.ok(limit.allows('b', 999), 'other keys are counted apart');
  assert.ok(limit.allows('a', 1000), 'the first event left the window');
  limit.record('a', 1000);
  assert.ok(!limit.allows('a', 1499));
});

test('keeps at most maxKeys keys, dropping the least recently used', () => {
  const limit = new SlidingWindowLimit(1, 1000, 2);
  limit.record('a', 0);
  limit.record('b', 1);
  limit.record('a', 2);
  limit.record('c', 3);
  assert.equal(limit.size, 2);
  assert.ok(limit.allows('b', 4), 'b was dropped');
  assert.ok(!limit.allows('a', 4));
  assert.ok(!limit.allows('c', 4));
});

test('keys whose events all expired are forgotten', () => {
  const limit = new SlidingWindowLimit(1, 10);
  limit.record('a', 0);
  assert.ok(limit.allows('a', 20));
  assert.equal(limit.size, 0);
});

test('count and record report the events within the window, never more than the limit', () => {
  const limit = new SlidingWindowLimit(3, 100);
  assert.equal(limit.record('a', 0), 1);
  assert.equal(limit.record('a', 10), 2);
  assert.equal(limit.record('a', 20), 3);
  assert.equal(limit.record('a', 30), 3, 'only the newest `limit` timestamps are kept');
  assert.equal(limit.count('a', 111), 2);
  limit.clear('a');
  assert.equal(limit.count('a', 111), 0);
});
