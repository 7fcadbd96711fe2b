import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextArrival } from '../../router/arrival.ts';
import { newArchiveId } from './stanza-id.ts';

test('archive IDs: the position in base 36, then 12 random bytes; none repeated across several draws of the generator', () => {
  const ids = Array.from({ length: 2_000 }, () => newArchiveId(nextArrival()));
  for (const id of ids) assert.match(id, /^[0-9a-z]{11}[A-Za-z0-9_-]{16}$/);
  assert.equal(new Set(ids).size, ids.length);
});

test('archive IDs sort as their positions do, and differ at one position', () => {
  const positions = [1_700_000_000_000_000, 1_700_000_000_000_001, 1_700_000_000_000_036, 1_800_000_000_000_000, 3_000_000_000_000_000];
  const ids = positions.map((position) => newArchiveId(position));
  assert.deepEqual([...ids].sort(), ids);
  assert.notEqual(newArchiveId(positions[0]!), newArchiveId(positions[0]!));
});
