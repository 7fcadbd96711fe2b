/**
 * The client side of resumption on another node of a cluster (c2s/hand-over.ts,
 * docs/cluster.md "Stream management"), on one real server with real client streams: a session
 * stopped for a hand-over holds what is sent to it, and either stays (what it held follows, in
 * order) or is given up (its old stream ends with `conflict`), and the state it gave up, installed
 * again, is resumed by its client with the stanzas it had not acknowledged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authenticate, connectTls, login } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { sleep } from './support/server-process.ts';

const SM = "xmlns='urn:xmpp:sm:3'";

function bodies(text: string): string[] {
  return [...text.matchAll(/<body>([^<]*)<\/body>/g)].map((match) => match[1]!);
}

describe('handing a client session over to another node', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  before(async () => {
    server = await startTestServer(`
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  stream_management: { resume_timeout: 30 }
`);
    for (const user of ['alice', 'bob']) await server.addUser(user, 'localhost', 'secret');
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  const bob = async (resource: string): Promise<{ client: RawClient; id: string }> => {
    const { client } = await login(server, { username: 'bob', password: 'secret', resource });
    clients.push(client);
    client.send(`<enable ${SM} resume='true'/>`);
    const id = /<enabled [^>]*id=["']([^"']+)["']/.exec(await client.waitFor(/<enabled /))?.[1];
    assert.ok(id);
    client.clear();
    return { client, id };
  };

  const fromAlice = async (to: string, texts: string[]): Promise<void> => {
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: `sender-${Math.random()}` });
    for (const text of texts) client.send(`<message to='${to}' type='chat'><body>${text}</body></message>`);
    client.send("<iq type='get' id='done' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await client.waitFor(/id=["']done["']/);
    client.close();
  };

  test('a session held for a hand-over that does not happen sends on what came meanwhile, in order', async () => {
    const { client, id } = await bob('stays');
    await fromAlice('bob@localhost/stays', ['one']);
    await client.waitFor('one');
    const c2s = server.server.c2s;
    assert.equal(c2s.handOver(id, 'alice@localhost'), undefined, 'only to a client of the same account');
    assert.equal(c2s.handOver('unknown', 'bob@localhost'), undefined);
    const handOver = c2s.handOver(id, 'bob@localhost');
    assert.ok(handOver);
    assert.equal(c2s.handOver(id, 'bob@localhost'), undefined, 'one hand-over at a time');
    assert.equal(handOver.state.sent, 1);
    assert.deepEqual(handOver.state.unacknowledged.map(({ seq }) => seq), [1]);
    await fromAlice('bob@localhost/stays', ['two', 'three']);
    await sleep(200);
    assert.deepEqual(bodies(client.received), ['one'], 'nothing is sent while the hand-over is undecided');
    handOver.abort();
    await client.waitFor('three');
    assert.deepEqual(bodies(client.received), ['one', 'two', 'three']);
    assert.doesNotMatch(client.received, /<stream:error>/);
  });

  test('a session given up ends its old stream with conflict, and its state, installed again, is resumed with what the client had not acknowledged', async () => {
    const { client, id } = await bob('moves');
    client.send(`<message to='alice@localhost' type='chat'><body>counted</body></message>`);
    await fromAlice('bob@localhost/moves', ['one', 'two']);
    await client.waitFor('two');
    client.send(`<a ${SM} h='1'/>`);
    await sleep(100);
    const c2s = server.server.c2s;
    const handOver = c2s.handOver(id, 'bob@localhost')!;
    assert.deepEqual(handOver.state.unacknowledged.map(({ seq }) => seq), [2]);
    assert.equal(handOver.state.received, 1);
    await fromAlice('bob@localhost/moves', ['three']);
    const waited = handOver.commit();
    assert.equal(waited.length, 1, 'what came meanwhile goes with it');
    await client.waitFor(/<conflict\b/);
    assert.ok(![...c2s.sessions].some((session) => session.streamManagementId === id && session.state !== 'ended'), 'it is no longer served here');

    // As the node taking it over does: installed, sent what waited, and resumed by its client.
    const installed = c2s.install(handOver.state, 'node test');
    assert.equal(installed.state, 'detached');
    for (const stanza of waited) installed.send(stanza);
    const resumed = await connectTls(server);
    clients.push(resumed);
    await authenticate(resumed, { username: 'bob', password: 'secret', bind: false });
    resumed.clear();
    resumed.send(`<resume ${SM} previd='${id}' h='1'/>`);
    await resumed.waitFor('three');
    assert.match(resumed.received, /<resumed [^>]*h=["']1["']/);
    assert.deepEqual(bodies(resumed.received), ['two', 'three']);
  });
});
