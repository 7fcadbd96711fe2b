/**
 * Three Trellis processes serving one domain as a cluster (docs/cluster.md), on a PostgreSQL
 * and a Redis of their own: presence and 1,000 numbered messages between users on different
 * nodes, in order, with carbons on a third node; `kill -9` of a node holding sessions (their
 * contacts see them unavailable, messages for them go to offline storage); a Redis restart
 * (the nodes register again and keep serving the sessions they had); a node stopped past its
 * lease fences itself when it wakes (no duplicate delivery) and joins again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster, waitCount, waitPresence } from './support/cluster.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import type { RawClient } from './support/raw-client.ts';
import { startRedis, type TestRedis } from './support/redis.ts';
import { loadConfig } from '../src/config/load.ts';
import { openStorage } from '../src/storage/open.ts';
import { sleep } from './support/server-process.ts';

const MESSAGES = 1000;
const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };

describe('a cluster of three nodes', () => {
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  let cluster: TestCluster | undefined;
  const clients: RawClient[] = [];
  /** the clients later tests go on with */
  const kept: Record<string, RawClient> = {};

  before(async () => {
    postgres = await startPostgres();
    redis = await startRedis();
    cluster = await TestCluster.create(3, postgres.url, redis.url, TIMINGS, ['alice', 'bob', 'dave', 'erin'], [['alice', 'bob'], ['alice', 'dave'], ['erin', 'dave']]);
    for (const node of [0, 1, 2]) await cluster.start(node);
  });
  after(async () => {
    for (const client of clients) client.close();
    await cluster?.remove();
    await redis?.remove();
    await postgres?.stop();
  });

  const connect = async (node: number, user: string, resource: string): Promise<RawClient> => {
    const client = await cluster!.login(node, user, resource);
    clients.push(client);
    return client;
  };

  test('presence crosses nodes, and 1,000 numbered messages arrive in order with their carbons', async () => {
    const alice = await connect(0, 'alice', 'desk');
    const bobPhone = await connect(1, 'bob', 'phone');
    kept.alice = alice;
    await waitPresence(alice, 'bob@localhost/phone', '');
    await waitPresence(bobPhone, 'alice@localhost/desk', '');
    const bobTablet = await connect(2, 'bob', 'tablet');
    kept.bobTablet = bobTablet;
    bobTablet.send(`<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
    await bobTablet.waitFor(/<iq\b[^>]*id=["']carbons["'][^>]*type=["']result["']|<iq\b[^>]*type=["']result["'][^>]*id=["']carbons["']/);
    // Presence of a resource on node 3 reaches the contact on node 1 and the other resource on node 2.
    await waitPresence(alice, 'bob@localhost/tablet', '');
    await waitPresence(bobPhone, 'bob@localhost/tablet', '');

    for (let n = 1; n <= MESSAGES; n++) alice.send(`<message to='bob@localhost/phone' type='chat' id='m${n}'><body>${n}</body></message>`);
    const delivered = await waitCount(bobPhone, 'm', MESSAGES, 30_000);
    assert.deepEqual(delivered, Array.from({ length: MESSAGES }, (_, i) => i + 1), 'every message, once, in the order sent');
    // XEP-0280 section 6: the resource with carbons on another node gets each as <received/>, in order too.
    const carbons = await waitCount(bobTablet, 'm', MESSAGES, 30_000);
    assert.deepEqual(carbons, delivered);
    assert.equal((bobTablet.received.match(/<received xmlns=["']urn:xmpp:carbons:2["']/g) ?? []).length, MESSAGES);

    // The other way, to the bare JID from node 2: the highest-priority resources get it.
    bobPhone.send(`<message to='alice@localhost' type='chat' id='back1'><body>back</body></message>`);
    await alice.waitFor(/id=["']back1["']/);
  });

  test('kill -9 of a node: its users\' contacts see them unavailable, and messages for them go to offline storage', async () => {
    const alice = kept.alice!;
    await connect(1, 'dave', 'laptop');
    const erin = await connect(2, 'erin', 'pc');
    kept.erin = erin;
    await waitPresence(alice, 'dave@localhost/laptop', '');
    await waitPresence(erin, 'dave@localhost/laptop', '');

    await cluster!.kill(1, 'SIGKILL');
    // Within a lease and a few heartbeats a survivor cleans up after node 2.
    await waitPresence(alice, 'dave@localhost/laptop', 'unavailable', 10_000);
    await waitPresence(erin, 'dave@localhost/laptop', 'unavailable', 10_000);
    await waitPresence(alice, 'bob@localhost/phone', 'unavailable', 10_000);

    alice.send(`<message to='dave@localhost' type='chat' id='off1'><body>while you were gone</body></message>`);
    const config = await loadConfig(cluster!.configFile(0));
    const storage = await openStorage(config.storage, config.data_dir);
    try {
      for (let waited = 0; (await storage.offline.count('localhost', 'dave')) !== 1; waited += 100) {
        assert.ok(waited < 5000, 'the message to dave is stored offline');
        await sleep(100);
      }
    } finally {
      await storage.close();
    }
    assert.doesNotMatch(alice.received, /id=["']off1["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']off1["']/);

    // dave comes back on another node and gets it.
    const daveAgain = await connect(0, 'dave', 'laptop');
    await daveAgain.waitFor(/while you were gone/);
    await waitPresence(erin, 'dave@localhost/laptop', '');
  });

  test('a Redis restart: the nodes register again and keep serving their sessions', async () => {
    const alice = kept.alice!;
    const bobTablet = kept.bobTablet!;
    await redis!.stop(true);
    await sleep(200);
    await redis!.start();
    // After a lease, every node has written its registration and its sessions again.
    await sleep(TIMINGS.lease_ms + 4 * TIMINGS.heartbeat_interval_ms);
    alice.send(`<message to='bob@localhost/tablet' type='chat' id='after1'><body>still here?</body></message>`);
    await bobTablet.waitFor(/id=["']after1["']/, 10_000);
    bobTablet.send(`<message to='alice@localhost/desk' type='chat' id='after2'><body>yes</body></message>`);
    await alice.waitFor(/id=["']after2["']/, 10_000);
    // A new login on a node after the restart is seen by a contact on another node.
    const erin = kept.erin!;
    await connect(2, 'dave', 'phone');
    await waitPresence(erin, 'dave@localhost/phone', '', 10_000);
  });

  test('SIGSTOP of a node past its lease, then SIGCONT: it fences itself, delivers nothing twice, and joins again', async () => {
    const alice = kept.alice!;
    const bobTablet = kept.bobTablet!;
    const node3 = cluster!.process(2)!;
    node3.child.kill('SIGSTOP');
    try {
      // A survivor takes over: bob's last resource is gone for his contacts, and a message for it is stored.
      await waitPresence(alice, 'bob@localhost/tablet', 'unavailable', 10_000);
      alice.send(`<message to='bob@localhost/tablet' type='chat' id='stopped1'><body>are you there?</body></message>`);
      await sleep(500);
    } finally {
      node3.child.kill('SIGCONT');
    }
    // The node wakes past its lease: its clients are told to go, and it never delivers what a survivor handled.
    await bobTablet.waitFor(/<system-shutdown\b/, 10_000);
    assert.doesNotMatch(bobTablet.received, /stopped1/);
    // Once it joined again as a new incarnation, it serves logins, and bob gets the message once.
    let bob: RawClient | undefined;
    for (let tries = 0; bob === undefined; tries++) {
      bob = await connect(2, 'bob', 'tablet').catch(async (error: unknown) => {
        if (tries > 40) throw error;
        await sleep(250);
        return undefined;
      });
    }
    await bob.waitFor(/are you there\?/, 10_000);
    await sleep(500);
    assert.equal((bob.received.match(/id=["']stopped1["']/g) ?? []).length, 1);
    await waitPresence(alice, 'bob@localhost/tablet', '', 10_000);
  });
});
