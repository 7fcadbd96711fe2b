/**
 * Federation of a three-node cluster (docs/cluster.md, "Federation") with a separate Trellis as
 * the remote server: one node at a time sends to the remote domain, so the cluster holds one
 * connection to it (counted with `ss`); users on every node reach the remote in the order they
 * sent; the remote's users reach them back through whichever node the remote connected to, its
 * dialback keys checked on the owner's connection and ours by a node that did not make them;
 * `kill -9` of the owner: what the others had handed it is sent again by a survivor, another node
 * takes the remote domain on, and federation goes on with one connection. `trellis status` on
 * any node lists every node with its sessions, heartbeat and the domains it federates with.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { establishedTo, TestCluster, waitCount } from './support/cluster.ts';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import type { RawClient } from './support/raw-client.ts';
import { startRedis, type TestRedis } from './support/redis.ts';
import { sleep } from './support/server-process.ts';
import { trellis } from './support/trellis-cli.ts';
import type { S2sRow, StatusReport } from '../src/admin/types.ts';

const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };
const DOMAIN = 'cluster.test';
const NODE_ADDRESSES = ['127.0.73.1', '127.0.73.2', '127.0.73.3'];
const REMOTE = '127.0.73.10';
const PER_SENDER = 200;
/** s2s.multiplex is on (the default): the lease is the remote host's, where the connection goes */
const LEASE_KEY = `trellis:lease:s2s-host:${REMOTE}:5269`;
const HOST = `${REMOTE}:5269`;

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Established TCP connections to the remote server's port, from anywhere on this machine. */
const connectionsToRemote = (): number => establishedTo(REMOTE, 5269);

/** Waits until at most `most` connections to the remote are established, and at least `least`. */
async function waitConnections(least: number, most = least, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = connectionsToRemote();
  while ((count < least || count > most) && Date.now() < deadline) {
    await sleep(100);
    count = connectionsToRemote();
  }
  return count;
}

describe('a cluster of three nodes federating with another server', () => {
  /** `trellis status --json` of a node */
  const status = async (node: number): Promise<StatusReport> => {
    const run = await trellis(['status', '--json', '--config', cluster!.configFile(node)]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as StatusReport;
  };
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  let redisClient: Redis | undefined;
  let cluster: TestCluster | undefined;
  let remote: FederatedServer | undefined;
  const clients: RawClient[] = [];
  const users: Record<string, RawClient> = {};

  before(async () => {
    postgres = await startPostgres();
    redis = await startRedis();
    redisClient = new Redis(redis.url);
    // The remote reaches the cluster's domain at the first node only: the owner is another node.
    remote = await startFederatedServer(REMOTE, `strangers: { max_messages: 0 }
s2s:
  peering:
    ${DOMAIN}: { via: "${NODE_ADDRESSES[0]}:5269" }`);
    await remote.addUser('rita', REMOTE, 'secret');
    cluster = await TestCluster.create(3, postgres.url, redis.url, TIMINGS, ['alice', 'bob', 'carol'], [], {
      domain: DOMAIN,
      s2sAddresses: NODE_ADDRESSES,
      admin: true,
    });
    for (const node of [0, 1, 2]) await cluster.start(node);
    for (const [node, user] of [[0, 'alice'], [1, 'bob'], [2, 'carol']] as const) {
      const client = await cluster.login(node, user, 'desk');
      clients.push(client);
      users[user] = client;
    }
    users.rita = await loginFederated(remote, 'rita');
    clients.push(users.rita);
  });
  after(async () => {
    for (const client of clients) client.close();
    await cluster?.remove();
    await remote?.stop();
    redisClient?.disconnect();
    await redis?.remove();
    await postgres?.stop();
  });

  test('one connection to the remote for the cluster; every sender\'s messages arrive in order; replies reach every node', async () => {
    const { alice, bob, carol, rita } = users as Record<string, RawClient>;
    // Bob's node needs the remote domain first and takes it on.
    bob!.send(`<message to='rita@${REMOTE}/r' type='chat' id='first1'><body>hello</body></message>`);
    await rita!.waitFor(/id=["']first1["']/, 15_000);
    assert.match((await redisClient!.get(LEASE_KEY)) ?? '', /^node2:/, 'node 2 holds the lease of the remote domain');
    // Every node's view of the cluster, from node 1's admin API: node 2 federates with the remote.
    await sleep(2 * TIMINGS.heartbeat_interval_ms);
    const nodes = (await status(0)).cluster!;
    assert.deepEqual(nodes.map((row) => [row.name, row.self, row.state, row.sessions, row.federates]), [
      ['node1', true, 'live', 1, []],
      ['node2', false, 'live', 1, [HOST]],
      ['node3', false, 'live', 1, []],
    ]);
    assert.deepEqual(nodes.map((row) => row.addresses[1]), NODE_ADDRESSES.map((address) => `s2s ${address}:5269`));
    for (const row of nodes) assert.ok(Date.now() - Date.parse(row.lastHeartbeat!) < 5000, JSON.stringify(row));
    assert.equal(new Set(nodes.map((row) => row.incarnation)).size, 3);
    const text = await trellis(['status', '--config', cluster!.configFile(2)]);
    assert.match(text.stdout, new RegExp(`^cluster: +node1 live, incarnation \\w+, c2s 127\\.0\\.0\\.1:\\d+ s2s 127\\.0\\.73\\.1:5269, 1 session, heartbeat \\S+$`, 'm'));
    assert.match(text.stdout, /^ +node2 live, .*; federates with 127\.0\.73\.10:5269$/m);
    assert.match(text.stdout, /^ +node3 \(this node\) live, /m);

    for (let n = 1; n <= PER_SENDER; n++) {
      for (const [prefix, client] of [['a', alice], ['b', bob], ['c', carol]] as const) client!.send(`<message to='rita@${REMOTE}/r' type='chat' id='${prefix}${n}'><body>${n}</body></message>`);
    }
    for (const prefix of ['a', 'b', 'c']) assert.deepEqual(await waitCount(rita!, prefix, PER_SENDER, 30_000), range(1, PER_SENDER), `every message from ${prefix}, once, in order`);
    assert.equal(await waitConnections(1), 1, 'one connection from the cluster to the remote');
    const outgoing = remote!.server.s2s.connections().filter((row) => row.direction === 'in');
    assert.equal(outgoing.length, 1, JSON.stringify(outgoing));

    // The remote's users reach users on every node: its stanzas come in through node 1, which
    // checked the remote's dialback key on node 2's connection (or through node 2's bidi connection).
    for (const [user, client] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) {
      rita!.send(`<message to='${user}@${DOMAIN}/desk' type='chat' id='reply-${user}'><body>hi ${user}</body></message>`);
      await client!.waitFor(new RegExp(`id=["']reply-${user}["']`), 15_000);
    }
    assert.doesNotMatch(rita!.received, /type=["']error["']/);
    // The remote's own connection reached node 1, which accepted its dialback key having had it
    // checked on node 2's connection: node 1 opened none to the remote (one connection above).
    const toCluster = remote!.server.s2s.connections().find((row) => row.direction === 'out' && row.remoteDomain === DOMAIN);
    assert.equal(toCluster?.remoteAddress, `${NODE_ADDRESSES[0]}:5269`, JSON.stringify(toCluster));
    assert.equal(toCluster.authentication, 'dialback');
    assert.ok(toCluster.domains.includes(`${REMOTE} -> ${DOMAIN}`), JSON.stringify(toCluster.domains));
  });

  test('trellis s2s revoke and close sent to a node without the connection act on the node that holds it', async () => {
    const s2sRows = async (node: number): Promise<S2sRow[]> => {
      const run = await trellis(['s2s', '--json', '--config', cluster!.configFile(node)]);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(run.stdout) as { connections: S2sRow[] }).connections;
    };
    // The remote's own connection reached node 1; node 3 holds no server connection at all.
    const incoming = (await s2sRows(0)).find((row) => row.direction === 'in' && row.remoteDomain === REMOTE);
    assert.ok(incoming, 'node 1 holds the remote\'s connection');
    assert.deepEqual(await s2sRows(2), []);

    const revoked = await trellis(['s2s', 'revoke', DOMAIN, REMOTE, '--config', cluster!.configFile(2)]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${REMOTE.replace(/\./g, '\\.')} -> ${DOMAIN.replace(/\./g, '\\.')} on [1-9]\\d* connections?; its server may ask again$`, 'm'));

    const closed = await trellis(['s2s', 'close', incoming.id.slice(0, 8), '--config', cluster!.configFile(2)]);
    assert.equal(closed.code, 0, closed.stderr);
    assert.equal(closed.stdout, `closed ${incoming.id.slice(0, 8)} (incoming from ${REMOTE}) on node1\n`);
    const deadline = Date.now() + 5000;
    while ((await s2sRows(0)).some((row) => row.id === incoming.id)) {
      assert.ok(Date.now() < deadline, 'node 1 closed the connection');
      await sleep(100);
    }
    // A connection no node holds: as on one server.
    const nowhere = await trellis(['s2s', 'close', 'ffffffff', '--config', cluster!.configFile(2)]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /no server connection with an id starting with "ffffffff"/);
  });

  test('kill -9 of the owner: what was handed to it is sent by a survivor, another node takes the domain on, one connection again', async () => {
    const { alice, carol, rita } = users as Record<string, RawClient>;
    assert.equal(await waitConnections(1), 1);
    await cluster!.kill(1, 'SIGKILL');
    // Sent within the dead node's lease: handed to its inbox, then sent again by the survivor that takes over.
    for (let n = 1; n <= 20; n++) for (const [prefix, client] of [['x', alice], ['z', carol]] as const) client!.send(`<message to='rita@${REMOTE}/r' type='chat' id='${prefix}${n}'><body>${n}</body></message>`);
    for (const prefix of ['x', 'z']) assert.deepEqual(await waitCount(rita!, prefix, 20, 20_000), range(1, 20), `every message from ${prefix} sent while the owner was dying, once, in order`);
    assert.match((await redisClient!.get(LEASE_KEY)) ?? '', /^node[13]:/, 'a survivor holds the lease');
    // The dead node is gone from the cluster's view once a survivor took it over; the new owner shows.
    await sleep(2 * TIMINGS.heartbeat_interval_ms);
    const nodes = (await status(2)).cluster!;
    const newOwner = (await redisClient!.get(LEASE_KEY))!.slice(0, 'nodeN'.length);
    assert.deepEqual(nodes.map((row) => [row.name, row.state, row.federates]), [['node1', 'live', newOwner === 'node1' ? [HOST] : []], ['node3', 'live', newOwner === 'node3' ? [HOST] : []]]);
    // After the failover, as before it.
    for (let n = 21; n <= 120; n++) for (const [prefix, client] of [['x', alice], ['z', carol]] as const) client!.send(`<message to='rita@${REMOTE}/r' type='chat' id='${prefix}${n}'><body>${n}</body></message>`);
    for (const prefix of ['x', 'z']) assert.deepEqual(await waitCount(rita!, prefix, 120, 20_000), range(1, 120), `every message from ${prefix}, once, in order`);
    // Node 3 opens one; node 1 may instead send on the bidi connection the remote opened to it (XEP-0288).
    const owner = (await redisClient!.get(LEASE_KEY))!.slice(0, 'nodeN'.length);
    const connections = await waitConnections(owner === 'node1' ? 0 : 1, 1);
    assert.ok(connections === 1 || (owner === 'node1' && connections === 0), `${connections} connections from the cluster to the remote, ${owner} owning it`);
    assert.doesNotMatch(alice!.received + carol!.received, /type=["']error["']/);
    rita!.send(`<message to='carol@${DOMAIN}/desk' type='chat' id='after-kill'><body>still there</body></message>`);
    await carol!.waitFor(/id=["']after-kill["']/, 15_000);
  });
});
