/**
 * Message moderation (XEP-0425) through the router: a moderator retracts a message by the
 * room's stanza ID, in the current version and the one before; every occupant is told, the
 * archive keeps a tombstone, newcomers' history leaves it out; anyone else is refused.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { NS_MAM, NS_SID } from '../modules/mam/xmlns.ts';
import type { Element } from '../xml/element.ts';
import { NS_FASTEN, NS_MODERATE, NS_MODERATE_0, NS_RETRACT, NS_RETRACT_0 } from './moderation.ts';
import { iq, startHarness, type Harness, type TestUser } from './test-harness.ts';
import { NS_OCCUPANT_ID } from './xmlns.ts';

const ROOM = 'room@conference.localhost';
const MUC = "xmlns='http://jabber.org/protocol/muc'";

let harness: Harness;
afterEach(() => harness?.close());

/** alice owns the open room (a moderator); bob speaks in it. */
async function roomWithTwo(yaml?: string): Promise<[TestUser, TestUser]> {
  harness = await startHarness(yaml);
  const [alice, bob] = ['alice@localhost/a', 'bob@localhost/b'].map((jid) => harness.user(jid)) as [TestUser, TestUser];
  await alice.send(`<presence to='${ROOM}/Alice'><x ${MUC}/></presence>`);
  await iq(alice, 'set', ROOM, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>");
  await bob.send(`<presence to='${ROOM}/Bob'><x ${MUC}/></presence>`);
  return [alice, bob];
}

/** bob says `text`; returns the room's stanza ID of it. */
async function say(bob: TestUser, text: string): Promise<string> {
  await bob.send(`<message to='${ROOM}' type='groupchat'><body>${text}</body></message>`);
  const echo = bob.received.findLast((stanza) => stanza.name === 'message' && stanza.getChildText('body') === text)!;
  return echo.getChildren('stanza-id', NS_SID).find((id) => id.attrs.by === ROOM)!.attrs.id!;
}

const moderateV1 = (id: string, reason = '') => `<moderate xmlns='${NS_MODERATE}' id='${id}'><retract xmlns='${NS_RETRACT}'/>${reason ? `<reason>${reason}</reason>` : ''}</moderate>`;
const moderateV0 = (id: string) => `<apply-to xmlns='${NS_FASTEN}' id='${id}'><moderate xmlns='${NS_MODERATE_0}'><retract xmlns='${NS_RETRACT_0}'/></moderate></apply-to>`;
const errorOf = (stanza: Element) => stanza.getChild('error')?.elements()[0]?.name;
const announcementOf = (user: TestUser, id: string) => user.received.find((stanza) => stanza.name === 'message' && stanza.attrs.from === ROOM && stanza.getChild('retract', NS_RETRACT)?.attrs.id === id);

async function archived(user: TestUser): Promise<Element[]> {
  user.take();
  await iq(user, 'set', ROOM, `<query xmlns='${NS_MAM}' queryid='q'/>`);
  return user.received.filter((stanza) => stanza.getChild('result', NS_MAM)).map((result) => result.getChild('result', NS_MAM)!.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message', 'jabber:client')!);
}

test('a room with an archive advertises both versions of moderation', async () => {
  const [alice] = await roomWithTwo();
  const features = (await iq(alice, 'get', ROOM, "<query xmlns='http://jabber.org/protocol/disco#info'/>")).getChild('query', 'http://jabber.org/protocol/disco#info')!.getChildren('feature').map((feature) => feature.attrs.var);
  assert.ok(features.includes(NS_MODERATE) && features.includes(NS_MODERATE_0));
});

test('a moderator retracts a message: everyone is told, the archive keeps a tombstone, newcomers do not get it', async () => {
  const [alice, bob] = await roomWithTwo();
  const spam = await say(bob, 'buy potions');
  await say(bob, 'sorry');
  const reply = await iq(alice, 'set', ROOM, moderateV1(spam, 'spam'));
  assert.equal(reply.attrs.type, 'result');

  const aliceId = alice.received.find((stanza) => stanza.name === 'presence' && stanza.attrs.from === `${ROOM}/Alice`)!.getChild('occupant-id', NS_OCCUPANT_ID)!.attrs.id;
  for (const user of [alice, bob]) {
    const told = announcementOf(user, spam);
    assert.ok(told, `${user.jid} is told`);
    assert.equal(told.attrs.type, 'groupchat');
    const moderated = told.getChild('retract', NS_RETRACT)!.getChild('moderated', NS_MODERATE)!;
    assert.equal(moderated.attrs.by, `${ROOM}/Alice`);
    assert.equal(moderated.getChild('occupant-id', NS_OCCUPANT_ID)?.attrs.id, aliceId);
    assert.equal(told.getChild('retract', NS_RETRACT)!.getChildText('reason'), 'spam');
    // The earlier version, for clients that only know it.
    const older = told.getChild('apply-to', NS_FASTEN);
    assert.equal(older?.attrs.id, spam);
    assert.ok(older?.getChild('moderated', NS_MODERATE_0)?.getChild('retract', NS_RETRACT_0));
  }

  const messages = await archived(bob);
  assert.equal(messages.length, 2);
  const [tomb, kept] = messages;
  assert.equal(tomb!.getChild('body'), undefined, 'nothing of what it said is left');
  assert.equal(tomb!.attrs.from, `${ROOM}/Bob`);
  assert.ok(tomb!.getChild('occupant-id', NS_OCCUPANT_ID), "the author's identifier stays");
  const retracted = tomb!.getChild('retracted', NS_RETRACT)!;
  assert.ok(retracted.attrs.stamp);
  assert.equal(retracted.getChild('moderated', NS_MODERATE)?.attrs.by, `${ROOM}/Alice`);
  assert.equal(kept!.getChildText('body'), 'sorry');

  const carol = harness.user('carol@localhost/c');
  await carol.send(`<presence to='${ROOM}/Carol'><x ${MUC}/></presence>`);
  const history = carol.received.filter((stanza) => stanza.name === 'message' && stanza.getChild('body'));
  assert.deepEqual(history.map((stanza) => stanza.getChildText('body')), ['sorry']);
});

test('the earlier version works too', async () => {
  const [alice, bob] = await roomWithTwo();
  const spam = await say(bob, 'buy potions');
  assert.equal((await iq(alice, 'set', ROOM, moderateV0(spam))).attrs.type, 'result');
  assert.ok(announcementOf(bob, spam));
  assert.equal((await archived(bob))[0]!.getChild('body'), undefined);
});

test('a service without room archives offers no moderation: its messages have no IDs', async () => {
  const [alice] = await roomWithTwo('hosts:\n  localhost: { mam: { rooms: false } }\n');
  const features = (await iq(alice, 'get', ROOM, "<query xmlns='http://jabber.org/protocol/disco#info'/>")).getChild('query', 'http://jabber.org/protocol/disco#info')!.getChildren('feature').map((feature) => feature.attrs.var);
  assert.ok(!features.includes(NS_MODERATE));
  assert.equal(errorOf(await iq(alice, 'set', ROOM, moderateV1('any'))), 'service-unavailable');
});

test('only a moderator retracts, only a message the room has, and only by retraction', async () => {
  const [alice, bob] = await roomWithTwo();
  const mine = await say(bob, 'hello');
  assert.equal(errorOf(await iq(bob, 'set', ROOM, moderateV1(mine))), 'forbidden');
  assert.equal(errorOf(await iq(alice, 'set', ROOM, moderateV1('no-such-id'))), 'item-not-found');
  assert.equal(errorOf(await iq(alice, 'set', ROOM, `<moderate xmlns='${NS_MODERATE}' id='${mine}'/>`)), 'feature-not-implemented');
  assert.equal(errorOf(await iq(alice, 'set', ROOM, `<moderate xmlns='${NS_MODERATE}'><retract xmlns='${NS_RETRACT}'/></moderate>`)), 'bad-request');
  const outsider = harness.user('mallory@localhost/m');
  assert.equal(errorOf(await iq(outsider, 'set', ROOM, moderateV1(mine))), 'forbidden');
  assert.equal((await archived(bob)).map((message) => message.getChildText('body')).join(), 'hello', 'nothing was retracted');
});
