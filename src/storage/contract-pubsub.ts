/** The storage contract for publish-subscribe nodes and items (PubsubStore), run by storageContract. */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Storage, StoredPubsubItem } from './types.ts';

type OpenFor = (t: TestContext) => Promise<Storage>;

const service = (): string => `pubsub.${randomUUID()}.example`;
const item = (id: string, text = id): StoredPubsubItem => ({ id, xml: `<item xmlns="http://jabber.org/protocol/pubsub" id="${id}"><p xmlns="urn:test">${text}</p></item>`, publisher: 'alice@example.com' });
const ids = (items: readonly StoredPubsubItem[]): string[] => items.map((stored) => stored.id);

export function pubsubTests(openFor: OpenFor): void {
  test('nodes are listed by name, their state replaced by a second put, their items kept', async (t) => {
    const storage = await openFor(t);
    const domain = service();
    assert.deepEqual(await storage.pubsub.nodes(domain), []);
    await storage.pubsub.putNode(domain, { name: 'urn:xmpp:avatar:metadata', state: '{"v":1}' });
    await storage.pubsub.putNode(domain, { name: 'Urn', state: '{}' });
    await storage.pubsub.putItem(domain, 'Urn', item('a'), 10);
    await storage.pubsub.putNode(domain, { name: 'Urn', state: '{"v":2}' });
    assert.deepEqual(await storage.pubsub.nodes(domain), [
      { name: 'Urn', state: '{"v":2}' },
      { name: 'urn:xmpp:avatar:metadata', state: '{"v":1}' },
    ]);
    assert.deepEqual(await storage.pubsub.node(domain, 'Urn'), { name: 'Urn', state: '{"v":2}' });
    assert.equal(await storage.pubsub.node(domain, 'urn'), undefined);
    assert.deepEqual(ids(await storage.pubsub.items(domain, 'Urn')), ['a']);
  });

  test('items come newest first; publishing an id again makes it the newest with the new payload', async (t) => {
    const storage = await openFor(t);
    const domain = service();
    for (const id of ['one', 'two', 'three']) assert.deepEqual(await storage.pubsub.putItem(domain, 'n', item(id), 10), []);
    assert.deepEqual(ids(await storage.pubsub.items(domain, 'n')), ['three', 'two', 'one']);
    await storage.pubsub.putItem(domain, 'n', item('one', 'again ☕'), 10);
    const items = await storage.pubsub.items(domain, 'n');
    assert.deepEqual(ids(items), ['one', 'three', 'two']);
    assert.match(items[0]!.xml, /again ☕/);
    assert.deepEqual(ids(await storage.pubsub.items(domain, 'n', 2)), ['one', 'three']);
    assert.deepEqual(await storage.pubsub.item(domain, 'n', 'three'), item('three'));
    assert.equal(await storage.pubsub.item(domain, 'n', 'four'), undefined);
  });

  test('a node keeps at most maxItems: the oldest go, and their ids are returned', async (t) => {
    const storage = await openFor(t);
    const domain = service();
    await storage.pubsub.putItem(domain, 'n', item('1'), 2);
    await storage.pubsub.putItem(domain, 'n', item('2'), 2);
    assert.deepEqual(await storage.pubsub.putItem(domain, 'n', item('3'), 2), ['1']);
    assert.deepEqual(ids(await storage.pubsub.items(domain, 'n')), ['3', '2']);
    // A lower maximum (max_items reconfigured) trims several at once.
    assert.deepEqual((await storage.pubsub.putItem(domain, 'n', item('4'), 1)).sort(), ['2', '3']);
    assert.deepEqual(ids(await storage.pubsub.items(domain, 'n')), ['4']);
    // Other nodes are not touched.
    await storage.pubsub.putItem(domain, 'other', item('x'), 1);
    assert.deepEqual(ids(await storage.pubsub.items(domain, 'n')), ['4']);
  });

  test('deleteItem, purge and deleteNode say whether there was something', async (t) => {
    const storage = await openFor(t);
    const domain = service();
    await storage.pubsub.putNode(domain, { name: 'n', state: '{}' });
    for (const id of ['a', 'b', 'c']) await storage.pubsub.putItem(domain, 'n', item(id), 10);
    assert.equal(await storage.pubsub.deleteItem(domain, 'n', 'b'), true);
    assert.equal(await storage.pubsub.deleteItem(domain, 'n', 'b'), false);
    assert.equal(await storage.pubsub.purge(domain, 'n'), 2);
    assert.deepEqual(await storage.pubsub.items(domain, 'n'), []);
    await storage.pubsub.putItem(domain, 'n', item('d'), 10);
    assert.equal(await storage.pubsub.deleteNode(domain, 'n'), true);
    assert.equal(await storage.pubsub.deleteNode(domain, 'n'), false);
    // A node made again under the name starts without the old items.
    await storage.pubsub.putNode(domain, { name: 'n', state: '{}' });
    assert.deepEqual(await storage.pubsub.items(domain, 'n'), []);
  });

  test('services are isolated; an account deleted takes its personal eventing nodes along', async (t) => {
    const storage = await openFor(t);
    const domain = `${randomUUID()}.example`;
    const alice = `alice@${domain}`;
    await storage.accounts.create(domain, 'alice', {
      'SCRAM-SHA-1': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' },
      'SCRAM-SHA-256': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' },
    });
    await storage.pubsub.putNode(alice, { name: 'urn:xmpp:nick', state: '{}' });
    await storage.pubsub.putItem(alice, 'urn:xmpp:nick', item('current'), 1);
    await storage.pubsub.putNode(`bob@${domain}`, { name: 'urn:xmpp:nick', state: '{}' });
    assert.equal(await storage.pubsub.deleteItem(`bob@${domain}`, 'urn:xmpp:nick', 'current'), false);
    assert.equal(await storage.accounts.delete(domain, 'alice'), true);
    assert.deepEqual(await storage.pubsub.nodes(alice), []);
    assert.deepEqual(await storage.pubsub.items(alice, 'urn:xmpp:nick'), []);
    assert.equal((await storage.pubsub.nodes(`bob@${domain}`)).length, 1);
  });
}
