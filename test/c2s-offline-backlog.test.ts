/**
 * Messages for a client that is being sent its stored messages (XEP-0160 section 2) follow
 * them, in order, and are delivered: the client is available (RFC 6121 section 8.5.2.1.1), so
 * the offline quota, which is for a recipient who is away, bounces none of them. Stream
 * management holds the backlog's delivery open (a stored message leaves storage only once the
 * client acknowledged it), which is the window a loaded server or a cluster node keeps open for
 * as long as messages keep coming: in a rolling restart under load
 * (test/cluster-rolling.test.ts), runs of a hundred messages to an online user bounced with
 * "already has 100 offline messages from you".
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { login } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const SM = "xmlns='urn:xmpp:sm:3'";

/** Message ids `b<n>` received, in order. */
function numbers(text: string): number[] {
  return [...text.matchAll(/<message\b[^>]*\bid=["']b(\d+)["']/g)].map((match) => Number(match[1]));
}

describe('messages that come while a backlog is delivered', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  before(async () => {
    // At most two stored messages from one sender: the third of six would bounce were they stored.
    server = await startTestServer('offline: { max_per_sender: 2 }\nstrangers: { max_messages: 0 }\n');
    for (const user of ['alice', 'bob']) await server.addUser(user, 'localhost', 'secret');
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  test('follow the stored messages, none bounced, in order', { timeout: 20_000 }, async () => {
    const { client: alice } = await login(server, { username: 'alice', password: 'secret', resource: 'desk' });
    clients.push(alice);
    alice.send('<presence/>');
    // Bob is away: one message waits for him in storage.
    alice.send("<message to='bob@localhost' type='chat' id='b0'><body>0</body></message>");
    for (let i = 0; !(await server.server.storage.offline.count('localhost', 'bob')); i++) {
      assert.ok(i < 250, 'the first message was stored');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Bob logs in with stream management and does not acknowledge: the stored message is his once he does, so its delivery stays open.
    const { client: bob } = await login(server, { username: 'bob', password: 'secret', resource: 'phone' });
    clients.push(bob);
    bob.send(`<enable ${SM}/>`);
    await bob.waitFor(/<enabled /);
    bob.send('<presence/>');
    await bob.waitFor(/id=["']b0["']/);

    for (let n = 1; n <= 5; n++) alice.send(`<message to='bob@localhost' type='chat' id='b${n}'><body>${n}</body></message>`);
    // A ping's answer comes after the five were routed (a client's stanzas are handled in order).
    alice.send("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await alice.waitFor(/<iq\b[^>]*\bid=["']after["']/);
    assert.doesNotMatch(alice.received, /type=["']error["']/, 'no message to Bob bounced');

    // Bob acknowledges everything he was sent (XEP-0198 section 4): the backlog is done, and what waited behind it follows.
    const since = bob.received.slice(bob.received.search(/<enabled /));
    const handled = [...since.matchAll(/<(message|presence|iq)\b/g)].length;
    bob.send(`<a ${SM} h='${handled}'/>`);
    for (let i = 0; numbers(bob.received).length < 6; i++) {
      assert.ok(i < 250, `Bob got ${numbers(bob.received).join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(numbers(bob.received), [0, 1, 2, 3, 4, 5]);
    assert.doesNotMatch(alice.received, /type=["']error["']/);
    assert.equal(await server.server.storage.offline.count('localhost', 'bob'), 0);
  });
});
