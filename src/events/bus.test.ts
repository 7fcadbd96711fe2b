import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from './bus.ts';

type Events = { ping: string[] };

test('emit runs handlers from the highest priority down and stops at the first that takes the event', async () => {
  const bus = new EventBus<Events>();
  bus.on('ping', (seen) => void seen.push('low'), -10);
  bus.on('ping', (seen) => void seen.push('high'), 10);
  bus.on('ping', (seen) => {
    seen.push('taker');
    return true;
  });
  bus.on('ping', (seen) => void seen.push('after taker'), -20);
  const seen: string[] = [];
  assert.equal(await bus.emit('ping', seen), true);
  assert.deepEqual(seen, ['high', 'taker']);
});

test('emit waits for a handler that has to wait, and goes on when it declines', async () => {
  const bus = new EventBus<Events>();
  bus.on('ping', async (seen) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    seen.push('slow');
    return false;
  }, 1);
  bus.on('ping', async (seen) => {
    seen.push('async taker');
    return true;
  });
  const seen: string[] = [];
  assert.equal(await bus.emit('ping', seen), true);
  assert.deepEqual(seen, ['slow', 'async taker']);
});

test('emit reports an event nobody took, and one with no handlers', async () => {
  const bus = new EventBus<Events>();
  assert.equal(await bus.emit('ping', []), false);
  bus.on('ping', () => false);
  bus.on('ping', () => undefined);
  assert.equal(await bus.emit('ping', []), false);
});

test('a handler that throws, at once or later, rejects the emit', async () => {
  const bus = new EventBus<Events>();
  const off = bus.on('ping', () => {
    throw new Error('at once');
  });
  await assert.rejects(bus.emit('ping', []), /at once/);
  off();
  bus.on('ping', async () => {
    throw new Error('later');
  });
  await assert.rejects(bus.emit('ping', []), /later/);
});

test('decide settles only when every handler has a synchronous variant that answers', () => {
  const bus = new EventBus<Events>();
  bus.on('ping', () => false, 1, () => false);
  const off = bus.on('ping', () => true, 0, () => true);
  assert.equal(bus.decide('ping', []), true);
  off();
  assert.equal(bus.decide('ping', []), false);
  bus.on('ping', () => true);
  assert.equal(bus.decide('ping', []), undefined);
});

test('settle answers without a promise while every handler answers at once', () => {
  const bus = new EventBus<Events>();
  bus.on('ping', (seen) => void seen.push('first'), 1);
  bus.on('ping', (seen) => {
    seen.push('taker');
    return true;
  });
  const seen: string[] = [];
  assert.equal(bus.settle('ping', seen), true);
  assert.deepEqual(seen, ['first', 'taker']);
  assert.equal(new EventBus<Events>().settle('ping', []), false);
});

test('settle goes on with a promise from the first handler that waits, in order', async () => {
  const bus = new EventBus<Events>();
  bus.on('ping', (seen) => void seen.push('at once'), 3);
  bus.on('ping', async (seen) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    seen.push('waited');
    return false;
  }, 2);
  bus.on('ping', (seen) => void seen.push('after'), 1);
  const seen: string[] = [];
  const answer = bus.settle('ping', seen);
  assert.ok(answer instanceof Promise);
  assert.deepEqual(seen, ['at once']);
  assert.equal(await answer, false);
  assert.deepEqual(seen, ['at once', 'waited', 'after']);
});

test('settle throws what a handler throws at once; emit rejects with it', async () => {
  const bus = new EventBus<Events>();
  bus.on('ping', () => {
    throw new Error('at once');
  });
  assert.throws(() => bus.settle('ping', []), /at once/);
  await assert.rejects(bus.emit('ping', []), /at once/);
});
