/**
 * Trellis federating with Prosody, ejabberd and jabberd2 from Debian, inside the lab namespace: real DNS
 * (SRV records from a lab nsd through a validating unbound), a test CA, and real clients
 * (slixmpp) on every server. Both directions with each peer: a message, a presence
 * subscription ending in `both`, and an IQ round trip, over two kinds of link:
 * - trusted: CA certificates on both sides, SASL EXTERNAL;
 * - encrypted: Trellis's side self-signed, so the peers fall back to dialback over TLS.
 * Then the downgrade rules: a domain configured as trusted refuses a peer that can only do
 * dialback, in both directions. And an ejabberd domain with a self-signed certificate, which
 * reaches Trellis's CA-certified domain by dialback: Trellis checks its key over its own
 * stream to ejabberd while authenticating there with SASL EXTERNAL.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, selfSigned, writeCertificateFiles } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { startEjabberd } from '../support/lab/ejabberd.ts';
import { startJabberd2 } from '../support/lab/jabberd2.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { labDiagnostics, type RunningPeer, type S2sConnection } from '../support/lab/peer.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { startProsody } from '../support/lab/prosody.ts';
import { startDriver, type ClientDriver } from '../support/client-driver.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'im_driver.py');
const PASSWORD = 'lab-password';

const TRELLIS_ADDRESS = '127.0.0.20';
const PROSODY_ADDRESS = '127.0.0.21';
const EJABBERD_ADDRESS = '127.0.0.22';
const JABBERD2_ADDRESS = '127.0.0.23';
/** Trellis's domain with a CA certificate: trusted links */
const TRUSTED = 'tr.test';
/** Trellis's domain with a self-signed certificate: the peers must use dialback */
const SELF_SIGNED = 'trself.test';
/** a Prosody domain with a self-signed certificate, which Trellis is told to trust only with a CA certificate */
const PROSODY_SELF_SIGNED = 'prosself.test';
/** an ejabberd domain with a self-signed certificate, on the same ejabberd */
const EJABBERD_SELF_SIGNED = 'ejself.sec.test';

interface Peer {
  name: string;
  domain: string;
  address: string;
  /** the account its client logs in with */
  user: string;
  /** the strongest SASL mechanism its c2s offers */
  mechanism: string;
  /**
   * How the links authenticate when both sides hold CA certificates: Trellis's incoming and
   * outgoing link, and what the peer reports for its own.
   */
  trusted: { in: string; out: string; peer: 'sasl-external' | 'dialback' };
  running?: RunningPeer;
}

const SASL_EXTERNAL = { in: 'sasl-external', out: 'sasl-external', peer: 'sasl-external' } as const;

const PEERS: Peer[] = [
  { name: 'Prosody', domain: 'pros.test', address: PROSODY_ADDRESS, user: 'pat', mechanism: 'SCRAM-SHA-1', trusted: SASL_EXTERNAL },
  { name: 'ejabberd', domain: 'ej.sec.test', address: EJABBERD_ADDRESS, user: 'eve', mechanism: 'SCRAM-SHA-1', trusted: SASL_EXTERNAL },
  // jabberd2 2.7 does STARTTLS and dialback only on s2s, and PLAIN or DIGEST-MD5 on c2s. Its
  // dialback requests to us are accepted on its certificate (XEP-0344); ours it checks by
  // calling back.
  { name: 'jabberd2', domain: 'jab.test', address: JABBERD2_ADDRESS, user: 'jay', mechanism: 'PLAIN', trusted: { in: 'certificate', out: 'dialback', peer: 'dialback' } },
];

describe('federation with Prosody, ejabberd and jabberd2', () => {
  let dns: LabDns | undefined;
  let trellis: TestServer | undefined;
  let dir = '';
  let caFile = '';
  let clientCaFile = '';
  const clients: ClientDriver[] = [];

  /** Trellis's users log in as slixmpp chooses, with channel binding; Prosody 0.12 offers SCRAM-SHA-1 only, so the peers' users log in with it. */
  async function client(jid: string, host: string, port: number, mechanism = 'SCRAM-SHA-256-PLUS'): Promise<ClientDriver> {
    const driver = await startDriver(`slixmpp ${jid}`, '/usr/bin/python3', [DRIVER, jid, PASSWORD, host, String(port), clientCaFile, mechanism]);
    clients.push(driver);
    await driver.ok({ op: 'get_roster' });
    await driver.ok({ op: 'presence' });
    return driver;
  }

  const onTrellis = (jid: string) => client(jid, TRELLIS_ADDRESS, 5222);
  const onPeer = (peer: Peer, jid: string) => client(jid, peer.address, 5222, peer.mechanism);

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('interop');
    const srv = (domain: string, target: string) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target });
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          srv(TRUSTED, 'xmpp.tr.test'),
          srv(SELF_SIGNED, 'xmpp.tr.test'),
          { name: 'xmpp.tr.test', type: 'A', address: TRELLIS_ADDRESS },
          srv('pros.test', 'xmpp.pros.test'),
          srv(PROSODY_SELF_SIGNED, 'xmpp.pros.test'),
          { name: 'xmpp.pros.test', type: 'A', address: PROSODY_ADDRESS },
          srv('jab.test', 'xmpp.jab.test'),
          { name: 'xmpp.jab.test', type: 'A', address: JABBERD2_ADDRESS },
        ],
      },
      {
        name: 'sec.test',
        signed: true,
        records: [srv('ej.sec.test', 'ej.sec.test'), srv(EJABBERD_SELF_SIGNED, 'ej.sec.test'), { name: 'ej.sec.test', type: 'A', address: EJABBERD_ADDRESS }],
      },
    ]);
    const ca = await createTestCa();
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const issued = async (domain: string, key?: 'rsa') => ({ domain, ...writeCertificateFiles(dir, domain, await ca.issue({ names: [domain], srvNames: [`_xmpp-server.${domain}`], key })) });
    // jabberd2 gets an RSA 4096 certificate, as many servers have: a session ticket that embeds
    // it is over a kilobyte, which made jabberd2 reconnect in a loop (src/net/tls-contexts.ts).
    const [trusted, prosody, ejabberd, jabberd2] = await Promise.all([issued(TRUSTED), issued('pros.test'), issued('ej.sec.test'), issued('jab.test', 'rsa')]);
    const prosodySelfSigned = { domain: PROSODY_SELF_SIGNED, ...writeCertificateFiles(dir, PROSODY_SELF_SIGNED, await selfSigned(PROSODY_SELF_SIGNED)) };
    const ejabberdSelfSigned = { domain: EJABBERD_SELF_SIGNED, ...writeCertificateFiles(dir, EJABBERD_SELF_SIGNED, await selfSigned(EJABBERD_SELF_SIGNED)) };
    [PEERS[0]!.running, PEERS[1]!.running, PEERS[2]!.running] = await Promise.all([
      startProsody({
        address: PROSODY_ADDRESS,
        domains: [prosody, prosodySelfSigned],
        caFile,
        dnssecTrustAnchorFile: dns.trustAnchorFile,
        users: [
          { user: 'pat', domain: 'pros.test', password: PASSWORD },
          { user: 'mallory', domain: PROSODY_SELF_SIGNED, password: PASSWORD },
        ],
      }),
      startEjabberd({
        address: EJABBERD_ADDRESS,
        domains: [ejabberd, ejabberdSelfSigned],
        caFile,
        users: [
          { user: 'eve', domain: 'ej.sec.test', password: PASSWORD },
          { user: 'ed', domain: EJABBERD_SELF_SIGNED, password: PASSWORD },
        ],
      }),
      startJabberd2({ address: JABBERD2_ADDRESS, domains: [jabberd2], caFile, users: [{ user: 'jay', domain: 'jab.test', password: PASSWORD }] }),
    ]);
    trellis = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["${TRELLIS_ADDRESS}"], port: 5222 }
  s2s: { addresses: ["${TRELLIS_ADDRESS}"], port: 5269 }
s2s:
  min_level: encrypted
  ca_files: ["${caFile}"]
  use_system_ca: false
  peers:
    ${PROSODY_SELF_SIGNED}: { level: trusted }
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
hosts:
  ${TRUSTED}:
    tls: { certificate: "${trusted.certFile}", key: "${trusted.keyFile}" }
  ${SELF_SIGNED}: {}
`);
    await trellis.addUser('alice', TRUSTED, PASSWORD);
    await trellis.addUser('sam', SELF_SIGNED, PASSWORD);
    // The clients (not the servers, which read their CA file at start) also trust the two
    // self-signed certificates, so that only the server-to-server links are tested here.
    clientCaFile = join(dir, 'clients-ca.crt');
    const selfSignedPems = [trellis.certificateFile(SELF_SIGNED), prosodySelfSigned.certFile, ejabberdSelfSigned.certFile].map((file) => readFileSync(file, 'utf8'));
    writeFileSync(clientCaFile, [ca.certPem, ...selfSignedPems].map((pem) => pem.trim()).join('\n') + '\n');
  });

  after(async () => {
    for (const driver of clients) driver.stop();
    await trellis?.stop();
    await Promise.all(PEERS.map((peer) => peer.running?.stop()));
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  const diagnostics = () => labDiagnostics(PEERS, trellis?.logLines);

  async function exchange(local: ClientDriver, remote: ClientDriver): Promise<void> {
    const localBare = local.jid.split('/')[0]!;
    const remoteBare = remote.jid.split('/')[0]!;
    await local.ok({ op: 'message', to: remoteBare, body: `hello from ${localBare}` });
    await remote.waitEvent((event) => event.event === 'message' && event.body === `hello from ${localBare}`, 15_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    await remote.ok({ op: 'message', to: localBare, body: `hello from ${remoteBare}` });
    await local.waitEvent((event) => event.event === 'message' && event.body === `hello from ${remoteBare}`, 15_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
  }

  async function subscribeBoth(a: ClientDriver, b: ClientDriver): Promise<void> {
    const aBare = a.jid.split('/')[0]!;
    const bBare = b.jid.split('/')[0]!;
    await a.ok({ op: 'subscribe', to: bBare });
    await b.waitEvent((event) => event.event === 'subscription_request' && event.from === aBare, 15_000);
    await b.ok({ op: 'approve', to: aBare });
    await b.ok({ op: 'subscribe', to: aBare });
    await a.waitEvent((event) => event.event === 'subscription_request' && event.from === bBare, 15_000);
    await a.ok({ op: 'approve', to: bBare });
    const subscriptionOf = async (driver: ClientDriver, contact: string): Promise<string | undefined> => {
      const items = (await driver.ok({ op: 'get_roster', full: true })).items as Record<string, { subscription: string }>;
      return items[contact]?.subscription;
    };
    for (let attempt = 0; attempt < 50; attempt++) {
      if ((await subscriptionOf(a, bBare)) === 'both' && (await subscriptionOf(b, aBare)) === 'both') return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.fail(`not both: ${aBare} has ${await subscriptionOf(a, bBare)}, ${bBare} has ${await subscriptionOf(b, aBare)}\n${diagnostics()}`);
  }

  async function discoRoundTrip(a: ClientDriver, remoteDomain: string): Promise<void> {
    const info = await a.ok({ op: 'disco_info', jid: remoteDomain }, 15_000);
    assert.ok((info.identities as string[][]).some(([category]) => category === 'server'), JSON.stringify(info));
  }

  function trellisLink(direction: 'in' | 'out', remoteDomain: string) {
    return trellis!.server.s2s.connections().find((row) => row.direction === direction && row.remoteDomain === remoteDomain && row.authentication !== 'pending');
  }

  /** The peer's s2s links with a Trellis domain; ejabberd's log (where they are read from) is written with a delay. */
  async function peerLinks(peer: Peer, local: string): Promise<S2sConnection[]> {
    for (let attempt = 0; ; attempt++) {
      const links = (await peer.running!.s2sConnections()).filter((link) => link.localDomain === peer.domain && link.remoteDomain === local);
      if (links.length >= 2 || attempt === 50) return links;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  for (const peer of PEERS) {
    describe(`with ${peer.name}`, () => {
      it(`trusted link (CA certificates, ${peer.trusted.peer === 'sasl-external' ? 'SASL EXTERNAL' : 'dialback over TLS'}): messages, subscription to both, IQ round trip, both ways`, async () => {
        const alice = await onTrellis(`alice@${TRUSTED}/lab`);
        const remote = await onPeer(peer, `${peer.user}@${peer.domain}/lab`);
        await exchange(alice, remote);
        await subscribeBoth(alice, remote);
        await discoRoundTrip(alice, peer.domain);
        await discoRoundTrip(remote, TRUSTED);
        for (const direction of ['in', 'out'] as const) {
          const link = trellisLink(direction, peer.domain);
          assert.deepEqual([link?.authentication, link?.level, link?.certificate], [peer.trusted[direction], 'trusted', 'valid'], `${direction}: ${JSON.stringify(link)}`);
        }
        // A peer that drops its connections and reconnects at once shows as many incoming TLS
        // sessions: one for its traffic and one for a dialback callback are expected.
        const sessions = trellis!.logLines.filter((line) => line.includes('s2s incoming TLS established') && line.includes(` remote=${peer.domain} `)).length;
        assert.ok(sessions >= 1 && sessions <= 3, `${sessions} incoming TLS sessions from ${peer.name}\n${diagnostics()}`);
        const links = await peerLinks(peer, TRUSTED);
        assert.ok(links.length > 0 && links.every((link) => link.encrypted && link.authentication === peer.trusted.peer), `${peer.name} reports ${JSON.stringify(links)}\n${diagnostics()}`);
        await alice.disconnect();
        await remote.disconnect();
      });

      it('encrypted link (Trellis self-signed, dialback over TLS): messages, subscription to both, IQ round trip, both ways', async () => {
        const sam = await onTrellis(`sam@${SELF_SIGNED}/lab`);
        const remote = await onPeer(peer, `${peer.user}@${peer.domain}/lab2`);
        await exchange(sam, remote);
        await subscribeBoth(sam, remote);
        await discoRoundTrip(remote, SELF_SIGNED);
        const outgoing = trellisLink('out', peer.domain);
        assert.ok(outgoing?.domains.includes(`${SELF_SIGNED} -> ${peer.domain}`), JSON.stringify(trellis!.server.s2s.connections()));
        // The peer checked our dialback key for the self-signed domain by calling us back
        // (XEP-0220 section 2.1.2): we answered its verification request as authoritative server.
        await trellis!.waitForLog('s2s answered a dialback verification', `domain=${SELF_SIGNED}`, 'valid=true');
        assert.equal(outgoing?.tls !== undefined, true, 'the dialback ran over TLS');
        await sam.disconnect();
        await remote.disconnect();
      });
    });
  }

  describe('ejabberd with a self-signed certificate', () => {
    it('reaches our CA-certified domain by dialback, which we check while SASL EXTERNAL runs on our stream to it', async () => {
      const alice = await onTrellis(`alice@${TRUSTED}/selfsigned`);
      const ed = await onPeer(PEERS[1]!, `ed@${EJABBERD_SELF_SIGNED}/lab`);
      await exchange(ed, alice);
      await subscribeBoth(alice, ed);
      const incoming = trellisLink('in', EJABBERD_SELF_SIGNED);
      assert.deepEqual([incoming?.authentication, incoming?.level], ['dialback', 'encrypted'], JSON.stringify(incoming));
      const outgoing = trellisLink('out', EJABBERD_SELF_SIGNED);
      assert.deepEqual([outgoing?.authentication, outgoing?.domains], ['sasl-external', [`${TRUSTED} -> ${EJABBERD_SELF_SIGNED}`]], JSON.stringify(outgoing));
      await alice.disconnect();
      await ed.disconnect();
    });
  });

  describe('downgrade refused', () => {
    it('a domain configured as trusted cannot reach us with dialback, and we do not send to it', async () => {
      const mallory = await onPeer(PEERS[0]!, `mallory@${PROSODY_SELF_SIGNED}/lab`);
      const alice = await onTrellis(`alice@${TRUSTED}/downgrade`);
      await mallory.ok({ op: 'message', to: `alice@${TRUSTED}`, body: 'over dialback' });
      await alice.expectNoEvent((event) => event.event === 'message' && event.body === 'over dialback', 3000);
      await trellis!.waitForLog('refused dialback: a trusted certificate is required', `from=${PROSODY_SELF_SIGNED}`);
      await alice.ok({ op: 'message', to: `mallory@${PROSODY_SELF_SIGNED}`, body: 'to an untrusted peer', msg_id: 'down1' });
      const bounce = await alice.waitEvent((event) => event.event === 'message_error' && event.id === 'down1', 15_000);
      assert.equal(bounce.condition, 'remote-server-timeout');
      await mallory.expectNoEvent((event) => event.event === 'message' && event.body === 'to an untrusted peer', 1000);
      await alice.disconnect();
      await mallory.disconnect();
    });
  });
});
