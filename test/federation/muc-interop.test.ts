/**
 * Group chat across servers with Prosody (its mod_muc component) and ejabberd (mod_muc) in the
 * lab: a user of the peer enters a room of conference.tr.test and a Trellis user enters a room
 * of the peer's service, each talking with the room's local occupant, with the history a late
 * joiner gets and the presence of entering and leaving seen on both sides. Real clients
 * (slixmpp's XEP-0045 plugin, test/clients/muc_driver.py), real DNS (SRV records for every
 * service domain) and CA certificates that name the service domains too (docs/muc.md).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDriver, type ClientDriver, type DriverEvent } from '../support/client-driver.ts';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { startEjabberd } from '../support/lab/ejabberd.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { labDiagnostics, type RunningPeer } from '../support/lab/peer.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { startProsody } from '../support/lab/prosody.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'muc_driver.py');
const PASSWORD = 'lab-password';
const TRELLIS_ADDRESS = '127.0.0.50';
const TRELLIS = 'tr.test';
const TRELLIS_MUC = `conference.${TRELLIS}`;

interface Peer {
  name: string;
  domain: string;
  muc: string;
  address: string;
  user: string;
  nick: string;
  running?: RunningPeer;
}

const PEERS: Peer[] = [
  { name: 'Prosody', domain: 'pros.test', muc: 'conference.pros.test', address: '127.0.0.51', user: 'pat', nick: 'Pat' },
  { name: 'ejabberd', domain: 'ej.sec.test', muc: 'conference.ej.sec.test', address: '127.0.0.52', user: 'eve', nick: 'Eve' },
];

const groupchat = (from: string, body: string) => (event: DriverEvent) => event.event === 'message' && event.type === 'groupchat' && event.from === from && event.body === body;
const mucPresence = (from: string, type: string) => (event: DriverEvent) => event.event === 'muc_presence' && event.from === from && event.type === type;

describe('group chat across servers with Prosody and ejabberd', () => {
  let dns: LabDns | undefined;
  let trellis: TestServer | undefined;
  let dir = '';
  let caFile = '';
  const clients: ClientDriver[] = [];

  async function client(jid: string, address: string, mechanism: string): Promise<ClientDriver> {
    const driver = await startDriver(`slixmpp (MUC) ${jid}`, '/usr/bin/python3', [DRIVER, jid, PASSWORD, address, '5222', caFile, mechanism]);
    clients.push(driver);
    await driver.ok({ op: 'presence' });
    return driver;
  }

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('muc-interop');
    const srv = (domain: string, target: string) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target });
    const [prosody, ejabberd] = PEERS as [Peer, Peer];
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          srv(TRELLIS, `xmpp.${TRELLIS}`),
          srv(TRELLIS_MUC, `xmpp.${TRELLIS}`),
          { name: `xmpp.${TRELLIS}`, type: 'A', address: TRELLIS_ADDRESS },
          srv(prosody.domain, `xmpp.${prosody.domain}`),
          srv(prosody.muc, `xmpp.${prosody.domain}`),
          { name: `xmpp.${prosody.domain}`, type: 'A', address: prosody.address },
        ],
      },
      {
        name: 'sec.test',
        signed: true,
        records: [srv(ejabberd.domain, ejabberd.domain), srv(ejabberd.muc, ejabberd.domain), { name: ejabberd.domain, type: 'A', address: ejabberd.address }],
      },
    ]);
    const ca = await createTestCa();
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    // Each certificate names the domain and its group-chat service.
    const issued = async (domain: string, muc: string) =>
      ({ domain, ...writeCertificateFiles(dir, domain, await ca.issue({ names: [domain, muc], srvNames: [`_xmpp-server.${domain}`, `_xmpp-server.${muc}`] })) });
    const [trellisCert, prosodyCert, ejabberdCert] = await Promise.all([issued(TRELLIS, TRELLIS_MUC), issued(prosody.domain, prosody.muc), issued(ejabberd.domain, ejabberd.muc)]);
    const users = (peer: Peer) => [{ user: peer.user, domain: peer.domain, password: PASSWORD }];
    [prosody.running, ejabberd.running] = await Promise.all([
      startProsody({ address: prosody.address, domains: [prosodyCert], caFile, dnssecTrustAnchorFile: dns.trustAnchorFile, users: users(prosody), muc: prosody.muc }),
      startEjabberd({ address: ejabberd.address, domains: [ejabberdCert], caFile, users: users(ejabberd), muc: ejabberd.muc }),
    ]);
    trellis = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["${TRELLIS_ADDRESS}"], port: 5222 }
  s2s: { addresses: ["${TRELLIS_ADDRESS}"], port: 5269 }
s2s: { min_level: trusted, ca_files: ["${caFile}"], use_system_ca: false }
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
hosts:
  ${TRELLIS}:
    tls: { certificate: "${trellisCert.certFile}", key: "${trellisCert.keyFile}" }
`);
    await trellis.addUser('alice', TRELLIS, PASSWORD);
  });

  after(async () => {
    for (const driver of clients) driver.stop();
    await trellis?.stop();
    await Promise.all(PEERS.map((peer) => peer.running?.stop()));
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  const diagnostics = () => labDiagnostics(PEERS, trellis?.logLines);
  const within = <T>(promise: Promise<T>): Promise<T> => promise.catch((error) => assert.fail(`${error}\n${diagnostics()}`));

  /**
   * `host` creates `room` on its own server and says something before `guest` (of the other
   * server) enters; the guest gets that in the history, both see each other's presence and
   * messages, and once the host sees the guest leave the room sends the guest nothing more.
   */
  async function meet(room: string, host: ClientDriver, hostNick: string, guest: ClientDriver, guestNick: string): Promise<void> {
    const created = await within(host.ok({ op: 'join', room, nick: hostNick }, 15_000));
    assert.deepEqual((created.self as { codes: string[] }).codes, ['110', '201']);
    await within(host.ok({ op: 'configure', room }, 15_000));
    await host.ok({ op: 'groupchat', room, body: `before ${guestNick} came` });
    await within(host.waitEvent(groupchat(`${room}/${hostNick}`, `before ${guestNick} came`), 10_000));

    const joined = await within(guest.ok({ op: 'join', room, nick: guestNick, maxstanzas: 10 }, 20_000));
    assert.deepEqual(joined.occupants, [hostNick, guestNick].sort());
    assert.deepEqual(joined.history, [`before ${guestNick} came`]);
    await within(host.waitEvent(mucPresence(`${room}/${guestNick}`, 'available'), 10_000));

    await host.ok({ op: 'groupchat', room, body: `welcome ${guestNick}` });
    await within(guest.waitEvent(groupchat(`${room}/${hostNick}`, `welcome ${guestNick}`), 10_000));
    await guest.ok({ op: 'groupchat', room, body: `thanks ${hostNick}` });
    for (const occupant of [host, guest]) await within(occupant.waitEvent(groupchat(`${room}/${guestNick}`, `thanks ${hostNick}`), 10_000));

    await guest.ok({ op: 'leave', room, nick: guestNick });
    await within(host.waitEvent(mucPresence(`${room}/${guestNick}`, 'unavailable'), 10_000));
    // slixmpp forgets the room as it sends the unavailable presence, so the guest's own copy is
    // not reported; what matters is that the room sends it nothing more.
    await host.ok({ op: 'groupchat', room, body: `after ${guestNick} left` });
    await within(host.waitEvent(groupchat(`${room}/${hostNick}`, `after ${guestNick} left`), 10_000));
    await guest.expectNoEvent((event) => event.event === 'message' && event.body === `after ${guestNick} left`, 2000);
  }

  for (const peer of PEERS) {
    describe(`with ${peer.name}`, () => {
      it(`a user of ${peer.name} enters a Trellis room and talks with a local occupant`, async () => {
        const alice = await client(`alice@${TRELLIS}/${peer.user}`, TRELLIS_ADDRESS, 'SCRAM-SHA-256-PLUS');
        const guest = await client(`${peer.user}@${peer.domain}/guest`, peer.address, 'SCRAM-SHA-1');
        await meet(`with-${peer.user}@${TRELLIS_MUC}`, alice, 'Alice', guest, peer.nick);
        await alice.disconnect();
        await guest.disconnect();
      });

      it(`a Trellis user enters a room of ${peer.name} and talks with a local occupant`, async () => {
        const host = await client(`${peer.user}@${peer.domain}/host`, peer.address, 'SCRAM-SHA-1');
        const alice = await client(`alice@${TRELLIS}/guest-${peer.user}`, TRELLIS_ADDRESS, 'SCRAM-SHA-256-PLUS');
        await meet(`from-trellis@${peer.muc}`, host, peer.nick, alice, 'Alice');
        await alice.disconnect();
        await host.disconnect();
      });
    });
  }
});
