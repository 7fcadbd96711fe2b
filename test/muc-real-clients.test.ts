/**
 * Group chat (XEP-0045) with real clients: slixmpp's XEP-0045 plugin (test/clients/muc_driver.py)
 * and @xmpp/client sending the MUC stanzas as XML, against conference.localhost, the service
 * every host gets without configuration.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { startSlixmppMuc } from './support/muc-clients.ts';
import { startTestServer, type RestartableTestServer } from './support/server.ts';
import { startXmppjs } from './support/xmppjs.ts';

const PASSWORD = 'correct horse';
const SERVICE = 'conference.localhost';
const MUC_JOIN = "<x xmlns='http://jabber.org/protocol/muc'/>";

const groupchat = (from: string, body: string) => (event: DriverEvent) => event.event === 'message' && event.type === 'groupchat' && event.from === from && event.body === body;
const mucPresence = (from: string, type: string) => (event: DriverEvent) => event.event === 'muc_presence' && event.from === from && event.type === type;

async function clients(server: RestartableTestServer, running: ClientDriver[], ...names: string[]): Promise<ClientDriver[]> {
  const started: ClientDriver[] = [];
  for (const name of names) {
    const client = await startSlixmppMuc(server, `${name}@localhost/muc`, PASSWORD);
    running.push(client);
    started.push(client);
  }
  return started;
}

describe('group chat with real clients', () => {
  let server: RestartableTestServer;
  const running: ClientDriver[] = [];
  let alice: ClientDriver;
  let bob: ClientDriver;
  let carol: ClientDriver;
  let dave: ClientDriver;
  let erin: ClientDriver;
  const room = `plans@${SERVICE}`;

  before(async () => {
    server = await startTestServer();
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) await server.addUser(name, 'localhost', PASSWORD);
    [alice, bob, dave, erin] = await clients(server, running, 'alice', 'bob', 'dave', 'erin');
    carol = await startXmppjs(server, 'carol', 'localhost', PASSWORD);
    running.push(carol);
    for (const client of running) await client.ok({ op: 'presence' });
  });
  after(async () => {
    for (const client of running) client.stop();
    await server.stop();
  });

  test('the service is in the host\'s disco#items and says it is a conference service', async () => {
    const items = await bob.ok({ op: 'disco_items', jid: 'localhost' });
    assert.ok((items.items as string[][]).some(([jid]) => jid === SERVICE));
    const info = await bob.ok({ op: 'disco_info', jid: SERVICE });
    assert.deepEqual(info.identities, [['conference', 'text', 'Chatrooms']]);
    assert.ok((info.features as string[]).includes('http://jabber.org/protocol/muc'));
  });

  test('create and configure a room; three users join; messages, private messages, history for a late joiner', async () => {
    const created = await alice.ok({ op: 'join', room, nick: 'Alice' });
    assert.deepEqual((created.self as { codes: string[] }).codes, ['110', '201']);
    assert.equal((created.self as { affiliation: string }).affiliation, 'owner');
    await alice.ok({ op: 'configure', room, fields: { 'muc#roomconfig_roomname': 'Plans', 'muc#roomconfig_allowinvites': '1' } });
    const config = await alice.ok({ op: 'get_config', room });
    assert.equal((config.fields as Record<string, unknown>)['muc#roomconfig_roomname'], 'Plans');

    const joined = await bob.ok({ op: 'join', room, nick: 'Bob' });
    assert.deepEqual(joined.occupants, ['Alice', 'Bob']);
    await carol.ok({ op: 'send_xml', xml: `<presence to='${room}/Carol'>${MUC_JOIN}</presence>` });
    const carolSelf = await carol.waitEvent((event) => event.event === 'presence' && event.from === `${room}/Carol`);
    assert.match(String(carolSelf.xml), /<status code="110"\/>/);
    await alice.waitEvent(mucPresence(`${room}/Carol`, 'available'));

    await alice.ok({ op: 'groupchat', room, body: 'hello all' });
    for (const client of [alice, bob, carol]) await client.waitEvent(groupchat(`${room}/Alice`, 'hello all'));
    await carol.ok({ op: 'send_xml', xml: `<message to='${room}' type='groupchat'><body>hi from carol</body></message>` });
    for (const client of [alice, bob]) await client.waitEvent(groupchat(`${room}/Carol`, 'hi from carol'));

    await bob.ok({ op: 'pm', room, nick: 'Alice', body: 'just between us' });
    await alice.waitEvent((event) => event.event === 'message' && event.type === 'chat' && event.from === `${room}/Bob` && event.body === 'just between us');
    await carol.expectNoEvent((event) => event.event === 'message' && event.body === 'just between us', 300);

    const late = await dave.ok({ op: 'join', room, nick: 'Dave', maxstanzas: 10 });
    assert.deepEqual(late.history, ['hello all', 'hi from carol']);
    assert.deepEqual(late.occupants, ['Alice', 'Bob', 'Carol', 'Dave']);
  });

  test('a nickname in use is refused with conflict', async () => {
    const refused = await bob.command({ op: 'join', room, nick: 'Alice' });
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.condition, 'conflict');
  });

  test('a members-only room refuses a stranger and admits a member', async () => {
    const club = `club@${SERVICE}`;
    await alice.ok({ op: 'join', room: club, nick: 'Alice' });
    await alice.ok({ op: 'configure', room: club, fields: { 'muc#roomconfig_membersonly': '1' } });
    await alice.ok({ op: 'set_affiliation', room: club, jid: 'bob@localhost', affiliation: 'member' });
    const refused = await dave.command({ op: 'join', room: club, nick: 'Dave' });
    assert.equal(refused.error?.condition, 'registration-required');
    await bob.ok({ op: 'join', room: club, nick: 'Bob' });
    assert.deepEqual((await alice.ok({ op: 'get_affiliations', room: club, affiliation: 'member' })).jids, ['bob@localhost']);
  });

  test('a visitor in a moderated room cannot speak until given voice', async () => {
    const stage = `stage@${SERVICE}`;
    await alice.ok({ op: 'join', room: stage, nick: 'Alice' });
    await alice.ok({ op: 'configure', room: stage, fields: { 'muc#roomconfig_moderatedroom': '1' } });
    const entered = await dave.ok({ op: 'join', room: stage, nick: 'Dave' });
    assert.equal((entered.self as { role: string }).role, 'visitor');
    await dave.ok({ op: 'groupchat', room: stage, body: 'may I?' });
    const refused = await dave.waitEvent((event) => event.event === 'message_error' && event.from === stage);
    assert.equal(refused.condition, 'forbidden');
    await alice.expectNoEvent(groupchat(`${stage}/Dave`, 'may I?'), 300);
    await alice.ok({ op: 'set_role', room: stage, nick: 'Dave', role: 'participant' });
    await dave.ok({ op: 'groupchat', room: stage, body: 'thank you' });
    await alice.waitEvent(groupchat(`${stage}/Dave`, 'thank you'));
  });

  test('kick, then ban: the occupant is sent away with 307, then 301, and may not come back', async () => {
    await alice.ok({ op: 'set_role', room, nick: 'Dave', role: 'none', reason: 'calm down' });
    const kicked = await dave.waitEvent(mucPresence(`${room}/Dave`, 'unavailable'));
    assert.deepEqual(kicked.codes, ['110', '307']);
    assert.deepEqual((await bob.waitEvent(mucPresence(`${room}/Dave`, 'unavailable'))).codes, ['307']);
    await dave.ok({ op: 'join', room, nick: 'Dave' });
    await alice.ok({ op: 'set_affiliation', room, jid: 'dave@localhost', affiliation: 'outcast', reason: 'enough' });
    assert.deepEqual((await dave.waitEvent(mucPresence(`${room}/Dave`, 'unavailable'))).codes, ['110', '301']);
    const refused = await dave.command({ op: 'join', room, nick: 'Dave' });
    assert.equal(refused.error?.condition, 'forbidden');
    assert.deepEqual((await alice.ok({ op: 'get_affiliations', room, affiliation: 'outcast' })).jids, ['dave@localhost']);
  });

  test('a mediated invitation reaches the invitee', async () => {
    await bob.ok({ op: 'invite', room, jid: 'erin@localhost', reason: 'join us' });
    const invitation = await erin.waitEvent((event) => event.event === 'invite' && event.room === room);
    assert.equal(invitation.reason, 'join us');
    assert.equal(invitation.from, 'bob@localhost/muc');
  });

  test('destruction sends every occupant away naming the new room; the room is gone', async () => {
    await alice.ok({ op: 'destroy', room, reason: 'moving', altroom: `plans2@${SERVICE}` });
    const gone = await bob.waitEvent(mucPresence(`${room}/Bob`, 'unavailable'));
    assert.deepEqual(gone.destroy, { jid: `plans2@${SERVICE}`, reason: 'moving' });
    await carol.waitEvent((event) => event.event === 'presence' && event.from === `${room}/Carol` && event.type === 'unavailable' && String(event.xml).includes(`jid="plans2@${SERVICE}"`));
    const info = await bob.command({ op: 'disco_info', jid: room });
    assert.equal(info.error?.condition, 'item-not-found');
  });

  test("occupant identifiers and moderation through slixmpp's XEP-0421 and XEP-0425 plugins", async () => {
    const venue = `agora@${SERVICE}`;
    await alice.ok({ op: 'join', room: venue, nick: 'Alice' });
    await alice.ok({ op: 'configure', room: venue });
    const features = (await erin.ok({ op: 'disco_info', jid: venue })).features as string[];
    for (const feature of ['urn:xmpp:occupant-id:0', 'urn:xmpp:message-moderate:0', 'urn:xmpp:message-moderate:1']) assert.ok(features.includes(feature), feature);
    await erin.ok({ op: 'join', room: venue, nick: 'Erin' });
    const entered = await alice.waitEvent(mucPresence(`${venue}/Erin`, 'available'));
    assert.ok(entered.occupant_id);

    await erin.ok({ op: 'groupchat', room: venue, body: 'free potions' });
    const spam = await alice.waitEvent((event) => event.event === 'groupchat_ids' && event.body === 'free potions');
    assert.equal(spam.occupant_id, entered.occupant_id, 'the same person in presence and message');
    assert.ok(spam.stanza_id);

    // slixmpp 1.8 speaks the version before urn:xmpp:message-moderate:1, inside <apply-to/>.
    await alice.ok({ op: 'moderate', room: venue, stanza_id: spam.stanza_id, reason: 'spam' });
    for (const client of [alice, erin]) {
      const told = await client.waitEvent((event) => event.event === 'moderated' && event.id === spam.stanza_id);
      assert.deepEqual([told.from, told.by, told.reason], [venue, `${venue}/Alice`, 'spam']);
    }
    const refused = await erin.command({ op: 'moderate', room: venue, stanza_id: spam.stanza_id });
    assert.equal(refused.error?.condition, 'forbidden');
  });
});

describe('a persistent room across a server restart', () => {
  let server: RestartableTestServer;
  const running: ClientDriver[] = [];
  after(async () => {
    for (const client of running) client.stop();
    await server.stop();
  });

  test('keeps its configuration and affiliations', async () => {
    server = await startTestServer();
    for (const name of ['alice', 'bob', 'dave']) await server.addUser(name, 'localhost', PASSWORD);
    const room = `kept@${SERVICE}`;
    const [alice] = await clients(server, running, 'alice');
    await alice!.ok({ op: 'join', room, nick: 'Alice' });
    await alice!.ok({ op: 'configure', room, fields: { 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_membersonly': '1', 'muc#roomconfig_roomname': 'Kept' } });
    await alice!.ok({ op: 'set_affiliation', room, jid: 'bob@localhost', affiliation: 'member' });
    await alice!.ok({ op: 'subject', room, subject: 'still here' });
    await alice!.waitEvent((event) => event.event === 'subject' && event.from === `${room}/Alice` && event.subject === 'still here');
    for (const client of running.splice(0)) await client.disconnect();

    await server.restart();

    const [owner, bob, dave] = await clients(server, running, 'alice', 'bob', 'dave');
    const config = await owner!.ok({ op: 'get_config', room });
    const fields = config.fields as Record<string, unknown>;
    assert.equal(fields['muc#roomconfig_roomname'], 'Kept');
    assert.equal(fields['muc#roomconfig_persistentroom'], true);
    assert.equal(fields['muc#roomconfig_membersonly'], true);
    assert.deepEqual((await owner!.ok({ op: 'get_affiliations', room, affiliation: 'member' })).jids, ['bob@localhost']);
    assert.deepEqual((await owner!.ok({ op: 'get_affiliations', room, affiliation: 'owner' })).jids, ['alice@localhost']);
    assert.equal((await dave!.command({ op: 'join', room, nick: 'Dave' })).error?.condition, 'registration-required');
    const joined = await bob!.ok({ op: 'join', room, nick: 'Bob' });
    assert.equal(joined.subject, 'still here');
  });
});
