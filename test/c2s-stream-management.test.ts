/**
 * Stream management (XEP-0198) and keepalive at the byte level: enabling, acknowledgements both
 * ways, resumption with redelivery, and what happens to unacknowledged messages when a client
 * never comes back. Every wait is on the wire or on server state, never on a log line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientSession } from '../src/c2s/client-session.ts';
import { RawClient } from './support/raw-client.ts';
import { authenticate, connectTls, login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SM = "xmlns='urn:xmpp:sm:3'";

const CONFIG = `
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  keepalive: { interval: 1, timeout: 1 }
  stream_management: { resume_timeout: 2 }
  max_sessions_per_account: 3
`;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A pattern written with single quotes that matches attributes in either quote style. */
function q(pattern: string | RegExp): RegExp {
  const source = typeof pattern === 'string' ? pattern.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') : pattern.source;
  return new RegExp(source.replace(/'/g, `["']`), typeof pattern === 'string' ? '' : pattern.flags);
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

/** Message bodies received, in order. */
function bodies(text: string): string[] {
  return [...text.matchAll(/<body>([^<]*)<\/body>/g)].map((match) => match[1]!);
}

describe('stream management (XEP-0198)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(CONFIG);
    await server.addUser('alice', 'localhost', 'secret');
    // Each test logs in as a user of its own: sessions waiting for resumption count towards max_sessions_per_account.
    for (const user of ['bob', 'phone', 'owner', 'gone', 'closer', 'silent', 'many', 'twin']) await server.addUser(user, 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  function sessionOf(jid: string): ClientSession | undefined {
    return [...server.server.c2s.sessions].find((session) => session.jid.toString() === jid);
  }

  async function enable(client: RawClient, resume = true): Promise<string> {
    client.clear();
    client.send(`<enable ${SM}${resume ? " resume='true'" : ''}/>`);
    const received = await client.waitFor(q(/<enabled [^>]*\/>|<failed/));
    const id = /<enabled [^>]*id=["']([^"']+)["']/.exec(received)?.[1];
    client.clear();
    return id ?? '';
  }

  async function sendFromAlice(to: string, texts: string[]): Promise<void> {
    const { client } = await login(server, { username: 'alice', password: 'secret', resource: `sender-${Math.random()}` });
    for (const text of texts) client.send(`<message to='${to}' type='chat'><body>${text}</body></message>`);
    // An IQ round trip after the messages: they were routed before its answer comes back.
    client.send("<iq type='get' id='done' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await client.waitFor(q("id='done'"));
    client.close();
  }

  test('is offered after authentication; enabling before binding fails, after binding it returns a resumption id', async () => {
    const client = await connectTls(server);
    await authenticate(client, { username: 'bob', password: 'secret', bind: false });
    assert.match(client.received, q(/<sm xmlns='urn:xmpp:sm:3'\/>/));
    client.clear();
    client.send(`<enable ${SM}/>`);
    assert.match(await client.waitFor(q('</failed>')), q(/<unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/));
    client.clear();
    client.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>sm1</resource></bind></iq>");
    await client.waitFor(q('</iq>'));
    client.clear();
    client.send(`<enable ${SM} resume='true' max='60'/>`);
    const enabled = await client.waitFor(q(/<enabled [^>]*\/>/));
    assert.match(enabled, q(/resume='true'/));
    assert.match(enabled, q(/max='2'/), 'the server offers no more than its resume_timeout');
    assert.match(enabled, q(/id='[A-Za-z0-9_-]{22}'/));
    client.clear();
    client.send(`<enable ${SM}/>`);
    assert.match(await client.waitFor(q('</failed>')), q(/unexpected-request/), 'enabling twice');
    client.close();
  });

  test('answers <r/> with the count of stanzas handled since enabling, after they were processed', async () => {
    const { client } = await login(server, { username: 'bob', password: 'secret', resource: 'count' });
    client.send("<presence/>");
    await enable(client, false);
    client.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq><message to='bob@localhost/count'><body>self</body></message><presence/>");
    client.send(`<r ${SM}/>`);
    const received = await client.waitFor(q(/<a xmlns='urn:xmpp:sm:3' h='\d+'\/>/));
    assert.match(received, q(/<a xmlns='urn:xmpp:sm:3' h='3'\/>/));
    assert.ok(received.search(q("id='p1'")) < received.indexOf('<a '), 'the answer to the ping left before the acknowledgement');
    client.close();
  });

  test('asks the client to acknowledge what it was sent, and forgets what it acknowledged', async () => {
    const { client } = await login(server, { username: 'bob', password: 'secret', resource: 'acks' });
    await enable(client);
    await sendFromAlice('bob@localhost/acks', ['one', 'two', 'three']);
    await client.waitFor(q(`<r ${SM}/>`));
    const session = sessionOf('bob@localhost/acks')!;
    assert.equal(session.heldStanzas, 3);
    client.send(`<a ${SM} h='2'/>`);
    await until(() => session.heldStanzas === 1, 'two stanzas acknowledged');
    client.send(`<a ${SM} h='3'/>`);
    await until(() => session.heldStanzas === 0, 'all acknowledged');
    client.close();
  });

  test('acknowledging more than was sent ends the stream with handled-count-too-high', async () => {
    const { client } = await login(server, { username: 'bob', password: 'secret', resource: 'toohigh' });
    await enable(client);
    client.send(`<a ${SM} h='5'/>`);
    const received = await client.waitFor(q('</stream:error>'));
    assert.match(received, q(/<undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/));
    assert.match(received, q(/<handled-count-too-high xmlns='urn:xmpp:sm:3' h='5' send-count='0'\/>/));
    await client.waitClosed();
  });

  test('a client that resumes gets again what it had not acknowledged, and what came while it was away, in order', async () => {
    const { client } = await login(server, { username: 'phone', password: 'secret', resource: 'phone' });
    const id = await enable(client);
    await sendFromAlice('phone@localhost/phone', ['m1', 'm2', 'm3']);
    await client.waitFor(q('m3'));
    client.send(`<a ${SM} h='1'/>`);
    const session = sessionOf('phone@localhost/phone')!;
    await until(() => session.heldStanzas === 2, 'm1 acknowledged');
    client.close();
    await until(() => session.state === 'detached', 'the session waits for resumption');
    await sendFromAlice('phone@localhost/phone', ['m4']);

    const again = await connectTls(server);
    await authenticate(again, { username: 'phone', password: 'secret', bind: false });
    again.clear();
    again.send(`<resume ${SM} previd='${id}' h='1'/>`);
    const received = await again.waitFor(q('m4'));
    assert.match(received, q(`<resumed xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`));
    assert.deepEqual(bodies(received), ['m2', 'm3', 'm4']);
    assert.equal(session.state, 'attached');
    assert.equal(sessionOf('phone@localhost/phone'), session, 'the same session, with its resource');
    again.close();
  });

  test('resuming a session of another account, or an unknown one, fails with item-not-found', async () => {
    const { client } = await login(server, { username: 'owner', password: 'secret', resource: 'mine' });
    const id = await enable(client);
    const thief = await connectTls(server);
    await authenticate(thief, { username: 'alice', password: 'secret', bind: false });
    thief.clear();
    thief.send(`<resume ${SM} previd='${id}' h='0'/>`);
    assert.match(await thief.waitFor(q('</failed>')), q(/<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/));
    thief.clear();
    thief.send(`<resume ${SM} previd='no-such-session' h='0'/>`);
    assert.match(await thief.waitFor(q('</failed>')), q(/item-not-found/));
    assert.equal(sessionOf('owner@localhost/mine')?.state, 'attached', 'the owner keeps its session');
    thief.close();
    client.close();
  });

  test('a client that never comes back: what it did not acknowledge goes to offline storage and reaches its next login', async () => {
    const { client } = await login(server, { username: 'gone', password: 'secret', resource: 'gone' });
    await enable(client);
    await sendFromAlice('gone@localhost/gone', ['lost1', 'lost2']);
    await client.waitFor(q('lost2'));
    const session = sessionOf('gone@localhost/gone')!;
    client.close();
    await session.ended;
    assert.equal(await server.server.storage.offline.count('localhost', 'gone'), 2);

    const { client: next } = await login(server, { username: 'gone', password: 'secret', resource: 'next' });
    next.send('<presence/>');
    const received = await next.waitFor(q('lost2'));
    assert.deepEqual(bodies(received), ['lost1', 'lost2']);
    assert.equal(count(received, q(/<delay xmlns='urn:xmpp:delay'/g)), 2);
    await until(async () => (await server.server.storage.offline.count('localhost', 'gone')) === 0, 'the mailbox emptied');
    next.close();
  });

  test('a client that closes its stream ends the session at once: nothing waits for resumption, and what it did not acknowledge is stored', async () => {
    const { client } = await login(server, { username: 'closer', password: 'secret', resource: 'closer' });
    const id = await enable(client);
    await sendFromAlice('closer@localhost/closer', ['unacked1', 'unacked2']);
    await client.waitFor(q('unacked2'));
    const session = sessionOf('closer@localhost/closer')!;
    client.send('</stream:stream>');
    await client.waitFor(q('</stream:stream>'));
    await until(() => session.state !== 'attached', 'the connection to go');
    assert.equal(session.state, 'ended', 'RFC 6120 section 4.4: a closed stream is a session the client ended, not one to keep for resumption');
    assert.equal(await server.server.storage.offline.count('localhost', 'closer'), 2);
    client.close();

    const again = await connectTls(server);
    await authenticate(again, { username: 'closer', password: 'secret', bind: false });
    again.clear();
    again.send(`<resume ${SM} previd='${id}' h='0'/>`);
    assert.match(await again.waitFor(q('</failed>')), q(/item-not-found/), 'the closed session cannot be resumed');
    again.close();
  });

  test('carbon copies a client did not acknowledge are dropped when its session ends: the originals reached another resource', async () => {
    const enableCarbons = async (client: RawClient) => {
      client.clear();
      client.send("<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
      await client.waitFor(q("id='carbons'"));
      client.clear();
    };
    const { client: phone } = await login(server, { username: 'twin', password: 'secret', resource: 'phone' });
    await enableCarbons(phone);
    phone.send('<presence/>'); // available: a message for the account may reach it (RFC 6121 section 8.5.3.2.1)
    const { client: desk } = await login(server, { username: 'twin', password: 'secret', resource: 'desk' });
    await enableCarbons(desk);
    await enable(desk);
    // One copy of a message the phone received, one of a message it sent (XEP-0280 sections 6 and 7).
    await sendFromAlice('twin@localhost/phone', ['to-phone']);
    phone.send("<message to='alice@localhost' type='chat'><body>from-phone</body></message>");
    await desk.waitFor(q(/<sent xmlns='urn:xmpp:carbons:2'>.*from-phone/s));
    assert.match(desk.received, q(/<received xmlns='urn:xmpp:carbons:2'>.*to-phone/s));
    const session = sessionOf('twin@localhost/desk')!;
    assert.equal(session.heldStanzas, 2, 'both copies wait for an acknowledgement');
    phone.clear();
    desk.send('</stream:stream>');
    await session.ended;

    // XEP-0198 section 5 reroutes what was not acknowledged; a copy is not a message of its own
    // (ejabberd drops it too): the phone does not get it back, and nothing is stored.
    phone.send("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await phone.waitFor(q("id='after'"));
    assert.doesNotMatch(phone.received, /carbons/);
    assert.equal(await server.server.storage.offline.count('localhost', 'twin'), 0);
    desk.close();
    phone.close();
  });

  test('a silent client is asked to answer, and dropped when it does not; with resumption its session waits', async () => {
    const { client } = await login(server, { username: 'silent', password: 'secret', resource: 'silent' });
    const session = sessionOf('silent@localhost/silent')!;
    // Without stream management the probe is an XEP-0199 ping.
    const ping = await client.waitFor(q(/<iq [^>]*type='get'[^>]*><ping xmlns='urn:xmpp:ping'\/><\/iq>/), 4000);
    const id = /<iq [^>]*id=["']([^"']+)["']/.exec(ping)![1];
    client.send(`<iq type='result' id='${id}' to='localhost'/>`);
    client.clear();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(session.state, 'attached', 'an answer keeps the connection');
    // Now stay silent: the client stops reading and writing.
    client.socket.pause();
    await session.ended;
    client.close();

    const { client: smClient } = await login(server, { username: 'silent', password: 'secret', resource: 'silent-sm' });
    await enable(smClient);
    const smSession = sessionOf('silent@localhost/silent-sm')!;
    await smClient.waitFor(q(`<r ${SM}/>`), 4000);
    smClient.socket.pause();
    await until(() => smSession.state === 'detached', 'the silent stream-management session is detached');
    smClient.close();
  });

  test('an account may have max_sessions_per_account resources; one more is refused with resource-constraint', async () => {
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push((await login(server, { username: 'many', password: 'secret', resource: `r${i}` })).client);
    const extra = await connectTls(server);
    await authenticate(extra, { username: 'many', password: 'secret', bind: false });
    extra.clear();
    extra.send("<iq type='set' id='b4'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r3</resource></bind></iq>");
    assert.match(await extra.waitFor(q('</iq>')), q(/<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/));
    extra.clear();
    // Taking over one of its own resources is still allowed (RFC 6120 section 7.7.2.2).
    extra.send("<iq type='set' id='b5'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r0</resource></bind></iq>");
    assert.match(await extra.waitFor(q('</iq>')), q(/<jid>many@localhost\/r0<\/jid>/));
    for (const client of [...clients, extra]) client.close();
  });

  test('before authentication a stanza may not exceed pre_auth_max_stanza_bytes', async () => {
    const client = await connectTls(server);
    client.clear();
    client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${'A'.repeat(20_000)}</auth>`);
    assert.match(await client.waitFor(q('</stream:error>')), q(/<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/));
    await client.waitClosed();
  });
});
