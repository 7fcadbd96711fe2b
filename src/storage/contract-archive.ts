/** The storage contract for message archives (ArchiveStore), run by storageContract. */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ArchiveOwner, ArchivedMessage } from './archive-types.ts';
import type { Storage } from './types.ts';

type OpenFor = (t: TestContext) => Promise<Storage>;

const owner = (): ArchiveOwner => ({ domain: `${randomUUID()}.example`, name: 'alice' });

/** A message at `position` with `peer` (bare or bare/resource). */
function message(position: number, peer = 'bob@example.net/phone', id = `id-${position}`): ArchivedMessage {
  const [bare, resource] = peer.split('/');
  return { id, position, withBare: bare!, withResource: resource, stanza: `<message xmlns="jabber:client" id="${id}"><body>${position}</body></message>` };
}

/** Fills an archive with messages at positions 1..n, alternating between bob and carol. */
async function filled(storage: Storage, n: number): Promise<ArchiveOwner> {
  const archive = owner();
  for (let position = 1; position <= n; position++) {
    await storage.archive.append(archive, message(position, position % 2 === 0 ? 'carol@example.org' : 'bob@example.net/phone'));
  }
  return archive;
}

const positions = (messages: readonly ArchivedMessage[]): number[] => messages.map((item) => item.position);

export function archiveTests(openFor: OpenFor): void {
  test('an empty archive has no messages, no bounds and a count of 0', async (t) => {
    const storage = await openFor(t);
    const archive = owner();
    assert.deepEqual(await storage.archive.query(archive, {}, { max: 10, backward: false }), { messages: [], complete: true });
    assert.equal(await storage.archive.bounds(archive), undefined);
    assert.equal(await storage.archive.count(archive, {}), 0);
  });

  test('a message reads back whole, and its UID finds its position', async (t) => {
    const storage = await openFor(t);
    const archive = owner();
    const stored = { ...message(1_700_000_000_000_123), stanza: '<message xmlns="jabber:client"><body>☕ &lt;hi&gt;</body></message>' };
    assert.equal(await storage.archive.append(archive, stored), stored.position);
    assert.deepEqual((await storage.archive.query(archive, {}, { max: 10, backward: false })).messages, [stored]);
    assert.equal(await storage.archive.positionOf(archive, stored.id), stored.position);
    assert.equal(await storage.archive.positionOf(archive, 'no-such-id'), undefined);
    assert.equal(await storage.archive.positionOf({ ...archive, name: 'bob' }, stored.id), undefined);
  });

  test('a taken position moves to the next free microsecond', async (t) => {
    const storage = await openFor(t);
    const archive = owner();
    assert.equal(await storage.archive.append(archive, message(10, undefined, 'a')), 10);
    assert.equal(await storage.archive.append(archive, message(10, undefined, 'b')), 11);
    assert.deepEqual(positions((await storage.archive.query(archive, {}, { max: 10, backward: false })).messages), [10, 11]);
  });

  test('appends made at once, some at the same position, each take a position of their own and are all found', async (t) => {
    const storage = await openFor(t);
    const [first, second] = [owner(), { ...owner(), name: 'bob' }];
    // Two at each position in the first archive: one of each pair moves on (a position is an archive's own).
    const made = Array.from({ length: 60 }, (_, index) => {
      const archive = index % 3 === 2 ? second : first;
      return { archive, write: storage.archive.append(archive, message(100 + 10 * Math.floor(index / 2), undefined, `at-once-${index}`)) };
    });
    const taken = await Promise.all(made.map((item) => item.write));
    for (const archive of [first, second]) {
      const mine = taken.filter((_, index) => made[index]!.archive === archive);
      assert.equal(new Set(mine).size, mine.length, 'no two appends of one archive share a position');
      const stored = (await storage.archive.query(archive, {}, { max: 100, backward: false })).messages;
      assert.deepEqual(stored.map((item) => item.position), [...mine].sort((a, b) => a - b));
    }
    assert.equal(await storage.archive.count(first, {}), 40);
  });

  test('pages forward from the start and backward from the end, always in archive order', async (t) => {
    const storage = await openFor(t);
    const archive = await filled(storage, 7);
    const first = await storage.archive.query(archive, {}, { max: 3, backward: false });
    assert.deepEqual(positions(first.messages), [1, 2, 3]);
    assert.equal(first.complete, false);
    const last = await storage.archive.query(archive, {}, { max: 3, backward: true });
    assert.deepEqual(positions(last.messages), [5, 6, 7]);
    assert.equal(last.complete, false);
    const tail = await storage.archive.query(archive, { after: 3 }, { max: 4, backward: false });
    assert.deepEqual(positions(tail.messages), [4, 5, 6, 7]);
    assert.equal(tail.complete, true);
    const head = await storage.archive.query(archive, { before: 3 }, { max: 5, backward: true });
    assert.deepEqual(positions(head.messages), [1, 2]);
    assert.equal(head.complete, true);
  });

  test('filters: with (bare, full), start and end inclusive, after and before exclusive, ids', async (t) => {
    const storage = await openFor(t);
    const archive = await filled(storage, 10);
    const page = { max: 100, backward: false };
    const matching = async (filter: Parameters<Storage['archive']['query']>[1]): Promise<number[]> => positions((await storage.archive.query(archive, filter, page)).messages);
    assert.deepEqual(await matching({ with: { bare: 'carol@example.org' } }), [2, 4, 6, 8, 10]);
    assert.deepEqual(await matching({ with: { bare: 'bob@example.net' } }), [1, 3, 5, 7, 9]);
    assert.deepEqual(await matching({ with: { bare: 'bob@example.net', resource: 'phone' } }), [1, 3, 5, 7, 9]);
    assert.deepEqual(await matching({ with: { bare: 'bob@example.net', resource: 'laptop' } }), []);
    assert.deepEqual(await matching({ start: 3, end: 6 }), [3, 4, 5, 6]);
    assert.deepEqual(await matching({ after: 3, before: 6 }), [4, 5]);
    assert.deepEqual(await matching({ ids: ['id-9', 'id-2', 'id-404'] }), [2, 9]);
    assert.deepEqual(await matching({ with: { bare: 'carol@example.org' }, start: 3, before: 10 }), [4, 6, 8]);
    assert.equal(await storage.archive.count(archive, { with: { bare: 'carol@example.org' }, start: 3 }), 4);
    assert.equal(await storage.archive.count(archive, {}), 10);
  });

  test('archives are separate by owner and by domain', async (t) => {
    const storage = await openFor(t);
    const archive = await filled(storage, 3);
    assert.equal(await storage.archive.count({ ...archive, name: 'bob' }, {}), 0);
    assert.equal(await storage.archive.count({ ...archive, domain: `other.${archive.domain}` }, {}), 0);
  });

  test('bounds are the oldest and newest message', async (t) => {
    const storage = await openFor(t);
    const archive = await filled(storage, 4);
    const bounds = await storage.archive.bounds(archive);
    assert.equal(bounds?.first.position, 1);
    assert.equal(bounds?.last.position, 4);
  });

  test('replace changes the stanza of one message by its UID and keeps its place; an unknown UID or owner changes nothing', async (t) => {
    const storage = await openFor(t);
    const archive = await filled(storage, 3);
    const tombstone = '<message xmlns="jabber:client" id="id-2"><retracted xmlns="urn:xmpp:message-retract:1"/></message>';
    assert.equal(await storage.archive.replace(archive, 'id-2', tombstone), true);
    const { messages } = await storage.archive.query(archive, {}, { max: 10, backward: false });
    assert.deepEqual(positions(messages), [1, 2, 3]);
    assert.equal(messages[1]!.stanza, tombstone);
    assert.deepEqual({ ...messages[1]!, stanza: '' }, { ...message(2, 'carol@example.org'), stanza: '' });
    assert.equal(messages[0]!.stanza, message(1).stanza);
    assert.equal(await storage.archive.replace(archive, 'no-such-id', tombstone), false);
    assert.equal(await storage.archive.replace({ ...archive, name: 'bob' }, 'id-1', tombstone), false);
    assert.equal((await storage.archive.query(archive, { ids: ['id-1'] }, { max: 1, backward: false })).messages[0]!.stanza, message(1).stanza);
  });

  test('trim keeps the newest messages of one archive', async (t) => {
    const storage = await openFor(t);
    const archive = await filled(storage, 10);
    assert.equal(await storage.archive.trim(archive, 6), 4);
    assert.deepEqual(positions((await storage.archive.query(archive, {}, { max: 100, backward: false })).messages), [5, 6, 7, 8, 9, 10]);
    assert.equal(await storage.archive.trim(archive, 6), 0);
  });

  test('expire removes the oldest messages of the archives of a domain in batches, clear removes one archive', async (t) => {
    const storage = await openFor(t);
    const base = 1_000_000;
    const archive = owner();
    const other = { ...archive, name: 'bob' };
    const elsewhere = owner();
    await storage.archive.append(elsewhere, message(base + 1));
    for (let offset = 1; offset <= 10; offset++) await storage.archive.append(archive, message(base + offset));
    await storage.archive.append(other, message(base + 3));
    await storage.archive.append(other, message(base + 8));
    assert.equal(await storage.archive.expire(archive.domain, base + 8, 5), 5);
    assert.equal(await storage.archive.expire(archive.domain, base + 8, 100), 3);
    assert.equal(await storage.archive.expire(archive.domain, base + 8, 100), 0);
    assert.deepEqual(positions((await storage.archive.query(archive, {}, { max: 100, backward: false })).messages), [base + 8, base + 9, base + 10]);
    assert.deepEqual(positions((await storage.archive.query(other, {}, { max: 100, backward: false })).messages), [base + 8]);
    assert.equal(await storage.archive.clear(archive), 3);
    assert.equal(await storage.archive.count(archive, {}), 0);
    assert.equal(await storage.archive.count(other, {}), 1);
    assert.equal(await storage.archive.count(elsewhere, {}), 1);
  });

  test('deleting an account deletes its archive', async (t) => {
    const storage = await openFor(t);
    const archive = await filled(storage, 2);
    await storage.accounts.create(archive.domain, archive.name, {
      'SCRAM-SHA-1': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' },
      'SCRAM-SHA-256': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' },
    });
    assert.equal(await storage.accounts.delete(archive.domain, archive.name), true);
    assert.equal(await storage.archive.count(archive, {}), 0);
  });
}
