/**
 * Stream management (XEP-0198) on server-to-server streams between Trellis and Debian's
 * Prosody 0.12 with mod_smacks (loaded by Debian's default config; on s2s unless
 * `smacks_enabled_s2s = false`). Prosody offers and enables it only on streams authenticated
 * before their last features, that is with SASL EXTERNAL (mod_smacks `can_do_smacks` wants an
 * authenticated s2sin/s2sout session); a dialback stream goes without, and Trellis with it.
 * Then the link from Trellis to Prosody is cut with stanzas in flight: by a relay on the way that
 * stops forwarding and then resets both sides, and by killing a stopped Prosody. Every stanza is
 * counted: delivered (sent again on a new connection) or bounced to its sender.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import type { S2sConnection } from '../support/lab/peer.ts';
import { makeScratchDir, removeScratchDir, tail } from '../support/lab/process.ts';
import { startProsody, type RunningProsody } from '../support/lab/prosody.ts';
import { startDriver, type ClientDriver } from '../support/client-driver.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { FreezingRelay } from '../support/freezing-relay.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'im_driver.py');
const PASSWORD = 'lab-password';

/** Trellis with a CA certificate for its domain: SASL EXTERNAL both ways */
const TRUSTED_ADDRESS = '127.0.0.50';
const TRUSTED = 'tr.test';
/** Trellis with a self-signed certificate, trusting no CA: dialback both ways */
const SELF_SIGNED_ADDRESS = '127.0.0.52';
const SELF_SIGNED = 'trself.test';
const PROSODY_ADDRESS = '127.0.0.51';
const PROSODY = 'pros.test';
/** where pros.test's SRV record points: a relay to Prosody's s2s port, which the test can freeze and cut */
const RELAY_ADDRESS = '127.0.0.54';

/** messages sent one way in the first test */
const EXCHANGED = 40;
/** messages sent while Prosody is stopped, before each cut */
const IN_FLIGHT = 20;

/** `caFiles` empty: no peer certificate is trusted, so no SASL EXTERNAL either way */
const TRELLIS_CONFIG = (address: string, hostYaml: string, caFiles: string[]) => `
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["${address}"], port: 5222 }
  s2s: { addresses: ["${address}"], port: 5269 }
s2s: { min_level: encrypted, ca_files: ${JSON.stringify(caFiles)}, use_system_ca: false }
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
# the users write to each other without roster items
strangers: { max_messages: 0 }
hosts:
${hostYaml}`;

describe('stream management on server streams with Prosody', () => {
  let dns: LabDns | undefined;
  let prosody: RunningProsody | undefined;
  let trusted: TestServer | undefined;
  let selfSigned: TestServer | undefined;
  let relay: FreezingRelay | undefined;
  let dir = '';
  let clientCaFile = '';
  const clients: ClientDriver[] = [];

  async function client(jid: string, address: string, mechanism: string): Promise<ClientDriver> {
    const driver = await startDriver(`slixmpp ${jid}`, '/usr/bin/python3', [DRIVER, jid, PASSWORD, address, '5222', clientCaFile, mechanism]);
    clients.push(driver);
    await driver.ok({ op: 'presence' });
    return driver;
  }

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('prosody-sm');
    const srv = (domain: string, target: string) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target });
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          srv(TRUSTED, 'xmpp.tr.test'),
          { name: 'xmpp.tr.test', type: 'A', address: TRUSTED_ADDRESS },
          srv(SELF_SIGNED, 'xmpp.trself.test'),
          { name: 'xmpp.trself.test', type: 'A', address: SELF_SIGNED_ADDRESS },
          srv(PROSODY, 'xmpp.pros.test'),
          { name: 'xmpp.pros.test', type: 'A', address: RELAY_ADDRESS },
        ],
      },
    ]);
    const ca = await createTestCa();
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const issued = async (domain: string) => ({ domain, ...writeCertificateFiles(dir, domain, await ca.issue({ names: [domain], srvNames: [`_xmpp-server.${domain}`] })) });
    const [trustedCertificate, prosodyCertificate] = await Promise.all([issued(TRUSTED), issued(PROSODY)]);
    prosody = await startProsody({
      address: PROSODY_ADDRESS,
      domains: [prosodyCertificate],
      caFile,
      streamManagement: true,
      users: [{ user: 'pat', domain: PROSODY, password: PASSWORD }],
    });
    relay = await FreezingRelay.start(5269, { targetHost: PROSODY_ADDRESS, listen: { host: RELAY_ADDRESS, port: 5269 } });
    trusted = await startTestServer(TRELLIS_CONFIG(TRUSTED_ADDRESS, `  ${TRUSTED}: { tls: { certificate: "${trustedCertificate.certFile}", key: "${trustedCertificate.keyFile}" } }\n`, [caFile]));
    selfSigned = await startTestServer(TRELLIS_CONFIG(SELF_SIGNED_ADDRESS, `  ${SELF_SIGNED}: {}\n`, []));
    await trusted.addUser('alice', TRUSTED, PASSWORD);
    await selfSigned.addUser('sam', SELF_SIGNED, PASSWORD);
    clientCaFile = join(dir, 'clients-ca.crt');
    writeFileSync(clientCaFile, `${ca.certPem.trim()}\n${readFileSync(selfSigned.certificateFile(SELF_SIGNED), 'utf8').trim()}\n`);
  });

  after(async () => {
    for (const driver of clients) driver.stop();
    await trusted?.stop();
    await selfSigned?.stop();
    await relay?.close();
    await prosody?.stop();
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  function diagnostics(): string {
    return `--- Prosody ---\n${prosody ? tail(prosody.logFile, 40) : ''}\n--- Trellis ---\n${trusted?.logLines.slice(-40).join('\n')}`;
  }

  /** Sends `count` numbered messages; returns their ids. */
  async function sendNumbered(from: ClientDriver, to: string, prefix: string, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, index) => `${prefix}${index + 1}`);
    for (const id of ids) await from.ok({ op: 'message', to, body: `message ${id}`, msg_id: id });
    return ids;
  }

  /** ids of the messages (or, with `errors`, of the bounces) a client got, among `ids`, once each */
  function received(driver: ClientDriver, ids: readonly string[], errors = false): Set<string> {
    const wanted = new Set(ids);
    const kind = errors ? 'message_error' : 'message';
    return new Set(driver.events.filter((event) => event.event === kind && wanted.has(String(event.id))).map((event) => String(event.id)));
  }

  /** Waits for `condition`, running `attempt` first and again every 2 s while it is false. */
  async function until(condition: () => boolean, what: string, timeoutMs = 20_000, attempt?: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let nextAttempt = 0;
    while (!condition()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${diagnostics()}`);
      if (attempt && Date.now() >= nextAttempt) {
        await attempt();
        nextAttempt = Date.now() + 2000;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Prosody's two links with a Trellis domain once both are authenticated, as `s2s:show` reports them. */
  async function prosodyLinks(remote: string, settled: (links: S2sConnection[]) => boolean = () => true): Promise<{ incoming?: S2sConnection; outgoing?: S2sConnection }> {
    for (let attempt = 0; ; attempt++) {
      const links = (await prosody!.s2sConnections()).filter((link) => link.remoteDomain === remote && link.authentication !== 'none');
      if ((links.length >= 2 && settled(links)) || attempt === 50) {
        return { incoming: links.find((link) => link.direction === 'incoming'), outgoing: links.find((link) => link.direction === 'outgoing') };
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The `h` values of Prosody's answers to ack requests (mod_smacks logs each at debug level). */
  function prosodyAcks(): number[] {
    return [...readFileSync(prosody!.logFile, 'utf8').matchAll(/Received ack request, acking for (\d+)/g)].map((match) => Number(match[1]));
  }

  /** Acknowledgements Prosody received on its streams (mod_smacks logs each with how many stanzas it newly covers). */
  function prosodyAcknowledged(): { answers: number; stanzas: number } {
    const acked = [...readFileSync(prosody!.logFile, 'utf8').matchAll(/#queue = \d+ \(acked: (\d+)\)/g)].map((match) => Number(match[1]));
    return { answers: acked.length, stanzas: acked.reduce((sum, count) => sum + count, 0) };
  }

  let alice: ClientDriver;
  let pat: ClientDriver;

  it('SASL EXTERNAL link: enabled both ways, and every stanza acknowledged both ways', async () => {
    alice = await client(`alice@${TRUSTED}/lab`, TRUSTED_ADDRESS, 'SCRAM-SHA-256-PLUS');
    pat = await client(`pat@${PROSODY}/lab`, PROSODY_ADDRESS, 'SCRAM-SHA-1');
    // A first message each way sets up both links. Prosody asks to enable it only once what it
    // queued while connecting has gone out, so those are not counted there.
    await until(() => received(pat, ['w1']).size === 1, 'the first message at pat', 20_000, () => sendNumbered(alice, `pat@${PROSODY}`, 'w', 1));
    await until(() => received(alice, ['v1']).size === 1, 'the first message at alice', 20_000, () => sendNumbered(pat, `alice@${TRUSTED}`, 'v', 1));
    const links = await prosodyLinks(TRUSTED, (found) => found.every((link) => link.streamManagement !== undefined));
    assert.ok(links.incoming?.streamManagement && links.outgoing?.streamManagement, `${JSON.stringify(links)}\n${diagnostics()}`);
    await trusted!.waitForLog('s2s outgoing stream management enabled', `remote=${PROSODY}`);
    const answeredBefore = prosodyAcks();
    const acknowledgedBefore = prosodyAcknowledged();

    const toPat = await sendNumbered(alice, `pat@${PROSODY}`, 'a', EXCHANGED);
    const toAlice = await sendNumbered(pat, `alice@${TRUSTED}`, 'p', EXCHANGED);
    await until(() => received(pat, toPat).size === EXCHANGED, `${EXCHANGED} messages at pat`);
    await until(() => received(alice, toAlice).size === EXCHANGED, `${EXCHANGED} messages at alice`);
    // Trellis -> Prosody: Prosody answered Trellis's requests up to the last stanza (the first message and these).
    await until(() => Math.max(0, ...prosodyAcks()) === 1 + EXCHANGED, `Prosody acknowledging ${1 + EXCHANGED} stanzas`, 5000);
    // Prosody -> Trellis: Trellis acknowledged every stanza it got, and Prosody holds none unacknowledged.
    await until(() => prosodyAcknowledged().stanzas - acknowledgedBefore.stanzas >= EXCHANGED, `Trellis acknowledging ${EXCHANGED} stanzas`, 5000);
    const { incoming, outgoing } = await prosodyLinks(TRUSTED, (found) => found.every((link) => link.streamManagement?.unacknowledged === 0));
    assert.deepEqual([incoming?.authentication, incoming?.streamManagement], ['sasl-external', { unacknowledged: 0 }], `${JSON.stringify(incoming)}\n${diagnostics()}`);
    assert.deepEqual([outgoing?.authentication, outgoing?.streamManagement], ['sasl-external', { unacknowledged: 0 }], `${JSON.stringify(outgoing)}\n${diagnostics()}`);
    const answered = prosodyAcks().length - answeredBefore.length;
    const acknowledged = prosodyAcknowledged();
    console.log(`# SASL EXTERNAL link, ${EXCHANGED} messages each way: Prosody answered ${answered} ack requests of Trellis (h up to ${Math.max(...prosodyAcks())}); Trellis's ${acknowledged.answers - acknowledgedBefore.answers} answers to Prosody acknowledged ${acknowledged.stanzas - acknowledgedBefore.stanzas} stanzas; Prosody's queue to Trellis: ${outgoing?.streamManagement?.unacknowledged} unacknowledged`);
  });

  it('dialback link: no stream management either way, and messages flow both ways', async () => {
    const sam = await client(`sam@${SELF_SIGNED}/lab`, SELF_SIGNED_ADDRESS, 'SCRAM-SHA-256-PLUS');
    const toPat = await sendNumbered(sam, `pat@${PROSODY}`, 's', 5);
    await until(() => received(pat, toPat).size === 5, 'the messages from sam at pat');
    const toSam = await sendNumbered(pat, `sam@${SELF_SIGNED}`, 'q', 5);
    await until(() => received(sam, toSam).size === 5, 'the messages from pat at sam');
    const { incoming, outgoing } = await prosodyLinks(SELF_SIGNED);
    assert.deepEqual([incoming?.authentication, incoming?.streamManagement], ['dialback', undefined], JSON.stringify(incoming));
    assert.deepEqual([outgoing?.authentication, outgoing?.streamManagement], ['dialback', undefined], JSON.stringify(outgoing));
    assert.ok(!selfSigned!.logLines.some((line) => line.includes('stream management')), 'Trellis did not ask for stream management');
    assert.doesNotMatch(readFileSync(prosody!.logFile, 'utf8'), /Failed to enable smacks/);
    await sam.disconnect();
    // Its outgoing stream to Prosody ends with it, leaving one Trellis stream to Prosody's s2s port for the cuts below.
    await selfSigned!.stop();
    selfSigned = undefined;
  });

  /** Sends IN_FLIGHT messages from alice to pat that cannot reach Prosody (`hold` sees to that), waits, and cuts the link with `cut`. */
  async function cutWithStanzasInFlight(prefix: string, hold: () => void, cut: () => void): Promise<{ ids: string[]; resent: number; bounced: () => number }> {
    const before = { ...trusted!.server.s2s.resends };
    hold();
    const ids = await sendNumbered(alice, `pat@${PROSODY}`, prefix, IN_FLIGHT);
    // Long enough for Trellis to write them and ask for an acknowledgement that does not come.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const logged = trusted!.logLines.length;
    cut();
    // Without acknowledgements, what the socket took would count as the peer's: stream management keeps all of it unconfirmed.
    const closed = (line: string) => line.includes('s2s outgoing connection closed') && line.includes(`remote=${PROSODY}`);
    await until(() => trusted!.logLines.slice(logged).some(closed), 'the connection to Prosody closing');
    assert.match(trusted!.logLines.slice(logged).find(closed)!, new RegExp(` unconfirmed=${IN_FLIGHT}\\b`));
    const counters = trusted!.server.s2s.resends;
    return { ids, resent: counters.resent - before.resent, bounced: () => counters.bounced - before.bounced };
  }

  it('the connection reset on the way while it holds stanzas: all of them sent again on a new connection, each delivered once', async () => {
    let frozen = 0;
    const cut = await cutWithStanzasInFlight('c', () => (frozen = relay!.freeze()), () => relay!.cut());
    assert.equal(frozen, 1, 'one Trellis stream to Prosody');
    assert.equal(cut.resent, IN_FLIGHT, 'every unacknowledged stanza is sent again');
    await until(() => received(pat, cut.ids).size === IN_FLIGHT, `the ${IN_FLIGHT} messages sent again at pat`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const copies = pat.events.filter((event) => event.event === 'message' && cut.ids.includes(String(event.id))).length;
    assert.equal(copies, IN_FLIGHT, 'none twice: Prosody never had the first copies');
    assert.equal(received(alice, cut.ids, true).size, 0, 'nothing bounced');
    assert.equal(cut.bounced(), 0);
    const { incoming } = await prosodyLinks(TRUSTED, (links) => links.some((link) => link.direction === 'incoming' && link.streamManagement !== undefined));
    assert.ok(incoming?.streamManagement, 'stream management again on the new connection');
    console.log(`# connection reset with ${IN_FLIGHT} stanzas in flight: ${cut.resent} sent again on a new connection, ${copies} delivered (each once), ${cut.bounced()} bounced`);
  });

  it('Prosody killed while it holds unread stanzas: all of them bounce to the sender, counted', async () => {
    const cut = await cutWithStanzasInFlight('k', () => prosody!.signal('SIGSTOP'), () => prosody!.signal('SIGKILL'));
    // Sent again first: the new connection finds no server, so they bounce.
    await until(() => received(alice, cut.ids, true).size === IN_FLIGHT, `${IN_FLIGHT} bounces at alice`);
    assert.equal(cut.resent, IN_FLIGHT);
    assert.equal(cut.bounced(), IN_FLIGHT, 'every bounce counted');
    const conditions = new Set(alice.events.filter((event) => event.event === 'message_error' && String(event.id).startsWith('k')).map((event) => event.condition));
    assert.deepEqual([...conditions], ['remote-server-timeout']);
    assert.equal(received(pat, cut.ids).size, 0, 'Prosody delivered none of them');
    console.log(`# Prosody killed with ${IN_FLIGHT} stanzas unread: ${cut.resent} tried again, ${received(alice, cut.ids, true).size} bounced to the sender (counted: ${cut.bounced()})`);
  });
});
