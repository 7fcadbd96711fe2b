import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadThrottle } from './read-throttle.ts';

test('a burst passes without a pause, then reading pauses as long as the rate asks', () => {
  const throttle = new ReadThrottle({ bytesPerSecond: 1000, burstBytes: 5000 }, 0);
  assert.equal(throttle.take(5000, 0), 0);
  assert.equal(throttle.take(500, 0), 500, '500 bytes over at 1000 B/s: half a second');
  assert.equal(throttle.take(0, 500), 0, 'after the pause the bucket is level again');
  assert.equal(throttle.take(1000, 1500), 0, 'one second later 1000 bytes are free');
  assert.equal(throttle.pauses, 1);
});

test('a quiet period refills no more than the burst', () => {
  const throttle = new ReadThrottle({ bytesPerSecond: 1000, burstBytes: 2000 }, 0);
  assert.equal(throttle.take(2000, 0), 0);
  assert.equal(throttle.take(2000, 60_000), 0);
  assert.equal(throttle.take(1000, 60_000), 1000);
});

test('a sustained flood is held to the rate', () => {
  const throttle = new ReadThrottle({ bytesPerSecond: 10_000, burstBytes: 10_000 }, 0);
  let now = 0;
  let read = 0;
  while (now < 10_000) {
    read += 4096;
    now += throttle.take(4096, now) || 1;
  }
  const rate = (read - 10_000) / (now / 1000);
  assert.ok(rate > 9_000 && rate < 11_000, `sustained rate ${rate} B/s`);
});
