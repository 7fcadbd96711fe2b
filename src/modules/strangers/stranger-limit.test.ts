import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StrangerLimit } from './stranger-limit.ts';

const allowed = (limit: StrangerLimit, sender: string, now: number) => limit.check(sender, now).allowed;

test('allows max messages per sender within the window, then refuses until the oldest ages out', () => {
  const limit = new StrangerLimit(3, 1000);
  assert.ok(allowed(limit, 'spam@x', 0));
  assert.ok(allowed(limit, 'spam@x', 100));
  assert.ok(allowed(limit, 'spam@x', 200));
  assert.ok(!allowed(limit, 'spam@x', 300));
  assert.ok(!allowed(limit, 'spam@x', 999), 'refused messages are not counted, but the first is still in the window');
  assert.ok(allowed(limit, 'other@x', 999), 'each sender has its own count');
  assert.ok(allowed(limit, 'spam@x', 1000), 'the first message left the window');
  assert.ok(!allowed(limit, 'spam@x', 1001));
  assert.ok(allowed(limit, 'spam@x', 1100));
});

test('warns once per sender per window, however many messages are refused', () => {
  const limit = new StrangerLimit(1, 1000);
  assert.deepEqual(limit.check('a@x', 0), { allowed: true, warn: false });
  assert.deepEqual(limit.check('a@x', 10), { allowed: false, warn: true });
  assert.deepEqual(limit.check('a@x', 20), { allowed: false, warn: false });
  assert.deepEqual(limit.check('b@x', 20), { allowed: true, warn: false });
  assert.deepEqual(limit.check('b@x', 30), { allowed: false, warn: true }, 'another sender gets its own warning');
  assert.deepEqual(limit.check('a@x', 999), { allowed: false, warn: false });
  assert.deepEqual(limit.check('a@x', 1000), { allowed: true, warn: false });
  assert.deepEqual(limit.check('a@x', 1005), { allowed: false, warn: false }, 'the warning at 10 is still within the window');
  assert.deepEqual(limit.check('a@x', 1010), { allowed: false, warn: true }, 'a new window, a new warning');
});

test('tracks a bounded number of senders, forgetting the least recently active', () => {
  const limit = new StrangerLimit(1, 60_000, 2);
  assert.ok(allowed(limit, 'a@x', 0));
  assert.ok(allowed(limit, 'b@x', 1));
  assert.ok(allowed(limit, 'c@x', 2));
  assert.equal(limit.size, 2);
  assert.ok(allowed(limit, 'a@x', 3), 'a was dropped, so it starts again');
  assert.ok(!allowed(limit, 'c@x', 4));
});
