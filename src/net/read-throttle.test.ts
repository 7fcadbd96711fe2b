import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadThrottle, TokenBucket } from './read-throttle.ts';

test('a burst passes without a pause, then reading pauses as long as the rate asks', () => {
  const bucket = new TokenBucket(1000, 5000, 0);
  assert.equal(bucket.take(5000, 0), 0);
  assert.equal(bucket.take(500, 0), 500, '500 over at 1000 a second: half a second');
  assert.equal(bucket.take(0, 500), 0, 'after the pause the bucket is level again');
  assert.equal(bucket.take(1000, 1500), 0, 'one second later 1000 are free');
  assert.equal(bucket.pauses, 1);
});

test('a quiet period refills no more than the burst', () => {
  const bucket = new TokenBucket(1000, 2000, 0);
  assert.equal(bucket.take(2000, 0), 0);
  assert.equal(bucket.take(2000, 60_000), 0);
  assert.equal(bucket.take(1000, 60_000), 1000);
});

test('a sustained flood is held to the rate', () => {
  const bucket = new TokenBucket(10_000, 10_000, 0);
  let now = 0;
  let read = 0;
  while (now < 10_000) {
    read += 4096;
    now += bucket.take(4096, now) || 1;
  }
  const rate = (read - 10_000) / (now / 1000);
  assert.ok(rate > 9_000 && rate < 11_000, `sustained rate ${rate} a second`);
});

test('a stream counts bytes and stanzas apart; either running dry pauses it', () => {
  const throttle = new ReadThrottle({ bytesPerSecond: 1_000_000, burstBytes: 1_000_000, stanzasPerSecond: 10, burstStanzas: 20 }, 0);
  for (let i = 0; i < 20; i++) assert.equal(throttle.stanzas.take(1, 0), 0);
  assert.equal(throttle.stanzas.take(1, 0), 100, 'the 21st stanza waits a tenth of a second');
  assert.equal(throttle.bytes.take(1000, 0), 0);
  assert.equal(throttle.pauses, 1);
});
