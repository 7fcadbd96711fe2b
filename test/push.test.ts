/**
 * Push notifications (XEP-0357) to an app server: an external component (slixmpp's
 * ComponentXMPP, test/clients/component_driver.py) receives the pubsub publishes. A user
 * registers it from a raw client stream; messages to the user while offline or while the
 * client is inactive (XEP-0352) are notified, with only the fields the operator allows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { iqReply, type RawClient } from './support/raw-client.ts';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSlixmppComponent } from './support/slixmpp.ts';

const SECRET = 'app server secret';
const PUBLISH_OPTIONS = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>device-secret</value></field></x>";

const iq = iqReply;

const field = (xml: string, name: string): string | undefined => new RegExp(`<field var=["']${name}["']><value>([^<]*)</value>`).exec(xml)?.[1];

describe('push notifications', () => {
  let server: TestServer;
  let appServer: ClientDriver;
  const clients: RawClient[] = [];

  before(async () => {
    server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["127.0.0.1"], port: 0 }
  component: { addresses: ["127.0.0.1"], port: 0 }
components:
  push.localhost: { secret: "${SECRET}" }
c2s:
  stream_management: { resume_timeout: 30 }
hosts:
  localhost: {}
  open.test:
    push: { include_sender: true, include_body: true }
`);
    for (const user of ['alice', 'bob', 'carol', 'erin']) await server.addUser(user, 'localhost', 'secret');
    await server.addUser('dora', 'open.test', 'secret');
    appServer = await startSlixmppComponent(server.server.listening.component[0]!.port, 'push.localhost', SECRET);
  });
  after(async () => {
    for (const client of clients) client.close();
    appServer?.stop();
    await server.stop();
  });

  async function connect(username: string, resource: string, domain = 'localhost'): Promise<RawClient> {
    const { client } = await login(server, { username, password: 'secret', resource, domain });
    clients.push(client);
    return client;
  }

  const publishFor = (node: string) => (event: DriverEvent) => event.event === 'pubsub' && String(event.xml).includes(`node="${node}"`);

  test('offline: each message is a publish to the registered node with the count and the publish options, not the sender or the body', async () => {
    const alice = await connect('alice', 'phone');
    const features = await iq(alice, `<iq type='get' to='alice@localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.match(features, /<feature var=["']urn:xmpp:push:0["']\/>/);
    assert.match(await iq(alice, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:push:0' jid='push.localhost' node='alice-phone'>${PUBLISH_OPTIONS}</enable></iq>`), /type=["']result["']/);
    alice.close();
    await alice.closed;
    const bob = await connect('bob', 'desk');
    bob.send(`<message to='alice@localhost' type='chat'><body>are you there?</body></message>`);
    const first = await appServer.waitEvent(publishFor('alice-phone'));
    assert.equal(first.from, 'alice@localhost');
    assert.equal(first.to, 'push.localhost');
    const xml = String(first.xml);
    assert.match(xml, /<notification xmlns="urn:xmpp:push:0">/);
    assert.equal(field(xml, 'FORM_TYPE'), 'urn:xmpp:push:summary');
    assert.equal(field(xml, 'message-count'), '1');
    assert.equal(field(xml, 'last-message-sender'), undefined);
    assert.equal(field(xml, 'last-message-body'), undefined);
    assert.match(xml, /<publish-options><x xmlns="jabber:x:data" type="submit">[\s\S]*device-secret/);
    bob.send(`<message to='alice@localhost' type='chat'><body>hello?</body></message>`);
    const second = await appServer.waitEvent((event) => publishFor('alice-phone')(event) && field(String(event.xml), 'message-count') === '2');
    assert.ok(second);
  });

  test('a session kept for resumption (XEP-0198) after its connection dropped is notified', async () => {
    const erin = await connect('erin', 'phone');
    erin.send('<presence/>');
    await iq(erin, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:push:0' jid='push.localhost' node='erin'/></iq>`);
    erin.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    await erin.waitFor(/<enabled /);
    erin.close();
    const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === 'erin@localhost/phone')!;
    const deadline = Date.now() + 5000;
    while (session.state !== 'detached' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(session.state, 'detached');
    const bob = await connect('bob', 'sm-test');
    bob.send(`<message to='erin@localhost' type='chat'><body>while detached</body></message>`);
    assert.equal(field(String((await appServer.waitEvent(publishFor('erin'))).xml), 'message-count'), '1');
  });

  test('an inactive client (XEP-0352) is notified; disabling stops it; the operator may let the sender and body out', async () => {
    const carol = await connect('carol', 'phone');
    carol.send('<presence/>');
    await iq(carol, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:push:0' jid='push.localhost' node='carol-1'/></iq>`);
    carol.send(`<inactive xmlns='urn:xmpp:csi:0'/>`);
    const bob = await connect('bob', 'inactive-test');
    bob.send(`<message to='carol@localhost' type='chat'><body>wake up</body></message>`);
    await carol.waitFor('wake up');
    assert.equal(field(String((await appServer.waitEvent(publishFor('carol-1'))).xml), 'message-count'), '1');
    // Disabled, then a new node: the one publish that follows is for the new node, none for the old.
    await iq(carol, `<iq type='set' id='ID'><disable xmlns='urn:xmpp:push:0' jid='push.localhost'/></iq>`);
    bob.send(`<message to='carol@localhost' type='chat'><body>unnotified</body></message>`);
    await carol.waitFor('unnotified');
    await iq(carol, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:push:0' jid='push.localhost' node='carol-2'/></iq>`);
    bob.send(`<message to='carol@localhost' type='chat'><body>notified again</body></message>`);
    await appServer.waitEvent(publishFor('carol-2'));
    assert.equal(appServer.events.filter(publishFor('carol-1')).length, 1);
    // The host that allows it shows the sender and the body.
    const dora = await connect('dora', 'phone', 'open.test');
    await iq(dora, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:push:0' jid='push.localhost' node='dora'/></iq>`);
    dora.close();
    await dora.closed;
    bob.send(`<message to='dora@open.test' type='chat'><body>open secret</body></message>`);
    const open = String((await appServer.waitEvent(publishFor('dora'))).xml);
    assert.equal(field(open, 'last-message-sender'), 'bob@localhost');
    assert.equal(field(open, 'last-message-body'), 'open secret');
    assert.match(await iq(carol, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:push:0' node='x'/></iq>`), /bad-request/);
  });
});
