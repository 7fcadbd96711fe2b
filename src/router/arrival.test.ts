import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { arrivalOf, nextArrival, nextArrivalThisTurn, noteArrival } from './arrival.ts';
import { el } from '../xml/element.ts';

test('positions increase whichever clock gave them, and stay behind no earlier time', async () => {
  const before = Date.now() * 1000;
  const positions = [nextArrivalThisTurn(), nextArrival(), nextArrivalThisTurn(), nextArrivalThisTurn(), nextArrival()];
  for (let index = 1; index < positions.length; index++) assert.ok(positions[index]! > positions[index - 1]!, `position ${index} after the one before`);
  assert.ok(positions[0]! >= before, 'a position is the time at least');
  await nextTurn();
  // A later turn reads the clock again: its positions are not held at the turn before.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = Date.now() * 1000;
  assert.ok(nextArrivalThisTurn() >= later, 'a new turn reads the clock again');
});

test('a stanza keeps the earliest position noted for it', () => {
  const stanza = el('message', 'jabber:client', {});
  const first = nextArrivalThisTurn();
  noteArrival(stanza, nextArrival());
  noteArrival(stanza, first);
  assert.equal(arrivalOf(stanza), first);
});
