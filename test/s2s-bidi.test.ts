/**
 * Bidirectional server connections (XEP-0288) at the byte level, Trellis as the receiving
 * server: a peer that authenticates with its certificate (SASL EXTERNAL) after asking for bidi
 * gets Trellis's stanzas for the reverse pair on its own connection, with no connection back and
 * no DNS; the feature is offered only after TLS where TLS is required; with `s2s.bidi: false`
 * nothing changes; when the connection closes, both directions' bindings go.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa, writeCertificateFiles, type CertificateAndKey } from './support/lab/ca.ts';
import { login } from './support/login.ts';
import { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const HEADER = "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='a.test' from='b.test' version='1.0'>";
const BIDI_FEATURE = /<bidi xmlns=["']urn:xmpp:features:bidi["']\/>/;

describe('bidirectional server connections, Trellis receiving', () => {
  let dir = '';
  let caFile = '';
  let peerIdentity: CertificateAndKey;
  const servers: TestServer[] = [];
  /** a resolver that never answers: a stanza for b.test waits in its queue while b.test is looked up */
  let silentDns: UdpSocket;

  before(async () => {
    silentDns = createSocket('udp4');
    await new Promise<void>((resolve) => silentDns.bind(0, '127.0.0.1', resolve));
    dir = mkdtempSync(join(tmpdir(), 'trellis-bidi-'));
    const ca = await createTestCa();
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    peerIdentity = await ca.issue({ names: ['b.test'] });
    const files = writeCertificateFiles(dir, 'a.test', await ca.issue({ names: ['a.test'] }));
    for (const bidi of [true, false]) {
      const server = await startTestServer(`
s2s: { min_level: trusted, ca_files: ["${caFile}"], use_system_ca: false, bidi: ${bidi} }
dns: { servers: ["127.0.0.1:${silentDns.address().port}"], timeout: 10 }
hosts:
  a.test:
    tls: { certificate: "${files.certFile}", key: "${files.keyFile}" }
`);
      await server.addUser('alice', 'a.test', 'secret');
      servers.push(server);
    }
  });

  after(async () => {
    for (const server of servers) await server.stop();
    silentDns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A peer claiming b.test: header, STARTTLS with its certificate, the features after TLS. */
  async function peer(server: TestServer): Promise<{ client: RawClient; before: string; features: string }> {
    const client = await RawClient.connect(server.server.listening.s2s[0]!.port);
    client.send(HEADER);
    const before = await client.waitFor('</stream:features>');
    client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await client.waitFor('<proceed');
    await client.startTls(undefined, 'a.test', { cert: peerIdentity.certPem, key: peerIdentity.keyPem });
    client.send(HEADER);
    const features = await client.waitFor('</stream:features>');
    client.clear();
    return { client, before, features };
  }

  async function authenticate(client: RawClient): Promise<void> {
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    await client.waitFor('<success');
    client.clear();
    client.send(HEADER);
    await client.waitFor('</stream:features>');
    client.clear();
  }

  const alice = async (server: TestServer) => (await login({ ...server, certificateFile: () => caFile }, { username: 'alice', password: 'secret', domain: 'a.test', resource: 'r' })).client;
  const row = (server: TestServer) => server.server.s2s.connections().find((connection) => connection.direction === 'in');

  test('offered after TLS only; the reverse pair is sent on the same connection once the peer authenticated', async () => {
    const server = servers[0]!;
    const { client, before, features } = await peer(server);
    // TLS is required (trusted level): the first features offer STARTTLS alone.
    assert.doesNotMatch(before, BIDI_FEATURE);
    assert.match(features, BIDI_FEATURE);
    client.send("<bidi xmlns='urn:xmpp:bidi'/>");
    await server.waitForLog('s2s incoming bidirectional (XEP-0288)');
    // Not authenticated yet: nothing is bound either way, and a stanza for b.test waits (for DNS).
    assert.deepEqual([row(server)?.bidi, row(server)?.domains], [true, []]);
    const user = await alice(server);
    user.send("<message to='bob@b.test/x' id='early' type='chat'><body>waited for you</body></message>");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // SASL EXTERNAL: the waiting stanza comes after our new stream header, never between <success/> and it.
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    await client.waitFor('<success');
    client.send(HEADER);
    const restarted = await client.waitFor('waited for you');
    assert.match(restarted, /<success[^>]*\/>(<\?xml[^?]*\?>)?<stream:stream [^>]*>\s*<stream:features>.*<\/stream:features>\s*<message /s);
    client.clear();
    assert.deepEqual(row(server)?.domains, ['a.test <- b.test', 'a.test -> b.test']);
    user.send("<message to='bob@b.test/x' id='out1' type='chat'><body>back over your connection</body></message>");
    assert.match(await client.waitFor('back over your connection'), /from=["']alice@a\.test\/r["'][^>]*to=["']bob@b\.test\/x["']|to=["']bob@b\.test\/x["'][^>]*from=["']alice@a\.test\/r["']/);
    client.send("<message from='bob@b.test/x' to='alice@a.test/r' type='chat'><body>and the usual way</body></message>");
    await user.waitFor('and the usual way');
    assert.equal(server.server.s2s.connections().length, 1, 'no connection back to b.test');
    // At log.level debug each step of the negotiation is in the log: features offered, elements handled, answers sent.
    await server.waitForLog('s2s incoming offered features', 'starttls');
    await server.waitForLog('s2s incoming offered features', 'bidi');
    await server.waitForLog('s2s negotiation step handles an element', 'step=sasl-external', '<auth xmlns=urn:ietf:params:xml:ns:xmpp-sasl> mechanism=EXTERNAL');
    await server.waitForLog('s2s incoming sent', '<success xmlns=urn:ietf:params:xml:ns:xmpp-sasl>');
    // Closed: both directions' bindings go; the next stanza for b.test needs a connection of its own.
    client.close();
    await server.waitForLog('s2s incoming connection closed');
    assert.equal(server.server.s2s.bindingTable.route({ local: 'a.test', remote: 'b.test' }), undefined);
    assert.equal(server.server.s2s.connections().filter((connection) => connection.direction === 'in').length, 0);
    user.close();
  });

  test('turned off: not offered, a request is not enabled, the connection stays one-way', async () => {
    const server = servers[1]!;
    const { client, features } = await peer(server);
    assert.doesNotMatch(features, BIDI_FEATURE);
    client.send("<bidi xmlns='urn:xmpp:bidi'/>");
    await authenticate(client);
    assert.deepEqual([row(server)?.bidi, row(server)?.domains], [false, ['a.test <- b.test']]);
    assert.equal(server.server.s2s.bindingTable.route({ local: 'a.test', remote: 'b.test' }), undefined);
    client.close();
  });
});
