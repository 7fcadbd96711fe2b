/**
 * Simple communications blocking (XEP-0191) through a whole server, over raw client streams:
 * the commands and their pushes, and what happens to stanzas to and from a blocked address.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJid } from '../src/jid/jid.ts';
import { el, NS_CLIENT } from '../src/xml/element.ts';
import { login } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const HOSTS = `
hosts:
  localhost: {}
  example.test: {}
`;

let counter = 0;
const nextId = (prefix: string) => `${prefix}${++counter}`;

/** Waits until the server has processed everything the client sent so far. */
async function settle(client: RawClient, domain = 'localhost'): Promise<void> {
  const id = nextId('settle');
  client.send(`<iq type='get' id='${id}' to='${domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await client.waitFor(new RegExp(`id=["']${id}["']`));
}

async function online(server: TestServer, username: string, resource: string, domain = 'localhost'): Promise<RawClient> {
  const { client } = await login(server, { username, password: 'secret', domain, resource });
  client.send('<presence/>');
  await settle(client, domain);
  return client;
}

/** Sends an IQ and returns the reply stanza. */
async function iq(client: RawClient, type: 'get' | 'set', payload: string, to?: string): Promise<string> {
  const id = nextId('iq');
  client.send(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
  const pattern = new RegExp(`<iq[^>]*id=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</iq>)`);
  return pattern.exec(await client.waitFor(pattern))![0];
}

/** The error reply to the message with this id. */
async function messageError(client: RawClient, id: string): Promise<string> {
  const pattern = new RegExp(`<message(?=[^>]*id=["']${id}["'])(?=[^>]*type=["']error["'])[\\s\\S]*?</message>`);
  return pattern.exec(await client.waitFor(pattern))![0];
}

const block = (...jids: string[]) => `<block xmlns='urn:xmpp:blocking'>${jids.map((jid) => `<item jid='${jid}'/>`).join('')}</block>`;
const unblock = (...jids: string[]) => `<unblock xmlns='urn:xmpp:blocking'>${jids.map((jid) => `<item jid='${jid}'/>`).join('')}</unblock>`;
const pushes = (client: RawClient, kind: 'block' | 'unblock') => [...client.received.matchAll(new RegExp(`<iq[^>]*type=["']set["'][^>]*><${kind} xmlns=["']urn:xmpp:blocking["'][\\s\\S]*?</iq>`, 'g'))].map((match) => match[0]);

describe('blocking command (XEP-0191)', () => {
  let server: TestServer;
  let aliceOne: RawClient;
  let aliceTwo: RawClient;
  let aliceQuiet: RawClient;
  let bob: RawClient;
  let carol: RawClient;

  before(async () => {
    server = await startTestServer(HOSTS);
    for (const [user, domain] of [['alice', 'localhost'], ['bob', 'localhost'], ['erin', 'localhost'], ['carol', 'example.test']] as const) {
      await server.addUser(user, domain, 'secret');
    }
    // Bob may see Alice's presence (RFC 6121 subscription "both").
    await server.server.storage.rosters.setItem('localhost', 'alice', { jid: 'bob@localhost', subscription: 'both', askOut: false, askIn: false, approved: false, groups: [] });
    await server.server.storage.rosters.setItem('localhost', 'bob', { jid: 'alice@localhost', subscription: 'both', askOut: false, askIn: false, approved: false, groups: [] });
    aliceOne = await online(server, 'alice', 'one');
    aliceTwo = await online(server, 'alice', 'two');
    // A resource that never asks for the list gets no pushes.
    aliceQuiet = (await login(server, { username: 'alice', password: 'secret', resource: 'quiet' })).client;
    bob = await online(server, 'bob', 'phone');
    carol = await online(server, 'carol', 'desk', 'example.test');
  });
  after(async () => {
    for (const client of [aliceOne, aliceTwo, aliceQuiet, bob, carol]) client?.close();
    await server.stop();
  });

  test('the block list starts empty and the server advertises the feature', async () => {
    assert.match(await iq(aliceOne, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /<blocklist xmlns=["']urn:xmpp:blocking["']\/>/);
    await iq(aliceTwo, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>");
    assert.ok(server.server.router.hosts.get('localhost')!.discoFeatures.has('urn:xmpp:blocking'));
  });

  test('bad block commands are refused and change nothing', async () => {
    assert.match(await iq(aliceOne, 'set', "<block xmlns='urn:xmpp:blocking'/>"), /type=["']error["'][\s\S]*<bad-request /);
    assert.match(await iq(aliceOne, 'set', block('bob@localhost', 'a@b@c')), /type=["']error["'][\s\S]*<jid-malformed /);
    assert.match(await iq(aliceOne, 'set', "<block xmlns='urn:xmpp:blocking'><item/></block>"), /<bad-request /);
    assert.match(await iq(aliceOne, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /<blocklist xmlns=["']urn:xmpp:blocking["']\/>/);
  });

  test('blocking pushes to the resources that asked, and the blocked contact sees the user go offline', async () => {
    for (const client of [aliceOne, aliceTwo, aliceQuiet, bob]) client.clear();
    assert.match(await iq(aliceOne, 'set', block('bob@localhost')), /type=["']result["']/);
    for (const client of [aliceOne, aliceTwo]) {
      await client.waitFor(/<block xmlns=["']urn:xmpp:blocking["']><item jid=["']bob@localhost["']\/><\/block>/);
      assert.match(pushes(client, 'block')[0]!, /from=["']alice@localhost["']/);
    }
    await bob.waitFor(/from=["']alice@localhost\/two["'][^>]*type=["']unavailable["']|type=["']unavailable["'][^>]*from=["']alice@localhost\/two["']/);
    assert.match(bob.received, /from=["']alice@localhost\/one["']/);
    await settle(aliceQuiet);
    assert.equal(pushes(aliceQuiet, 'block').length, 0);
    assert.match(await iq(aliceTwo, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /<item jid=["']bob@localhost["']\/>/);
  });

  test("the blocked contact's messages and IQs bounce service-unavailable, presence is dropped, nothing reaches the user", async () => {
    for (const client of [aliceOne, aliceTwo, bob]) client.clear();
    bob.send("<presence to='alice@localhost'/>");
    bob.send("<presence to='alice@localhost/one' type='subscribe'/>");
    // Bob's broadcast to his contacts, which settles without waiting for anyone unblocked.
    bob.send('<presence><status>broadcast while blocked</status></presence>');
    bob.send("<message to='alice@localhost' type='chat' id='blocked-bare'><body>let me in</body></message>");
    bob.send("<message to='alice@localhost/one' type='chat' id='blocked-full'><body>let me in too</body></message>");
    assert.match(await messageError(bob, 'blocked-bare'), /<service-unavailable /);
    assert.match(await messageError(bob, 'blocked-full'), /<service-unavailable /);
    assert.match(await iq(bob, 'get', "<ping xmlns='urn:xmpp:ping'/>", 'alice@localhost/one'), /type=["']error["'][\s\S]*<service-unavailable /);
    assert.match(await iq(bob, 'get', "<vCard xmlns='vcard-temp'/>", 'alice@localhost'), /<service-unavailable /);
    await settle(bob);
    // Something from an address that is not blocked still arrives, after everything Bob sent.
    carol.send("<message to='alice@localhost/one' type='chat' id='from-carol'><body>still open</body></message>");
    await aliceOne.waitFor('still open');
    for (const client of [aliceOne, aliceTwo]) assert.doesNotMatch(client.received, /bob@localhost\/phone/);
  });

  test("a blocked occupant's group-chat messages are dropped without an error, so the room keeps the user", async () => {
    const room = 'blockroom@conference.localhost';
    const join = async (client: RawClient, nick: string) => {
      client.send(`<presence to='${room}/${nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await client.waitFor(new RegExp(`from=["']${room}/${nick}["'][\\s\\S]*?<status code=["']110["']`));
    };
    await join(carol, 'carol');
    // XEP-0045 section 10.1.2: an instant room, unlocked by its owner.
    assert.match(await iq(carol, 'set', "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>", room), /type=["']result["']/);
    await join(aliceOne, 'alice');
    assert.match(await iq(aliceOne, 'set', block(`${room}/carol`)), /type=["']result["']/);
    carol.send(`<message to='${room}' type='groupchat' id='gc-blocked'><body>heard by the room, not by alice</body></message>`);
    await carol.waitFor('heard by the room, not by alice');
    // Alice is still an occupant: she hears herself, and the room never saw an error from her.
    aliceOne.clear();
    aliceOne.send(`<message to='${room}' type='groupchat' id='gc-alice'><body>still in the room</body></message>`);
    await aliceOne.waitFor('still in the room');
    await carol.waitFor('still in the room');
    assert.doesNotMatch(carol.received, /status code=["']333["']|unavailable[^>]*from=["'][^"']*\/alice/);
    assert.doesNotMatch(aliceOne.received, /heard by the room, not by alice/);
    assert.doesNotMatch(carol.received, /id=["']gc-blocked["'][^>]*type=["']error["']/);
    await iq(aliceOne, 'set', unblock(`${room}/carol`));
  });

  test('a blocked contact cannot fill the offline mailbox of a user who is not online', async () => {
    const erin = await online(server, 'erin', 'once');
    await iq(erin, 'set', block('bob@localhost'));
    erin.close();
    await waitUntil(() => server.server.router.sessions.resourcesOf(parseJid('erin@localhost')).length === 0);
    bob.send("<message to='erin@localhost' type='chat' id='to-offline-erin'><body>hello?</body></message>");
    assert.match(await messageError(bob, 'to-offline-erin'), /<service-unavailable /);
    assert.equal(await server.server.storage.offline.count('localhost', 'erin'), 0);
  });

  test("the user's stanzas to a blocked contact are refused with not-acceptable and <blocked/>", async () => {
    aliceOne.send("<message to='bob@localhost/phone' type='chat' id='to-blocked'><body>hi bob</body></message>");
    const error = await messageError(aliceOne, 'to-blocked');
    assert.match(error, /<error type=["']cancel["'] code=["']406["']><not-acceptable xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/><blocked xmlns=["']urn:xmpp:blocking:errors["']\/><\/error>/);
    assert.match(error, /from=["']bob@localhost\/phone["']/);
    assert.match(await iq(aliceOne, 'get', "<ping xmlns='urn:xmpp:ping'/>", 'bob@localhost'), /<not-acceptable [\s\S]*<blocked /);
    aliceOne.send("<presence to='bob@localhost' id='presence-to-blocked'/>");
    await aliceOne.waitFor(/<presence(?=[^>]*id=["']presence-to-blocked["'])(?=[^>]*type=["']error["'])[\s\S]*?<blocked /);
    // Presence the server sends on the user's behalf (a broadcast) does not reach the contact either.
    await server.server.router.route(el('presence', NS_CLIENT, { from: 'alice@localhost/one', to: 'bob@localhost', id: 'broadcast-to-blocked' }), { kind: 'local' });
    await settle(bob);
    assert.doesNotMatch(bob.received, /hi bob|broadcast-to-blocked/);
  });

  test('a blocked domain covers its users', async () => {
    await iq(aliceOne, 'set', block('example.test'));
    carol.send("<message to='alice@localhost' type='chat' id='carol-blocked'><body>domain</body></message>");
    assert.match(await messageError(carol, 'carol-blocked'), /<service-unavailable /);
    assert.match(await iq(aliceTwo, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /<item jid=["']bob@localhost["']\/><item jid=["']example.test["']\/>/);
  });

  test('unblocking pushes, shows the user present again, and lets stanzas through', async () => {
    for (const client of [aliceOne, aliceTwo, bob]) client.clear();
    assert.match(await iq(aliceTwo, 'set', unblock('bob@localhost')), /type=["']result["']/);
    for (const client of [aliceOne, aliceTwo]) await client.waitFor(/<unblock xmlns=["']urn:xmpp:blocking["']><item jid=["']bob@localhost["']\/><\/unblock>/);
    await bob.waitFor(/<presence[^>]*from=["']alice@localhost\/one["']/);
    await bob.waitFor(/<presence[^>]*from=["']alice@localhost\/two["']/);
    assert.doesNotMatch(bob.received, /unavailable/);
    bob.send("<message to='alice@localhost/one' type='chat' id='welcome-back'><body>welcome back</body></message>");
    await aliceOne.waitFor('welcome back');
    // Carol's domain stays blocked until everything is unblocked.
    carol.send("<message to='alice@localhost' type='chat' id='carol-still'><body>domain</body></message>");
    assert.match(await messageError(carol, 'carol-still'), /<service-unavailable /);
  });

  test('unblock with no items unblocks everyone and pushes an empty unblock', async () => {
    for (const client of [aliceOne, aliceTwo]) client.clear();
    assert.match(await iq(aliceOne, 'set', "<unblock xmlns='urn:xmpp:blocking'/>"), /type=["']result["']/);
    for (const client of [aliceOne, aliceTwo]) await client.waitFor(/<unblock xmlns=["']urn:xmpp:blocking["']\/>/);
    assert.match(await iq(aliceOne, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /<blocklist xmlns=["']urn:xmpp:blocking["']\/>/);
    carol.send("<message to='alice@localhost/two' type='chat' id='carol-free'><body>open again</body></message>");
    await aliceTwo.waitFor('open again');
  });

  test('the block list is stored: it holds across logins', async () => {
    await iq(aliceOne, 'set', block('mallory@example.test'));
    const later = await online(server, 'alice', 'later');
    assert.match(await iq(later, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /<item jid=["']mallory@example.test["']\/>/);
    later.close();
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('spam and abuse reports with a block (XEP-0377)', () => {
  let server: TestServer;
  let reporter: RawClient;
  let desk: RawClient;
  before(async () => {
    server = await startTestServer(`${HOSTS}admins: [desk@localhost]\n`);
    for (const user of ['reporter', 'desk']) await server.addUser(user, 'localhost', 'secret');
    reporter = await online(server, 'reporter', 'phone');
    desk = await online(server, 'desk', 'abuse-desk');
  });
  after(async () => {
    for (const client of [reporter, desk]) client?.close();
    await server.stop();
  });

  const reported = (jid: string, reason: string, text = '') =>
    `<block xmlns='urn:xmpp:blocking'><item jid='${jid}'><report xmlns='urn:xmpp:reporting:1' reason='${reason}'>${text ? `<text xml:lang='en'>${text}</text>` : ''}</report></item></block>`;
  const reportsCounted = (reason: string) => server.server.router.traffic.abuseReports.series().find((sample) => sample.labels.reason === reason)?.value ?? 0;
  const deskMessages = () => [...desk.received.matchAll(/<message [^>]*from=["']localhost["'][\s\S]*?<\/message>/g)].map((match) => match[0]);

  test('the server advertises reports; a report blocks, is counted and reaches the administrators', async () => {
    assert.match(await iq(reporter, 'get', "<query xmlns='http://jabber.org/protocol/disco#info'/>", 'localhost'), /<feature var=["']urn:xmpp:reporting:1["']\/>/);
    assert.match(await iq(reporter, 'set', reported('spammer@example.test', 'urn:xmpp:reporting:spam', 'Buy cheap watches')), /type=["']result["']/);
    assert.match(await iq(reporter, 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /<item jid=["']spammer@example.test["']\/>/);
    const forwarded = await desk.waitFor('Buy cheap watches');
    assert.match(forwarded, /<subject>Abuse report about spammer@example.test<\/subject><body>reporter@localhost reported spammer@example.test for spam: Buy cheap watches<\/body>/);
    assert.equal(reportsCounted('spam'), 1);

    // A report without a reason is no report (section 4): the block stands, nothing is forwarded.
    desk.clear();
    await iq(reporter, 'set', "<block xmlns='urn:xmpp:blocking'><item jid='quiet@example.test'><report xmlns='urn:xmpp:reporting:1'/></item></block>");
    await settle(desk);
    assert.deepEqual(deskMessages(), []);
  });

  test('one reporter gets 20 reports an hour forwarded; more are counted, not forwarded', async () => {
    desk.clear();
    const before = reportsCounted('abuse');
    for (let i = 0; i < 21; i++) await iq(reporter, 'set', reported(`troll${i}@example.test`, 'urn:xmpp:reporting:abuse'));
    assert.equal(reportsCounted('abuse'), before + 21);
    await waitUntil(() => deskMessages().length >= 19);
    await settle(desk);
    // The first test forwarded one report of this reporter already.
    assert.equal(deskMessages().length, 19);
  });
});
