/**
 * Server streams at the byte level against one in-process server: hostile or broken requests
 * from a peer end that stream with the right stream error, never the server; a stanza is
 * accepted only for a pair the binding table binds to its connection.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { login } from './support/login.ts';
import { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const HEADER =
  "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='localhost' from='peer.test' version='1.0'>";

async function expectStreamError(client: RawClient, condition: string, text?: RegExp): Promise<void> {
  const received = await client.waitFor('</stream:error></stream:stream>');
  assert.match(received, new RegExp(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`));
  if (text) assert.match(received, text);
  await client.waitClosed();
}

describe('server streams: hostile requests end the stream, not the server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  async function connect(): Promise<RawClient> {
    const client = await RawClient.connect(server.server.listening.s2s[0]!.port);
    client.send(HEADER);
    await client.waitFor('</stream:features>');
    client.clear();
    return client;
  }

  async function assertStillServing(): Promise<void> {
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: 'check' });
    client.close();
    const peer = await connect();
    peer.close();
  }

  test('a dialback result without from gets improper-addressing', async () => {
    const client = await connect();
    client.send("<db:result to='localhost'>key</db:result>");
    await expectStreamError(client, 'improper-addressing', /needs from and to/);
    await assertStillServing();
  });

  test('STARTTLS on a stream that already has TLS gets not-authorized', async () => {
    const client = await connect();
    client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await client.waitFor('<proceed');
    await client.startTls(undefined, 'localhost');
    client.send(HEADER);
    await client.waitFor('</stream:features>');
    client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await expectStreamError(client, 'not-authorized', /TLS is already in place/);
    await assertStillServing();
  });

  test('a second stream header without a restart is invalid-xml', async () => {
    const client = await connect();
    client.send(HEADER);
    await expectStreamError(client, 'invalid-xml');
    await assertStillServing();
  });
});

describe('server streams: a stanza is accepted only for a pair bound to its connection', () => {
  let server: TestServer;
  before(async () => {
    // Permissive: the header's claim binds the pair it names, and only that pair.
    server = await startTestServer('s2s: { min_level: permissive }\nhosts:\n  localhost: {}\n  other.test: {}\n');
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  async function bound(): Promise<RawClient> {
    const client = await RawClient.connect(server.server.listening.s2s[0]!.port);
    client.send(HEADER);
    await client.waitFor('</stream:features>');
    client.clear();
    return client;
  }

  test('the bound pair is delivered; another hosted domain is not authorized on this stream', async () => {
    const { client: alice } = await login(server, { username: 'alice', password: 'secret', resource: 'r' });
    const peer = await bound();
    peer.send("<message from='bob@peer.test/x' to='alice@localhost/r' type='chat'><body>bound pair</body></message>");
    await alice.waitFor('bound pair');
    const row = server.server.s2s.connections().find((connection) => connection.direction === 'in');
    assert.deepEqual([row?.domains, row?.authentication, row?.level], [['localhost <- peer.test'], 'none', 'permissive']);
    peer.send("<message from='bob@peer.test/x' to='carol@other.test'><body>unbound pair</body></message>");
    await expectStreamError(peer, 'host-unknown', /peer\.test is not authorized for other\.test on this stream/);
    alice.close();
  });

  test('a from the stream did not prove is invalid-from', async () => {
    const peer = await bound();
    peer.send("<message from='mallory@elsewhere.test/x' to='alice@localhost'><body>forged</body></message>");
    await expectStreamError(peer, 'invalid-from', /elsewhere\.test is not authenticated on this stream/);
  });
});
