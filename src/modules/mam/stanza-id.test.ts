import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newArchiveId } from './stanza-id.ts';

test('archive IDs: 18 random bytes in base64url, none repeated across several draws of the generator', () => {
  const ids = Array.from({ length: 2_000 }, () => newArchiveId());
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{24}$/);
  assert.equal(new Set(ids).size, ids.length);
});
