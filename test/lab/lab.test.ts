/**
 * Self-test of the federation lab. Runs inside the lab namespace:
 *   node -e "import('./test/support/lab/namespace.ts').then(async (lab) => process.exit(await lab.runInLab(['test/lab/lab.test.ts'])))"
 * Shows that the lab DNS answers (and validates the signed zone), that Prosody and ejabberd
 * federate with CA-issued certificates, authenticating each other with SASL EXTERNAL, and that
 * jabberd2 federates with Prosody by dialback over TLS.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolveSrv } from 'node:dns/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { exchangeMessages } from '../support/lab/client.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { startEjabberd } from '../support/lab/ejabberd.ts';
import type { RunningPeer, S2sConnection } from '../support/lab/peer.ts';
import { startJabberd2 } from '../support/lab/jabberd2.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir, tail } from '../support/lab/process.ts';
import { startProsody } from '../support/lab/prosody.ts';

const PROSODY_ADDRESS = '127.0.0.10';
const EJABBERD_ADDRESS = '127.0.0.11';
const JABBERD2_ADDRESS = '127.0.0.12';
/** unsigned, reached only through its SRV record (no address record of its own) */
const PROSODY_DOMAIN = 'pros.test';
/** in the signed zone */
const EJABBERD_DOMAIN = 'ej.sec.test';
const JABBERD2_DOMAIN = 'jab.test';
const PASSWORD = 'lab-password';

describe('federation lab', () => {
  let dns: LabDns | undefined;
  let prosody: RunningPeer | undefined;
  let ejabberd: RunningPeer | undefined;
  let jabberd2: RunningPeer | undefined;
  let dir = '';
  let caFile = '';

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('self-test');
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          { name: `_xmpp-server._tcp.${PROSODY_DOMAIN}`, type: 'SRV', port: 5269, target: `xmpp.${PROSODY_DOMAIN}` },
          { name: `_xmpp-client._tcp.${PROSODY_DOMAIN}`, type: 'SRV', port: 5222, target: `xmpp.${PROSODY_DOMAIN}` },
          { name: `xmpp.${PROSODY_DOMAIN}`, type: 'A', address: PROSODY_ADDRESS },
          { name: '_xmpp-server._tcp.nothing.test', type: 'SRV', port: 0, target: '.' },
          { name: `_xmpp-server._tcp.${JABBERD2_DOMAIN}`, type: 'SRV', port: 5269, target: `xmpp.${JABBERD2_DOMAIN}` },
          { name: `xmpp.${JABBERD2_DOMAIN}`, type: 'A', address: JABBERD2_ADDRESS },
        ],
      },
      {
        name: 'sec.test',
        signed: true,
        records: [
          { name: `_xmpp-server._tcp.${EJABBERD_DOMAIN}`, type: 'SRV', port: 5269, target: EJABBERD_DOMAIN },
          { name: EJABBERD_DOMAIN, type: 'A', address: EJABBERD_ADDRESS },
        ],
      },
    ]);
    const ca = await createTestCa();
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const certificate = async (domain: string, key?: 'rsa') => ({
      domain,
      ...writeCertificateFiles(dir, domain, await ca.issue({ names: [domain], srvNames: [`_xmpp-server.${domain}`], key })),
    });
    const [prosodyDomain, ejabberdDomain, jabberd2Domain] = await Promise.all([certificate(PROSODY_DOMAIN), certificate(EJABBERD_DOMAIN), certificate(JABBERD2_DOMAIN, 'rsa')]);
    [prosody, ejabberd, jabberd2] = await Promise.all([
      startProsody({
        address: PROSODY_ADDRESS,
        domains: [prosodyDomain],
        caFile,
        s2sSecureAuth: true,
        dnssecTrustAnchorFile: dns.trustAnchorFile,
        users: [{ user: 'alice', domain: PROSODY_DOMAIN, password: PASSWORD }],
      }),
      startEjabberd({
        address: EJABBERD_ADDRESS,
        domains: [ejabberdDomain],
        caFile,
        s2sSecureAuth: true,
        users: [{ user: 'bob', domain: EJABBERD_DOMAIN, password: PASSWORD }],
      }),
      startJabberd2({ address: JABBERD2_ADDRESS, domains: [jabberd2Domain], caFile, users: [{ user: 'carol', domain: JABBERD2_DOMAIN, password: PASSWORD }] }),
    ]);
  });

  after(async () => {
    await Promise.all([prosody?.stop(), ejabberd?.stop(), jabberd2?.stop()]);
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  it('answers SRV queries for an unsigned domain, without AD', async () => {
    const srv = async (name: string) => (await resolveSrv(name)).map(({ name, port }) => ({ name, port }));
    assert.deepEqual(await srv(`_xmpp-server._tcp.${PROSODY_DOMAIN}`), [{ name: `xmpp.${PROSODY_DOMAIN}`, port: 5269 }]);
    // RFC 2782: a target of "." means the service is not offered.
    assert.deepEqual(await srv('_xmpp-server._tcp.nothing.test'), [{ name: '', port: 0 }]);
    assert.doesNotMatch(drillFlags(`_xmpp-server._tcp.${PROSODY_DOMAIN}`), /\bad\b/);
  });

  it('validates the signed zone: the resolver sets AD', () => {
    assert.match(drillFlags(`_xmpp-server._tcp.${EJABBERD_DOMAIN}`), /\bad\b/);
  });

  it('lets Prosody and ejabberd exchange messages in both directions', async () => {
    const alice = `alice@${PROSODY_DOMAIN}`;
    const bob = `bob@${EJABBERD_DOMAIN}`;
    const result = await exchangeMessages(
      [
        { jid: alice, password: PASSWORD, host: PROSODY_ADDRESS, caFile },
        { jid: bob, password: PASSWORD, host: EJABBERD_ADDRESS, caFile },
      ],
      [
        { from: alice, to: bob, body: 'hello from Prosody' },
        { from: bob, to: alice, body: 'hello from ejabberd' },
      ],
    );
    assert.ok(result.ok, `${result.error}\n${peerLogs(prosody, ejabberd)}`);
  });

  it('lets jabberd2 and Prosody exchange messages in both directions, by dialback over TLS', async () => {
    const alice = `alice@${PROSODY_DOMAIN}`;
    const carol = `carol@${JABBERD2_DOMAIN}`;
    const result = await exchangeMessages(
      [
        { jid: alice, password: PASSWORD, host: PROSODY_ADDRESS, caFile },
        { jid: carol, password: PASSWORD, host: JABBERD2_ADDRESS, caFile },
      ],
      [
        { from: carol, to: alice, body: 'hello from jabberd2' },
        { from: alice, to: carol, body: 'hello from Prosody' },
      ],
    );
    assert.ok(result.ok, `${result.error}\n${peerLogs(prosody, jabberd2)}`);
    const links = (await jabberd2!.s2sConnections()).filter((link) => link.remoteDomain === PROSODY_DOMAIN);
    assert.deepEqual(new Set(links.map((link) => `${link.direction} ${link.encrypted} ${link.authentication}`)), new Set(['outgoing true dialback', 'incoming true dialback']));
  });

  it('gives Prosody secure answers for the signed zone through its own validator', () => {
    const log = readFileSync(prosody!.logFile, 'utf8');
    assert.match(log, new RegExp(`Results for _xmpp-server\\._tcp\\.${EJABBERD_DOMAIN.replaceAll('.', '\\.')} IN SRV: 1 items \\(Secure`));
  });

  it('has both peers report their s2s connections as authenticated with SASL EXTERNAL over TLS', async () => {
    const expectLinks = (connections: S2sConnection[], local: string, remote: string) => {
      for (const direction of ['incoming', 'outgoing'] as const) {
        const link = connections.find((c) => c.direction === direction && c.localDomain === local && c.remoteDomain === remote);
        assert.ok(link, `no ${direction} s2s connection ${local} / ${remote} in ${JSON.stringify(connections)}`);
        assert.equal(link.authentication, 'sasl-external');
        assert.equal(link.encrypted, true);
      }
    };
    expectLinks(await prosody!.s2sConnections(), PROSODY_DOMAIN, EJABBERD_DOMAIN);
    expectLinks(await ejabberd!.s2sConnections(), EJABBERD_DOMAIN, PROSODY_DOMAIN);
  });
});

/** The header flags of `drill -D` (DNSSEC OK) asked of the lab resolver. */
function drillFlags(name: string): string {
  const output = execFileSync('drill', ['-D', 'SRV', name, `@${LAB_RESOLVER_ADDRESS}`], { encoding: 'utf8' });
  return /;; flags: ([^;]*);/.exec(output)?.[1] ?? '';
}

function peerLogs(...peers: (RunningPeer | undefined)[]): string {
  return peers.map((peer) => (peer === undefined ? '' : `--- ${peer.name} ${peer.logFile} ---\n${tail(peer.logFile)}`)).join('\n');
}
