import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arrivalOf, nextArrival, nextQueuePosition, noteArrival } from './arrival.ts';
import { el } from '../xml/element.ts';

test('positions increase whichever clock gave them, and stay behind no earlier time', async () => {
  const before = Date.now() * 1000;
  const positions = [nextQueuePosition(), nextArrival(), nextQueuePosition(), nextQueuePosition(), nextArrival()];
  for (let index = 1; index < positions.length; index++) assert.ok(positions[index]! > positions[index - 1]!, `position ${index} after the one before`);
  assert.ok(positions[0]! >= before, 'a position is the time at least');
  // A queue position after a stanza stored later still comes after it.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const stored = nextArrival();
  assert.ok(stored >= Date.now() * 1000 - 1000, 'storage reads the clock');
  assert.ok(nextQueuePosition() > stored);
});

test('a stanza keeps the earliest position noted for it', () => {
  const stanza = el('message', 'jabber:client', {});
  const first = nextQueuePosition();
  noteArrival(stanza, nextArrival());
  noteArrival(stanza, first);
  assert.equal(arrivalOf(stanza), first);
});
