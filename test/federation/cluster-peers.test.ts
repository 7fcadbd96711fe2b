/**
 * A three-node Trellis cluster (real PostgreSQL and Redis) serving one domain, `cl.test`, whose
 * `_xmpp-server._tcp` SRV records list all three nodes, federating with Debian's Prosody and
 * ejabberd (docs/cluster.md, "Federation"). The peers prefer the third node (a lower SRV
 * priority), so their connections land on a node that does not send to them: their dialback keys
 * are checked on the owner's connection, and the keys the owner made are checked by the peers
 * on the third node.
 * - Users on all three nodes message users on both peers and get replies; `ss` shows one
 *   connection from the cluster to each peer, and one from each peer to the cluster.
 * - `kill -9` of the node that owns both peers' connections while users on the other nodes send:
 *   another node takes over within seconds and every numbered message arrives, in order per sender.
 * - `kill -9` of the owner of a domain while its connection is still being set up (Prosody
 *   stopped) with the other nodes' stanzas read from its inbox and waiting there: the survivor
 *   sends them again and none is lost, in order per sender.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startDriver, type ClientDriver } from '../support/client-driver.ts';
import { TestCluster } from '../support/cluster.ts';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { startEjabberd } from '../support/lab/ejabberd.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import type { RunningPeer } from '../support/lab/peer.ts';
import { makeScratchDir, removeScratchDir, tail } from '../support/lab/process.ts';
import { startProsody, type RunningProsody } from '../support/lab/prosody.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import type { RawClient } from '../support/raw-client.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { sleep } from '../support/server-process.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'im_driver.py');
const PASSWORD = 'lab-password';
const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };
const DOMAIN = 'cl.test';
const NODE_ADDRESSES = ['127.0.1.20', '127.0.1.21', '127.0.1.22'];
const PROSODY_ADDRESS = '127.0.1.30';
const EJABBERD_ADDRESS = '127.0.1.31';
const PROSODY = 'pros.test';
/** a second domain on the same Prosody, first used by the last test, reached through a host name of its own */
const PROSODY_SECOND = 'pros2.test';
const EJABBERD = 'ej.test';
/** The hosts the cluster's connections go to: with s2s.multiplex (the default) the lease is the host's (docs/cluster.md). */
const HOPS: Record<string, string> = { [PROSODY]: 'xmpp.pros.test:5269', [PROSODY_SECOND]: 'xmpp2.pros.test:5269', [EJABBERD]: 'xmpp.ej.test:5269' };
const USERS = ['alice', 'bob', 'carol'] as const;

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface Socket {
  local: string;
  peer: string;
  process: string;
}

/** Established TCP connections to `port` on any of `addresses`, by their client end (ss(8)), with the process holding that end. */
function connectionsTo(addresses: readonly string[], port: number): Socket[] {
  const filter = addresses.map((address) => `dst ${address}:${port}`).join(' or ');
  const result = spawnSync('ss', ['-tnpH', 'state', 'established', `( ${filter} )`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss failed: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, , local, peer, users] = line.trim().split(/\s+/);
      return { local: local!, peer: peer!, process: /\(\("([^"]+)"/.exec(users ?? '')?.[1] ?? '?' };
    });
}

/** Waits until `count()` gives `expected` (or the time is up); returns the last count. */
async function settle(count: () => number, expected: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = count();
  while (last !== expected && Date.now() < deadline) {
    await sleep(200);
    last = count();
  }
  return last;
}

/** The numbers of the messages a peer's client got with ids `${prefix}<n>`, in the order they came. */
function numbersAt(driver: ClientDriver, prefix: string): number[] {
  const pattern = new RegExp(`^${prefix}(\\d+)$`);
  return driver.events.flatMap((event) => (event.event === 'message' ? [pattern.exec(String(event.id))?.[1]] : [])).filter((n) => n !== undefined).map(Number);
}

async function waitNumbers(driver: ClientDriver, prefix: string, count: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (new Set(numbersAt(driver, prefix)).size < count && Date.now() < deadline) await sleep(100);
  return numbersAt(driver, prefix);
}

describe('a three-node cluster federating with Prosody and ejabberd', () => {
  let dir = '';
  let dns: LabDns | undefined;
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  let redisClient: Redis | undefined;
  let cluster: TestCluster | undefined;
  let prosody: RunningProsody | undefined;
  let ejabberd: RunningPeer | undefined;
  let clientCaFile = '';
  const drivers: ClientDriver[] = [];
  const clients: RawClient[] = [];
  const users: Record<string, RawClient> = {};
  const remote: Record<string, ClientDriver> = {};

  async function remoteClient(jid: string, address: string): Promise<ClientDriver> {
    const driver = await startDriver(`slixmpp ${jid}`, '/usr/bin/python3', [DRIVER, jid, PASSWORD, address, '5222', clientCaFile, 'SCRAM-SHA-1']);
    drivers.push(driver);
    await driver.ok({ op: 'presence' });
    return driver;
  }

  async function login(node: number, user: string): Promise<RawClient> {
    const client = await cluster!.login(node, user, 'desk');
    clients.push(client);
    users[user] = client;
    return client;
  }

  const lease = async (domain: string): Promise<string> => ((await redisClient!.get(`trellis:lease:s2s-host:${HOPS[domain]}`)) ?? '').split(':')[0]!;

  function diagnostics(): string {
    const nodes = [0, 1, 2].map((node) => `--- node${node + 1} ---\n${cluster?.process(node)?.output().slice(-3000) ?? '(not running)'}`).join('\n');
    return `${nodes}\n--- Prosody ---\n${prosody ? tail(prosody.logFile, 30) : ''}\n--- ejabberd ---\n${ejabberd ? tail(ejabberd.logFile, 30) : ''}`;
  }

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('cluster-peers');
    const srv = (domain: string, target: string, priority = 10) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, priority, port: 5269, target });
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          // Every node is listed; the peers prefer the third.
          srv(DOMAIN, 'node3.cl.test', 10),
          srv(DOMAIN, 'node1.cl.test', 20),
          srv(DOMAIN, 'node2.cl.test', 20),
          ...NODE_ADDRESSES.map((address, index) => ({ name: `node${index + 1}.cl.test`, type: 'A' as const, address })),
          srv(PROSODY, 'xmpp.pros.test'),
          srv(PROSODY_SECOND, 'xmpp2.pros.test'),
          { name: 'xmpp.pros.test', type: 'A', address: PROSODY_ADDRESS },
          { name: 'xmpp2.pros.test', type: 'A', address: PROSODY_ADDRESS },
          srv(EJABBERD, 'xmpp.ej.test'),
          { name: 'xmpp.ej.test', type: 'A', address: EJABBERD_ADDRESS },
        ],
      },
    ]);
    const ca = await createTestCa();
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const issued = async (domain: string, names = [domain]) => ({ domain, ...writeCertificateFiles(dir, domain, await ca.issue({ names, srvNames: names.map((name) => `_xmpp-server.${name}`) })) });
    const [prosodyCertificate, prosodySecond, ejabberdCertificate] = await Promise.all([issued(PROSODY), issued(PROSODY_SECOND), issued(EJABBERD)]);
    [prosody, ejabberd] = await Promise.all([
      startProsody({
        address: PROSODY_ADDRESS,
        domains: [prosodyCertificate, prosodySecond],
        caFile,
        users: [
          { user: 'pat', domain: PROSODY, password: PASSWORD },
          { user: 'pam', domain: PROSODY_SECOND, password: PASSWORD },
        ],
      }),
      startEjabberd({ address: EJABBERD_ADDRESS, domains: [ejabberdCertificate], caFile, users: [{ user: 'eve', domain: EJABBERD, password: PASSWORD }] }),
    ]);
    postgres = await startPostgres();
    redis = await startRedis();
    redisClient = new Redis(redis.url);
    // The nodes present the certificate the first one generates (self-signed): the peers authenticate them with dialback.
    cluster = await TestCluster.create(3, postgres.url, redis.url, TIMINGS, [...USERS], [], {
      domain: DOMAIN,
      s2sAddresses: NODE_ADDRESSES,
      extraYaml: `dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }\ns2s: { ca_files: ["${caFile}"], use_system_ca: false }\n`,
    });
    for (const node of [0, 1, 2]) await cluster.start(node);
    for (const [node, user] of USERS.entries()) await login(node, user);
    clientCaFile = caFile;
    remote.pat = await remoteClient(`pat@${PROSODY}/lab`, PROSODY_ADDRESS);
    remote.pam = await remoteClient(`pam@${PROSODY_SECOND}/lab`, PROSODY_ADDRESS);
    remote.eve = await remoteClient(`eve@${EJABBERD}/lab`, EJABBERD_ADDRESS);
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const driver of drivers) driver.stop();
    prosody?.signal('SIGCONT');
    await cluster?.remove();
    await prosody?.stop();
    await ejabberd?.stop();
    redisClient?.disconnect();
    await redis?.remove();
    await postgres?.stop();
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  const send = (client: RawClient, to: string, id: string) => client.send(`<message to='${to}' type='chat' id='${id}'><body>${id}</body></message>`);

  test('users on every node reach both peers and get replies, over one connection each way per peer', async () => {
    const { alice, bob, carol } = users as Record<(typeof USERS)[number], RawClient>;
    // Bob's node needs both peers first and takes them on.
    send(bob, `pat@${PROSODY}`, 'open-p');
    send(bob, `eve@${EJABBERD}`, 'open-e');
    await remote.pat!.waitEvent((event) => event.event === 'message' && event.id === 'open-p', 20_000).catch(() => assert.fail(`no first message at pat\n${diagnostics()}`));
    await remote.eve!.waitEvent((event) => event.event === 'message' && event.id === 'open-e', 20_000).catch(() => assert.fail(`no first message at eve\n${diagnostics()}`));
    assert.equal(await lease(PROSODY), 'node2');
    assert.equal(await lease(EJABBERD), 'node2');

    const PER_SENDER = 30;
    for (let n = 1; n <= PER_SENDER; n++) for (const [prefix, client] of [['a', alice], ['b', bob], ['c', carol]] as const) for (const to of [`pat@${PROSODY}`, `eve@${EJABBERD}`]) send(client, to, `${prefix}${n}`);
    for (const peer of ['pat', 'eve']) {
      for (const prefix of ['a', 'b', 'c']) assert.deepEqual(await waitNumbers(remote[peer]!, prefix, PER_SENDER, 30_000), range(1, PER_SENDER), `every message from ${prefix} at ${peer}, once, in order\n${diagnostics()}`);
    }
    // Replies to every node, through the connection each peer opened to the third node.
    for (const peer of ['pat', 'eve']) {
      for (const user of USERS) await remote[peer]!.ok({ op: 'message', to: `${user}@${DOMAIN}/desk`, body: `hi ${user}`, msg_id: `reply-${peer}-${user}` });
    }
    for (const user of USERS) for (const peer of ['pat', 'eve']) await users[user]!.waitFor(new RegExp(`id=["']reply-${peer}-${user}["']`), 20_000);
    for (const user of USERS) assert.doesNotMatch(users[user]!.received, /type=["']error["']/);

    // One connection from the cluster to each peer; each peer's own connection to the cluster landed on the third node.
    assert.equal(await settle(() => connectionsTo([PROSODY_ADDRESS], 5269).length, 1), 1, JSON.stringify(connectionsTo([PROSODY_ADDRESS], 5269)));
    assert.equal(await settle(() => connectionsTo([EJABBERD_ADDRESS], 5269).length, 1), 1, JSON.stringify(connectionsTo([EJABBERD_ADDRESS], 5269)));
    const toCluster = () => connectionsTo(NODE_ADDRESSES, 5269);
    assert.equal(await settle(() => toCluster().length, 2), 2, JSON.stringify(toCluster()));
    assert.deepEqual(toCluster().map((socket) => socket.peer).sort(), [`${NODE_ADDRESSES[2]}:5269`, `${NODE_ADDRESSES[2]}:5269`]);
    assert.deepEqual(toCluster().map((socket) => socket.process).sort(), ['beam.smp', 'lua5.4'].sort(), JSON.stringify(toCluster()));
  });

  test('kill -9 of the node that sends to both peers: another takes over within seconds, nothing lost', async () => {
    const { alice, carol } = users as Record<(typeof USERS)[number], RawClient>;
    const TOTAL = 60;
    const burst = (from: number, to: number) => {
      for (let n = from; n <= to; n++) for (const [prefix, client] of [['x', alice], ['z', carol]] as const) for (const peer of [`pat@${PROSODY}`, `eve@${EJABBERD}`]) send(client, peer, `${prefix}${n}`);
    };
    burst(1, 15);
    const killedAt = Date.now();
    await cluster!.kill(1, 'SIGKILL');
    burst(16, 40);
    await sleep(TIMINGS.lease_ms + 1000);
    burst(41, TOTAL);
    for (const peer of ['pat', 'eve']) {
      for (const prefix of ['x', 'z']) {
        const numbers = await waitNumbers(remote[peer]!, prefix, TOTAL, 30_000);
        // At least once: one the dead owner had written just before it died may come twice.
        assert.deepEqual([...new Set(numbers)], range(1, TOTAL), `every message from ${prefix} at ${peer}, in order: ${numbers.join(',')}\n${diagnostics()}`);
      }
    }
    const took = Date.now() - killedAt;
    assert.ok(took < 15_000, `the survivors took ${took} ms`);
    const owners = [await lease(PROSODY), await lease(EJABBERD)];
    for (const owner of owners) assert.match(owner, /^node[13]$/);
    // One connection from the cluster to each peer again.
    assert.equal(await settle(() => connectionsTo([PROSODY_ADDRESS], 5269).length, 1), 1, JSON.stringify(connectionsTo([PROSODY_ADDRESS], 5269)));
    assert.equal(await settle(() => connectionsTo([EJABBERD_ADDRESS], 5269).length, 1), 1, JSON.stringify(connectionsTo([EJABBERD_ADDRESS], 5269)));
    for (const user of ['alice', 'carol']) assert.doesNotMatch(users[user]!.received, /type=["']error["']/);
  });

  test('kill -9 of an owner whose connection is still being set up: what it read from its inbox is sent by the survivor', async () => {
    const { alice, carol } = users as Record<(typeof USERS)[number], RawClient>;
    await cluster!.start(1);
    const bob = await login(1, 'bob');
    // Prosody stops answering: a connection to it opens but its stream never starts.
    prosody!.signal('SIGSTOP');
    send(bob, `pam@${PROSODY_SECOND}`, 'open-second');
    const deadline = Date.now() + 10_000;
    while ((await lease(PROSODY_SECOND)) !== 'node2' && Date.now() < deadline) await sleep(50);
    assert.equal(await lease(PROSODY_SECOND), 'node2');
    const COUNT = 20;
    for (let n = 1; n <= COUNT; n++) for (const [prefix, client] of [['q', alice], ['w', carol]] as const) send(client, `pam@${PROSODY_SECOND}`, `${prefix}${n}`);
    // Node 2 read them all from its inbox and holds them there, unacknowledged, while it connects.
    const [inbox] = await redisClient!.keys('trellis:inbox:node2:*');
    let pending = 0;
    for (const until = Date.now() + 10_000; pending < 2 * COUNT && Date.now() < until; await sleep(100)) {
      pending = Number(((await redisClient!.xpending(inbox!, 'readers')) as [number])[0]);
    }
    assert.equal(pending, 2 * COUNT, 'read and held by the owner');
    await cluster!.kill(1, 'SIGKILL');
    prosody!.signal('SIGCONT');
    for (const prefix of ['q', 'w']) assert.deepEqual(await waitNumbers(remote.pam!, prefix, COUNT, 30_000), range(1, COUNT), `every message from ${prefix}, once, in order\n${diagnostics()}`);
    assert.match(await lease(PROSODY_SECOND), /^node[13]$/);
    for (const user of ['alice', 'carol']) assert.doesNotMatch(users[user]!.received, /type=["']error["']/);
  });
});
