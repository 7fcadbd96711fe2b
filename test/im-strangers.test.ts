/**
 * The limit on messages from strangers (src/modules/strangers) through a whole server, over raw
 * client streams: a sender the recipient has no roster item for gets `max_messages` chat or
 * normal messages through per window, all recipients together, and then policy-violation.
 * The test server allows 3 messages per 2 seconds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { login } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CONFIG = `
strangers: { max_messages: 3, window: 2 }
hosts:
  localhost: {}
  open.test: { strangers: { max_messages: 0 } }
`;

const REFUSED_LOG = 'messages from a stranger refused';

let barrierCount = 0;

/** Waits until the server has processed everything the client sent so far (stanzas are handled in order). */
async function settle(client: RawClient, domain = 'localhost'): Promise<void> {
  const id = `settle${++barrierCount}`;
  client.send(`<iq type='get' id='${id}' to='${domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await client.waitFor(new RegExp(`id=["']${id}["']`));
}

async function online(server: TestServer, username: string, resource: string, domain = 'localhost'): Promise<RawClient> {
  const { client } = await login(server, { username, password: 'secret', domain, resource });
  client.send('<presence/>');
  await settle(client, domain);
  return client;
}

function chat(to: string, id: string, type = 'chat'): string {
  return `<message to='${to}' type='${type}' id='${id}'><body>${id}</body></message>`;
}

/** The error reply to the message with this id, once it arrives. */
async function errorReply(client: RawClient, id: string): Promise<string> {
  const pattern = new RegExp(`<message(?=[^>]*id=["']${id}["'])(?=[^>]*type=["']error["'])[^>]*>[\\s\\S]*?</message>`);
  return pattern.exec(await client.waitFor(pattern))![0];
}

function assertPolicyViolation(reply: string, text: RegExp): void {
  assert.match(reply, /<error[^>]*type=["']wait["']/);
  assert.match(reply, /<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/);
  const said = /<text[^>]*>([^<]*)<\/text>/.exec(reply)?.[1];
  assert.match(said ?? '', text);
}

describe('messages from strangers', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  const track = (client: RawClient) => (clients.push(client), client);

  before(async () => {
    server = await startTestServer(CONFIG);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'mallory', 'eve', 'trudy', 'oscar']) await server.addUser(user, 'localhost', 'secret');
    await server.addUser('frank', 'open.test', 'secret');
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  const refusals = (sender: string) => server.logLines.filter((line) => line.includes(REFUSED_LOG) && line.includes(sender)).length;

  test('a stranger gets max_messages through, then policy-violation with the limit in the text, logged once; after the window it may send again', async () => {
    const bob = track(await online(server, 'bob', 'desk'));
    const mallory = track(await online(server, 'mallory', 'spam'));
    for (let i = 1; i <= 5; i++) mallory.send(chat('bob@localhost', `spam${i}`));
    assertPolicyViolation(await errorReply(mallory, 'spam4'), /do not have you in their contacts; at most 3 every 2 seconds/);
    await errorReply(mallory, 'spam5');
    await settle(mallory);
    await bob.waitFor('spam3');
    assert.doesNotMatch(bob.received, /spam4|spam5/);
    assert.match(mallory.received, /id=["']spam4["']/);
    assert.doesNotMatch(mallory.received, /<message[^>]*id=["']spam[123]["'][^>]*type=["']error["']/, 'the first three were not bounced');
    await server.waitForLog(REFUSED_LOG, 'mallory@localhost');
    assert.equal(refusals('mallory@localhost'), 1, 'one warning for the sender in the window, not one per message');
    // Messages that do not count go through even now.
    mallory.send(chat('bob@localhost', 'spam-headline', 'headline'));
    await bob.waitFor('spam-headline');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    mallory.send(chat('bob@localhost', 'spam-later'));
    await bob.waitFor('spam-later');
  });

  test('to an offline user: the first max_messages are stored, the rest bounce and are not stored', async () => {
    const eve = track(await online(server, 'eve', 'spam'));
    for (let i = 1; i <= 4; i++) eve.send(chat('carol@localhost', `stored${i}`));
    assertPolicyViolation(await errorReply(eve, 'stored4'), /at most 3/);
    await settle(eve);
    assert.equal(await server.server.storage.offline.count('localhost', 'carol'), 3);
  });

  test('one count per sender across all recipients', async () => {
    const bob = track(await online(server, 'bob', 'shared'));
    const trudy = track(await online(server, 'trudy', 'spam'));
    trudy.send(chat('bob@localhost', 'shared1'));
    trudy.send(chat('dave@localhost', 'shared2'));
    trudy.send(chat('carol@localhost/anywhere', 'shared3'));
    trudy.send(chat('dave@localhost', 'shared4'));
    assertPolicyViolation(await errorReply(trudy, 'shared4'), /at most 3/);
    await bob.waitFor('shared1');
  });

  test('a sender in the recipient\'s roster, of any subscription, and the user\'s own resources are not limited', async () => {
    await server.server.storage.rosters.setItem('localhost', 'dave', { jid: 'oscar@localhost', subscription: 'none', askOut: false, askIn: false, approved: false, groups: [] });
    const dave = track(await online(server, 'dave', 'desk'));
    const davePhone = track(await online(server, 'dave', 'phone'));
    const oscar = track(await online(server, 'oscar', 'friend'));
    for (let i = 1; i <= 6; i++) oscar.send(chat('dave@localhost/desk', `friend${i}`));
    await dave.waitFor('friend6');
    for (let i = 1; i <= 6; i++) davePhone.send(chat('dave@localhost/desk', `self${i}`));
    await dave.waitFor('self6');
    await settle(oscar);
    assert.doesNotMatch(oscar.received + davePhone.received, /type=["']error["']/);
    assert.equal(refusals('oscar@localhost'), 0);
  });

  test('max_messages 0 turns the limit off', async () => {
    const frank = track(await online(server, 'frank', 'desk', 'open.test'));
    const alice = track(await online(server, 'alice', 'many'));
    for (let i = 1; i <= 6; i++) alice.send(chat('frank@open.test', `open${i}`));
    await frank.waitFor('open6');
    await settle(alice);
    assert.doesNotMatch(alice.received, /type=["']error["']/);
  });

  test('a sender over the limit again in a later window is logged again, once', async () => {
    // mallory's first warning was written in the first test, more than a window (2 s) ago.
    const before = refusals('mallory@localhost');
    const mallory = track(await online(server, 'mallory', 'again'));
    for (let i = 1; i <= 6; i++) mallory.send(chat('alice@localhost', `again${i}`));
    await errorReply(mallory, 'again6');
    await settle(mallory);
    assert.equal(refusals('mallory@localhost'), before + 1);
  });
});
