/**
 * The features modern clients look for, with real clients: slixmpp (Debian python3-slixmpp,
 * with its xep_0280, xep_0352, xep_0012 and xep_0202 plugins) through test/clients/im_driver.py
 * and @xmpp/client through test/clients/xmppjs-driver.ts, each in its own process, over STARTTLS
 * with SCRAM. Message carbons with two resources, client state indication, pings without `to`,
 * last activity and entity time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSlixmpp } from './support/slixmpp.ts';
import { startXmppjs } from './support/xmppjs.ts';

const PASSWORD = 'correct horse';
const USERS = ['romeo', 'juliet', 'nurse', 'tybalt', 'mercutio', 'benvolio'];

const isCarbon = (direction: string, body: string) => (event: DriverEvent) => event.event === 'carbon' && event.direction === direction && event.body === body;
const isMessage = (body: string) => (event: DriverEvent) => event.event === 'message' && event.body === body;

describe('client features with real clients', () => {
  let server: TestServer;
  const clients: ClientDriver[] = [];

  before(async () => {
    server = await startTestServer();
    for (const user of USERS) await server.addUser(user, 'localhost', PASSWORD);
    // juliet and romeo share presence both ways.
    const item = (jid: string) => ({ jid, subscription: 'both' as const, askOut: false, askIn: false, approved: false, groups: [] });
    await server.server.storage.rosters.setItem('localhost', 'juliet', item('romeo@localhost'));
    await server.server.storage.rosters.setItem('localhost', 'romeo', item('juliet@localhost'));
  });
  after(async () => {
    for (const client of clients) client.stop();
    await server.stop();
  });

  async function slix(jid: string): Promise<ClientDriver> {
    const client = await startSlixmpp(server, jid, PASSWORD);
    clients.push(client);
    return client;
  }

  async function xmppjs(username: string, resource: string): Promise<ClientDriver> {
    const client = await startXmppjs(server, username, 'localhost', PASSWORD, resource);
    clients.push(client);
    return client;
  }

  function sessionOf(jid: string) {
    return [...server.server.c2s.sessions].find((session) => session.jid.toString() === jid);
  }

  describe('message carbons (XEP-0280)', () => {
    test('slixmpp with two resources: a received message and a sent one are copied to the other, a <private/> one is not', async () => {
      const desk = await slix('romeo@localhost/desk');
      const phone = await slix('romeo@localhost/phone');
      await desk.ok({ op: 'carbons', enable: true });
      await phone.ok({ op: 'carbons', enable: true });
      const nurse = await xmppjs('nurse', 'web');
      // Bind 2 (XEP-0386) makes the resource from the client's tag "web" and a part of the server's.
      const web = nurse.jid;

      await nurse.ok({ op: 'message', to: 'romeo@localhost/desk', body: 'to the desk' });
      await desk.waitEvent(isMessage('to the desk'));
      const received = await phone.waitEvent(isCarbon('received', 'to the desk'));
      assert.equal(received.from, web);
      assert.equal(received.to, 'romeo@localhost/desk');

      await desk.ok({ op: 'message', to: web, body: 'from the desk' });
      await nurse.waitEvent(isMessage('from the desk'));
      const sent = await phone.waitEvent(isCarbon('sent', 'from the desk'));
      assert.equal(sent.from, 'romeo@localhost/desk');
      assert.equal(sent.to, web);

      await desk.ok({ op: 'message', to: web, body: 'for your eyes only', private: true });
      await nurse.waitEvent(isMessage('for your eyes only'));
      // Copies go out in order: once the next message's copy arrives, the private one's would have.
      await desk.ok({ op: 'message', to: web, body: 'after the secret' });
      await phone.waitEvent(isCarbon('sent', 'after the secret'));
      assert.equal(phone.events.some((event) => event.body === 'for your eyes only'), false);
      // The desk sent them and gets no copy of its own messages.
      assert.equal(desk.events.some((event) => event.event === 'carbon' && event.direction === 'sent'), false);

      await phone.ok({ op: 'carbons', enable: false });
      await nurse.ok({ op: 'message', to: 'romeo@localhost/desk', body: 'not copied now' });
      await desk.waitEvent(isMessage('not copied now'));
      await phone.ok({ op: 'ping' });
      assert.equal(phone.events.some((event) => event.body === 'not copied now'), false);
    });

    test('@xmpp/client enables carbons and gets the copy of what slixmpp sent from the same account', async () => {
      const web = await xmppjs('tybalt', 'web');
      const desk = await slix('tybalt@localhost/desk');
      const answer = await web.ok({ op: 'iq_xml', xml: "<iq type='set' id='carbons1'><enable xmlns='urn:xmpp:carbons:2'/></iq>" });
      assert.match(String(answer.xml), /type="result"/);
      const mercutio = await slix('mercutio@localhost/street');
      await desk.ok({ op: 'message', to: 'mercutio@localhost/street', body: 'a plague o\' both your houses' });
      await mercutio.waitEvent(isMessage('a plague o\' both your houses'));
      const copy = await web.waitEvent((event) => event.event === 'message' && String(event.xml).includes('<sent xmlns="urn:xmpp:carbons:2">'));
      assert.equal(copy.from, 'tybalt@localhost');
      assert.match(String(copy.xml), /<forwarded xmlns="urn:xmpp:forward:0"><message [^>]*from="tybalt@localhost\/desk"/);
    });
  });

  describe('client state indication (XEP-0352)', () => {
    test('inactive: a contact changes presence 20 times, only the last arrives on active; messages arrive at once', async () => {
      const juliet = await slix('juliet@localhost/phone');
      await juliet.ok({ op: 'get_roster' });
      await juliet.ok({ op: 'presence' });
      const romeo = await slix('romeo@localhost/balcony');
      await romeo.ok({ op: 'get_roster' });
      await romeo.ok({ op: 'presence', status: 'here' });
      await juliet.waitEvent((event) => event.event === 'presence' && event.from === 'romeo@localhost/balcony' && event.status === 'here');

      await juliet.ok({ op: 'csi', state: 'inactive' });
      await juliet.ok({ op: 'ping' }); // the server has read <inactive/> (it handles the stream in order)
      for (let change = 1; change <= 20; change++) await romeo.ok({ op: 'presence', show: 'away', status: `change ${change}` });
      await romeo.ok({ op: 'message', to: 'juliet@localhost', chat_state: 'composing' });
      await romeo.ok({ op: 'ping' });
      assert.equal(sessionOf('juliet@localhost/phone')?.heldWhileInactive, 2, 'the latest presence and the chat state wait');
      assert.equal(juliet.events.some((event) => String(event.status).startsWith('change')), false);

      // A message is important: it arrives at once, after what was held, in order.
      await romeo.ok({ op: 'message', to: 'juliet@localhost', body: 'wherefore art thou' });
      await juliet.waitEvent(isMessage('wherefore art thou'));
      const presences = juliet.events.filter((event) => event.event === 'presence' && String(event.status).startsWith('change'));
      assert.deepEqual(presences.map((event) => event.status), ['change 20']);
      assert.equal(juliet.events.filter((event) => event.event === 'chat_state').length, 1, JSON.stringify(juliet.events));

      // Still inactive: the next changes wait again, and <active/> brings only the last one.
      for (let change = 21; change <= 40; change++) await romeo.ok({ op: 'presence', status: `change ${change}` });
      await romeo.ok({ op: 'ping' });
      assert.equal(sessionOf('juliet@localhost/phone')?.heldWhileInactive, 1);
      await juliet.ok({ op: 'csi', state: 'active' });
      await juliet.waitEvent((event) => event.event === 'presence' && event.status === 'change 40');
      await juliet.ok({ op: 'ping' });
      const late = juliet.events.filter((event) => event.event === 'presence' && /^change (2[1-9]|3\d)$/.test(String(event.status)));
      assert.deepEqual(late, []);
      await romeo.disconnect();
    });
  });

  describe('pings and other server queries', () => {
    test('slixmpp: a ping without to, to the server and to the own bare JID; last activity and entity time', async () => {
      const benvolio = await slix('benvolio@localhost/keepalive');
      await benvolio.ok({ op: 'ping', no_to: true });
      await benvolio.ok({ op: 'ping' });
      await benvolio.ok({ op: 'ping', jid: 'benvolio@localhost' });
      const uptime = await benvolio.ok({ op: 'last_activity', jid: 'localhost' });
      assert.ok(Number(uptime.seconds) >= 0);
      const time = await benvolio.ok({ op: 'entity_time', jid: 'localhost' });
      assert.ok(Math.abs(Date.parse(String(time.utc)) - Date.now()) < 5000, String(time.utc));
      const refused = await benvolio.command({ op: 'last_activity', jid: 'juliet@localhost' });
      assert.equal(refused.error?.condition, 'forbidden');
    });

    test('@xmpp/client: a ping without to gets a result', async () => {
      const client = await xmppjs('benvolio', 'xmppjs');
      const answer = await client.ok({ op: 'iq_xml', xml: "<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>" });
      assert.match(String(answer.xml), /type="result"/);
    });
  });
});
