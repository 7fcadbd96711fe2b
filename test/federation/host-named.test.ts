/**
 * Host-named streams and host activation between two Trellis hosts, each serving several
 * domains with a certificate per domain from the lab CA and a certificate for its own host
 * name, without DNSSEC (every domain's SRV record points at its host, unsigned):
 * - with activation on both sides, every pair of domains, both ways, is carried by one TCP
 *   connection (counted with `ss` in the namespace), each pair activated ('host-activation');
 * - with activation off on one side, nothing proves the domains on the host-named stream, and
 *   the fallback (a standard stream per domain, SASL EXTERNAL) still delivers every message;
 * - a peer whose host certificate does not prove the host name it offers gets standard streams
 *   (logged once for its host), and every message arrives.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startLabDns, type LabDns, type LabRecord } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { labHosts, type LabHosts } from '../support/lab/trellis-hosts.ts';
import type { TestServer } from '../support/server.ts';

const run = promisify(execFile);
const N = 3;
const domains = (prefix: string) => Array.from({ length: N }, (_, i) => `${prefix}${i + 1}.hn.test`);
/** host name, listening address and domains of the four hosts */
const HOSTS = {
  a: { name: 'xmpp.ha.test', address: '127.0.1.10', domains: domains('a') },
  b: { name: 'xmpp.hb.test', address: '127.0.1.11', domains: domains('b') },
  c: { name: 'xmpp.hc.test', address: '127.0.1.12', domains: domains('c') },
  d: { name: 'xmpp.hd.test', address: '127.0.1.13', domains: domains('d') },
  e: { name: 'xmpp.he.test', address: '127.0.1.14', domains: domains('e') },
  f: { name: 'xmpp.hf.test', address: '127.0.1.15', domains: domains('f') },
};
type Host = (typeof HOSTS)[keyof typeof HOSTS];

/** Established server connections between two of the hosts, counted once each: on the side that accepted it. */
async function tcpConnections(x: Host, y: Host): Promise<number> {
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', '( sport = :5269 )']);
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => line.includes(`${x.address}:5269`) || line.includes(`${y.address}:5269`)).length;
}

describe('host-named streams between two Trellis hosts, without DNSSEC', () => {
  let dns: LabDns | undefined;
  let lab: LabHosts | undefined;
  let dir = '';

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('host-named');
    const records: LabRecord[] = Object.values(HOSTS).flatMap((host) => [
      { name: host.name, type: 'A' as const, address: host.address },
      ...host.domains.map((domain): LabRecord => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV', port: 5269, target: host.name })),
    ]);
    dns = await startLabDns([{ name: 'test', records }]);
    lab = await labHosts(dir);
  });

  after(async () => {
    await lab?.stop();
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  /** Starts a host: its domains' certificates, its host certificate (from the lab CA unless `ca` is another), host-named streams on, bidi on. */
  async function start(host: Host, methods: string, ca = lab!.ca): Promise<TestServer> {
    const files = writeCertificateFiles(dir, host.name, await ca.issue({ names: [host.name] }));
    const extra = `  host_streams:
    enabled: true
    name: ${host.name}
    tls: { certificate: "${files.certFile}", key: "${files.keyFile}" }
  delegation: { methods: [${methods}] }`;
    const server = await lab!.start(host.address, await lab!.hostsYaml(Object.fromEntries(host.domains.map((domain) => [domain, []]))), extra, { bidi: true });
    await lab!.loginUsers(server, host.domains);
    return server;
  }

  /** Every sender sends to every receiver; resolves with how many arrived. */
  async function exchange(senders: string[], receivers: string[], tag: string): Promise<number> {
    const clients = lab!.clients;
    for (const from of senders) for (const to of receivers) clients.get(from)!.send(`<message to='u@${to}/r' type='chat'><body>${tag} ${from} to ${to}</body></message>`);
    const arrivals = senders.flatMap((from) => receivers.map((to) => clients.get(to)!.waitFor(`${tag} ${from} to ${to}<`, 30_000)));
    return (await Promise.all(arrivals)).length;
  }

  describe('with host activation on both sides', () => {
    let a: TestServer | undefined;

    before(async () => {
      a = await start(HOSTS.a, 'host_activation');
      await start(HOSTS.b, 'host_activation');
    });

    it('carries every pair of domains, both ways, over one TCP connection, each pair activated', async () => {
      // The first message opens the host-named connection; the rest of both sides' pairs join it.
      assert.equal(await exchange([HOSTS.a.domains[0]!], [HOSTS.b.domains[0]!], 'first'), 1);
      const [forth, back] = await Promise.all([exchange(HOSTS.a.domains, HOSTS.b.domains, 'forth'), exchange(HOSTS.b.domains, HOSTS.a.domains, 'back')]);
      assert.equal(forth + back, 2 * N * N);
      assert.equal(await tcpConnections(HOSTS.a, HOSTS.b), 1);
      const rows = a!.server.s2s.connections();
      assert.equal(rows.length, 1, JSON.stringify(rows));
      const [row] = rows;
      assert.deepEqual([row!.hostNamed, row!.remoteDomain, row!.bidi], [true, HOSTS.b.name, true]);
      const pairs = a!.server.s2s.bindingTable.pairsOf(row!.id);
      // Each of the N * N pairs is bound both ways.
      assert.equal(pairs.length, 2 * N * N, JSON.stringify(row!.domains));
      for (const pair of pairs) assert.deepEqual([pair.proof.method, pair.proof.level], ['host-activation', 'trusted'], JSON.stringify(pair));
      console.log(`# ${2 * N * N + 1} messages arrived over ${await tcpConnections(HOSTS.a, HOSTS.b)} TCP connection`);
    });
  });

  describe('with host activation off on one side', () => {
    let c: TestServer | undefined;

    before(async () => {
      c = await start(HOSTS.c, 'host_activation');
      await start(HOSTS.d, '');
    });

    it('delivers every message by the fallback: standard streams, each domain with its own certificate', async () => {
      const [forth, back] = await Promise.all([exchange(HOSTS.c.domains, HOSTS.d.domains, 'forth'), exchange(HOSTS.d.domains, HOSTS.c.domains, 'back')]);
      assert.equal(forth + back, 2 * N * N);
      const carried = c!.server.s2s.connections().flatMap((row) => c!.server.s2s.bindingTable.pairsOf(row.id).map((pair) => pair.proof.method));
      assert.ok(!carried.includes('host-activation'), JSON.stringify(carried));
      assert.ok(carried.includes('sasl-external'), JSON.stringify(carried));
      // The refusal is logged once for the peer, not once per pair.
      assert.equal(c!.logLines.filter((line) => line.includes('s2s pair refused on a shared connection') && line.includes('d1.hn.test')).length, 1);
    });
  });

  describe('with a host certificate the peer does not trust', () => {
    let e: TestServer | undefined;

    before(async () => {
      e = await start(HOSTS.e, 'host_activation');
      await start(HOSTS.f, 'host_activation', await createTestCa('Unknown CA'));
    });

    it('falls back to standard streams at once, logs it once for the host, and delivers every message', async () => {
      const [forth, back] = await Promise.all([exchange(HOSTS.e.domains, HOSTS.f.domains, 'forth'), exchange(HOSTS.f.domains, HOSTS.e.domains, 'back')]);
      assert.equal(forth + back, 2 * N * N);
      const refusals = e!.logLines.filter((line) => line.includes('s2s host-named stream not established') && line.includes(`hop=${HOSTS.f.name}:5269`));
      assert.equal(refusals.length, 1, refusals.join('\n'));
      assert.match(refusals[0]!, /does not prove the peer's host name xmpp\.hf\.test/);
      const rows = e!.server.s2s.connections();
      assert.ok(rows.every((row) => !row.hostNamed), JSON.stringify(rows));
    });
  });
});

