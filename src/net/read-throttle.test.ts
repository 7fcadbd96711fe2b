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

test('shares multiply the rate and the burst from then on; the tokens already spent stay spent', () => {
  const throttle = new ReadThrottle({ bytesPerSecond: 1_000_000, burstBytes: 1_000_000, stanzasPerSecond: 10, burstStanzas: 20 }, 0);
  assert.equal(throttle.stanzas.take(20, 0), 0);
  throttle.setShares(4, 0);
  assert.equal(throttle.shares, 4);
  assert.equal(throttle.stanzas.take(1, 0), 25, 'no free burst for the new shares: one stanza at 40 a second');
  assert.equal(throttle.stanzas.take(40, 1025), 0, 'a second later, 40 a second');
  assert.equal(throttle.bytes.perSecond, 4_000_000);
  throttle.setShares(1, 2000);
  assert.equal(throttle.stanzas.perSecond, 10);
  assert.equal(throttle.stanzas.take(30, 10_000), 1000, 'back to a burst of 20 and 10 a second: 10 over wait a second');
});
