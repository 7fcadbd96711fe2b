/**
 * Stream management (XEP-0198) with a real client whose network goes away without a close:
 * slixmpp (Debian python3-slixmpp, its xep_0198 plugin) connects through a relay that freezes
 * the connection, as a phone leaving Wi-Fi. The server finds the silent connection with its
 * keepalive and keeps the session; the client resumes on a new connection and gets every
 * message sent meanwhile exactly once, in order; a client that never comes back finds them all
 * in offline storage.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientSession } from '../src/c2s/client-session.ts';
import type { C2sConnection } from '../src/c2s/connection.ts';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { FreezingRelay } from './support/freezing-relay.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSlixmpp } from './support/slixmpp.ts';

const PASSWORD = 'correct horse';
const RESUME_TIMEOUT = 5;
const MESSAGES = 100;

const bare = (jid: string) => jid.replace(/\/.*$/, '');
const body = (n: number) => `msg ${String(n).padStart(3, '0')}`;

/** Polls a condition every 20 ms. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still false after ${timeoutMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('stream resumption with slixmpp behind a network that goes silent', () => {
  let server: TestServer;
  const clients: ClientDriver[] = [];
  const relays: FreezingRelay[] = [];

  before(async () => {
    server = await startTestServer(`
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  keepalive: { interval: 1, timeout: 1 }
  stream_management: { resume_timeout: ${RESUME_TIMEOUT} }
offline: { max_per_sender: 1000 }
# these senders flood on purpose, with no roster between them: no stranger limit
strangers: { max_messages: 0 }
`);
  });
  after(async () => {
    for (const client of clients) client.stop();
    for (const relay of relays) await relay.close();
    await server.stop();
  });

  async function slixmpp(jid: string, options: { port?: number; streamManagement?: boolean } = {}): Promise<ClientDriver> {
    const [local, domain] = bare(jid).split('@') as [string, string];
    if (!(await server.server.storage.accounts.get(domain, local))) await server.addUser(local, domain, PASSWORD);
    const client = await startSlixmpp(server, jid, PASSWORD, options);
    clients.push(client);
    return client;
  }

  /** RFC 6121 sections 2.2 and 4.2: the roster, then the initial presence, as real clients do. */
  async function goOnline(client: ClientDriver): Promise<void> {
    await client.ok({ op: 'get_roster' });
    await client.ok({ op: 'presence' });
    await client.waitEvent((event) => event.event === 'presence' && event.from === client.jid && event.type === 'available');
  }

  /** bob through a fresh relay, with stream management enabled and resumable, online. */
  async function behindRelay(jid: string): Promise<{ client: ClientDriver; relay: FreezingRelay; session: ClientSession; connection: C2sConnection }> {
    const relay = await FreezingRelay.start(server.port);
    relays.push(relay);
    const client = await slixmpp(jid, { port: relay.port, streamManagement: true });
    const enabled = await client.waitEvent((event) => event.event === 'sm_enabled');
    assert.equal(enabled.resume, true);
    await goOnline(client);
    const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === client.jid);
    assert.ok(session, 'the server has the session');
    assert.equal(session.streamManagementId, enabled.id);
    const connection = [...server.server.c2s.connections].find((candidate) => candidate.session === session);
    assert.ok(connection, 'the server has the connection');
    return { client, relay, session, connection };
  }

  /** Records where each numbered message ends on the connection's output, to tell how many the socket took. */
  function recordWrites(connection: C2sConnection): Map<string, number> {
    const ends = new Map<string, number>();
    const write = connection.write.bind(connection);
    connection.write = (xml: string): number => {
      const end = write(xml);
      const numbered = /<body>(msg \d{3})<\/body>/.exec(xml);
      if (numbered) ends.set(numbered[1]!, end);
      return end;
    };
    return ends;
  }

  /** Even numbers go to the full JID, odd ones to the bare JID. */
  async function sendNumbered(from: ClientDriver, to: string, first: number, last: number): Promise<void> {
    for (let n = first; n <= last; n++) await from.ok({ op: 'message', to: n % 2 === 0 ? to : bare(to), body: body(n), msg_id: `m${n}` });
  }

  const fromAlice = (alice: ClientDriver) => (event: DriverEvent) => event.event === 'message' && event.from === alice.jid;

  test('a session whose network went silent is resumed and gets all 100 messages sent meanwhile, once each, in order', async () => {
    const alice = await slixmpp('alice@localhost/desk');
    const bob = await behindRelay('bob@localhost/phone');
    const ends = recordWrites(bob.connection);

    assert.equal(bob.relay.freeze(), 1);
    const frozenAt = Date.now();
    const beforeDetection = 70;
    await sendNumbered(alice, bob.client.jid, 1, beforeDetection);
    // The keepalive probe goes unanswered: the connection is dropped, the session waits.
    await until(() => bob.session.state === 'detached', 8000);
    const detectedAfter = Date.now() - frozenAt;
    const written = bob.connection.writtenOffset;
    const writtenMessages = [...ends.values()].filter((end) => end <= written).length;
    const queuedMessages = ends.size;
    await sendNumbered(alice, bob.client.jid, beforeDetection + 1, MESSAGES);
    await until(() => bob.session.heldStanzas >= MESSAGES);
    assert.equal(bob.client.events.filter(fromAlice(alice)).length, 0, 'nothing passed the frozen relay');

    await bob.client.ok({ op: 'abort' });
    await bob.client.ok({ op: 'reconnect' }, 15_000);
    assert.equal(bob.session.state, 'attached');
    assert.ok([...server.server.c2s.sessions].includes(bob.session), 'the same session goes on');

    await until(() => bob.client.events.filter(fromAlice(alice)).length >= MESSAGES);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = bob.client.events.filter(fromAlice(alice));
    assert.deepEqual(
      received.map((event) => event.body),
      Array.from({ length: MESSAGES }, (_, index) => body(index + 1)),
      'every message once, in the order sent',
    );
    assert.ok(received.every((event) => event.delay === null), 'resent, not stored offline');
    assert.equal(await server.server.storage.offline.count('localhost', 'bob'), 0);
    const state = await bob.client.ok({ op: 'sm_state' });
    assert.equal(state.enabled, true);
    // Acknowledgements on the new connection release what the session held.
    await until(() => bob.session.heldStanzas === 0);
    console.log(`# resumed: the silent connection was dropped ${detectedAfter} ms after the freeze; of ${beforeDetection} messages sent before that, ${queuedMessages} reached the session and ${writtenMessages} were written to the frozen socket (${written} characters in all on that stream)`);
  });

  test('a session whose client never comes back hands all 100 messages to offline storage after the resume timeout', async () => {
    const alice = await slixmpp('alice@localhost/laptop');
    const carol = await behindRelay('carol@localhost/phone');
    assert.equal(carol.relay.freeze(), 1);
    await sendNumbered(alice, carol.client.jid, 1, MESSAGES / 2);
    await until(() => carol.session.state === 'detached', 8000);
    const detachedAt = Date.now();
    await sendNumbered(alice, carol.client.jid, MESSAGES / 2 + 1, MESSAGES);
    // The client is gone for good (its process killed; the frozen relay passes no close on).
    carol.client.stop();

    await until(() => carol.session.state === 'ended', (RESUME_TIMEOUT + 3) * 1000);
    assert.ok(Date.now() - detachedAt >= (RESUME_TIMEOUT - 1) * 1000, 'the session waited for its client');
    await carol.session.ended;
    assert.equal(await server.server.storage.offline.count('localhost', 'carol'), MESSAGES);
    assert.equal(alice.events.filter((event) => event.event === 'message_error').length, 0, 'nothing bounced');

    const again = await slixmpp('carol@localhost/phone');
    await goOnline(again);
    await until(() => again.events.filter(fromAlice(alice)).length >= MESSAGES);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const received = again.events.filter(fromAlice(alice));
    assert.deepEqual(
      received.map((event) => event.body),
      Array.from({ length: MESSAGES }, (_, index) => body(index + 1)),
    );
    assert.ok(received.every((event) => typeof event.delay === 'string'), 'each carries its XEP-0203 delay stamp');
    await until(async () => (await server.server.storage.offline.count('localhost', 'carol')) === 0);
  });
});
