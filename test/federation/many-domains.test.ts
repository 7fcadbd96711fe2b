/**
 * Two Trellis hosts that each serve several domains, every domain with its own CA-issued
 * certificate naming only itself, at `s2s.min_level: trusted`: every pair of domains exchanges
 * a message both ways, and all of them arrive. A local domain whose pair the peer refuses on a
 * connection opened for another local domain (dialback cannot meet `trusted`) gets a connection
 * of its own presenting its own certificate (SASL EXTERNAL). A domain named by the certificate
 * already presented (a multi-name certificate) reuses the connection.
 *
 * MANY_DOMAINS=10 runs it with ten domains a side (the figures in the commit that fixed it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLabDns, type LabDns, type LabRecord } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { labHosts, type LabHosts } from '../support/lab/trellis-hosts.ts';
import type { RawClient } from '../support/raw-client.ts';
import type { TestServer } from '../support/server.ts';

const H1_ADDRESS = '127.0.0.60';
const H2_ADDRESS = '127.0.0.61';
const N = Number(process.env.MANY_DOMAINS ?? 5);
const ps = Array.from({ length: N }, (_, i) => `p${i + 1}.test`);
const qs = Array.from({ length: N }, (_, i) => `q${i + 1}.test`);

describe(`two hosts serving ${N} domains each, each domain with its own certificate, at the trusted level`, () => {
  let dns: LabDns | undefined;
  let lab: LabHosts | undefined;
  let h1: TestServer | undefined;
  let h2: TestServer | undefined;
  let clients = new Map<string, RawClient>();
  let dir = '';

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('many-domains');
    const records: LabRecord[] = [
      { name: 'xmpp.h1.test', type: 'A', address: H1_ADDRESS },
      { name: 'xmpp.h2.test', type: 'A', address: H2_ADDRESS },
      ...ps.map((domain): LabRecord => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV', port: 5269, target: 'xmpp.h1.test' })),
      ...qs.map((domain): LabRecord => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV', port: 5269, target: 'xmpp.h2.test' })),
      // pm.test shares p1.test's certificate (it names both): its pairs reuse p1.test's connections.
      { name: '_xmpp-server._tcp.pm.test', type: 'SRV', port: 5269, target: 'xmpp.h1.test' },
    ];
    dns = await startLabDns([{ name: 'test', records }]);
    lab = await labHosts(dir);
    const h1Hosts = await lab.hostsYaml(Object.fromEntries(ps.map((domain) => [domain, domain === 'p1.test' ? ['pm.test'] : []])));
    // pm.test is served with p1.test's certificate.
    h1 = await lab.start(H1_ADDRESS, h1Hosts.replace(/  p1\.test:\n(.*\n)/, (entry, tls: string) => `${entry}  pm.test:\n${tls}`));
    h2 = await lab.start(H2_ADDRESS, await lab.hostsYaml(Object.fromEntries(qs.map((domain) => [domain, []]))));
    await lab.loginUsers(h1, [...ps, 'pm.test']);
    await lab.loginUsers(h2, qs);
    clients = lab.clients;
  });

  after(async () => {
    await lab?.stop();
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  /** Every sender sends to every receiver; resolves with how many arrived within the time. */
  async function exchange(senders: string[], receivers: string[], tag: string): Promise<number> {
    for (const from of senders) for (const to of receivers) clients.get(from)!.send(`<message to='u@${to}/r' type='chat'><body>${tag} ${from} to ${to}</body></message>`);
    let arrived = 0;
    await Promise.all(
      senders.flatMap((from) =>
        receivers.map(async (to) => {
          await clients.get(to)!.waitFor(`${tag} ${from} to ${to}<`, 30_000);
          arrived++;
        }),
      ),
    );
    return arrived;
  }

  /** TCP connections between the two hosts, counted on h1 (each is one row there). */
  const connections = () => h1!.server.s2s.connections().length;

  it('delivers every message of every pair, both ways', async () => {
    const [forth, back] = await Promise.all([exchange(ps, qs, 'forth'), exchange(qs, ps, 'back')]);
    assert.equal(forth + back, 2 * N * N);
    const rows = h1!.server.s2s.connections();
    for (const row of rows) assert.deepEqual([row.authentication, row.level], ['sasl-external', 'trusted'], JSON.stringify(row));
    // One connection each way for every pair of domains: no certificate covers two of them.
    assert.equal(connections(), 2 * N * N, JSON.stringify(rows.map((row) => row.domains)));
    console.log(`# ${2 * N * N} messages arrived over ${connections()} TCP connections`);
  });

  it("reuses p1.test's connections for pm.test, which p1.test's certificate also names", async () => {
    const before = h1!.server.s2s.connections().filter((row) => row.direction === 'out').length;
    assert.equal(await exchange(['pm.test'], qs, 'shared'), N);
    const outgoing = h1!.server.s2s.connections().filter((row) => row.direction === 'out');
    assert.equal(outgoing.length, before, JSON.stringify(outgoing.map((row) => row.domains)));
    assert.ok(outgoing.some((row) => row.domains.includes('p1.test -> q1.test') && row.domains.includes('pm.test -> q1.test')), JSON.stringify(outgoing.map((row) => row.domains)));
  });
});
