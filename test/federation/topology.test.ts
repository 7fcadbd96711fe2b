/**
 * "One connection per pair of hosts": two Trellis hosts each serve 20 domains, every domain with
 * its group-chat service at muc.<domain>, configured with hosts, one certificate per host (naming
 * its domains and their subdomains) and DNS records (SRV to the host), bidi at its default (on).
 * Every pair of user domains exchanges a message both ways (20 x 20 x 2 = 800), and the TCP
 * connections between the two hosts are counted from the sockets (ss in the lab namespace): one.
 * Then, on that connection: a
 * stanza for a pair not bound to it is refused with invalid-connection and not delivered, and
 * revoking one pair from the admin API stops that pair only while the other 399 keep flowing,
 * until it is authorized again. Then the group-chat services of every domain are asked for their
 * identity from the other host (XEP-0030), still over the one connection (the host that did not
 * open it asks for its pairs there), and last the same exchange runs with
 * `s2s.multiplex: false`; both counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminJson, adminRequest } from '../../src/admin/client.ts';
import type { S2sPairRow, S2sRow } from '../../src/admin/types.ts';
import { startLabDns, type LabDns, type LabRecord } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { establishedConnections } from '../support/lab/sockets.ts';
import { labHosts, type LabHosts } from '../support/lab/trellis-hosts.ts';
import type { RawClient } from '../support/raw-client.ts';
import { writeCertificateFiles } from '../support/lab/ca.ts';
import type { TestServer } from '../support/server.ts';
import { trellisFor } from '../support/trellis-cli.ts';

const H1_ADDRESS = '127.0.2.1';
const H2_ADDRESS = '127.0.2.2';
const N = Number(process.env.TOPOLOGY_DOMAINS ?? 20);
const ps = Array.from({ length: N }, (_, i) => `p${i + 1}.test`);
const qs = Array.from({ length: N }, (_, i) => `q${i + 1}.test`);
const SERVICES = ['muc'];

interface Topology {
  lab: LabHosts;
  h1: TestServer;
  h2: TestServer;
  clients: Map<string, RawClient>;
}

describe(`two hosts serving ${N} domains each: one connection between them`, () => {
  let dns: LabDns | undefined;
  let dir = '';
  const running: Topology[] = [];

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('topology');
    const srv = (domain: string, host: string): LabRecord => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV', port: 5269, target: host });
    const records: LabRecord[] = [
      { name: 'xmpp.h1.test', type: 'A', address: H1_ADDRESS },
      { name: 'xmpp.h2.test', type: 'A', address: H2_ADDRESS },
      ...ps.flatMap((domain) => [domain, ...SERVICES.map((service) => `${service}.${domain}`)].map((name) => srv(name, 'xmpp.h1.test'))),
      ...qs.flatMap((domain) => [domain, ...SERVICES.map((service) => `${service}.${domain}`)].map((name) => srv(name, 'xmpp.h2.test'))),
    ];
    dns = await startLabDns([{ name: 'test', records }]);
  });

  after(async () => {
    for (const topology of running.splice(0)) await topology.lab.stop();
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  /** Both hosts, configured with their domains, one certificate each and, optionally, more `s2s` lines. */
  async function startTopology(name: string, s2sExtra = '', topExtra = ''): Promise<Topology> {
    const lab = await labHosts(dir, { bidi: true });
    const host = async (address: string, hostName: string, domains: string[]): Promise<TestServer> => {
      // One certificate for the host: its name, its domains and their subdomains (the services).
      const certificate = await lab.ca.issue({ names: [hostName, ...domains, ...domains.map((domain) => `*.${domain}`)] });
      const files = writeCertificateFiles(dir, `${name}-${hostName}`, certificate);
      const hostsYaml = domains.map((domain) => `  ${domain}: {}\n`).join('');
      return lab.start(address, hostsYaml, s2sExtra, { top: `tls: { certificate: "${files.certFile}", key: "${files.keyFile}" }\nmuc: { subdomain: muc }\n${topExtra}` });
    };
    const [h1, h2] = await Promise.all([host(H1_ADDRESS, 'xmpp.h1.test', ps), host(H2_ADDRESS, 'xmpp.h2.test', qs)]);
    await Promise.all([lab.loginUsers(h1, ps), lab.loginUsers(h2, qs)]);
    const topology = { lab, h1, h2, clients: lab.clients };
    running.push(topology);
    return topology;
  }

  async function stopTopology(topology: Topology): Promise<void> {
    running.splice(running.indexOf(topology), 1);
    await topology.lab.stop();
    for (let attempt = 0; attempt < 50 && between() > 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const between = (): number => establishedConnections([H1_ADDRESS, H2_ADDRESS], 5269);

  /** Every sender sends to every receiver; resolves with how many arrived. */
  async function exchange({ clients }: Topology, senders: string[], receivers: string[], tag: string, timeoutMs = 30_000): Promise<number> {
    for (const from of senders) for (const to of receivers) if (from !== to) clients.get(from)!.send(`<message to='u@${to}/r' type='chat'><body>${tag} ${from} to ${to}</body></message>`);
    const arrivals = await Promise.all(
      senders.flatMap((from) =>
        receivers
          .filter((to) => to !== from)
          .map((to) =>
            clients
              .get(to)!
              .waitFor(`${tag} ${from} to ${to}<`, timeoutMs)
              .then(() => 1),
          ),
      ),
    );
    return arrivals.length;
  }

  /** Each user domain asks each service of the other side for its identity (XEP-0030): the service domains' pairs both ways. */
  async function askServices({ clients }: Topology, senders: string[], hosts: string[]): Promise<number> {
    const services = hosts.flatMap((domain) => SERVICES.map((service) => `${service}.${domain}`));
    for (const from of senders) for (const service of services) clients.get(from)!.send(`<iq type='get' id='disco-${from}-${service}' to='${service}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const answers = await Promise.all(
      senders.flatMap((from) => services.map((service) => clients.get(from)!.waitFor(new RegExp(`<iq[^>]*id=["']disco-${from}-${service}["'][^>]*type=["']result["']|<iq[^>]*type=["']result["'][^>]*id=["']disco-${from}-${service}["']`), 30_000).then(() => 1))),
    );
    return answers.length;
  }

  let shared: Topology;

  it(`delivers all ${2 * N * N} messages between the user domains over one TCP connection`, async () => {
    shared = await startTopology('bidi');
    const started = Date.now();
    // h1's domains first: its connection is the one h2's answers come back on (XEP-0288).
    assert.equal(await exchange(shared, ps, qs, 'forth'), N * N);
    assert.equal(await exchange(shared, qs, ps, 'back'), N * N);
    const seconds = (Date.now() - started) / 1000;
    const count = between();
    console.log(`# ${2 * N * N} messages in ${seconds.toFixed(1)} s over ${count} TCP connection(s) between the hosts`);
    assert.equal(count, 1, JSON.stringify(shared.h1.server.s2s.connections().map((row) => [row.direction, row.domains.length])));
    const [row] = shared.h1.server.s2s.connections();
    assert.equal(row?.bidi, true);
  });

  it('trellis s2s shows the connection and every pair on it, with how each was proven', async () => {
    const socket = shared.h2.server.adminSocket!;
    const { connections, pairs } = await adminJson<{ connections: S2sRow[]; pairs: S2sPairRow[] }>(socket, 'GET', '/v1/s2s');
    assert.equal(connections.length, 1);
    const [connection] = connections;
    assert.equal(connection!.direction, 'in');
    assert.ok(connection!.serverNames.includes('p1.test'), JSON.stringify(connection!.serverNames));
    // Each direction of every pair of domains that talked: users' and services' domains.
    // Each pair of domains once each way: bound inbound, and outbound as its reverse (bidi).
    assert.equal(connection!.pairs.length, 2 * N * N);
    // s2s.rate for each pair the peer may send for, up to s2s.rate_pairs_max (64) of them.
    assert.equal(connection!.readStanzasPerSecond, 1000 * Math.min(N * N, 64));
    assert.equal(pairs.length, N * N);
    const pair = pairs.find((candidate) => candidate.local === qs[2] && candidate.remote === ps.at(-1));
    assert.deepEqual(pair?.inbound.map((binding) => [binding.connection, binding.method]), [[connection!.id, 'certificate']]);
    assert.deepEqual(pair?.outbound.map((binding) => binding.connection), [connection!.id]);
    // The same, as the operator reads it: the connection's row, then one row per pair.
    const run = await trellisFor(shared.h2, ['s2s']);
    assert.equal(run.code, 0, run.stderr);
    const [table, pairTable] = run.stdout.trimEnd().split('\n\n');
    const lines = table!.split('\n');
    assert.equal(lines.length, 2);
    const row = new RegExp(`^${connection!.id.slice(0, 8)} +in\\+bidi +p1\\.test +- +\\S+ +TLSv1\\.3 \\S+ +valid +sasl-external +trusted +p1\\.test, p2\\.test, p3\\.test and ${N - 3} more +q1\\.test <- p1\\.test \\(sasl-external\\), q1\\.test -> p1\\.test \\(sasl-external\\), \\S+ <- \\S+ \\(certificate\\) and ${2 * N * N - 3} more +\\d+s$`);
    assert.match(lines[1]!, row);
    assert.equal(pairTable!.split('\n').length, 1 + N * N);
    console.log(run.stdout.split('\n').slice(0, 6).map((line) => `# ${line}`).join('\n'));
  });

  it('a stanza for a pair not bound to the connection is refused with invalid-connection and not delivered, on either side', async () => {
    const h2 = shared.h2.server.s2s;
    const [connection] = h2.connections();
    // As if the binding were gone on h2's side only (a revocation crossing the stanza).
    const pair = { local: 'q2.test', remote: 'p2.test' };
    const [binding] = h2.bindingTable.pairsOf(connection!.id, 'in').filter((bound) => bound.local === pair.local && bound.remote === pair.remote);
    h2.bindingTable.unbind(pair, 'in', connection!.id);
    const receiver = shared.clients.get('q2.test')!;
    receiver.clear();
    shared.clients.get('p2.test')!.send(`<message to='u@q2.test/r' type='chat' id='unbound'><body>not bound here</body></message>`);
    const error = await shared.clients.get('p2.test')!.waitFor(/invalid-connection/, 10_000);
    assert.match(error, /<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>.*<invalid-connection xmlns=["']urn:xmpp:trellis:s2s:0["']\/>/);
    assert.equal(await exchange(shared, ['p3.test'], ['q2.test'], 'still'), 1);
    assert.doesNotMatch(receiver.received, /not bound here/);
    assert.equal(between(), 1);
    h2.bindingTable.bind(pair, 'in', connection!.id, binding!.proof);

    // The same on h1, the side that opened the connection: refused alone, the connection stays.
    const h1 = shared.h1.server.s2s;
    const [opened] = h1.connections();
    const back = { local: 'p2.test', remote: 'q2.test' };
    const [openerBinding] = h1.bindingTable.pairsOf(opened!.id, 'in').filter((bound) => bound.local === back.local && bound.remote === back.remote);
    h1.bindingTable.unbind(back, 'in', opened!.id);
    shared.clients.get('q2.test')!.send(`<message to='u@p2.test/r' type='chat' id='unbound-back'><body>not bound on the opener</body></message>`);
    assert.match(await shared.clients.get('q2.test')!.waitFor(/id=["']unbound-back["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']unbound-back["']/, 10_000), /invalid-connection/);
    assert.equal(await exchange(shared, ['q3.test'], ['p2.test'], 'still back'), 1);
    assert.equal(between(), 1);
    h1.bindingTable.bind(back, 'in', opened!.id, openerBinding!.proof);
  });

  it('revoking one pair from the admin API stops it alone; the other pairs keep flowing, and it is authorized again', async () => {
    const before = metricValue(await scrape(shared.h2), 'trellis_s2s_pair_authorizations_total', { direction: 'in', method: 'certificate' });
    const revoke = await trellisFor(shared.h2, ['s2s', 'revoke', 'q1.test', 'p1.test']);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal(revoke.stdout, 'revoked p1.test -> q1.test on 1 connection; its server may ask again\n');
    const h1 = shared.h1.server.s2s;
    const deadline = Date.now() + 5000;
    while (h1.bindingTable.route({ local: 'p1.test', remote: 'q1.test' }) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(h1.bindingTable.route({ local: 'p1.test', remote: 'q1.test' }), undefined, 'h1 stopped sending for the revoked pair');
    const others = ps.flatMap((from) => qs.filter((to) => !(from === 'p1.test' && to === 'q1.test')).map((to) => [from, to] as const));
    for (const [from, to] of others) shared.clients.get(from)!.send(`<message to='u@${to}/r' type='chat'><body>after ${from} to ${to}</body></message>`);
    await Promise.all(others.map(([from, to]) => shared.clients.get(to)!.waitFor(`after ${from} to ${to}<`, 30_000)));
    assert.equal(metricValue(await scrape(shared.h2), 'trellis_s2s_pair_authorizations_total', { direction: 'in', method: 'certificate' }), before, `${others.length} pairs flowed without asking again`);
    // The revoked pair asks again on the same connection (the certificate still proves p1.test).
    assert.equal(await exchange(shared, ['p1.test'], ['q1.test'], 'again'), 1);
    assert.equal(metricValue(await scrape(shared.h2), 'trellis_s2s_pair_authorizations_total', { direction: 'in', method: 'certificate' }), before + 1);
    assert.equal(between(), 1);
  });

  it("each host's users reach the services of the other's domains over the same connection", async () => {
    assert.equal(await askServices(shared, ps, qs), N * N * SERVICES.length);
    assert.equal(between(), 1);
    // h1 never asked for the pairs (q, muc.p): h2 asks for them on the connection h1 opened
    // (XEP-0288 section 2.2; docs/protocols/reverse-pairs.md), which h1's certificate proves muc.p for.
    assert.equal(await askServices(shared, qs, ps), N * N * SERVICES.length);
    assert.equal(between(), 1, JSON.stringify([shared.h1, shared.h2].map((host) => host.server.s2s.connections().map((row) => `${row.direction} ${row.remoteDomain} ${row.pairs.length}`))));
    const [connection] = shared.h2.server.s2s.connections();
    assert.equal(connection!.direction, 'in');
    const pairs = shared.h2.server.s2s.pairs().filter((pair) => pair.local.startsWith('q') && pair.remote.startsWith('muc.'));
    assert.equal(pairs.length, N * N);
    assert.ok(pairs.every((pair) => pair.outbound.length === 1 && pair.outbound[0]!.connection === connection!.id && pair.inbound.length === 1), JSON.stringify(pairs[0]));
  });

  it('with multiplexing off, each domain pair gets a connection of its own', async () => {
    await stopTopology(shared);
    // Every incoming connection comes from the one peer address: the per-address limits allow them.
    const limits = `limits: { s2s_per_address: ${4 * N * N}, s2s_new_connections: { per_address: ${4 * N * N} } }`;
    const separate = await startTopology('separate', '  multiplex: false', limits);
    const started = Date.now();
    // One sender domain at a time: each pair looks its peer up in DNS on its own, and 400 lookups
    // at once (1,200 queries) overwhelm the lab's resolver (remote-server-not-found, dns-failure).
    let forth = 0;
    for (const from of ps) forth += await exchange(separate, [from], qs, 'forth');
    assert.equal(forth, N * N);
    assert.equal(await exchange(separate, qs, ps, 'back'), N * N);
    const count = between();
    console.log(`# multiplexing off: ${2 * N * N} messages in ${((Date.now() - started) / 1000).toFixed(1)} s over ${count} TCP connections between the hosts`);
    // One per pair of domains, carrying it both ways (bidi is still on).
    assert.equal(count, N * N);
  });
});

async function scrape(server: TestServer): Promise<string> {
  return (await adminRequest(server.server.adminSocket!, 'GET', '/metrics')).body;
}

function metricValue(body: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = body.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && wanted.every((label) => candidate.includes(label)));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}
