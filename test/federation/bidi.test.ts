/**
 * Bidirectional server connections (XEP-0288) in the lab, counted from the sockets: hosts that
 * each serve two domains (one certificate naming both), every one of the four domain pairs
 * sending a message each way, first one pair, then the other three, then the answers. Counted
 * as the established TCP connections to either server's port 5269, with nothing else talking to
 * those addresses at the time:
 * - Trellis and Trellis, bidi on: one connection; with bidi off on one side: two;
 * - Trellis and Prosody 0.12 with mod_s2s_bidi, against a Prosody without it (Prosody opens a
 *   stream per pair and sends back over one only for the reverse of its own pair);
 * - Prosody and Prosody, both with mod_s2s_bidi, for comparison.
 * The counts are printed at the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { exchangeMessages, type LabAccount, type LabMessage } from '../support/lab/client.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns, type LabRecord } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import type { RunningPeer } from '../support/lab/peer.ts';
import { makeScratchDir, removeScratchDir, tail } from '../support/lab/process.ts';
import { startProsody } from '../support/lab/prosody.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const PASSWORD = 'lab-password';

interface Host {
  /** the host's name, "t": its domains are t1.test and t2.test, its SRV target xmpp.t.test */
  name: string;
  address: string;
}

const TRELLIS: Host = { name: 't', address: '127.0.0.60' };
const PROSODY_BIDI: Host = { name: 'p', address: '127.0.0.61' };
const TRELLIS_OTHER: Host = { name: 'u', address: '127.0.0.62' };
const PROSODY_OTHER: Host = { name: 'q', address: '127.0.0.63' };
const PROSODY_PLAIN: Host = { name: 'o', address: '127.0.0.66' };
const HOSTS = [TRELLIS, PROSODY_BIDI, TRELLIS_OTHER, PROSODY_OTHER, PROSODY_PLAIN];

const domains = (host: Host): string[] => [`${host.name}1.test`, `${host.name}2.test`];
const jid = (domain: string): string => `user@${domain}`;

/** Established TCP connections to port 5269 of either address: one client end per connection. */
function connectionsBetween(a: Host, b: Host): number {
  const result = spawnSync('ss', ['-tnH', 'state', 'established', `( dst ${a.address}:5269 or dst ${b.address}:5269 )`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss failed: ${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line.trim() !== '').length;
}

async function settledCount(a: Host, b: Host): Promise<number> {
  // Connections opened only to check a dialback key may still be on their way up.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return connectionsBetween(a, b);
}

describe('bidirectional server connections (XEP-0288), counted', () => {
  let dns: LabDns | undefined;
  let dir = '';
  let caFile = '';
  const files = new Map<string, { certFile: string; keyFile: string }>();
  const prosodies = new Map<Host, RunningPeer>();
  const trellises: TestServer[] = [];
  const counts: string[] = [];

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('bidi');
    const records: LabRecord[] = HOSTS.flatMap((host) => [
      { name: `xmpp.${host.name}.test`, type: 'A' as const, address: host.address },
      ...domains(host).map((domain) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target: `xmpp.${host.name}.test` })),
    ]);
    dns = await startLabDns([{ name: 'test', records }]);
    const ca = await createTestCa();
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    for (const host of HOSTS) files.set(host.name, writeCertificateFiles(dir, host.name, await ca.issue({ names: domains(host) })));
    const prosody = async (host: Host, bidi: boolean) => {
      const running = await startProsody({
        address: host.address,
        domains: domains(host).map((domain) => ({ domain, ...files.get(host.name)! })),
        caFile,
        bidi,
        users: domains(host).map((domain) => ({ user: 'user', domain, password: PASSWORD })),
      });
      prosodies.set(host, running);
    };
    await Promise.all([prosody(PROSODY_BIDI, true), prosody(PROSODY_OTHER, true), prosody(PROSODY_PLAIN, false)]);
  });

  after(async () => {
    if (counts.length > 0) console.log(`# connections for 2 x 2 domain pairs, both ways:\n${counts.map((line) => `#   ${line}`).join('\n')}`);
    for (const server of trellises) await server.stop();
    await Promise.all([...prosodies.values()].map((peer) => peer.stop()));
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  async function startTrellis(host: Host, bidi: boolean): Promise<TestServer> {
    const { certFile, keyFile } = files.get(host.name)!;
    const server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["${host.address}"], port: 5222 }
  s2s: { addresses: ["${host.address}"], port: 5269 }
s2s:
  min_level: trusted
  ca_files: ["${caFile}"]
  use_system_ca: false
  bidi: ${bidi}
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
hosts:
${domains(host).map((domain) => `  ${domain}:\n    tls: { certificate: "${certFile}", key: "${keyFile}" }\n`).join('')}`);
    trellises.push(server);
    for (const domain of domains(host)) await server.addUser('user', domain, PASSWORD);
    return server;
  }

  async function stopTrellis(server: TestServer): Promise<void> {
    trellises.splice(trellises.indexOf(server), 1);
    await server.stop();
  }

  /** Runs a scenario; the Trellis servers it started stop however it ends. */
  async function scenario(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } finally {
      await Promise.all([...trellises].map(stopTrellis));
    }
  }

  function diagnostics(servers: TestServer[], peers: Host[]): string {
    const logs = peers.map((host) => `--- Prosody ${host.name} ---\n${tail(prosodies.get(host)!.logFile, 40)}`);
    return [...logs, ...servers.map((server) => `--- Trellis ---\n${server.logLines.slice(-40).join('\n')}`)].join('\n');
  }

  /**
   * Every pair of domains of `a` and `b` exchanges a message each way: first a1 -> b1, then the
   * other pairs from a, then b1 -> a1, then the other answers from b (one connection attempt
   * per next hop at a time: a domain's first stanzas wait for the connection to its host).
   * Returns the connections counted afterwards.
   */
  async function exchangeAll(a: Host, b: Host, onFailure: () => string): Promise<number> {
    assert.equal(connectionsBetween(a, b), 0, 'nothing connected before');
    const accounts: LabAccount[] = [a, b].flatMap((host) => domains(host).map((domain) => ({ jid: jid(domain), password: PASSWORD, host: host.address, caFile })));
    const message = (from: string, to: string): LabMessage => ({ from: jid(from), to: jid(to), body: `${from} to ${to}` });
    const forward = domains(a).flatMap((from) => domains(b).map((to) => message(from, to)));
    const back = domains(b).flatMap((from) => domains(a).map((to) => message(from, to)));
    for (const messages of [forward.slice(0, 1), forward.slice(1), back.slice(0, 1), back.slice(1)]) {
      const result = await exchangeMessages(accounts, messages);
      assert.ok(result.ok, `${result.error}\n${onFailure()}`);
    }
    return settledCount(a, b);
  }

  /** Waits until the connections of the last scenario are gone. */
  async function disconnected(a: Host, b: Host): Promise<void> {
    for (let attempt = 0; attempt < 50 && connectionsBetween(a, b) > 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  it('Trellis and Trellis: one connection with bidi, two without', () => scenario(async () => {
    let [t, u] = await Promise.all([startTrellis(TRELLIS, true), startTrellis(TRELLIS_OTHER, true)]);
    const withBidi = await exchangeAll(TRELLIS, TRELLIS_OTHER, () => diagnostics([t, u], []));
    counts.push(`Trellis <-> Trellis, bidi: ${withBidi}`);
    const [row] = t.server.s2s.connections();
    assert.equal(withBidi, 1, JSON.stringify([t.server.s2s.connections(), u.server.s2s.connections()]));
    assert.equal(row?.bidi, true);
    assert.equal(row?.domains.length, 8, JSON.stringify(row));
    await Promise.all([stopTrellis(t), stopTrellis(u)]);
    await disconnected(TRELLIS, TRELLIS_OTHER);
    [t, u] = await Promise.all([startTrellis(TRELLIS, true), startTrellis(TRELLIS_OTHER, false)]);
    const withoutBidi = await exchangeAll(TRELLIS, TRELLIS_OTHER, () => diagnostics([t, u], []));
    counts.push(`Trellis <-> Trellis, bidi off on one side: ${withoutBidi}`);
    assert.equal(withoutBidi, 2);
    assert.ok(t.server.s2s.connections().every((connection) => !connection.bidi));
  }));

  it('Trellis and Prosody with mod_s2s_bidi: fewer connections than with a Prosody without it', () => scenario(async () => {
    await disconnected(TRELLIS, PROSODY_BIDI);
    let t = await startTrellis(TRELLIS, true);
    const withBidi = await exchangeAll(TRELLIS, PROSODY_BIDI, () => diagnostics([t], [PROSODY_BIDI]));
    const links = await prosodies.get(PROSODY_BIDI)!.s2sConnections();
    counts.push(`Trellis <-> Prosody, bidi: ${withBidi} (Prosody: ${links.map((link) => `${link.localDomain} ${link.direction} ${link.remoteDomain}`).join(', ')})`);
    assert.ok(links.some((link) => link.direction === 'bidirectional'), JSON.stringify(links));
    assert.ok(t.server.s2s.connections().some((connection) => connection.bidi));
    await stopTrellis(t);
    await disconnected(TRELLIS, PROSODY_PLAIN);
    t = await startTrellis(TRELLIS, true);
    const withoutBidi = await exchangeAll(TRELLIS, PROSODY_PLAIN, () => diagnostics([t], [PROSODY_PLAIN]));
    counts.push(`Trellis <-> Prosody without mod_s2s_bidi: ${withoutBidi}`);
    assert.ok(t.server.s2s.connections().every((connection) => !connection.bidi), 'no bidi with a peer that does not offer it');
    assert.ok(withBidi < withoutBidi, `bidi ${withBidi}, without ${withoutBidi}`);
  }));

  it('Prosody and Prosody, both with mod_s2s_bidi, for comparison', async () => {
    await disconnected(PROSODY_BIDI, PROSODY_OTHER);
    const count = await exchangeAll(PROSODY_BIDI, PROSODY_OTHER, () => diagnostics([], [PROSODY_BIDI, PROSODY_OTHER]));
    counts.push(`Prosody <-> Prosody, bidi: ${count}`);
    assert.ok(count > 0);
  });
});
