/** The message of the day (`motd.text`): to each client as it comes online, from its host, per host. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer(`
motd: { text: "Maintenance at 06:00 UTC" }
hosts:
  localhost: {}
  quiet.test: { motd: { text: "" } }
`);
  await server.addUser('alice', 'localhost', 'secret');
  await server.addUser('bob', 'quiet.test', 'secret');
});
after(() => server.stop());

test('a client gets the message of the day from its host after its initial presence, and not before', async () => {
  const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'phone' });
  client.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
  await client.waitFor(/id=["']roster["']/);
  assert.doesNotMatch(client.received, /Maintenance/, 'not before it is available');
  client.send('<presence/>');
  const received = await client.waitFor('Maintenance at 06:00 UTC');
  assert.match(received, /<message from=["']localhost["'] to=["']alice@localhost\/phone["'] type=["']normal["']><body>Maintenance at 06:00 UTC<\/body><\/message>/);
  // Updates of presence are not a new login.
  client.clear();
  client.send('<presence><show>away</show></presence>');
  client.send("<iq type='get' id='ping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await client.waitFor(/id=["']ping["']/);
  assert.doesNotMatch(client.received, /Maintenance/);
  client.close();
});

test('a host with an empty message sends none', async () => {
  const { client } = await login(server, { username: 'bob', password: 'secret', resource: 'r', domain: 'quiet.test' });
  client.send('<presence/>');
  client.send("<iq type='get' id='ping' to='quiet.test'><ping xmlns='urn:xmpp:ping'/></iq>");
  await client.waitFor(/id=["']ping["']/);
  assert.doesNotMatch(client.received, /<message/);
  client.close();
});
