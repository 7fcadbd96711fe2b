import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeNotices } from '../../router/node-notices.ts';
import { openStorage } from '../../storage/open.ts';
import { PREFS_KEY } from './prefs.ts';
import { MAX_KEPT_PREFS, StoredPrefs } from './stored-prefs.ts';

test('stored archive preferences: read once and kept, dropped on a change here or a notice from another node, bounded', async (t) => {
  const storage = await openStorage({ driver: 'sqlite', sqlite_file: ':memory:' } as never, '/tmp');
  t.after(() => storage.close());
  const notices = new NodeNotices();
  const stored = new StoredPrefs('example.com', storage, notices);
  assert.equal(await stored.get('alice'), undefined);
  // Written behind its back: the kept copy answers until it is dropped.
  await storage.userData.set('example.com', 'alice', PREFS_KEY, 'outside');
  assert.equal(await stored.get('alice'), undefined);
  await notices.received('mam-prefs:example.com', 'alice');
  assert.equal(await stored.get('alice'), 'outside', 'another node changed them: read again');
  await stored.set('alice', 'here');
  assert.equal(await stored.get('alice'), 'here');
  for (let n = 0; n < MAX_KEPT_PREFS + 1; n++) await stored.get(`user${n}`);
  // alice was the least recently used: she went first, and is read from storage again.
  await storage.userData.set('example.com', 'alice', PREFS_KEY, 'changed');
  assert.equal(await stored.get('alice'), 'changed');
});
