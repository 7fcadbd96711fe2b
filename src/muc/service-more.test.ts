/** More of the group-chat service: declines, voice requests, private-message rules, IQs between occupants, resources, errors, limits. */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';
import { startHarness, type Harness, type TestUser } from './test-harness.ts';
import { NS_MUC_USER } from './xmlns.ts';

const ROOM = 'room@conference.localhost';
const MUC = "<x xmlns='http://jabber.org/protocol/muc'/>";
const OWNER = 'http://jabber.org/protocol/muc#owner';

let harness: Harness;
afterEach(() => harness?.close());

const errorOf = (stanza: Element | undefined) => stanza?.getChild('error')?.elements()[0]?.name;
const codes = (stanza: Element | undefined): string[] => stanza?.getChild('x', NS_MUC_USER)?.getChildren('status').map((status) => status.attrs.code!) ?? [];
const last = (user: TestUser) => user.received.at(-1);

async function open(yaml?: string, fields = ''): Promise<TestUser> {
  harness = await startHarness(yaml);
  const alice = harness.user('alice@localhost/a');
  await alice.send(`<presence to='${ROOM}/Alice'>${MUC}</presence>`);
  await alice.send(`<iq type='set' id='c' to='${ROOM}'><query xmlns='${OWNER}'><x xmlns='jabber:x:data' type='submit'>${fields}</x></query></iq>`);
  assert.equal(alice.received.find((stanza) => stanza.name === 'iq' && stanza.attrs.id === 'c')?.attrs.type, 'result');
  alice.take();
  return alice;
}

async function enter(jid: string, nick: string): Promise<TestUser> {
  const user = harness.user(jid);
  await user.send(`<presence to='${ROOM}/${nick}'>${MUC}</presence>`);
  return user;
}

const field = (name: string, value: string) => `<field var='${name}'><value>${value}</value></field>`;

test('a decline goes back to the inviter from the room', async () => {
  const alice = await open();
  const bob = harness.user('bob@localhost/b');
  await bob.send(`<message to='${ROOM}'><x xmlns='${NS_MUC_USER}'><decline to='alice@localhost/a'><reason>busy</reason></decline></x></message>`);
  const declined = alice.received.find((stanza) => stanza.attrs.from === ROOM)?.getChild('x', NS_MUC_USER)?.getChild('decline');
  assert.equal(declined?.attrs.from, 'bob@localhost');
  assert.equal(declined?.getChildText('reason'), 'busy');
});

test('a voice request reaches the moderators, and their approval gives voice (sections 7.13, 8.6)', async () => {
  const alice = await open(undefined, field('muc#roomconfig_moderatedroom', '1'));
  const dave = await enter('dave@localhost/d', 'Dave');
  const request = `<x xmlns='jabber:x:data' type='submit'>${field('FORM_TYPE', 'http://jabber.org/protocol/muc#request')}${field('muc#role', 'participant')}</x>`;
  await dave.send(`<message to='${ROOM}'>${request}</message>`);
  const form = alice.received.find((stanza) => stanza.name === 'message' && stanza.attrs.from === ROOM)?.getChild('x', 'jabber:x:data');
  const fields = new Map(form?.getChildren('field').map((entry) => [entry.attrs.var, entry.getChildText('value')]));
  assert.equal(fields.get('muc#roomnick'), 'Dave');
  assert.equal(fields.get('muc#jid'), 'dave@localhost/d');
  const approval = `<x xmlns='jabber:x:data' type='submit'>${field('FORM_TYPE', 'http://jabber.org/protocol/muc#request')}${field('muc#roomnick', 'Dave')}${field('muc#request_allow', 'true')}</x>`;
  await alice.send(`<message to='${ROOM}'>${approval}</message>`);
  const voiced = dave.received.filter((stanza) => stanza.name === 'presence' && stanza.attrs.from === `${ROOM}/Dave`).at(-1);
  assert.equal(voiced?.getChild('x', NS_MUC_USER)?.getChild('item')?.attrs.role, 'participant');
});

test('private messages follow muc#roomconfig_allowpm; groupchat to an occupant is refused', async () => {
  const alice = await open(undefined, field('muc#roomconfig_allowpm', 'moderators'));
  const bob = await enter('bob@localhost/b', 'Bob');
  await bob.send(`<message to='${ROOM}/Alice' type='chat'><body>hi</body></message>`);
  assert.equal(errorOf(last(bob)), 'forbidden');
  await alice.send(`<message to='${ROOM}/Bob' type='chat'><body>hello</body></message>`);
  assert.equal(last(bob)?.attrs.from, `${ROOM}/Alice`);
  await alice.send(`<message to='${ROOM}/Bob' type='groupchat'><body>hello</body></message>`);
  assert.equal(errorOf(last(alice)), 'bad-request');
});

test('an IQ to an occupant goes to its resource from the asker\'s room JID, and the answer comes back; a self-ping is answered by the room', async () => {
  const alice = await open();
  const bob = await enter('bob@localhost/b', 'Bob');
  bob.take();
  await alice.send(`<iq type='get' id='v1' to='${ROOM}/Bob'><query xmlns='jabber:iq:version'/></iq>`);
  const relayed = bob.received.find((stanza) => stanza.name === 'iq');
  assert.equal(relayed?.attrs.from, `${ROOM}/Alice`);
  assert.notEqual(relayed?.attrs.id, 'v1');
  await bob.send(`<iq type='result' id='${relayed!.attrs.id}' to='${ROOM}/Alice'><query xmlns='jabber:iq:version'><name>bob's client</name></query></iq>`);
  const answer = alice.received.find((stanza) => stanza.name === 'iq' && stanza.attrs.id === 'v1');
  assert.equal(answer?.attrs.from, `${ROOM}/Bob`);
  assert.equal(answer?.attrs.type, 'result');
  await bob.send(`<iq type='get' id='p1' to='${ROOM}/Bob'><ping xmlns='urn:xmpp:ping'/></iq>`);
  assert.equal(bob.received.find((stanza) => stanza.attrs.id === 'p1')?.attrs.type, 'result');
  await bob.send(`<iq type='get' id='p2' to='${ROOM}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  assert.equal(bob.received.find((stanza) => stanza.attrs.id === 'p2')?.attrs.type, 'result');
  const stranger = harness.user('zed@localhost/z');
  await stranger.send(`<iq type='get' id='v2' to='${ROOM}/Bob'><query xmlns='jabber:iq:version'/></iq>`);
  assert.equal(errorOf(last(stranger)), 'not-acceptable');
});

test('an IQ relayed to an occupant whose resource is gone comes back as an error from the occupant JID', async () => {
  const alice = await open();
  await enter('bob@localhost/b', 'Bob');
  harness.router.sessions.remove(harness.router.sessions.get(parseJid('bob@localhost/b'))!);
  await alice.send(`<iq type='get' id='v3' to='${ROOM}/Bob'><query xmlns='jabber:iq:version'/></iq>`);
  const answer = alice.received.find((stanza) => stanza.attrs.id === 'v3');
  assert.equal(answer?.attrs.from, `${ROOM}/Bob`);
  assert.equal(errorOf(answer), 'service-unavailable');
});

test('a direct invitation (XEP-0249) goes from user to user untouched by the service', async () => {
  await open();
  const bob = harness.user('bob@localhost/b');
  await bob.send('<presence/>');
  const alice = harness.user('alice@localhost/other');
  await alice.send(`<message to='bob@localhost'><x xmlns='jabber:x:conference' jid='${ROOM}' reason='come'/></message>`);
  const invitation = bob.received.find((stanza) => stanza.name === 'message')?.getChild('x', 'jabber:x:conference');
  assert.equal(invitation?.attrs.jid, ROOM);
});

test('two resources of one account share a nickname; the occupant leaves with the last', async () => {
  const alice = await open();
  const first = await enter('bob@localhost/one', 'Bob');
  const second = await enter('bob@localhost/two', 'Bob');
  assert.deepEqual(codes(second.received.find((stanza) => stanza.attrs.from === `${ROOM}/Bob`)), ['110']);
  await alice.send(`<message to='${ROOM}' type='groupchat'><body>both</body></message>`);
  for (const user of [first, second]) assert.ok(user.received.some((stanza) => stanza.getChildText('body') === 'both'));
  alice.take();
  await first.send(`<presence to='${ROOM}/Bob' type='unavailable'/>`);
  assert.equal(alice.received.find((stanza) => stanza.attrs.type === 'unavailable'), undefined);
  await second.send(`<presence to='${ROOM}/Bob' type='unavailable'/>`);
  assert.ok(alice.received.find((stanza) => stanza.attrs.type === 'unavailable' && stanza.attrs.from === `${ROOM}/Bob`));
});

test('an occupant whose server reports it gone is taken out with 333', async () => {
  const alice = await open();
  await harness.fromServer(`<presence from='zoe@remote.example/z' to='${ROOM}/Zoe'>${MUC}</presence>`);
  await harness.fromServer(`<message from='zoe@remote.example/z' to='${ROOM}' type='error'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
  const gone = alice.received.find((stanza) => stanza.attrs.type === 'unavailable' && stanza.attrs.from === `${ROOM}/Zoe`);
  assert.deepEqual(codes(gone), ['333']);
});

test('the service\'s limits: rooms, occupants of a room, who creates', async () => {
  harness = await startHarness('muc: { max_rooms: 1, max_occupants: 1, room_creation: host }\nhosts:\n  localhost: {}\n  example.net: {}\n');
  const alice = harness.user('alice@localhost/a');
  await alice.send(`<presence to='${ROOM}/Alice'>${MUC}</presence>`);
  await alice.send(`<iq type='set' id='c' to='${ROOM}'><query xmlns='${OWNER}'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
  await alice.send(`<presence to='second@conference.localhost/Alice'>${MUC}</presence>`);
  assert.equal(errorOf(last(alice)), 'resource-constraint');
  const bob = await enter('bob@localhost/b', 'Bob');
  assert.equal(errorOf(last(bob)), 'service-unavailable');
  const carol = harness.user('carol@example.net/c');
  await carol.send(`<presence to='other@conference.localhost/Carol'>${MUC}</presence>`);
  assert.equal(errorOf(last(carol)), 'not-allowed');
  await carol.send(`<presence to='theirs@conference.example.net/Carol'>${MUC}</presence>`);
  assert.deepEqual(codes(carol.received.find((stanza) => stanza.attrs.from === 'theirs@conference.example.net/Carol')), ['110', '201']);
});

test('cancelling the first configuration destroys the new room', async () => {
  harness = await startHarness();
  const alice = harness.user('alice@localhost/a');
  await alice.send(`<presence to='${ROOM}/Alice'>${MUC}</presence>`);
  await alice.send(`<iq type='set' id='c' to='${ROOM}'><query xmlns='${OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`);
  assert.equal(harness.service('conference.localhost').rooms.size, 0);
  assert.ok(alice.received.some((stanza) => stanza.attrs.type === 'unavailable' && stanza.getChild('x', NS_MUC_USER)?.getChild('destroy')));
});

test("a broadcast respects each recipient's block list (XEP-0191) and reaches the others at once", async () => {
  const alice = await open();
  const bob = await enter('bob@localhost/b', 'Bob');
  const carol = await enter('carol@localhost/c', 'Carol');
  const statuses = (user: TestUser) => user.take().filter((stanza) => stanza.name === 'presence' && stanza.attrs.from === `${ROOM}/Alice`).map((stanza) => stanza.getChildText('status'));
  bob.take();
  carol.take();
  await alice.send(`<presence to='${ROOM}/Alice'><status>one</status></presence>`);
  assert.deepEqual(statuses(bob), ['one']);
  // bob blocks Alice's occupant JID: her presence no longer reaches him (dropped without a word); carol still gets it.
  await bob.send(`<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='${ROOM}/Alice'/></block></iq>`);
  carol.take();
  await alice.send(`<presence to='${ROOM}/Alice'><status>two</status></presence>`);
  assert.deepEqual(statuses(bob), [], 'blocked');
  assert.deepEqual(statuses(carol), ['two']);
  await bob.send(`<iq type='set' id='b2'><unblock xmlns='urn:xmpp:blocking'/></iq>`);
  await alice.send(`<presence to='${ROOM}/Alice'><status>three</status></presence>`);
  assert.deepEqual(statuses(bob), ['three']);
  // A message from a blocked occupant is not delivered either.
  await bob.send(`<iq type='set' id='b3'><block xmlns='urn:xmpp:blocking'><item jid='${ROOM}/Alice'/></block></iq>`);
  bob.take();
  await alice.send(`<message to='${ROOM}' type='groupchat'><body>hidden</body></message>`);
  assert.equal(bob.take().some((stanza) => stanza.getChildText('body') === 'hidden'), false);
  assert.ok(carol.take().some((stanza) => stanza.getChildText('body') === 'hidden'));
});
