/** The group-chat service through the router (XEP-0045): entering, talking, moderation, configuration and persistence. */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Element } from '../xml/element.ts';
import { iq, startHarness, type Harness, type TestUser } from './test-harness.ts';
import { NS_MUC_USER } from './xmlns.ts';

const ROOM = 'room@conference.localhost';
const MUC = "xmlns='http://jabber.org/protocol/muc'";

let harness: Harness;
afterEach(() => harness?.close());

const codes = (stanza: Element | undefined): string[] => stanza?.getChild('x', NS_MUC_USER)?.getChildren('status').map((status) => status.attrs.code!) ?? [];
const item = (stanza: Element | undefined) => stanza?.getChild('x', NS_MUC_USER)?.getChild('item')?.attrs ?? {};
const errorOf = (stanza: Element | undefined) => stanza?.getChild('error')?.elements()[0]?.name;
const presenceFrom = (user: TestUser, from: string, type?: string) => user.received.find((stanza) => stanza.name === 'presence' && stanza.attrs.from === from && stanza.attrs.type === type);
const messages = (user: TestUser) => user.received.filter((stanza) => stanza.name === 'message' && stanza.getChildText('body') !== undefined);

async function join(user: TestUser, nick: string, extra = '', room = ROOM): Promise<Element | undefined> {
  await user.send(`<presence to='${room}/${nick}'><x ${MUC}>${extra}</x></presence>`);
  return user.received.find((stanza) => stanza.name === 'presence' && stanza.attrs.from === `${room}/${nick}`);
}

const form = (fields: Record<string, string>) =>
  `<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>${Object.entries(fields)
    .map(([name, value]) => `<field var='${name}'><value>${value}</value></field>`)
    .join('')}</x></query>`;

async function configure(owner: TestUser, fields: Record<string, string>, room = ROOM): Promise<Element> {
  return iq(owner, 'set', room, form(fields));
}

/** alice creates and opens the room; bob and carol enter. */
async function roomWithThree(fields: Record<string, string> = {}): Promise<[TestUser, TestUser, TestUser]> {
  harness = await startHarness();
  const [alice, bob, carol] = ['alice@localhost/a', 'bob@localhost/b', 'carol@example.net/c'].map((jid) => harness.user(jid)) as [TestUser, TestUser, TestUser];
  await join(alice, 'Alice');
  assert.equal((await configure(alice, fields)).attrs.type, 'result');
  await join(bob, 'Bob');
  await join(carol, 'Carol');
  for (const user of [alice, bob, carol]) user.take();
  return [alice, bob, carol];
}

describe('entering and leaving', () => {
  test('the creator gets 110 and 201 as owner and moderator; the room stays locked until configured', async () => {
    harness = await startHarness();
    const alice = harness.user('alice@localhost/a');
    const bob = harness.user('bob@localhost/b');
    const own = await join(alice, 'Alice');
    assert.deepEqual(codes(own), ['110', '201']);
    assert.equal(item(own).affiliation, 'owner');
    assert.equal(item(own).role, 'moderator');
    const subject = alice.received.find((stanza) => stanza.name === 'message' && stanza.getChild('subject'));
    assert.equal(subject?.getChildText('subject'), '');
    assert.equal(errorOf(await join(bob, 'Bob')), 'item-not-found');
    // An instant room (section 10.1.2): an empty submitted form opens it.
    const reply = await iq(alice, 'set', ROOM, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>");
    assert.equal(reply.attrs.type, 'result');
    bob.take();
    const bobSelf = await join(bob, 'Bob');
    assert.deepEqual(codes(bobSelf), ['110']);
    assert.equal(item(bobSelf).role, 'participant');
    assert.ok(presenceFrom(bob, `${ROOM}/Alice`), 'the newcomer learns who is there');
    const seen = presenceFrom(alice, `${ROOM}/Bob`);
    assert.equal(item(seen).jid, 'bob@localhost/b', 'moderators see real JIDs in a semi-anonymous room');
    assert.equal(item(presenceFrom(bob, `${ROOM}/Alice`)).jid, undefined, 'participants do not');
  });

  test('a nickname in use is a conflict; a nickname change is 303 then the new presence', async () => {
    const [alice, bob] = await roomWithThree();
    const dave = harness.user('dave@localhost/d');
    assert.equal(errorOf(await join(dave, 'Bob')), 'conflict');
    await bob.send(`<presence to='${ROOM}/Carol'><status>taken</status></presence>`);
    assert.equal(errorOf(bob.received.at(-1)), 'conflict');
    assert.equal(harness.service('conference.localhost').rooms.get('room')?.occupants.get('Bob')?.presence.getChildText('status'), undefined, 'a refused change changes nothing');
    await bob.send(`<presence to='${ROOM}/Robert'/>`);
    const gone = presenceFrom(alice, `${ROOM}/Bob`, 'unavailable');
    assert.deepEqual(codes(gone), ['303']);
    assert.equal(item(gone).nick, 'Robert');
    assert.ok(presenceFrom(alice, `${ROOM}/Robert`));
    assert.deepEqual(codes(presenceFrom(bob, `${ROOM}/Bob`, 'unavailable')), ['110', '303']);
  });

  test('leaving tells everyone; the last one out ends a temporary room', async () => {
    const [alice, bob, carol] = await roomWithThree();
    await bob.send(`<presence to='${ROOM}/Bob' type='unavailable'><status>bye</status></presence>`);
    const gone = presenceFrom(alice, `${ROOM}/Bob`, 'unavailable');
    assert.equal(gone?.getChildText('status'), 'bye');
    assert.deepEqual(codes(presenceFrom(bob, `${ROOM}/Bob`, 'unavailable')), ['110']);
    await alice.send(`<presence to='${ROOM}/Alice' type='unavailable'/>`);
    await carol.send(`<presence to='${ROOM}/Carol' type='unavailable'/>`);
    assert.equal(harness.service('conference.localhost').rooms.size, 0);
  });

  test('a full room refuses with service-unavailable', async () => {
    const [alice] = await roomWithThree();
    await configure(alice, { 'muc#roomconfig_maxusers': '3' });
    assert.equal(errorOf(await join(harness.user('dave@localhost/d'), 'Dave')), 'service-unavailable');
  });

  test('a password-protected room wants the password', async () => {
    const [alice] = await roomWithThree({ 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': 'sesame' });
    const dave = harness.user('dave@localhost/d');
    assert.equal(errorOf(await join(dave, 'Dave')), 'not-authorized');
    dave.take();
    assert.deepEqual(codes(await join(dave, 'Dave', '<password>sesame</password>')), ['110']);
    void alice;
  });
});

describe('messages', () => {
  test('groupchat goes to every occupant from the sender\'s occupant JID; a late joiner gets history as asked', async () => {
    const [alice, bob, carol] = await roomWithThree();
    for (const body of ['one', 'two', 'three']) await alice.send(`<message to='${ROOM}' type='groupchat' id='${body}'><body>${body}</body></message>`);
    for (const user of [alice, bob, carol]) {
      assert.deepEqual(messages(user).map((message) => [message.attrs.from, message.getChildText('body'), message.attrs.id]), [
        [`${ROOM}/Alice`, 'one', 'one'],
        [`${ROOM}/Alice`, 'two', 'two'],
        [`${ROOM}/Alice`, 'three', 'three'],
      ]);
    }
    const dave = harness.user('dave@localhost/d');
    await join(dave, 'Dave', "<history maxstanzas='2'/>");
    const history = messages(dave);
    assert.deepEqual(history.map((message) => message.getChildText('body')), ['two', 'three']);
    assert.ok(history.every((message) => message.getChild('delay', 'urn:xmpp:delay')?.attrs.from === ROOM));
    const erin = harness.user('erin@localhost/e');
    await join(erin, 'Erin', "<history maxchars='0'/>");
    assert.deepEqual(messages(erin), []);
    const frank = harness.user('frank@localhost/f');
    await join(frank, 'Frank', `<history since='${new Date(Date.now() + 60_000).toISOString()}'/>`);
    assert.deepEqual(messages(frank), []);
  });

  test('a non-occupant may not speak; a private message reaches only its addressee', async () => {
    const [alice, bob, carol] = await roomWithThree();
    const dave = harness.user('dave@localhost/d');
    await dave.send(`<message to='${ROOM}' type='groupchat'><body>hi</body></message>`);
    assert.equal(errorOf(dave.received[0]), 'not-acceptable');
    await bob.send(`<message to='${ROOM}/Alice' type='chat'><body>psst</body></message>`);
    const pm = messages(alice)[0];
    assert.equal(pm?.attrs.from, `${ROOM}/Bob`);
    assert.ok(pm?.getChild('x', NS_MUC_USER));
    assert.deepEqual(messages(carol), []);
    await bob.send(`<message to='${ROOM}/Nobody' type='chat'><body>?</body></message>`);
    assert.equal(errorOf(bob.received.at(-1)), 'item-not-found');
  });

  test('the subject: moderators change it, participants only where allowed; newcomers get it', async () => {
    const [alice, bob] = await roomWithThree();
    await bob.send(`<message to='${ROOM}' type='groupchat'><subject>mine</subject></message>`);
    assert.equal(errorOf(bob.received.at(-1)), 'forbidden');
    await alice.send(`<message to='${ROOM}' type='groupchat'><subject>Plans</subject></message>`);
    assert.equal(bob.received.find((stanza) => stanza.getChild('subject') && stanza.attrs.type !== 'error')?.getChildText('subject'), 'Plans');
    const dave = harness.user('dave@localhost/d');
    await join(dave, 'Dave');
    const subject = dave.received.find((stanza) => stanza.getChild('subject'));
    assert.equal(subject?.attrs.from, `${ROOM}/Alice`);
    assert.equal(subject?.getChildText('subject'), 'Plans');
  });

  test('a mediated invitation reaches the invitee from the room; in a members-only room it makes a member', async () => {
    const [alice] = await roomWithThree({ 'muc#roomconfig_membersonly': '1' });
    const dave = harness.user('dave@localhost/d');
    await dave.send('<presence/>');
    assert.equal(errorOf(await join(dave, 'Dave')), 'registration-required');
    await alice.send(`<message to='${ROOM}'><x xmlns='${NS_MUC_USER}'><invite to='dave@localhost'><reason>join us</reason></invite></x></message>`);
    const invitation = dave.received.find((stanza) => stanza.name === 'message' && stanza.attrs.from === ROOM);
    assert.equal(invitation?.getChild('x', NS_MUC_USER)?.getChild('invite')?.attrs.from, 'alice@localhost/a');
    assert.equal(invitation?.getChild('x', 'jabber:x:conference')?.attrs.jid, ROOM);
    dave.take();
    assert.deepEqual(codes(await join(dave, 'Dave')), ['110']);
  });
});

describe('moderation', () => {
  test('kick: 307 to everyone; only moderators may', async () => {
    const [alice, bob, carol] = await roomWithThree();
    const forbidden = await iq(bob, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='none'/></query>`);
    assert.equal(errorOf(forbidden), 'forbidden');
    const reply = await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='none'><reason>enough</reason></item></query>`);
    assert.equal(reply.attrs.type, 'result');
    const kicked = presenceFrom(carol, `${ROOM}/Carol`, 'unavailable');
    assert.deepEqual(codes(kicked), ['110', '307']);
    assert.equal(item(kicked).role, 'none');
    assert.deepEqual(codes(presenceFrom(bob, `${ROOM}/Carol`, 'unavailable')), ['307']);
    assert.equal(harness.service('conference.localhost').rooms.get('room')?.occupants.has('Carol'), false);
  });

  test('ban: 301, the outcast list, and no way back in', async () => {
    const [alice, bob, carol] = await roomWithThree();
    await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='carol@example.net' affiliation='outcast'><reason>spam</reason></item></query>`);
    assert.deepEqual(codes(presenceFrom(bob, `${ROOM}/Carol`, 'unavailable')), ['301']);
    const list = await iq(alice, 'get', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query>`);
    assert.deepEqual(
      list.getChild('query', 'http://jabber.org/protocol/muc#admin')?.getChildren('item').map((entry) => [entry.attrs.jid, entry.getChildText('reason')]),
      [['carol@example.net', 'spam']],
    );
    carol.take();
    assert.equal(errorOf(await join(carol, 'Carol')), 'forbidden');
    assert.equal(errorOf(await iq(bob, 'get', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query>`)), 'forbidden');
  });

  test('members read the member list of a members-only room that shows real JIDs (section 9.5), as OMEMO clients need; not elsewhere', async () => {
    harness = await startHarness();
    const alice = harness.user('alice@localhost/a');
    const bob = harness.user('bob@localhost/b');
    await join(alice, 'Alice');
    await configure(alice, { 'muc#roomconfig_membersonly': '1', 'muc#roomconfig_whois': 'anyone' });
    await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@localhost' affiliation='member'/><item jid='dave@localhost' affiliation='member'/></query>`);
    await join(bob, 'Bob');
    const members = `<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member'/></query>`;
    const list = await iq(bob, 'get', ROOM, members);
    assert.deepEqual(list.getChild('query', 'http://jabber.org/protocol/muc#admin')?.getChildren('item').map((entry) => entry.attrs.jid).sort(), ['bob@localhost', 'dave@localhost']);
    assert.deepEqual(
      (await iq(bob, 'get', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='owner'/></query>`)).getChild('query', 'http://jabber.org/protocol/muc#admin')?.getChildren('item').map((entry) => entry.attrs.jid),
      ['alice@localhost'],
    );
    assert.equal(errorOf(await iq(harness.user('erin@localhost/e'), 'get', ROOM, members)), 'forbidden', 'not to someone without an affiliation');
    // Semi-anonymous again: the list is the admins' and owners' only.
    await configure(alice, { 'muc#roomconfig_whois': 'moderators' });
    assert.equal(errorOf(await iq(bob, 'get', ROOM, members)), 'forbidden');
  });

  test('a moderated room: visitors may not speak until given voice', async () => {
    const [alice, bob] = await roomWithThree({ 'muc#roomconfig_moderatedroom': '1' });
    const dave = harness.user('dave@localhost/d');
    assert.equal(item(await join(dave, 'Dave')).role, 'visitor');
    await dave.send(`<message to='${ROOM}' type='groupchat'><body>can I?</body></message>`);
    assert.equal(errorOf(dave.received.at(-1)), 'forbidden');
    assert.deepEqual(messages(bob), []);
    await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Dave' role='participant'/></query>`);
    await dave.send(`<message to='${ROOM}' type='groupchat'><body>now I can</body></message>`);
    assert.equal(messages(bob).at(-1)?.getChildText('body'), 'now I can');
  });

  test('admins may not act on owners, and the last owner stays', async () => {
    const [alice, bob] = await roomWithThree();
    await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@localhost' affiliation='admin'/></query>`);
    const refused = await iq(bob, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Alice' role='none'/></query>`);
    assert.equal(errorOf(refused), 'not-allowed');
    const last = await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@localhost' affiliation='member'/></query>`);
    assert.equal(errorOf(last), 'conflict');
  });
});

describe('configuration and lifetime', () => {
  test('destruction sends everyone away naming the alternate venue, and the room is gone', async () => {
    const [alice, bob] = await roomWithThree({ 'muc#roomconfig_persistentroom': '1' });
    assert.equal((await harness.storage.mucRooms.list('conference.localhost')).length, 1);
    await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='new@conference.localhost'><reason>moved</reason></destroy></query>`);
    const gone = presenceFrom(bob, `${ROOM}/Bob`, 'unavailable');
    const destroy = gone?.getChild('x', NS_MUC_USER)?.getChild('destroy');
    assert.equal(destroy?.attrs.jid, 'new@conference.localhost');
    assert.equal(destroy?.getChildText('reason'), 'moved');
    assert.equal(errorOf(await iq(bob, 'get', ROOM, "<query xmlns='http://jabber.org/protocol/disco#info'/>")), 'item-not-found');
    assert.deepEqual(await harness.storage.mucRooms.list('conference.localhost'), []);
  });

  test('a persistent room comes back with its configuration, subject and affiliations', async () => {
    const [alice] = await roomWithThree({ 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_membersonly': '1', 'muc#roomconfig_roomname': 'Plans' });
    await iq(alice, 'set', ROOM, `<query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@localhost' affiliation='member'/></query>`);
    await alice.send(`<message to='${ROOM}' type='groupchat'><subject>Kept</subject></message>`);
    await harness.settle();
    const storage = harness.storage;
    const again = await startHarness(undefined, storage);
    const room = again.service('conference.localhost');
    await room.ready;
    const loaded = room.rooms.get('room')!;
    assert.equal(loaded.config.title, 'Plans');
    assert.equal(loaded.config.membersOnly, true);
    assert.equal(loaded.subject?.text, 'Kept');
    assert.equal(loaded.affiliations.get('alice@localhost')?.affiliation, 'owner');
    const dave = again.user('dave@localhost/d');
    assert.equal(errorOf(await join(dave, 'Dave')), 'registration-required');
    const bob = again.user('bob@localhost/b');
    assert.deepEqual(codes(await join(bob, 'Bob')), ['110']);
  });

  test('the configuration form round-trips, and limits above the service\'s are refused', async () => {
    const [alice, bob] = await roomWithThree();
    const formReply = await iq(alice, 'get', ROOM, "<query xmlns='http://jabber.org/protocol/muc#owner'/>");
    const fields = formReply.getChild('query', 'http://jabber.org/protocol/muc#owner')?.getChild('x', 'jabber:x:data')?.getChildren('field').map((field) => field.attrs.var);
    assert.ok(fields?.includes('muc#roomconfig_whois'));
    assert.equal(errorOf(await configure(alice, { 'muc#roomconfig_maxusers': '100000' })), 'not-acceptable');
    assert.equal(errorOf(await iq(bob, 'get', ROOM, "<query xmlns='http://jabber.org/protocol/muc#owner'/>")), 'forbidden');
    await configure(alice, { 'muc#roomconfig_whois': 'anyone' });
    const notice = bob.received.find((stanza) => stanza.name === 'message' && stanza.attrs.from === ROOM);
    assert.deepEqual(codes(notice), ['104', '172']);
  });

  test('the owner of a new room learns what its first configuration changed; a submission that changes nothing tells no one', async () => {
    harness = await startHarness();
    const alice = harness.user('alice@localhost/a');
    await join(alice, 'Alice');
    alice.take();
    // Section 10.2.1, as Prosody does: 104, and 172 now that real JIDs are shown (clients such as Profanity then read the room's features again).
    await configure(alice, { 'muc#roomconfig_whois': 'anyone', 'muc#roomconfig_membersonly': '1' });
    await harness.settle();
    assert.deepEqual(codes(alice.take().find((stanza) => stanza.name === 'message' && stanza.attrs.from === ROOM)), ['104', '172']);
    await configure(alice, { 'muc#roomconfig_whois': 'anyone' });
    await harness.settle();
    assert.equal(alice.take().find((stanza) => stanza.name === 'message'), undefined);
  });

  test('disco: the service in its host\'s items, its public rooms, a room\'s features', async () => {
    await roomWithThree({ 'muc#roomconfig_roomname': 'Our room' });
    const someone = harness.user('someone@localhost/s');
    const hostItems = await iq(someone, 'get', 'localhost', "<query xmlns='http://jabber.org/protocol/disco#items'/>");
    assert.ok(hostItems.getChild('query', 'http://jabber.org/protocol/disco#items')?.getChildren('item').some((entry) => entry.attrs.jid === 'conference.localhost'));
    const info = await iq(someone, 'get', 'conference.localhost', "<query xmlns='http://jabber.org/protocol/disco#info'/>");
    assert.equal(info.getChild('query', 'http://jabber.org/protocol/disco#info')?.getChild('identity')?.attrs.category, 'conference');
    const items = await iq(someone, 'get', 'conference.localhost', "<query xmlns='http://jabber.org/protocol/disco#items'/>");
    assert.deepEqual(items.getChild('query', 'http://jabber.org/protocol/disco#items')?.getChildren('item').map((entry) => [entry.attrs.jid, entry.attrs.name]), [[ROOM, 'Our room']]);
    const roomInfo = await iq(someone, 'get', ROOM, "<query xmlns='http://jabber.org/protocol/disco#info'/>");
    const features = roomInfo.getChild('query', 'http://jabber.org/protocol/disco#info')?.getChildren('feature').map((feature) => feature.attrs.var);
    for (const feature of ['http://jabber.org/protocol/muc', 'muc_public', 'muc_temporary', 'muc_open', 'muc_semianonymous', 'muc_unmoderated', 'muc_unsecured']) assert.ok(features?.includes(feature), feature);
    const unique = await iq(someone, 'get', 'conference.localhost', "<unique xmlns='http://jabber.org/protocol/muc#unique'/>");
    assert.match(unique.getChildText('unique', 'http://jabber.org/protocol/muc#unique') ?? '', /^[0-9a-f]{20}$/);
  });

  test('a registered nickname is reserved for its owner', async () => {
    const [, bob] = await roomWithThree();
    const registration = `<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field><field var='muc#register_roomnick'><value>Bobby</value></field></x></query>`;
    assert.equal((await iq(bob, 'set', ROOM, registration)).attrs.type, 'result');
    const again = await iq(bob, 'get', ROOM, "<query xmlns='jabber:iq:register'/>");
    assert.equal(again.getChild('query', 'jabber:iq:register')?.getChildText('username'), 'Bobby');
    assert.equal(errorOf(await join(harness.user('dave@localhost/d'), 'Bobby')), 'conflict');
  });
});

describe('other servers', () => {
  test('a remote occupant enters and gets the room\'s stanzas through the remote route; it may not create rooms', async () => {
    const [alice] = await roomWithThree();
    await harness.fromServer(`<presence from='zoe@remote.example/z' to='${ROOM}/Zoe'><x ${MUC}/></presence>`);
    assert.ok(presenceFrom(alice, `${ROOM}/Zoe`));
    assert.ok(harness.remote.some((stanza) => stanza.name === 'presence' && stanza.attrs.to === 'zoe@remote.example/z' && codes(stanza).includes('110')));
    await alice.send(`<message to='${ROOM}' type='groupchat'><body>welcome</body></message>`);
    assert.ok(harness.remote.some((stanza) => stanza.name === 'message' && stanza.attrs.to === 'zoe@remote.example/z' && stanza.getChildText('body') === 'welcome'));
    harness.remote.length = 0;
    await harness.fromServer(`<presence from='zoe@remote.example/z' to='new@conference.localhost/Zoe'><x ${MUC}/></presence>`);
    assert.equal(errorOf(harness.remote[0]), 'not-allowed');
  });

  test('foreign-access rules that deny groupchat keep remote users out', async () => {
    harness = await startHarness('hosts:\n  localhost:\n    foreign_access: { deny: [groupchat] }\n');
    const alice = harness.user('alice@localhost/a');
    await join(alice, 'Alice');
    await configure(alice, {});
    await harness.fromServer(`<presence from='zoe@remote.example/z' to='${ROOM}/Zoe'><x ${MUC}/></presence>`);
    assert.equal(presenceFrom(alice, `${ROOM}/Zoe`), undefined);
    await harness.fromServer(`<message from='zoe@remote.example/z' to='${ROOM}' type='groupchat'><body>x</body></message>`);
    assert.equal(errorOf(harness.remote.at(-1)), 'not-allowed');
  });

  test('muc.enabled false serves no group chat; a custom subdomain moves it', async () => {
    harness = await startHarness('hosts:\n  localhost: { muc: { enabled: false } }\n  example.net: { muc: { subdomain: rooms } }\n');
    assert.equal(harness.router.hosts.has('conference.localhost'), false);
    assert.equal(harness.router.hosts.get('rooms.example.net')?.service?.parent, 'example.net');
  });
});
