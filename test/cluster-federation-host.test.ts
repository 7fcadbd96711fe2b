/**
 * One connection per remote host for a whole cluster (docs/cluster.md, "Federation"): a remote
 * Trellis serves two domains on one address with one certificate naming both, so a single
 * process would carry both on one connection (s2s.multiplex). Users on two nodes send to one
 * domain each: the nodes claim the lease of the host (`s2s-host:<host>:<port>`), not of each
 * domain, so one node sends for both and `ss` counts one connection from the cluster to that
 * host. The remote's replies, whose dialback keys are checked on the owner's connection by the
 * node they come in through, reach users on every node.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { establishedTo, TestCluster, waitCount } from './support/cluster.ts';
import { loginFederated, type FederatedServer } from './support/federation.ts';
import { createTestCa, writeCertificateFiles } from './support/lab/ca.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import type { RawClient } from './support/raw-client.ts';
import { startRedis, type TestRedis } from './support/redis.ts';
import { sleep } from './support/server-process.ts';
import { startTestServer } from './support/server.ts';

const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };
const DOMAIN = 'cluster.test';
const NODE_ADDRESSES = ['127.0.73.21', '127.0.73.22', '127.0.73.23'];
const REMOTE = '127.0.73.20';
const FIRST = 'one.far.test';
const SECOND = 'two.far.test';
const PER_SENDER = 50;

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Established TCP connections to the remote server's port, from anywhere on this machine. */
const connectionsToRemote = (): number => establishedTo(REMOTE, 5269);

describe('a cluster sending to two domains of one remote host', () => {
  let dir = '';
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  let redisClient: Redis | undefined;
  let cluster: TestCluster | undefined;
  let remote: FederatedServer | undefined;
  const clients: RawClient[] = [];
  const users: Record<string, RawClient> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cluster-host-'));
    const ca = await createTestCa();
    const caFile = join(dir, 'ca.crt');
    writeCertificateFiles(dir, 'ca', ca);
    // One certificate naming both domains, trusted by the cluster: a connection to one may carry the other (RFC 7712 section 4.4.2).
    const both = writeCertificateFiles(dir, 'far', await ca.issue({ names: [FIRST, SECOND], eku: 'server+client' }));
    const tls = `tls: { certificate: "${both.certFile}", key: "${both.keyFile}" }`;
    postgres = await startPostgres();
    redis = await startRedis();
    redisClient = new Redis(redis.url);
    // The remote reaches the cluster at the third node, which sends to it for neither domain.
    const server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${REMOTE}"], port: 5269 }
hosts:
  ${FIRST}: { ${tls} }
  ${SECOND}: { ${tls} }
strangers: { max_messages: 0 }
s2s:
  # Replies on a connection of the remote's own, so that their dialback keys are checked on the owner's.
  bidi: false
  peering:
    ${DOMAIN}: { via: "${NODE_ADDRESSES[2]}:5269" }`);
    remote = Object.assign(server, { domain: FIRST });
    await remote.addUser('ann', FIRST, 'secret');
    await remote.addUser('tom', SECOND, 'secret');
    cluster = await TestCluster.create(3, postgres.url, redis.url, TIMINGS, ['alice', 'bob', 'carol'], [], {
      domain: DOMAIN,
      s2sAddresses: NODE_ADDRESSES,
      extraYaml: `s2s:
  ca_files: ["${caFile}"]
  peering:
    ${FIRST}: { via: "${REMOTE}:5269" }
    ${SECOND}: { via: "${REMOTE}:5269" }
`,
    });
    for (const node of [0, 1, 2]) await cluster.start(node);
    for (const [node, user] of [[0, 'alice'], [1, 'bob'], [2, 'carol']] as const) {
      const client = await cluster.login(node, user, 'desk');
      clients.push(client);
      users[user] = client;
    }
    users.ann = await loginFederated(remote, 'ann');
    users.tom = await loginFederated({ ...remote, domain: SECOND }, 'tom');
    clients.push(users.ann, users.tom);
  });
  after(async () => {
    for (const client of clients) client.close();
    await cluster?.remove();
    await remote?.stop();
    redisClient?.disconnect();
    await redis?.remove();
    await postgres?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  test('one node owns the host: one connection from the cluster carries both domains', async () => {
    const { alice, bob, carol, ann, tom } = users as Record<string, RawClient>;
    // Alice's node needs the host first and takes it on; Bob's node then hands it the second domain's stanzas.
    alice!.send(`<message to='ann@${FIRST}/r' type='chat' id='first-ann'><body>hello</body></message>`);
    await ann!.waitFor(/id=["']first-ann["']/, 15_000);
    bob!.send(`<message to='tom@${SECOND}/r' type='chat' id='first-tom'><body>hello</body></message>`);
    await tom!.waitFor(/id=["']first-tom["']/, 15_000);

    for (let n = 1; n <= PER_SENDER; n++) {
      for (const [prefix, client] of [['a', alice], ['b', bob]] as const) {
        for (const [user, domain] of [['ann', FIRST], ['tom', SECOND]]) client!.send(`<message to='${user}@${domain}/r' type='chat' id='${prefix}${n}'><body>${n}</body></message>`);
      }
    }
    for (const client of [ann, tom]) for (const prefix of ['a', 'b']) assert.deepEqual(await waitCount(client!, prefix, PER_SENDER, 30_000), range(1, PER_SENDER), `every message from ${prefix}, once, in order`);
    await sleep(500);
    assert.equal(connectionsToRemote(), 1, 'one connection from the cluster to the remote host');
    const incoming = remote!.server.s2s.connections().filter((row) => row.direction === 'in');
    assert.equal(incoming.length, 1, JSON.stringify(incoming));
    assert.deepEqual(incoming[0]!.domains, [`${FIRST} <- ${DOMAIN}`, `${SECOND} <- ${DOMAIN}`], JSON.stringify(incoming));
    assert.match((await redisClient!.get(`trellis:lease:s2s-host:${REMOTE}:5269`)) ?? '', /^node1:/, 'node 1 holds the lease of the remote host');
    assert.equal(await redisClient!.get(`trellis:lease:s2s:${SECOND}`), null, 'no lease per domain');

    // Replies from both domains come in through node 3, which has their dialback keys checked on node 1's connection.
    for (const [from, domain] of [[ann, FIRST], [tom, SECOND]] as const) {
      for (const [user, client] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) {
        const id = `reply-${domain}-${user}`;
        from!.send(`<message to='${user}@${DOMAIN}/desk' type='chat' id='${id}'><body>hi ${user}</body></message>`);
        await client!.waitFor(new RegExp(`id=["']${id.replace(/\./g, '\\.')}["']`), 15_000);
      }
    }
    const toCluster = remote!.server.s2s.connections().filter((row) => row.direction === 'out');
    assert.deepEqual(toCluster.map((row) => row.remoteAddress), [`${NODE_ADDRESSES[2]}:5269`], JSON.stringify(toCluster));
    assert.deepEqual(toCluster[0]!.domains, [`${FIRST} -> ${DOMAIN}`, `${SECOND} -> ${DOMAIN}`], JSON.stringify(toCluster));
    // One stream authenticates one domain by SASL at most: the other's pair was proved by dialback, checked through node 1.
    assert.ok(toCluster[0]!.pairs.some((pair) => pair.method === 'dialback'), JSON.stringify(toCluster));
    for (const client of [alice, bob, carol, ann, tom]) assert.doesNotMatch(client!.received, /type=["']error["']/);
    assert.equal(connectionsToRemote(), 1, 'still one connection to the remote host');
  });
});
