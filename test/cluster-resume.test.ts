/**
 * Stream management resumption (XEP-0198 section 5) across the nodes of a cluster
 * (docs/cluster.md, "Stream management"): three `trellis start` nodes on a PostgreSQL and a Redis
 * of their own, clients speaking XEP-0198 on the wire. A client on node 1 drops its connection,
 * is sent messages from node 3 meanwhile, and resumes on node 2: <resumed/> with the right `h`,
 * every unacknowledged and queued message once and in order, and node 2 serves it from then on;
 * then it moves on to node 3 with the same id.
 * A session still attached on node 1 is resumed on node 2 too (the old stream ends with
 * `conflict`). slixmpp's xep_0198 plugin resumes on node 2 behind one address. Resuming while the node holding the session was `kill -9`'d fails cleanly with
 * item-not-found, and the messages sent to it reach offline storage.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ClientDriver } from './support/client-driver.ts';
import { startSlixmpp } from './support/slixmpp.ts';
import { TestCluster, waitPresence } from './support/cluster.ts';
import { authenticate, connectTls } from './support/login.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import type { RawClient } from './support/raw-client.ts';
import { startRedis, type TestRedis } from './support/redis.ts';
import { PASSWORD, sleep } from './support/server-process.ts';
import { loadConfig } from '../src/config/load.ts';
import { openStorage } from '../src/storage/open.ts';

const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };
const SM = 'urn:xmpp:sm:3';

/** Top-level stanzas in a stream excerpt (the clients here get no carbons, so nothing nests). */
function stanzas(text: string): number {
  return (text.match(/<(message|presence|iq)\b/g) ?? []).length;
}

/** The ids of messages with ids `${prefix}<n>`, in the order they came. */
function ids(text: string, prefix: string): string[] {
  return [...text.matchAll(new RegExp(`<message\\b[^>]*\\bid=["'](${prefix}\\d+)["']`, 'g'))].map((match) => match[1]!);
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('stream management resumption across the nodes of a cluster', () => {
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  let cluster: TestCluster | undefined;
  const clients: RawClient[] = [];
  const drivers: ClientDriver[] = [];
  let relay: Server | undefined;

  before(async () => {
    postgres = await startPostgres();
    redis = await startRedis();
    cluster = await TestCluster.create(3, postgres.url, redis.url, TIMINGS, ['alice', 'carol', 'dave', 'frank'], [['alice', 'carol'], ['dave', 'carol'], ['frank', 'carol']]);
    for (const node of [0, 1, 2]) await cluster.start(node);
  });
  after(async () => {
    for (const client of clients) client.close();
    for (const driver of drivers) driver.stop();
    relay?.close();
    await cluster?.remove();
    await redis?.remove();
    await postgres?.stop();
  });

  const connect = async (node: number, user: string, resource: string): Promise<RawClient> => {
    const client = await cluster!.login(node, user, resource);
    clients.push(client);
    return client;
  };

  /** Enables resumable stream management once the client's own and its contact's presence came; returns the resumption id. */
  const enable = async (client: RawClient, self: string, contact: string): Promise<string> => {
    await waitPresence(client, self, '');
    await waitPresence(client, contact, '');
    client.clear();
    client.send(`<enable xmlns='${SM}' resume='true'/>`);
    const id = /<enabled\b[^>]*\bid=["']([^"']+)["']/.exec(await client.waitFor(/<enabled\b/))?.[1];
    assert.ok(id, `<enabled/> with an id: ${client.received}`);
    return id;
  };

  /** A new connection to `node`, authenticated as `user`, not bound, sending <resume/>. */
  const resumeOn = async (node: number, user: string, previd: string, h: number): Promise<RawClient> => {
    const client = await connectTls(cluster!.target(node));
    clients.push(client);
    await authenticate(client, { username: user, password: PASSWORD, bind: false });
    client.clear();
    client.send(`<resume xmlns='${SM}' previd='${previd}' h='${h}'/>`);
    return client;
  };

  test('a client that dropped its connection on node 1 resumes on node 2 and misses nothing', async () => {
    const carol = await connect(2, 'carol', 'pc');
    const alice = await connect(0, 'alice', 'phone');
    const previd = await enable(alice, 'alice@localhost/phone', 'carol@localhost/pc');
    assert.match(previd, /\.node1$/, 'the resumption id names the node holding the session');
    // One stanza from the client under stream management: the server's `h` is 1.
    alice.send(`<message to='carol@localhost/pc' type='chat' id='hello'><body>hello</body></message>`);
    await carol.waitFor(/id=["']hello["']/);
    for (let n = 1; n <= 3; n++) carol.send(`<message to='alice@localhost/phone' type='chat' id='m${n}'><body>${n}</body></message>`);
    await alice.waitFor(/id=["']m3["']/);
    assert.equal(stanzas(alice.received), 3, `only the three messages since <enabled/>: ${alice.received}`);
    // The client acknowledges two of the three, then its network goes without closing the stream.
    alice.send(`<a xmlns='${SM}' h='2'/>`);
    await sleep(200);
    alice.socket.destroy();
    await sleep(300);
    // Sent while the session waits on node 1 for its client.
    for (let n = 4; n <= 6; n++) carol.send(`<message to='alice@localhost/phone' type='chat' id='m${n}'><body>${n}</body></message>`);
    await sleep(500);

    const resumed = await resumeOn(1, 'alice', previd, 2);
    await resumed.waitFor(/<resumed\b|<failed\b/);
    assert.match(resumed.received, new RegExp(`<resumed\\b(?=[^>]*\\bprevid=["']${previd.replace(/[.]/g, '\\.')}["'])(?=[^>]*\\bh=["']1["'])`), `<resumed/> with h='1': ${resumed.received}`);
    await resumed.waitFor(/id=["']m6["']/);
    await sleep(500);
    assert.deepEqual(ids(resumed.received, 'm'), ['m3', 'm4', 'm5', 'm6'], 'the unacknowledged and the queued messages, once each, in order');

    // From now on the session is node 2's: a message from node 3 reaches it there, and its replies go out.
    carol.send(`<message to='alice@localhost/phone' type='chat' id='m7'><body>7</body></message>`);
    await resumed.waitFor(/id=["']m7["']/);
    resumed.send(`<message to='carol@localhost/pc' type='chat' id='back'><body>back</body></message>`);
    await carol.waitFor(/id=["']back["']/);
    // The client acknowledges all it got (2 before, then m3..m7): no more than was sent.
    resumed.send(`<a xmlns='${SM}' h='7'/>`);
    await sleep(300);
    assert.deepEqual(ids(resumed.received, 'm'), ['m3', 'm4', 'm5', 'm6', 'm7']);
    assert.doesNotMatch(resumed.received, /<stream:error>/);

    // It moves on: dropped again and resumed on node 3 with the same id, which names node 1 that no longer holds it.
    resumed.socket.destroy();
    await sleep(300);
    carol.send(`<message to='alice@localhost/phone' type='chat' id='m8'><body>8</body></message>`);
    await sleep(300);
    const again = await resumeOn(2, 'alice', previd, 7);
    await again.waitFor(/<resumed\b|<failed\b/);
    assert.match(again.received, /<resumed\b[^>]*\bh=["']2["']/, `<resumed/> with h='2' (hello and back): ${again.received}`);
    await again.waitFor(/id=["']m8["']/);
    carol.send(`<message to='alice@localhost/phone' type='chat' id='m9'><body>9</body></message>`);
    await again.waitFor(/id=["']m9["']/);
    await sleep(300);
    assert.deepEqual(ids(again.received, 'm'), ['m8', 'm9']);
    // Its contact saw no unavailable presence: the session never ended.
    assert.doesNotMatch(carol.received, /<presence\b(?=[^>]*from=["']alice@localhost\/phone["'])(?=[^>]*type=["']unavailable["'])/);
  });

  test('a session still attached on node 1 is resumed on node 2, and the old stream ends with conflict', async () => {
    const carol = clients[0]!;
    const alice = await connect(0, 'alice', 'tablet');
    const previd = await enable(alice, 'alice@localhost/tablet', 'carol@localhost/pc');
    carol.send(`<message to='alice@localhost/tablet' type='chat' id='t1'><body>1</body></message>`);
    await alice.waitFor(/id=["']t1["']/);
    const resumed = await resumeOn(1, 'alice', previd, 0);
    await resumed.waitFor(/<resumed\b|<failed\b/);
    assert.match(resumed.received, /<resumed\b[^>]*\bh=["']0["']/, resumed.received);
    await alice.waitFor(/<conflict\b/);
    await resumed.waitFor(/id=["']t1["']/);
    carol.send(`<message to='alice@localhost/tablet' type='chat' id='t2'><body>2</body></message>`);
    await resumed.waitFor(/id=["']t2["']/);
    assert.deepEqual(ids(resumed.received, 't'), ['t1', 't2']);
  });

  test('slixmpp (its xep_0198 plugin) resumes on node 2 the session it had on node 1', async () => {
    const carol = clients[0]!;
    // One address for the client, as behind a load balancer: it leads to node 1, then to node 2.
    let target = cluster!.ports[0]!;
    relay = createServer((client) => {
      const upstream = tcpConnect({ port: target, host: '127.0.0.1' });
      client.pipe(upstream).pipe(client);
      for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
        a.on('error', () => b.destroy());
        a.on('close', () => b.destroy());
      }
    });
    await new Promise<void>((resolve) => relay!.listen(0, '127.0.0.1', resolve));
    const port = (relay.address() as { port: number }).port;
    const frank = await startSlixmpp(cluster!.target(0), 'frank@localhost/phone', PASSWORD, { port, streamManagement: true });
    drivers.push(frank);
    const enabled = await frank.waitEvent((event) => event.event === 'sm_enabled', 10_000);
    assert.equal(enabled.resume, true);
    await frank.ok({ op: 'get_roster' });
    await frank.ok({ op: 'presence' });
    await frank.waitEvent((event) => event.event === 'presence' && event.from === 'frank@localhost/phone' && event.type === 'available');
    // Carol writes to the resource once its presence reached her (on node 3, through node 1's
    // inbox, after the session itself): before, node 3 may not know the resource yet.
    await waitPresence(carol, 'frank@localhost/phone', '');
    const messages = () => frank.events.filter((event) => event.event === 'message' && event.from === 'carol@localhost/pc').map((event) => event.body);
    const send = (first: number, last: number) => {
      for (let n = first; n <= last; n++) carol.send(`<message to='frank@localhost/phone' type='chat' id='f${n}'><body>f${n}</body></message>`);
    };
    send(1, 5);
    await until(() => messages().length === 5, 'the first five messages');
    await frank.ok({ op: 'abort' });
    send(6, 10);
    await sleep(500);
    target = cluster!.ports[1]!;
    await frank.ok({ op: 'reconnect' }, 15_000);
    await until(() => messages().length >= 10, 'the messages sent while it was away');
    send(11, 11);
    await until(() => messages().length >= 11, 'a message after the resumption');
    await sleep(300);
    assert.deepEqual(messages(), Array.from({ length: 11 }, (_, i) => `f${i + 1}`), 'every message once, in order');
    assert.equal(frank.events.filter((event) => event.event === 'sm_failed').length, 0);
  });

  test('resuming while the node holding the session was killed: <failed/> with item-not-found, and the messages go to offline storage', async () => {
    const carol = clients[0]!;
    const dave = await connect(0, 'dave', 'laptop');
    const previd = await enable(dave, 'dave@localhost/laptop', 'carol@localhost/pc');
    await cluster!.kill(0, 'SIGKILL');
    for (let n = 1; n <= 3; n++) carol.send(`<message to='dave@localhost/laptop' type='chat' id='k${n}'><body>${n}</body></message>`);

    const started = Date.now();
    const resumed = await resumeOn(1, 'dave', previd, 0);
    await resumed.waitFor(/<resumed\b|<failed\b/, 10_000);
    assert.match(resumed.received, /<failed xmlns=["']urn:xmpp:sm:3["'][^>]*>\s*<item-not-found xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/, resumed.received);
    assert.ok(Date.now() - started < TIMINGS.lease_ms + 3000, 'the failure comes within a lease');

    // The client binds anew on the same stream (XEP-0198 section 5); the messages for the dead node's session were stored.
    resumed.clear();
    resumed.send(`<iq type='set' id='bind2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>`);
    await resumed.waitFor(/<jid>dave@localhost\/desk<\/jid>/);
    const config = await loadConfig(cluster!.configFile(1));
    const storage = await openStorage(config.storage, config.data_dir);
    try {
      await until(async () => (await storage.offline.count('localhost', 'dave')) === 3, 'the three messages in offline storage');
    } finally {
      await storage.close();
    }
    resumed.send('<presence/>');
    await resumed.waitFor(/id=["']k3["']/);
    await sleep(300);
    assert.deepEqual(ids(resumed.received, 'k'), ['k1', 'k2', 'k3']);
    assert.doesNotMatch(carol.received, /id=["']k\d["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']k\d["']/);
  });
});
