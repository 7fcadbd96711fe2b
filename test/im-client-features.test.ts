/**
 * The features modern clients look for, over raw client streams: pings however they are
 * addressed (XEP-0199, RFC 6120 section 10.3.3), message carbons (XEP-0280), client state
 * indication (XEP-0352), last activity (XEP-0012), entity time (XEP-0202) and contact addresses
 * in disco#info (XEP-0157). Every wait is on the wire or on server state.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJid } from '../src/jid/jid.ts';
import type { RawClient } from './support/raw-client.ts';
import { authenticate, connectTls, login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CONFIG = `
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  csi: { max_held: 3 }
  stream_management: { resume_timeout: 5 }
contact_addresses:
  abuse: ["mailto:abuse@localhost", "xmpp:abuse@localhost"]
  security: ["https://localhost/security"]
hosts:
  localhost: {}
  quiet.test:
    modules_disabled: [carbons, last, time]
`;
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank'];

let nextId = 0;

/** Sends an IQ (the `ID` placeholder becomes a fresh id) and resolves with the reply. */
async function iq(client: RawClient, xml: string): Promise<string> {
  const id = `f${++nextId}`;
  client.send(xml.replace('ID', id));
  const reply = new RegExp(`<iq[^>]*id=["']${id}["'][^>]*?(/>|>[\\s\\S]*?</iq>)`);
  return reply.exec(await client.waitFor(reply))![0];
}

function assertError(reply: string, condition: string): void {
  assert.match(reply, /type=["']error["']/, reply);
  assert.match(reply, new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`), reply);
}

function assertResult(reply: string): void {
  assert.match(reply, /type=["']result["']/, reply);
}

/** A pattern written with single quotes that matches attributes in either quote style. */
function q(pattern: string): RegExp {
  return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/'/g, `["']`));
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern.source, 'g'))].length;
}

/** Resolves after the server answered a ping: everything it sent this client before is on the wire. */
async function barrier(client: RawClient): Promise<void> {
  assertResult(await iq(client, `<iq type='get' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`));
}

describe('client features', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  before(async () => {
    server = await startTestServer(CONFIG);
    for (const user of USERS) await server.addUser(user, 'localhost', 'secret');
    await server.addUser('quinn', 'quiet.test', 'secret');
    // alice and bob share presence both ways; carol is nobody's contact.
    const item = (jid: string) => ({ jid, subscription: 'both' as const, askOut: false, askIn: false, approved: false, groups: [] });
    await server.server.storage.rosters.setItem('localhost', 'alice', item('bob@localhost'));
    await server.server.storage.rosters.setItem('localhost', 'bob', item('alice@localhost'));
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  async function connect(username: string, resource: string, domain = 'localhost'): Promise<RawClient> {
    const { client } = await login(server, { username, password: 'secret', resource, domain });
    clients.push(client);
    return client;
  }

  describe('pings and IQs the server answers for an account (XEP-0199, RFC 6120 section 10.3.3)', () => {
    test('a ping to the server, without to, or to the own bare JID gets a result', async () => {
      const carol = await connect('carol', 'pinger');
      const toServer = await iq(carol, `<iq type='get' to='localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assertResult(toServer);
      assert.match(toServer, q("from='localhost'"));
      const implicit = await iq(carol, `<iq type='get' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assertResult(implicit);
      // RFC 6120 section 8.1.2.1: the reply to a stanza without `to` comes from the account's bare JID (or has no from).
      assert.match(implicit, q("from='carol@localhost'"));
      assertResult(await iq(carol, `<iq type='get' to='carol@localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`));
    });

    test("another account's bare JID: answered for a contact, service-unavailable for a stranger or a missing account", async () => {
      const alice = await connect('alice', 'pinger');
      const contact = await iq(alice, `<iq type='get' to='bob@localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assertResult(contact);
      assert.match(contact, q("from='bob@localhost'"));
      const carol = await connect('carol', 'stranger');
      assertError(await iq(carol, `<iq type='get' to='bob@localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`), 'service-unavailable');
      assertError(await iq(carol, `<iq type='get' to='nobody@localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`), 'service-unavailable');
    });

    test('a ping to a full JID goes to that resource; to a resource that is not there, service-unavailable', async () => {
      const carol = await connect('carol', 'a');
      const other = await connect('carol', 'b');
      carol.send(`<iq type='get' to='carol@localhost/b' id='to-b'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await other.waitFor(q("id='to-b'"));
      assertError(await iq(carol, `<iq type='get' to='carol@localhost/gone' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`), 'service-unavailable');
    });

    test('an IQ nobody handles gets service-unavailable wherever it is addressed; results and errors get no answer', async () => {
      const carol = await connect('carol', 'unknown');
      for (const to of ['', " to='localhost'", " to='carol@localhost'", " to='bob@localhost'"]) {
        assertError(await iq(carol, `<iq type='get'${to} id='ID'><query xmlns='urn:example:unknown'/></iq>`), 'service-unavailable');
      }
      carol.send(`<iq type='result' id='stray'/><iq type='error' to='localhost' id='stray2'/>`);
      await barrier(carol);
      assert.doesNotMatch(carol.received, /id=["']stray/);
    });
  });

  describe('service discovery', () => {
    test('carbons, last activity, entity time and private storage are listed, with the contact addresses form', async () => {
      const carol = await connect('carol', 'disco');
      const info = await iq(carol, `<iq type='get' to='localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      for (const feature of ['urn:xmpp:carbons:2', 'jabber:iq:last', 'urn:xmpp:time', 'jabber:iq:private', 'urn:xmpp:ping']) {
        assert.match(info, q(`<feature var='${feature}'/>`), feature);
      }
      assert.match(info, q("<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field>"));
      assert.match(info, q("<field var='abuse-addresses'><value>mailto:abuse@localhost</value><value>xmpp:abuse@localhost</value></field>"));
      assert.match(info, q("<field var='security-addresses'><value>https://localhost/security</value></field>"));
      assert.doesNotMatch(info, /admin-addresses/);
    });

    test('a host that disables them lists none of them and answers service-unavailable', async () => {
      const quinn = await connect('quinn', 'disco', 'quiet.test');
      const info = await iq(quinn, `<iq type='get' to='quiet.test' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      assert.doesNotMatch(info, /urn:xmpp:carbons:2|jabber:iq:last|urn:xmpp:time/);
      assertError(await iq(quinn, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:carbons:2'/></iq>`), 'service-unavailable');
      assertError(await iq(quinn, `<iq type='get' to='quiet.test' id='ID'><time xmlns='urn:xmpp:time'/></iq>`), 'service-unavailable');
    });
  });

  describe('message carbons (XEP-0280)', () => {
    const enable = async (client: RawClient, element = 'enable') => assertResult(await iq(client, `<iq type='set' id='ID'><${element} xmlns='urn:xmpp:carbons:2'/></iq>`));

    test('a message to one resource is copied to the other as received; one sent from a resource is copied as sent', async () => {
      const desk = await connect('dave', 'desk');
      const phone = await connect('dave', 'phone');
      await enable(phone);
      await enable(phone); // section 9.1: enabling twice is no error
      const erin = await connect('erin', 'home');
      erin.send(`<message to='dave@localhost/desk' type='chat' id='m1'><body>to the desk</body></message>`);
      await desk.waitFor('to the desk');
      const received = await phone.waitFor('to the desk');
      assert.match(
        received,
        q("<message from='dave@localhost' to='dave@localhost/phone' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message"),
      );
      const original = /<forwarded [^>]*><message ([^>]*)>/.exec(received)![1]!;
      for (const attribute of ["from='erin@localhost/home'", "to='dave@localhost/desk'", "type='chat'", "id='m1'"]) assert.match(original, q(attribute));

      desk.send(`<message to='erin@localhost/home' type='chat' id='m2'><body>from the desk</body></message>`);
      await erin.waitFor('from the desk');
      const sent = await phone.waitFor('from the desk');
      assert.match(sent, q("<message from='dave@localhost' to='dave@localhost/phone' type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message"));
      await barrier(desk);
      assert.doesNotMatch(desk.received, /urn:xmpp:carbons:2/, 'the desk did not enable carbons');
    });

    test('<private/> and <no-copy/> are not copied, and the recipient gets the message without <private/>', async () => {
      const desk = await connect('frank', 'desk');
      const phone = await connect('frank', 'phone');
      await enable(phone);
      const gina = await connect('gina', 'home');
      gina.send(`<message to='frank@localhost/desk' type='chat'><body>secret one</body><private xmlns='urn:xmpp:carbons:2'/></message>`);
      const deskGot = await desk.waitFor('secret one');
      assert.doesNotMatch(deskGot, /<private/);
      gina.send(`<message to='frank@localhost/desk' type='chat'><body>secret two</body><no-copy xmlns='urn:xmpp:hints'/></message>`);
      await desk.waitFor('secret two');
      desk.send(`<message to='gina@localhost/home' type='chat'><body>secret three</body><private xmlns='urn:xmpp:carbons:2'/></message>`);
      await gina.waitFor('secret three');
      desk.send(`<message to='gina@localhost/home' type='headline'><body>not chat</body></message>`);
      await gina.waitFor('not chat');
      await barrier(phone);
      assert.doesNotMatch(phone.received, /secret|not chat/);
    });

    test('disabled carbons stop the copies; changing another account\'s carbons is not-allowed', async () => {
      const desk = await connect('hank', 'desk');
      const phone = await connect('hank', 'phone');
      await enable(phone);
      await enable(phone, 'disable');
      desk.send(`<message to='carol@localhost' type='chat'><body>unseen</body></message>`);
      await barrier(desk);
      await barrier(phone);
      assert.doesNotMatch(phone.received, /unseen/);
      assertError(await iq(phone, `<iq type='set' to='carol@localhost' id='ID'><enable xmlns='urn:xmpp:carbons:2'/></iq>`), 'not-allowed');
    });

    test('carbons enabled stay enabled when a stream management session is resumed', async () => {
      const desk = await connect('carol', 'desk-sm');
      const phone = await connect('carol', 'phone-sm');
      phone.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
      const id = /<enabled [^>]*id=["']([^"']+)["']/.exec(await phone.waitFor(/<enabled [^>]*\/>/))![1]!;
      await enable(phone);
      phone.close();
      const session = () => [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === 'carol@localhost/phone-sm');
      const deadline = Date.now() + 5000;
      while (session()?.state !== 'detached') {
        if (Date.now() > deadline) throw new Error('the session did not wait for resumption');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const again = await connectTls(server);
      clients.push(again);
      await authenticate(again, { username: 'carol', password: 'secret', bind: false });
      again.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
      await again.waitFor(/<resumed /);
      desk.send(`<message to='bob@localhost' type='chat'><body>after the resumption</body></message>`);
      assert.match(await again.waitFor('after the resumption'), /<sent xmlns=["']urn:xmpp:carbons:2["']>/);
    });
  });

  describe('client state indication (XEP-0352)', () => {
    test('offered after authentication', async () => {
      const client = await connectTls(server);
      clients.push(client);
      await authenticate(client, { username: 'carol', password: 'secret', bind: false });
      assert.match(client.received, q("<csi xmlns='urn:xmpp:csi:0'/>"));
    });

    test('inactive: 20 presence changes of a contact arrive as the last one, before a message, which arrives at once', async () => {
      const bob = await connect('bob', 'phone');
      bob.send(`<presence/>`);
      const alice = await connect('alice', 'laptop');
      alice.send(`<presence><status>first</status></presence>`);
      await bob.waitFor('first');
      bob.send(`<inactive xmlns='urn:xmpp:csi:0'/>`);
      // An answer to bob would release what is held (it is important): the barrier is a ping of bob's own.
      await barrier(bob);
      bob.clear();
      for (let change = 1; change <= 20; change++) alice.send(`<presence><status>change ${change}</status></presence>`);
      alice.send(`<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
      await barrier(alice);
      const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === 'bob@localhost/phone')!;
      assert.equal(session.heldWhileInactive, 2, 'the latest presence and the chat state wait');
      assert.doesNotMatch(bob.received, /change|composing/);

      alice.send(`<message to='bob@localhost' type='chat'><body>wake up</body></message>`);
      const received = await bob.waitFor('wake up');
      assert.equal(count(received, /<presence /), 1, received);
      assert.ok(received.indexOf('change 20') < received.indexOf('<composing') && received.indexOf('<composing') < received.indexOf('wake up'), received);
      assert.doesNotMatch(received, /change 19/);
      assert.equal(session.heldWhileInactive, 0);
    });

    test('<active/> sends the latest presence; more held stanzas than max_held are all sent', async () => {
      const bob = await connect('bob', 'tablet');
      bob.send(`<presence/>`);
      const alice = await connect('alice', 'desk');
      alice.send(`<presence><status>desk online</status></presence>`);
      await bob.waitFor('desk online');
      bob.send(`<inactive xmlns='urn:xmpp:csi:0'/>`);
      await barrier(bob);
      bob.clear();
      for (let change = 1; change <= 5; change++) alice.send(`<presence><show>away</show><status>away ${change}</status></presence>`);
      await barrier(alice);
      const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === 'bob@localhost/tablet')!;
      assert.equal(session.heldWhileInactive, 1);
      assert.doesNotMatch(bob.received, /away \d/);
      bob.send(`<active xmlns='urn:xmpp:csi:0'/>`);
      await barrier(bob);
      assert.match(bob.received, /away 5/);
      assert.doesNotMatch(bob.received, /away [1-4]/);

      // max_held is 3: presence from four of alice's resources overflows it, and all four are sent.
      bob.send(`<inactive xmlns='urn:xmpp:csi:0'/>`);
      await barrier(bob);
      bob.clear();
      const resources = [await connect('alice', 'r1'), await connect('alice', 'r2'), await connect('alice', 'r3')];
      for (const [index, resource] of resources.entries()) resource.send(`<presence><status>resource ${index + 1}</status></presence>`);
      for (const resource of resources) await barrier(resource);
      assert.equal(session.heldWhileInactive, 3);
      assert.doesNotMatch(bob.received, /resource \d/, 'three are held');
      alice.send(`<presence><status>resource 0</status></presence>`);
      const flushed = await bob.waitFor('resource 0');
      assert.ok(['resource 1', 'resource 2', 'resource 3', 'resource 0'].every((text, index, all) => index === 0 || flushed.indexOf(all[index - 1]!) < flushed.indexOf(text)), flushed);
    });
  });

  describe('client state indication with stream management', () => {
    test('held stanzas stay while the session waits for resumption, and follow <resumed/>: the resumed stream is active', async () => {
      const phone = await connect('gina', 'phone-sm');
      phone.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
      const id = /<enabled [^>]*id=["']([^"']+)["']/.exec(await phone.waitFor(/<enabled [^>]*\/>/))![1]!;
      phone.send(`<inactive xmlns='urn:xmpp:csi:0'/>`);
      await barrier(phone);
      const erin = await connect('erin', 'sender');
      // RFC 6121 section 4.6: directed presence reaches a full JID whatever the subscription.
      for (const text of ['directed 1', 'directed 2']) erin.send(`<presence to='gina@localhost/phone-sm'><status>${text}</status></presence>`);
      await barrier(erin);
      const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === 'gina@localhost/phone-sm')!;
      assert.equal(session.heldWhileInactive, 1);
      phone.close();
      const deadline = Date.now() + 5000;
      while (session.state !== 'detached') {
        if (Date.now() > deadline) throw new Error('the session did not wait for resumption');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      erin.send(`<presence to='gina@localhost/phone-sm'><status>directed 3</status></presence>`);
      await barrier(erin);
      assert.equal(session.heldWhileInactive, 1, 'still held, the latest only');

      const again = await connectTls(server);
      clients.push(again);
      await authenticate(again, { username: 'gina', password: 'secret', bind: false });
      again.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='1'/>`);
      const received = await again.waitFor('directed 3');
      assert.ok(received.indexOf('<resumed ') < received.indexOf('directed 3'), received);
      assert.doesNotMatch(received, /directed [12]/);
      assert.equal(session.inactive, false);
    });
  });

  describe('last activity (XEP-0012) and entity time (XEP-0202)', () => {
    test("the server's uptime", async () => {
      const carol = await connect('carol', 'last');
      const reply = await iq(carol, `<iq type='get' to='localhost' id='ID'><query xmlns='jabber:iq:last'/></iq>`);
      assertResult(reply);
      const seconds = Number(/seconds=["'](\d+)["']/.exec(reply)?.[1]);
      assert.ok(seconds >= 0 && seconds <= process.uptime() + 1, reply);
    });

    test('a contact: 0 while online, then the time since logout with the status; forbidden to others', async () => {
      const alice = await connect('alice', 'last');
      const bob = await connect('bob', 'last');
      assert.match(await iq(alice, `<iq type='get' to='bob@localhost' id='ID'><query xmlns='jabber:iq:last'/></iq>`), q("<query xmlns='jabber:iq:last' seconds='0'/>"));
      // Sign every resource of bob's off: this test's, and the ones earlier tests left.
      for (const session of [...server.server.c2s.sessions].filter((candidate) => candidate.jid.local === 'bob')) {
        if (session.jid.resource !== 'last') session.terminate('system-shutdown');
      }
      bob.send(`<presence type='unavailable'><status>Heading Home</status></presence>`);
      await barrier(bob);
      bob.send('</stream:stream>');
      await bob.waitClosed();
      const deadline = Date.now() + 5000;
      while (server.server.router.sessions.resourcesOf(parseJid('bob@localhost')).length > 0 || !(await server.server.storage.userData.get('localhost', 'bob', 'last-activity'))) {
        if (Date.now() > deadline) throw new Error('bob did not go offline');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const reply = await iq(alice, `<iq type='get' to='bob@localhost' id='ID'><query xmlns='jabber:iq:last'/></iq>`);
      assert.match(reply, /<query xmlns=["']jabber:iq:last["'] seconds=["'][0-5]["']>Heading Home<\/query>/);
      const carol = await connect('carol', 'nosy');
      assertError(await iq(carol, `<iq type='get' to='alice@localhost' id='ID'><query xmlns='jabber:iq:last'/></iq>`), 'forbidden');
      assertError(await iq(carol, `<iq type='get' to='nobody@localhost' id='ID'><query xmlns='jabber:iq:last'/></iq>`), 'service-unavailable');
    });

    test("the server's time in UTC and its offset", async () => {
      const erin = await connect('erin', 'time');
      const reply = await iq(erin, `<iq type='get' to='localhost' id='ID'><time xmlns='urn:xmpp:time'/></iq>`);
      const match = /<time xmlns=["']urn:xmpp:time["']><tzo>([+-]\d\d:\d\d)<\/tzo><utc>([^<]+)<\/utc><\/time>/.exec(reply);
      assert.ok(match, reply);
      assert.match(match[2]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(Math.abs(Date.parse(match[2]!) - Date.now()) < 5000);
    });
  });
});
