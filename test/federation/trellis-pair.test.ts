/**
 * Two Trellis servers in the lab with CA certificates, found through real SRV records:
 * - a.test reaches b.test over direct TLS, because b.test publishes `_xmpps-server._tcp` with a
 *   better priority than `_xmpp-server._tcp` (XEP-0368);
 * - b.test's certificate carries only the serverAuth extended key usage, as public CAs now
 *   issue them, and still authenticates b.test when it connects to a.test as a client
 *   (SASL EXTERNAL), where a.test requires the trusted level;
 * - b2.test, a second domain served by the same host and port as b.test, with a certificate
 *   naming both, is reached over the connection already open to that host (target
 *   multiplexing, XEP-0220 section 2.6.2): no second connection.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { login } from '../support/login.ts';
import type { RawClient } from '../support/raw-client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const A_ADDRESS = '127.0.0.40';
const B_ADDRESS = '127.0.0.41';

describe('Trellis and Trellis: direct TLS, serverAuth-only certificates, one connection for two domains of a host', () => {
  let dns: LabDns | undefined;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let alice: RawClient | undefined;
  let bob: RawClient | undefined;
  let carl: RawClient | undefined;
  let dir = '';

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('trellis-pair');
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          { name: '_xmpp-server._tcp.a.test', type: 'SRV', port: 5269, target: 'xmpp.a.test' },
          { name: 'xmpp.a.test', type: 'A', address: A_ADDRESS },
          { name: '_xmpps-server._tcp.b.test', type: 'SRV', priority: 5, port: 5270, target: 'xmpp.b.test' },
          { name: '_xmpp-server._tcp.b.test', type: 'SRV', priority: 10, port: 5269, target: 'xmpp.b.test' },
          { name: 'xmpp.b.test', type: 'A', address: B_ADDRESS },
          { name: '_xmpps-server._tcp.b2.test', type: 'SRV', priority: 5, port: 5270, target: 'xmpp.b.test' },
        ],
      },
    ]);
    const ca = await createTestCa();
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const aFiles = writeCertificateFiles(dir, 'a.test', await ca.issue({ names: ['a.test'] }));
    const bFiles = writeCertificateFiles(dir, 'b.test', await ca.issue({ names: ['b.test', 'b2.test'], eku: 'server' }));
    const config = (address: string, domain: string, files: { certFile: string; keyFile: string }, extra: string, otherHosts = '') => `
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${address}"], port: 5269 }
${extra}
s2s:
  min_level: trusted
  ca_files: ["${caFile}"]
  use_system_ca: false
  # One connection each way, as these tests are about who connects to whom (test/federation/bidi.test.ts has the bidi case).
  bidi: false
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
hosts:
  ${domain}:
    tls: { certificate: "${files.certFile}", key: "${files.keyFile}" }
${otherHosts}`;
    a = await startTestServer(config(A_ADDRESS, 'a.test', aFiles, ''));
    const b2Host = `  b2.test:\n    tls: { certificate: "${bFiles.certFile}", key: "${bFiles.keyFile}" }\n`;
    b = await startTestServer(config(B_ADDRESS, 'b.test', bFiles, `  s2s_direct_tls: { enabled: true, addresses: ["${B_ADDRESS}"], port: 5270 }`, b2Host));
    await a.addUser('alice', 'a.test', 'secret');
    await b.addUser('bob', 'b.test', 'secret');
    await b.addUser('carl', 'b2.test', 'secret');
    // The clients check the servers' certificates against the test CA.
    const trustingCa = (server: TestServer): TestServer => ({ ...server, certificateFile: () => caFile });
    alice = (await login(trustingCa(a), { username: 'alice', password: 'secret', domain: 'a.test', resource: 'r' })).client;
    bob = (await login(trustingCa(b), { username: 'bob', password: 'secret', domain: 'b.test', resource: 'r' })).client;
    carl = (await login(trustingCa(b), { username: 'carl', password: 'secret', domain: 'b2.test', resource: 'r' })).client;
  });

  after(async () => {
    alice?.close();
    bob?.close();
    carl?.close();
    await a?.stop();
    await b?.stop();
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  it('reaches b.test over direct TLS and authenticates with SASL EXTERNAL', async () => {
    alice!.send("<message to='bob@b.test/r' type='chat'><body>over direct TLS</body></message>");
    await bob!.waitFor('over direct TLS', 10_000);
    const link = a!.server.s2s.connections().find((row) => row.direction === 'out' && row.remoteDomain === 'b.test');
    assert.match(link?.remoteAddress ?? '', /:5270 \(direct TLS\)$/, JSON.stringify(link));
    assert.deepEqual([link?.authentication, link?.level, link?.certificate], ['sasl-external', 'trusted', 'valid']);
    const incoming = b!.server.s2s.connections().find((row) => row.direction === 'in' && row.remoteDomain === 'a.test');
    assert.deepEqual([incoming?.authentication, incoming?.level], ['sasl-external', 'trusted'], JSON.stringify(incoming));
  });

  it("accepts b.test's serverAuth-only certificate when b.test connects to it", async () => {
    bob!.send("<message to='alice@a.test/r' type='chat'><body>with a serverAuth-only certificate</body></message>");
    await alice!.waitFor('with a serverAuth-only certificate', 10_000);
    const incoming = a!.server.s2s.connections().find((row) => row.direction === 'in' && row.remoteDomain === 'b.test');
    assert.deepEqual([incoming?.authentication, incoming?.level, incoming?.certificate], ['sasl-external', 'trusted', 'valid'], JSON.stringify(incoming));
  });

  it('reaches b2.test, served by the same host and port, over the connection already open', async () => {
    alice!.send("<message to='carl@b2.test/r' type='chat'><body>over the same connection</body></message>");
    await carl!.waitFor('over the same connection', 10_000);
    const outgoing = a!.server.s2s.connections().filter((row) => row.direction === 'out');
    assert.equal(outgoing.length, 1, JSON.stringify(outgoing));
    assert.deepEqual(outgoing[0]!.domains, ['a.test -> b.test', 'a.test -> b2.test']);
    const incoming = b!.server.s2s.connections().find((row) => row.direction === 'in' && row.remoteDomain === 'a.test');
    assert.deepEqual(incoming?.domains, ['b.test <- a.test', 'b2.test <- a.test'], JSON.stringify(incoming));
  });
});
