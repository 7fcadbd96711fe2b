/**
 * Per-pair authorization on an existing connection with real DNS (nsd, ldns-signzone, a
 * validating unbound), between two Trellis hosts at `s2s.min_level: trusted`:
 * - d.dna.test, whose DNSSEC-signed SRV record points at the host name the connection's
 *   certificate names, is authorized over the connection already open (a keyless request);
 * - u.test (unsigned SRV) and broken.test (signed, signatures broken) are refused there and
 *   reach the peer by the fallback: a connection of their own with their own certificate;
 * - u2.test, unsigned too, is accepted over the shared connection where policy allows it;
 * - p.test, with an unsigned SRV record, is proven by POSH: its HTTPS server (started here)
 *   publishes the fingerprint of the connection's certificate; p2.test publishes another
 *   certificate's and goes by the fallback;
 * - revoking one pair stops only that pair; a stanza for a pair not bound to the connection
 *   it arrives on is not delivered and its sender gets <invalid-connection/>.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { fingerprintsDocument } from '../../src/delegation/posh-document.ts';
import { after, before, describe, it } from 'node:test';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { labHosts, type LabHosts } from '../support/lab/trellis-hosts.ts';
import type { RawClient } from '../support/raw-client.ts';
import type { TestServer } from '../support/server.ts';

const H1_ADDRESS = '127.0.0.62';
const H2_ADDRESS = '127.0.0.63';
/** the web server of p.test and p2.test, for their POSH documents */
const WEB_ADDRESS = '127.0.0.64';
const HOST = 'xmpp.h1.dna.test';
const srv = (domain: string, target = HOST) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target });

describe('per-pair authorization on one connection, proven by DNSSEC-signed SRV records or POSH, with the fallback', () => {
  let dns: LabDns | undefined;
  let lab: LabHosts | undefined;
  let web: Server | undefined;
  let h1: TestServer | undefined;
  let h2: TestServer | undefined;
  let clients = new Map<string, RawClient>();
  let dir = '';

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('pair-delegation');
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          ...['a.test', 'u.test', 'u2.test', 'p.test', 'p2.test'].map((domain) => srv(domain)),
          srv('b.test', 'xmpp.h2.test'),
          { name: 'xmpp.h2.test', type: 'A', address: H2_ADDRESS },
          { name: 'p.test', type: 'A', address: WEB_ADDRESS },
          { name: 'p2.test', type: 'A', address: WEB_ADDRESS },
        ],
      },
      { name: 'dna.test', signed: true, records: [srv('d.dna.test'), { name: HOST, type: 'A', address: H1_ADDRESS }] },
      { name: 'broken.test', signed: true, brokenSignatures: true, records: [srv('broken.test')] },
    ]);
    lab = await labHosts(dir);
    // a.test's certificate also names the host: the name delegated domains' SRV records point at.
    h1 = await lab.start(H1_ADDRESS, await lab.hostsYaml({ 'a.test': [HOST], 'd.dna.test': [], 'u.test': [], 'u2.test': [], 'broken.test': [], 'p.test': [], 'p2.test': [] }));
    // RFC 7711 section 3: p.test vouches for a.test's certificate, p2.test for another one.
    const der = (domain: string) => new X509Certificate(lab!.certificates.get(domain)!.certPem).raw;
    const documents = new Map([
      ['p.test', fingerprintsDocument([der('a.test')], 3600)],
      ['p2.test', fingerprintsDocument([der('u.test')], 3600)],
    ]);
    const site = await lab.ca.issue({ names: ['p.test', 'p2.test'] });
    web = createServer({ cert: site.certPem, key: site.keyPem }, (request, response) => {
      const document = request.url === '/.well-known/posh/xmpp-server.json' ? documents.get(request.headers.host ?? '') : undefined;
      response.writeHead(document ? 200 : 404, { 'content-type': 'application/json' });
      response.end(document ?? '');
    });
    web.listen(443, WEB_ADDRESS);
    await once(web, 'listening');
    const delegation = `  peers: { u2.test: { level: encrypted } }
  delegation:
    methods: [dnssec_srv, dane, posh]
    resolvers: ["${LAB_RESOLVER_ADDRESS}"]
    accept_unsigned_srv: [u2.test]
    posh: { ca_files: ["${lab.caFile}"], use_system_ca: false, timeout: 5 }`;
    h2 = await lab.start(H2_ADDRESS, await lab.hostsYaml({ 'b.test': [] }), delegation);
    await lab.loginUsers(h1, ['a.test', 'd.dna.test', 'u.test', 'u2.test', 'broken.test', 'p.test', 'p2.test']);
    await lab.loginUsers(h2, ['b.test']);
    clients = lab.clients;
  });

  after(async () => {
    await lab?.stop();
    web?.closeAllConnections();
    if (web) await new Promise((resolve) => web!.close(resolve));
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  const send = (from: string, to: string, body: string) => clients.get(from)!.send(`<message to='u@${to}/r' type='chat'><body>${body}</body></message>`);
  const outgoing = () => h1!.server.s2s.connections().filter((row) => row.direction === 'out' && row.remoteDomain === 'b.test');
  /** how H2 bound a pair from H1 inbound, and on which connection */
  const inbound = (remote: string) =>
    h2!.server.s2s.connections().flatMap((row) => h2!.server.s2s.bindingTable.pairsOf(row.id, 'in').filter((pair) => pair.remote === remote).map((pair) => ({ id: row.id, ...pair.proof })));

  it('opens one connection for a.test, authenticated by its certificate', async () => {
    send('a.test', 'b.test', 'first from a');
    await clients.get('b.test')!.waitFor('first from a', 10_000);
    assert.equal(outgoing().length, 1);
  });

  it('authorizes d.dna.test over that connection: its SRV record is signed and points at a name the certificate proves', async () => {
    send('d.dna.test', 'b.test', 'from the delegated domain');
    await clients.get('b.test')!.waitFor('from the delegated domain', 10_000);
    assert.equal(outgoing().length, 1, JSON.stringify(outgoing()));
    assert.deepEqual(outgoing()[0]!.domains, ['a.test -> b.test', 'd.dna.test -> b.test']);
    const [proof] = inbound('d.dna.test');
    assert.deepEqual([proof?.method, proof?.level, proof?.id], ['dnssec-srv', 'trusted', inbound('a.test')[0]?.id]);
  });

  it('refuses an unsigned SRV record there; the fallback delivers over a connection of its own', async () => {
    send('u.test', 'b.test', 'from the unsigned domain');
    await clients.get('b.test')!.waitFor('from the unsigned domain', 15_000);
    assert.deepEqual(inbound('u.test').map((proof) => proof.method), ['sasl-external']);
    assert.equal(outgoing().length, 2);
  });

  it('refuses a broken signature there too; the fallback delivers', async () => {
    send('broken.test', 'b.test', 'from the broken zone');
    await clients.get('b.test')!.waitFor('from the broken zone', 15_000);
    assert.deepEqual(inbound('broken.test').map((proof) => proof.method), ['sasl-external']);
    assert.equal(outgoing().length, 3);
  });

  it('accepts an unsigned SRV record over the shared connection where policy allows it', async () => {
    send('u2.test', 'b.test', 'allowed unsigned');
    await clients.get('b.test')!.waitFor('allowed unsigned', 10_000);
    assert.deepEqual(inbound('u2.test').map((proof) => [proof.method, proof.level, proof.id]), [['unsigned-srv', 'encrypted', inbound('a.test')[0]?.id]]);
    assert.equal(outgoing().length, 3);
  });

  it('authorizes p.test over the shared connection by POSH; p2.test, whose document names another certificate, goes by the fallback', async () => {
    send('p.test', 'b.test', 'proven by POSH');
    await clients.get('b.test')!.waitFor('proven by POSH', 10_000);
    assert.deepEqual(inbound('p.test').map((proof) => [proof.method, proof.level, proof.id]), [['posh', 'trusted', inbound('a.test')[0]?.id]]);
    send('p2.test', 'b.test', 'POSH mismatch');
    await clients.get('b.test')!.waitFor('POSH mismatch', 15_000);
    assert.deepEqual(inbound('p2.test').map((proof) => proof.method), ['sasl-external']);
    assert.equal(outgoing().length, 4);
  });

  it('revoking one pair stops only that pair, until it is authorized again', async () => {
    assert.equal(h2!.server.s2s.revokePair({ local: 'b.test', remote: 'd.dna.test' }), 1);
    const deadline = Date.now() + 5000;
    while (outgoing()[0]?.domains.includes('d.dna.test -> b.test') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(outgoing()[0]!.domains, ['a.test -> b.test', 'u2.test -> b.test', 'p.test -> b.test']);
    send('a.test', 'b.test', 'a still flows');
    await clients.get('b.test')!.waitFor('a still flows', 10_000);
    send('d.dna.test', 'b.test', 'd again');
    await clients.get('b.test')!.waitFor('d again', 10_000);
    assert.equal(outgoing().length, 4);
  });

  it('a stanza for a pair not bound to its connection is not delivered; its sender gets invalid-connection', async () => {
    // b.test -> d.dna.test is bound the other way, for the error to travel back on.
    send('b.test', 'd.dna.test', 'hello d');
    await clients.get('d.dna.test')!.waitFor('hello d', 10_000);
    const [binding] = inbound('d.dna.test');
    h2!.server.s2s.bindingTable.unbind({ local: 'b.test', remote: 'd.dna.test' }, 'in', binding!.id);
    const bob = clients.get('b.test')!;
    bob.clear();
    send('d.dna.test', 'b.test', 'not bound here');
    const error = await clients.get('d.dna.test')!.waitFor(/invalid-connection/, 10_000);
    // RFC 6120 section 8.3.2: the defined condition, the text, then the application condition.
    assert.match(error, /<error type=["']cancel["'] code=["']401["']><not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/><text [^>]*>[^<]*<\/text><invalid-connection xmlns=["']urn:xmpp:trellis:s2s:0["']\/><\/error>/);
    assert.doesNotMatch(bob.received, /not bound here/);
    send('a.test', 'b.test', 'the connection lives');
    await bob.waitFor('the connection lives', 10_000);
  });
});
