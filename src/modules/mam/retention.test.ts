import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MamSettings } from '../../config/types.ts';
import { openSqliteStorage } from '../../storage/sqlite.ts';
import { memoryLogger } from '../../util/log.ts';
import { Retention } from './retention.ts';

const DAY_US = 86_400_000_000;

function settings(changes: Partial<MamSettings> = {}): MamSettings {
  return { default: 'always', max_age_days: 30, max_messages: 1000, page_size: 50, max_page_size: 250, retention_interval: 600, rooms: true, ...changes };
}

test('a pass removes messages past max_age_days and the oldest beyond max_messages of archives written to, nothing else', async (t) => {
  const storage = await openSqliteStorage(':memory:');
  t.after(() => storage.close());
  const now = Date.parse('2026-06-01T00:00:00Z');
  const append = (name: string, position: number, n: number) => storage.archive.append({ domain: 'example.com', name }, { id: `${name}-${n}`, position, withBare: 'peer@example.net', withResource: undefined, stanza: '<message xmlns="jabber:client"/>' });
  // alice: 3 messages 40 days old, 5 recent; bob: 5 recent, never noted as written; another domain: old.
  for (let n = 0; n < 3; n++) await append('alice', now * 1000 - 40 * DAY_US + n, n);
  for (let n = 0; n < 5; n++) await append('alice', now * 1000 - DAY_US + n, 10 + n);
  for (let n = 0; n < 5; n++) await append('bob', now * 1000 - DAY_US + n, n);
  await storage.archive.append({ domain: 'example.org', name: 'alice' }, { id: 'x', position: now * 1000 - 40 * DAY_US, withBare: 'p@q', withResource: undefined, stanza: '<message xmlns="jabber:client"/>' });
  const retention = new Retention('example.com', storage.archive, () => settings({ max_messages: 2 }), memoryLogger().logger);
  retention.noteWritten('alice', now - 1);
  await retention.run(now);
  const remaining = async (domain: string, name: string) => storage.archive.count({ domain, name }, {});
  assert.equal(await remaining('example.com', 'alice'), 2);
  assert.equal(await remaining('example.com', 'bob'), 5, 'bob received nothing since the last pass');
  assert.equal(await remaining('example.org', 'alice'), 1, 'another domain keeps its own retention');
  const kept = await storage.archive.query({ domain: 'example.com', name: 'alice' }, {}, { max: 10, backward: false });
  assert.deepEqual(kept.messages.map((message) => message.id), ['alice-13', 'alice-14']);
});

test('a pass starts from a written message once retention_interval has gone by, and max_age_days 0 keeps old messages', async (t) => {
  const storage = await openSqliteStorage(':memory:');
  t.after(() => storage.close());
  const start = Date.now();
  await storage.archive.append({ domain: 'example.com', name: 'alice' }, { id: 'old', position: (start - 400 * 86_400_000) * 1000, withBare: 'p@q', withResource: undefined, stanza: '<message xmlns="jabber:client"/>' });
  for (const id of ['a', 'b', 'c']) await storage.archive.append({ domain: 'example.com', name: 'carol' }, { id, position: start * 1000 + id.charCodeAt(0), withBare: 'p@q', withResource: undefined, stanza: '<message xmlns="jabber:client"/>' });
  const retention = new Retention('example.com', storage.archive, () => settings({ max_age_days: 0, max_messages: 1, retention_interval: 60 }), memoryLogger().logger);
  const carol = () => storage.archive.count({ domain: 'example.com', name: 'carol' }, {});
  retention.noteWritten('carol', Date.now());
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await carol(), 3, 'no pass before retention_interval');
  retention.noteWritten('carol', Date.now() + 61_000);
  // The written message started a pass on its own.
  const deadline = Date.now() + 2000;
  while ((await carol()) !== 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(await carol(), 1);
  assert.equal(await storage.archive.count({ domain: 'example.com', name: 'alice' }, {}), 1, 'max_age_days 0 expires nothing');
});
