/** The storage contract for persistent group-chat rooms (MucRoomStore), run by storageContract. */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Storage, StoredRoom } from './types.ts';

type OpenFor = (t: TestContext) => Promise<Storage>;

const service = (): string => `conference.${randomUUID()}.example`;

function room(name: string, changes: Partial<StoredRoom> = {}): StoredRoom {
  return { name, config: JSON.stringify({ title: name, persistent: true }), affiliations: [], ...changes };
}

export function mucRoomTests(openFor: OpenFor): void {
  test('a service without rooms lists none', async (t) => {
    const storage = await openFor(t);
    assert.deepEqual(await storage.mucRooms.list(service()), []);
  });

  test('put then list returns rooms sorted by name with affiliations sorted by JID', async (t) => {
    const storage = await openFor(t);
    const domain = service();
    await storage.mucRooms.put(domain, room('zebra'));
    await storage.mucRooms.put(
      domain,
      room('alpha', {
        affiliations: [
          { jid: 'owner@example.com', affiliation: 'owner' },
          { jid: 'bad@example.net', affiliation: 'outcast', reason: 'spam' },
          { jid: 'evil.example', affiliation: 'outcast' },
          { jid: 'carol@example.com', affiliation: 'member', nick: 'Carol ☕' },
        ],
      }),
    );
    const rooms = await storage.mucRooms.list(domain);
    assert.deepEqual(
      rooms.map((stored) => stored.name),
      ['alpha', 'zebra'],
    );
    assert.deepEqual(rooms[0]!.affiliations, [
      { jid: 'bad@example.net', affiliation: 'outcast', reason: 'spam' },
      { jid: 'carol@example.com', affiliation: 'member', nick: 'Carol ☕' },
      { jid: 'evil.example', affiliation: 'outcast' },
      { jid: 'owner@example.com', affiliation: 'owner' },
    ]);
    assert.equal(rooms[0]!.config, JSON.stringify({ title: 'alpha', persistent: true }));
    assert.deepEqual(rooms[1]!.affiliations, []);
    // One room by name, as the list has it; none for a name not stored or another service.
    assert.deepEqual(await storage.mucRooms.get(domain, 'alpha'), rooms[0]);
    assert.deepEqual(await storage.mucRooms.get(domain, 'zebra'), rooms[1]);
    assert.equal(await storage.mucRooms.get(domain, 'alp'), undefined);
    assert.equal(await storage.mucRooms.get(service(), 'alpha'), undefined);
  });

  test('put replaces the configuration and every affiliation', async (t) => {
    const storage = await openFor(t);
    const domain = service();
    await storage.mucRooms.put(domain, room('r', { affiliations: [{ jid: 'a@example.com', affiliation: 'owner' }, { jid: 'b@example.com', affiliation: 'member' }] }));
    await storage.mucRooms.put(domain, room('r', { config: '{"title":"new"}', affiliations: [{ jid: 'c@example.com', affiliation: 'admin' }] }));
    assert.deepEqual(await storage.mucRooms.list(domain), [{ name: 'r', config: '{"title":"new"}', affiliations: [{ jid: 'c@example.com', affiliation: 'admin' }] }]);
  });

  test('delete removes the room and its affiliations, and is false the second time', async (t) => {
    const storage = await openFor(t);
    const domain = service();
    await storage.mucRooms.put(domain, room('gone', { affiliations: [{ jid: 'a@example.com', affiliation: 'owner' }] }));
    await storage.mucRooms.put(domain, room('kept'));
    assert.equal(await storage.mucRooms.delete(domain, 'gone'), true);
    assert.equal(await storage.mucRooms.delete(domain, 'gone'), false);
    assert.deepEqual(
      (await storage.mucRooms.list(domain)).map((stored) => stored.name),
      ['kept'],
    );
    // A room created again under the name starts without the old affiliations.
    await storage.mucRooms.put(domain, room('gone'));
    assert.deepEqual((await storage.mucRooms.list(domain))[0]!.affiliations, []);
  });

  test('services are isolated and names compared byte for byte', async (t) => {
    const storage = await openFor(t);
    const [first, second] = [service(), service()];
    await storage.mucRooms.put(first, room('room'));
    await storage.mucRooms.put(first, room('Room'));
    await storage.mucRooms.put(second, room('room', { config: '{}' }));
    assert.deepEqual(
      (await storage.mucRooms.list(first)).map((stored) => stored.name),
      ['Room', 'room'],
    );
    assert.equal(await storage.mucRooms.delete(second, 'Room'), false);
    assert.deepEqual(await storage.mucRooms.list(second), [{ name: 'room', config: '{}', affiliations: [] }]);
  });
}
