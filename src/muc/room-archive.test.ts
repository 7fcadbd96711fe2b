/** Room archives (XEP-0313 sections 3.3.2 and 7.1.2) through the router: what a room keeps, its stanza IDs, and who may read it. */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Element } from '../xml/element.ts';
import { iq, startHarness, type Harness, type TestUser } from './test-harness.ts';

const ROOM = 'room@conference.localhost';
const MUC = "xmlns='http://jabber.org/protocol/muc'";
const NS_SID = 'urn:xmpp:sid:0';
const NS_MAM = 'urn:xmpp:mam:2';

let harness: Harness;
afterEach(() => harness?.close());

const configure = (owner: TestUser, fields: Record<string, string>) =>
  iq(owner, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>${Object.entries(fields)
    .map(([name, value]) => `<field var='${name}'><value>${value}</value></field>`)
    .join('')}</x></query>`);

/** alice creates and opens the room; bob enters. */
async function roomWithTwo(fields: Record<string, string> = {}, yaml?: string): Promise<[TestUser, TestUser]> {
  harness = await startHarness(yaml);
  const [alice, bob] = ['alice@localhost/a', 'bob@localhost/b'].map((jid) => harness.user(jid)) as [TestUser, TestUser];
  await alice.send(`<presence to='${ROOM}/Alice'><x ${MUC}/></presence>`);
  assert.equal((await configure(alice, fields)).attrs.type, 'result');
  await bob.send(`<presence to='${ROOM}/Bob'><x ${MUC}/></presence>`);
  alice.take();
  bob.take();
  return [alice, bob];
}

/** Runs a query and returns the forwarded messages and the IQ result. */
async function query(user: TestUser, inner = ''): Promise<{ results: Element[]; reply: Element }> {
  user.take();
  const reply = await iq(user, 'set', ROOM, `<query xmlns='${NS_MAM}' queryid='q'>${inner}</query>`);
  const results = user.received.filter((stanza) => stanza.name === 'message' && stanza.getChild('result', NS_MAM));
  return { results, reply };
}

const forwarded = (result: Element): Element => result.getChild('result', NS_MAM)!.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message', 'jabber:client')!;
const errorOf = (stanza: Element) => stanza.getChild('error')?.elements()[0]?.name;

test('group-chat messages and subject changes are archived once, every occupant gets the room\'s stanza ID, a forged one is removed', async () => {
  const [alice, bob] = await roomWithTwo();
  await alice.send(`<message to='${ROOM}' type='groupchat' id='m1'><body>first</body><stanza-id xmlns='${NS_SID}' by='${ROOM}' id='forged'/><x xmlns='http://jabber.org/protocol/muc#user'/></message>`);
  await alice.send(`<message to='${ROOM}' type='groupchat'><subject>News</subject></message>`);
  await alice.send(`<message to='${ROOM}' type='groupchat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
  await bob.send(`<message to='${ROOM}' type='groupchat'><body>second</body></message>`);
  await alice.send(`<message to='${ROOM}/Bob' type='chat'><body>private</body></message>`);
  const seen = (user: TestUser) => user.received.filter((stanza) => stanza.name === 'message' && stanza.attrs.type === 'groupchat').map((stanza) => stanza.getChildren('stanza-id', NS_SID).map((id) => `${id.attrs.by} ${id.attrs.id}`));
  const aliceIds = seen(alice);
  assert.deepEqual(aliceIds, seen(bob), 'every occupant sees the same IDs');
  assert.equal(aliceIds.length, 4);
  assert.equal(aliceIds[2]!.length, 0, 'a chat state is not archived');
  for (const index of [0, 1, 3]) {
    assert.equal(aliceIds[index]!.length, 1);
    assert.ok(aliceIds[index]![0]!.startsWith(`${ROOM} `));
    assert.ok(!aliceIds[index]![0]!.endsWith('forged'));
  }
  const { results, reply } = await query(bob);
  assert.equal(reply.attrs.type, 'result');
  assert.deepEqual(results.map((result) => result.getChild('result', NS_MAM)!.attrs.id), [0, 1, 3].map((index) => aliceIds[index]![0]!.split(' ')[1]));
  const first = forwarded(results[0]!);
  // Section 7.1.2: from the occupant JID, no `to`, and no muc#user element of the sender's.
  assert.equal(first.attrs.from, `${ROOM}/Alice`);
  assert.equal(first.attrs.to, undefined);
  assert.equal(first.getChild('x', 'http://jabber.org/protocol/muc#user'), undefined);
  assert.equal(first.getChildText('body'), 'first');
  assert.equal(forwarded(results[1]!).getChildText('subject'), 'News');
  assert.ok(results.every((result) => result.attrs.from === ROOM && result.attrs.to === 'bob@localhost/b'));
  assert.equal(reply.getChild('fin', NS_MAM)?.attrs.complete, 'true');
  // The `with` field names an occupant JID.
  const bobs = await query(alice, `<x xmlns='jabber:x:data' type='submit'><field var='with'><value>${ROOM}/Bob</value></field></x>`);
  assert.deepEqual(bobs.results.map((result) => forwarded(result).getChildText('body')), ['second']);
});

test('a members-only room\'s archive is for its members, an outcast reads none; the room advertises its archive', async () => {
  const [alice] = await roomWithTwo({ 'muc#roomconfig_membersonly': '1' });
  await alice.send(`<message to='${ROOM}' type='groupchat'><body>members only</body></message>`);
  const stranger = harness.user('dave@localhost/d');
  assert.equal(errorOf(await iq(stranger, 'set', ROOM, `<query xmlns='${NS_MAM}'/>`)), 'forbidden');
  await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast' jid='eve@localhost'/></query>`);
  assert.equal(errorOf(await iq(harness.user('eve@localhost/e'), 'set', ROOM, `<query xmlns='${NS_MAM}'/>`)), 'forbidden');
  const info = await iq(alice, 'get', ROOM, "<query xmlns='http://jabber.org/protocol/disco#info'/>");
  const features = info.getChild('query', 'http://jabber.org/protocol/disco#info')!.getChildren('feature').map((feature) => feature.attrs.var);
  assert.ok(features.includes(NS_MAM) && features.includes('urn:xmpp:mam:2#extended'), features.join(' '));
  const metadata = await iq(alice, 'get', ROOM, `<metadata xmlns='${NS_MAM}'/>`);
  assert.ok(metadata.getChild('metadata', NS_MAM)?.getChild('start'));
});

test('mam.rooms false: no archive, no stanza IDs; a destroyed room\'s archive goes with it', async () => {
  const [alice, bob] = await roomWithTwo({}, 'mam: { rooms: false }\nhosts:\n  localhost: {}\n');
  await alice.send(`<message to='${ROOM}' type='groupchat'><body>unarchived</body></message>`);
  assert.equal(bob.received.find((stanza) => stanza.getChildText('body') === 'unarchived')?.getChild('stanza-id', NS_SID), undefined);
  assert.equal(errorOf(await iq(bob, 'set', ROOM, `<query xmlns='${NS_MAM}'/>`)), 'service-unavailable');
  await harness.close();

  const [owner] = await roomWithTwo();
  await owner.send(`<message to='${ROOM}' type='groupchat'><body>kept until the end</body></message>`);
  assert.equal((await query(owner)).results.length, 1);
  await iq(owner, 'set', ROOM, "<query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query>");
  await harness.settle();
  // The room is gone; its archive too, so a room of the same name starts empty.
  await owner.send(`<presence to='${ROOM}/Alice'><x ${MUC}/></presence>`);
  await configure(owner, {});
  const { results } = await query(owner);
  assert.equal(results.length, 0);
});
