/**
 * Occupant identifiers (XEP-0421): advertised, attached to every presence and message a room
 * sends about an occupant (history and private messages included), the same for one person at
 * every visit and under every nickname, different between people, never taken from a client,
 * and kept with a persistent room.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Element } from '../xml/element.ts';
import { iq, startHarness, type Harness, type TestUser } from './test-harness.ts';
import { NS_OCCUPANT_ID } from './xmlns.ts';

const ROOM = 'room@conference.localhost';
const MUC = "xmlns='http://jabber.org/protocol/muc'";
const FORGED = `<occupant-id xmlns='${NS_OCCUPANT_ID}' id='forged'/>`;

let harness: Harness;
afterEach(() => harness?.close());

/** The identifiers a stanza carries (XEP-0421 section 4.3: exactly one is right). */
const idsOf = (stanza: Element | undefined): string[] => stanza?.getChildren('occupant-id', NS_OCCUPANT_ID).map((element) => element.attrs.id!) ?? [];
const last = (user: TestUser, name: string, from: string): Element | undefined => user.received.findLast((stanza) => stanza.name === name && stanza.attrs.from === from);

async function join(user: TestUser, nick: string, extra = ''): Promise<void> {
  await user.send(`<presence to='${ROOM}/${nick}'><x ${MUC}>${extra}</x>${FORGED}</presence>`);
}

/** alice owns an open persistent room; bob is in it. */
async function openRoom(): Promise<[TestUser, TestUser]> {
  const [alice, bob] = ['alice@localhost/a', 'bob@localhost/b'].map((jid) => harness.user(jid)) as [TestUser, TestUser];
  await join(alice, 'Alice');
  await iq(alice, 'set', ROOM, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query>");
  await join(bob, 'Bob');
  return [alice, bob];
}

test('the service and its rooms advertise occupant identifiers', async () => {
  harness = await startHarness();
  const [alice] = await openRoom();
  for (const to of ['conference.localhost', ROOM]) {
    const features = (await iq(alice, 'get', to, "<query xmlns='http://jabber.org/protocol/disco#info'/>")).getChild('query', 'http://jabber.org/protocol/disco#info')!.getChildren('feature').map((feature) => feature.attrs.var);
    assert.ok(features.includes(NS_OCCUPANT_ID), to);
  }
});

test('presence and messages carry the room\'s identifier of the occupant, never the one a client sent', async () => {
  harness = await startHarness();
  const [alice, bob] = await openRoom();
  const bobsId = idsOf(last(alice, 'presence', `${ROOM}/Bob`));
  assert.equal(bobsId.length, 1);
  assert.notEqual(bobsId[0], 'forged');
  assert.deepEqual(idsOf(last(bob, 'presence', `${ROOM}/Bob`)), bobsId, 'the occupant sees its own identifier');
  const alicesId = idsOf(last(bob, 'presence', `${ROOM}/Alice`));
  assert.equal(alicesId.length, 1);
  assert.notDeepEqual(alicesId, bobsId, 'two people, two identifiers');
  assert.ok(!bobsId[0]!.includes('bob'), 'nothing of the JID shows');

  await bob.send(`<message to='${ROOM}' type='groupchat' id='m1'><body>hello</body>${FORGED}</message>`);
  assert.deepEqual(idsOf(last(alice, 'message', `${ROOM}/Bob`)), bobsId);
  await bob.send(`<message to='${ROOM}/Alice' type='chat' id='p1'><body>psst</body>${FORGED}</message>`);
  assert.deepEqual(idsOf(last(alice, 'message', `${ROOM}/Bob`)), bobsId, 'a private message too');
  await alice.send(`<message to='${ROOM}' type='groupchat'><subject>Plans</subject>${FORGED}</message>`);
  assert.deepEqual(idsOf(last(bob, 'message', `${ROOM}/Alice`)), alicesId, 'a subject change too');

  // History to a newcomer (section 7.2.15) and the subject after it keep the identifiers.
  const carol = harness.user('carol@example.net/c');
  await join(carol, 'Carol');
  const replayed = carol.received.filter((stanza) => stanza.name === 'message' && stanza.attrs.from === `${ROOM}/Bob`);
  assert.deepEqual(replayed.map(idsOf), [bobsId]);
  assert.deepEqual(idsOf(carol.received.find((stanza) => stanza.name === 'message' && stanza.getChild('subject'))), alicesId);

  // Leaving: the unavailable presence carries it too.
  await bob.send(`<presence to='${ROOM}/Bob' type='unavailable'/>`);
  assert.deepEqual(idsOf(last(alice, 'presence', `${ROOM}/Bob`)), bobsId);
});

test('one person keeps one identifier under another nickname, from another resource, and after a restart', async () => {
  harness = await startHarness();
  const [alice, bob] = await openRoom();
  const bobsId = idsOf(last(alice, 'presence', `${ROOM}/Bob`));
  await bob.send(`<presence to='${ROOM}/Robert'/>`);
  assert.deepEqual(idsOf(last(alice, 'presence', `${ROOM}/Robert`)), bobsId);
  await bob.send(`<presence to='${ROOM}/Robert' type='unavailable'/>`);
  const phone = harness.user('bob@localhost/phone');
  await join(phone, 'Bobby');
  assert.deepEqual(idsOf(last(alice, 'presence', `${ROOM}/Bobby`)), bobsId);
  await harness.settle();

  const again = await startHarness(undefined, harness.storage);
  await again.service('conference.localhost').ready;
  const watcher = again.user('alice@localhost/a');
  await watcher.send(`<presence to='${ROOM}/Alice'><x ${MUC}/></presence>`);
  const returning = again.user('bob@localhost/b');
  await returning.send(`<presence to='${ROOM}/Bob'><x ${MUC}/></presence>`);
  assert.deepEqual(idsOf(last(watcher, 'presence', `${ROOM}/Bob`)), bobsId);
  await again.close();
});

test('a persistent room stored before occupant identifiers gets its secret saved when loaded', async () => {
  harness = await startHarness();
  await openRoom();
  await harness.settle();
  const [stored] = await harness.storage.mucRooms.list('conference.localhost');
  const state = JSON.parse(stored!.config) as Record<string, unknown>;
  assert.equal(typeof state.occupantIdSalt, 'string');
  delete state.occupantIdSalt;
  await harness.storage.mucRooms.put('conference.localhost', { ...stored!, config: JSON.stringify(state) });

  const again = await startHarness(undefined, harness.storage);
  const service = again.service('conference.localhost');
  await service.ready;
  await again.settle();
  const saved = JSON.parse((await again.storage.mucRooms.list('conference.localhost'))[0]!.config) as Record<string, unknown>;
  assert.equal(saved.occupantIdSalt, service.rooms.get('room')!.occupantIdSalt);
  await again.close();
});
