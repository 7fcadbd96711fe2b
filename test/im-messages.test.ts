/**
 * Message delivery (RFC 6121 section 8.5) and offline messages (XEP-0160) through whole
 * servers, over raw client streams: who gets a message by type and priority, what bounces, what
 * waits for the next login, and that a stored message survives a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeStoredCredentials } from '../src/auth/scram.ts';
import { parseConfig } from '../src/config/load.ts';
import { parseJid } from '../src/jid/jid.ts';
import { startServer } from '../src/server.ts';
import { memoryLogger } from '../src/util/log.ts';
import { parseElement } from '../src/xml/parse-element.ts';
import { StanzaError } from '../src/xml/stanza-error.ts';
import { login } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const HOSTS = `
hosts:
  localhost: {}
  example.test: {}
  small.test: { offline: { max_messages: 2 } }
  nostore.test: { offline: { max_messages: 0 } }
  quick.test: { modules_disabled: [mam], strangers: { max_messages: 0 } }
`;

let barrierCount = 0;

/** Waits until the server has processed everything the client sent so far (stanzas are handled in order). */
async function settle(client: RawClient, domain = 'localhost'): Promise<void> {
  const id = `settle${++barrierCount}`;
  client.send(`<iq type='get' id='${id}' to='${domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await client.waitFor(new RegExp(`id=["']${id}["']`));
}

/** Logs in, sends initial presence with a priority and waits until the server handled it. */
async function online(server: TestServer, username: string, resource: string, options: { domain?: string; priority?: number } = {}): Promise<RawClient> {
  const domain = options.domain ?? 'localhost';
  const { client } = await login(server, { username, password: 'secret', domain, resource });
  client.send(options.priority === undefined ? '<presence/>' : `<presence><priority>${options.priority}</priority></presence>`);
  await settle(client, domain);
  return client;
}

function chat(to: string, body: string, type = 'chat', id = body): string {
  return `<message to='${to}' type='${type}' id='${id}'><body>${body}</body></message>`;
}

/** The error condition of the error reply to the stanza with this id, once it arrives. */
async function errorFor(client: RawClient, id: string): Promise<string> {
  const pattern = new RegExp(`<message[^>]*id=["']${id}["'][^>]*type=["']error["'][\\s\\S]*?</message>|<message[^>]*type=["']error["'][^>]*id=["']${id}["'][\\s\\S]*?</message>`);
  const stanza = pattern.exec(await client.waitFor(pattern))![0];
  return /<([a-z-]+) xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/.exec(stanza)![1]!;
}

describe('message delivery', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  const track = (client: RawClient) => (clients.push(client), client);

  before(async () => {
    server = await startTestServer(HOSTS);
    for (const [user, domain] of [['alice', 'localhost'], ['bob', 'localhost'], ['dave', 'localhost'], ['erin', 'localhost'], ['carol', 'example.test'], ['sam', 'small.test'], ['nina', 'nostore.test'], ['quinn', 'quick.test'], ['rita', 'quick.test']] as const) {
      await server.addUser(user, domain, 'secret');
    }
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  test('two users on one domain, and on two domains of one server, chat', async () => {
    const alice = track(await online(server, 'alice', 'desk'));
    const bob = track(await online(server, 'bob', 'desk'));
    const carol = track(await online(server, 'carol', 'desk', { domain: 'example.test' }));
    alice.send(chat('bob@localhost', 'hello-bob'));
    assert.match(await bob.waitFor('hello-bob'), /<message[^>]*from=["']alice@localhost\/desk["'][^>]*>/);
    alice.send(chat('carol@example.test', 'hello-carol'));
    assert.match(await carol.waitFor('hello-carol'), /from=["']alice@localhost\/desk["']/);
    carol.send(chat('alice@localhost/desk', 'hello-back'));
    assert.match(await alice.waitFor('hello-back'), /from=["']carol@example.test\/desk["']/);
    for (const client of [alice, bob, carol]) client.close();
  });

  test('a message to a connected resource is routed without waiting when no feature has to; one that must be stored waits', async () => {
    // quick.test archives nothing and counts no strangers, as the benchmarks run: every handler on the way answers at once.
    const rita = track(await online(server, 'rita', 'now', { domain: 'quick.test' }));
    const router = server.server.router;
    const toRita = parseElement(`<message xmlns='jabber:client' from='quinn@quick.test/x' to='rita@quick.test/now' type='chat' id='sync-1'><body>at once</body></message>`);
    assert.equal(router.routeNow(toRita, { kind: 'local' }), undefined);
    assert.match(await rita.waitFor('sync-1'), /at once/);
    // quinn is offline: the message goes to offline storage, a write the route waits for.
    const toQuinn = parseElement(`<message xmlns='jabber:client' from='rita@quick.test/now' to='quinn@quick.test' type='chat' id='sync-2'><body>later</body></message>`);
    const stored = router.routeNow(toQuinn, { kind: 'local' });
    assert.ok(stored instanceof Promise);
    await stored;
    const quinn = track(await online(server, 'quinn', 'back', { domain: 'quick.test' }));
    assert.match(await quinn.waitFor('sync-2'), /later/);
    rita.close();
    quinn.close();
  });

  test('a stanza handled at once does not overtake one before it that waits, even in the same packet', async () => {
    const rita = track(await online(server, 'rita', 'order', { domain: 'quick.test' }));
    rita.clear();
    // The roster read waits for storage; the message to rita herself would be delivered at once.
    rita.send(`<iq type='get' id='roster-first'><query xmlns='jabber:iq:roster'/></iq>${chat('rita@quick.test/order', 'after-roster', 'chat', 'msg-second')}`);
    const received = await rita.waitFor('after-roster');
    const rosterAt = received.search(/id=["']roster-first["']/);
    assert.ok(rosterAt >= 0 && rosterAt < received.indexOf('after-roster'), 'the roster result comes first');
    rita.close();
  });

  test('to a bare JID: the highest priority resources get normal and chat; a negative priority gets nothing; headlines go to every non-negative resource', async () => {
    const alice = track(await online(server, 'alice', 'prio'));
    const high1 = track(await online(server, 'bob', 'high1', { priority: 5 }));
    const high2 = track(await online(server, 'bob', 'high2', { priority: 5 }));
    const low = track(await online(server, 'bob', 'low', { priority: 1 }));
    const negative = track(await online(server, 'bob', 'negative', { priority: -1 }));
    alice.send(chat('bob@localhost', 'to-the-best'));
    alice.send(`<message to='bob@localhost' id='plain'><body>plain-normal</body></message>`);
    alice.send(chat('bob@localhost', 'news-flash', 'headline'));
    alice.send(chat('bob@localhost/negative', 'direct-to-negative'));
    await negative.waitFor('direct-to-negative');
    for (const client of [high1, high2]) {
      const received = await client.waitFor('news-flash');
      assert.match(received, /to-the-best/);
      assert.match(received, /plain-normal/);
    }
    assert.match(await low.waitFor('news-flash'), /news-flash/);
    assert.doesNotMatch(low.received, /to-the-best|plain-normal/);
    assert.doesNotMatch(negative.received, /to-the-best|plain-normal|news-flash/);
    // Only the negative resource left: a chat message to the bare JID waits offline.
    for (const client of [high1, high2, low]) client.close();
    await waitUntil(() => server.server.router.sessions.resourcesOf(parseJid('bob@localhost')).length === 1);
    alice.send(chat('bob@localhost', 'kept-for-later'));
    await settle(alice);
    assert.equal(await server.server.storage.offline.count('localhost', 'bob'), 1);
    assert.doesNotMatch(negative.received, /kept-for-later/);
    const back = track(await online(server, 'bob', 'back'));
    assert.match(await back.waitFor('kept-for-later'), /urn:xmpp:delay/);
    for (const client of [alice, negative, back]) client.close();
  });

  test('a message to the full JID of a gone resource falls back to the bare JID; groupchat and error do not', async () => {
    const alice = track(await online(server, 'alice', 'fallback'));
    const bob = track(await online(server, 'bob', 'here'));
    alice.send(chat('bob@localhost/gone', 'find-me'));
    assert.match(await bob.waitFor('find-me'), /to=["']bob@localhost\/gone["']/);
    alice.send(chat('bob@localhost/gone', 'room-talk', 'groupchat'));
    assert.equal(await errorFor(alice, 'room-talk'), 'service-unavailable');
    alice.send(chat('bob@localhost/here', 'room-talk-here', 'groupchat'));
    await bob.waitFor('room-talk-here');
    alice.send(`<message to='bob@localhost/gone' type='error' id='stray-error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
    alice.send(chat('bob@localhost', 'after-error'));
    assert.doesNotMatch(await bob.waitFor('after-error'), /stray-error/);
    for (const client of [alice, bob]) client.close();
  });

  test('unknown users, groupchat to a bare JID and messages to the server bounce service-unavailable; headlines and errors are dropped quietly', async () => {
    const alice = track(await online(server, 'alice', 'bounce'));
    const bob = track(await online(server, 'bob', 'online'));
    alice.send(chat('nobody@localhost', 'to-nobody'));
    assert.equal(await errorFor(alice, 'to-nobody'), 'service-unavailable');
    alice.send(chat('nobody@example.test/res', 'to-nobody-full'));
    assert.equal(await errorFor(alice, 'to-nobody-full'), 'service-unavailable');
    alice.send(chat('bob@localhost', 'groupchat-to-bare', 'groupchat'));
    assert.equal(await errorFor(alice, 'groupchat-to-bare'), 'service-unavailable');
    alice.send(chat('localhost', 'to-the-server', 'normal'));
    assert.equal(await errorFor(alice, 'to-the-server'), 'service-unavailable');
    alice.clear();
    alice.send(chat('localhost', 'server-headline', 'headline'));
    alice.send(chat('dave@localhost', 'offline-headline', 'headline'));
    alice.send(`<message to='dave@localhost' type='error' id='offline-error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
    await settle(alice);
    assert.doesNotMatch(alice.received, /server-headline|offline-headline|offline-error/);
    assert.equal(await server.server.storage.offline.count('localhost', 'dave'), 0);
    assert.doesNotMatch(bob.received, /groupchat-to-bare/);
    for (const client of [alice, bob]) client.close();
  });

  test('a message to an offline user waits for their next initial presence, in order, stamped with XEP-0203 delay', async () => {
    const alice = track(await online(server, 'alice', 'offline'));
    // A connected resource without presence is not available: messages to the bare JID wait.
    const { client: quiet } = await login(server, { username: 'dave', password: 'secret', resource: 'quiet' });
    track(quiet);
    for (const body of ['first', 'second', 'third']) alice.send(chat('dave@localhost', `offline-${body}`, 'normal'));
    alice.send(`<message to='dave@localhost' type='chat' id='typing'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await settle(alice);
    assert.equal(await server.server.storage.offline.count('localhost', 'dave'), 3, 'chat states alone are not stored');
    assert.doesNotMatch(alice.received, /type=["']error["']/);
    assert.doesNotMatch(quiet.received, /offline-first/);
    quiet.send('<presence/>');
    const received = await quiet.waitFor('offline-third');
    const order = ['offline-first', 'offline-second', 'offline-third'].map((body) => received.indexOf(body));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
    const stamps = [...received.matchAll(/<delay xmlns=["']urn:xmpp:delay["'] from=["']localhost["'] stamp=["'](\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)["']/g)];
    assert.equal(stamps.length, 3);
    for (const [, stamp] of stamps) assert.ok(Math.abs(Date.parse(stamp!) - Date.now()) < 60_000);
    assert.match(received, /from=["']alice@localhost\/offline["']/);
    assert.equal(await server.server.storage.offline.count('localhost', 'dave'), 0);
    assert.ok(server.server.router.hosts.get('localhost')!.discoFeatures.has('msgoffline'));
    for (const client of [alice, quiet]) client.close();
  });

  test('a message that comes while offline delivery reads the store at login is not overtaken by the next ones', async () => {
    // RFC 6120 section 10.1: stanzas from one sender to one recipient keep their order. While a
    // resource's initial presence has offline delivery read the store, a message for it waits in
    // its session behind the read, not in the store (it is online: no offline quota applies).
    // Here that read finds nothing: the message must still reach the client before the next ones.
    const offline = server.server.storage.offline;
    const { peek, push } = offline;
    const reading = Promise.withResolvers<void>();
    const readDone = Promise.withResolvers<void>();
    let storedForErin = 0;
    offline.peek = async (...args) => {
      if (args[1] === 'erin') {
        reading.resolve();
        await readDone.promise;
      }
      return peek.apply(offline, args);
    };
    offline.push = async (...args) => {
      if (args[1] === 'erin') storedForErin++;
      return push.apply(offline, args);
    };
    try {
      const alice = track(await online(server, 'alice', 'order'));
      const { client: erin } = await login(server, { username: 'erin', password: 'secret', resource: 'phone' });
      track(erin);
      erin.send('<presence/>');
      await reading.promise;
      alice.send(chat('erin@localhost/phone', 'order-1'));
      await settle(alice);
      assert.doesNotMatch(erin.received, />order-1</, 'order-1 waits behind the read');
      readDone.resolve();
      // The read comes back empty; the next messages arrive meanwhile.
      await sleep(50);
      for (const n of [2, 3, 4, 5]) alice.send(chat('erin@localhost/phone', `order-${n}`));
      await settle(alice);
      const received = await erin.waitFor(/order-1\b[\s\S]*order-5|order-5[\s\S]*order-1\b/);
      const order = [1, 2, 3, 4, 5].map((n) => received.indexOf(`>order-${n}<`));
      assert.deepEqual([...order].sort((a, b) => a - b), order, `received in this order: ${[...received.matchAll(/>(order-\d)</g)].map((match) => match[1]).join(', ')}`);
      assert.equal(storedForErin, 0, 'none went through the store');
      erin.close();
      alice.close();
    } finally {
      offline.peek = peek;
      offline.push = push;
    }
  });

  test('an error bounced for a relayed stanza carries no relay trace: it starts a way of its own', async () => {
    const alice = track(await online(server, 'alice', 'trace'));
    const relayed = parseElement(
      "<message xmlns='jabber:client' from='alice@localhost/trace' to='x@far.example' id='traced'><body>hi</body><relayed xmlns='urn:xmpp:trellis:relay:0'><hop by='edge.example'/></relayed></message>",
    );
    server.server.router.bounce(relayed, new StanzaError('remote-server-not-found'));
    assert.equal(await errorFor(alice, 'traced'), 'remote-server-not-found');
    const bounced = /<message[^>]*id=["']traced["'][\s\S]*?<\/message>/.exec(alice.received)![0];
    assert.match(bounced, /<body>hi<\/body>/);
    assert.doesNotMatch(bounced, /urn:xmpp:trellis:relay:0/);
  });

  test('a full offline mailbox bounces service-unavailable saying so; max_messages 0 stores nothing', async () => {
    const alice = track(await online(server, 'alice', 'quota'));
    alice.send(chat('sam@small.test', 'fits-1'));
    alice.send(chat('sam@small.test', 'fits-2'));
    alice.send(chat('sam@small.test', 'overflows'));
    assert.equal(await errorFor(alice, 'overflows'), 'service-unavailable');
    assert.match(alice.received, /<text[^>]*>[^<]*full<\/text>/);
    assert.doesNotMatch(alice.received, /id=["']fits-\d["'][^>]*type=["']error["']/);
    assert.equal(await server.server.storage.offline.count('small.test', 'sam'), 2);
    alice.send(chat('nina@nostore.test', 'not-stored'));
    assert.equal(await errorFor(alice, 'not-stored'), 'service-unavailable');
    assert.equal(await server.server.storage.offline.count('nostore.test', 'nina'), 0);
    alice.close();
  });
});

describe('offline messages across a restart', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'trellis-offline-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a stored message survives stopping and starting the server on the same data directory', async () => {
    const first = await serverOn(dataDir);
    await first.addUser('alice', 'localhost', 'secret');
    await first.addUser('bob', 'localhost', 'secret');
    const alice = await online(first, 'alice', 'before');
    alice.send(chat('bob@localhost', 'across-the-restart'));
    await settle(alice);
    alice.close();
    await first.stop();

    const second = await serverOn(dataDir);
    try {
      const bob = await online(second, 'bob', 'after');
      assert.match(await bob.waitFor('across-the-restart'), /<delay xmlns=["']urn:xmpp:delay["'] from=["']localhost["']/);
      bob.close();
    } finally {
      await second.stop();
    }
  });
});

/** A server on a data directory the test owns; `stop` leaves the directory in place. */
async function serverOn(dataDir: string): Promise<TestServer> {
  const config = parseConfig(`data_dir: ${dataDir}\nhttp: { addresses: ["127.0.0.1"], port: 0 }\nlisteners:\n  c2s: { addresses: ["127.0.0.1"], port: 0 }\n  s2s: { enabled: false }\nc2s: { scram_iterations: 4096 }\nhosts:\n  localhost: {}\n`, { baseDir: dataDir });
  const { logger, lines } = memoryLogger();
  const server = await startServer(config, logger);
  return {
    server,
    dataDir,
    port: server.listening.c2s[0]!.port,
    logLines: lines,
    async waitForLog(...fragments) {
      await waitUntil(() => lines.some((line) => fragments.every((fragment) => line.includes(fragment))));
      return lines.find((line) => fragments.every((fragment) => line.includes(fragment)))!;
    },
    certificateFile: (domain) => join(dataDir, 'certs', `${domain}.crt`),
    addUser: (username, domain, password) => server.storage.accounts.create(domain, username, makeStoredCredentials(password, 4096)),
    stop: () => server.close(),
  };
}

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

