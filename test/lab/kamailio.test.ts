/**
 * A real SIP gateway as an external component (XEP-0114, docs/gateways.md): Kamailio (Debian
 * `kamailio` and `kamailio-xmpp-modules`) connects to Trellis as sip.test with its xmpp module in
 * component mode, and baresip (Debian `baresip-core`) is a SIP user, bob@sip.test. A MESSAGE bob
 * types on baresip's console reaches an XMPP user, and her reply reaches baresip, which prints it.
 *
 * Kamailio runs with contrib/kamailio/expat-attribute-sentinel.c preloaded: without it the
 * module crashes on the first element it parses (see that file).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClientDriver, DriverEvent } from '../support/client-driver.ts';
import { startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir, startDaemon, tail, type Daemon } from '../support/lab/process.ts';
import { startSlixmpp } from '../support/slixmpp.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitUntil } from '../support/wait.ts';

const KAMAILIO_ADDRESS = '127.0.0.78';
const BARESIP_ADDRESS = '127.0.0.79';
/** RFC 3261 section 19.1.2: the default SIP port, which a URI without one means. */
const SIP_PORT = 5060;
/** The gateway's domain, in the lab DNS so that baresip finds Kamailio from its URIs. */
const GATEWAY = 'sip.test';
const SECRET = 'kamailio secret';
const PASSWORD = 'correct horse';
const SHIM_SOURCE = join(import.meta.dirname, '../../contrib/kamailio/expat-attribute-sentinel.c');

function kamailioConfig(componentPort: number): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:${KAMAILIO_ADDRESS}:${SIP_PORT}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "xmpp.so"
modparam("xmpp", "backend", "component")
modparam("xmpp", "domain_separator", "*")
modparam("xmpp", "gateway_domain", "${GATEWAY}")
modparam("xmpp", "xmpp_domain", "${GATEWAY}")
modparam("xmpp", "xmpp_host", "127.0.0.1")
modparam("xmpp", "xmpp_port", ${componentPort})
modparam("xmpp", "xmpp_password", "${SECRET}")
# the SIP users of sip.test all sit at baresip
modparam("xmpp", "outbound_proxy", "sip:${BARESIP_ADDRESS}:${SIP_PORT}")
request_route {
    if (!t_newtran()) { sl_reply_error(); exit; }
    if (method == "MESSAGE") {
        if (xmpp_send_message()) { t_reply("200", "Accepted"); } else { t_reply("404", "Not found"); }
        exit;
    }
    t_reply("503", "Service unavailable");
}
`;
}

/** baresip as bob@sip.test with no registrar, listening on its own address, alice as its one contact. */
function writeBaresipConfig(dir: string): void {
  writeFileSync(
    join(dir, 'config'),
    [
      `sip_listen ${BARESIP_ADDRESS}:${SIP_PORT}`,
      'sip_transports udp',
      // baresip skips loopback interfaces unless it is given the address itself
      `net_interface ${BARESIP_ADDRESS}`,
      'audio_player aufile,/dev/null',
      'audio_source ausine,440',
      'module_path /usr/lib/baresip/modules',
      // the console: commands on standard input, what happens on standard output
      'module stdio.so',
      'module menu.so',
      'module account.so',
      'module contact.so',
      'module g711.so',
      'module ausine.so',
      'module aufile.so',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'accounts'), `<sip:bob@${GATEWAY}>;regint=0\n`);
  writeFileSync(join(dir, 'contacts'), `"Alice" <sip:alice*localhost@${GATEWAY}>\n`);
}

describe('Kamailio (SIP-XMPP gateway) as an external component', () => {
  const closers: (() => unknown)[] = [];
  let dir: string;
  let server: TestServer;
  let dns: LabDns;
  let kamailio: Daemon;
  let baresip: Daemon;
  let alice: ClientDriver;

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('kamailio');
    closers.push(() => removeScratchDir(dir));
    dns = await startLabDns([{ name: 'test', records: [{ name: GATEWAY, type: 'A', address: KAMAILIO_ADDRESS }] }]);
    closers.push(() => dns.stop());

    const shim = join(dir, 'expat-attribute-sentinel.so');
    const built = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-o', shim, SHIM_SOURCE], { encoding: 'utf8' });
    assert.equal(built.status, 0, `gcc failed: ${built.stderr}`);

    server = await startTestServer(`
http: { enabled: false }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
  component: { addresses: ["127.0.0.1"], port: 0 }
components:
  ${GATEWAY}: { secret: "${SECRET}" }
`);
    closers.push(() => server.stop());
    await server.addUser('alice', 'localhost', PASSWORD);

    const config = join(dir, 'kamailio.cfg');
    writeFileSync(config, kamailioConfig(server.server.listening.component[0]!.port));
    // -DD: stay in the foreground but fork the workers (the xmpp module runs in its own process);
    // -E: log to standard error.
    kamailio = startDaemon('kamailio', '/usr/sbin/kamailio', ['-f', config, '-DD', '-E', '-w', dir, '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-m', '32', '-M', '8'], {
      outputFile: join(dir, 'kamailio.log'),
      env: { ...process.env, LD_PRELOAD: shim },
    });
    closers.push(() => kamailio.stop());
    await server.waitForLog('component connected', GATEWAY).catch((error: Error) => {
      throw new Error(`${error.message}\nkamailio:\n${tail(kamailio.outputFile)}`);
    });

    const baresipDir = join(dir, 'baresip');
    mkdirSync(baresipDir);
    writeBaresipConfig(baresipDir);
    baresip = startDaemon('baresip', '/usr/bin/baresip', ['-f', baresipDir], { outputFile: join(dir, 'baresip.log'), input: true });
    closers.push(() => baresip.stop());
    await waitUntil('baresip is ready', () => readFileSync(baresip.outputFile, 'utf8').includes('baresip is ready'), 15_000);

    alice = await startSlixmpp(server, 'alice@localhost/desk', PASSWORD);
    closers.push(() => alice.stop());
    // available, so that a message to her bare JID reaches this session (RFC 6121 section 8.5.2.1.1)
    await alice.ok({ op: 'presence' });
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  const logs = (): string => `\nbaresip:\n${tail(baresip.outputFile)}\nkamailio:\n${tail(kamailio.outputFile)}`;

  it('a SIP MESSAGE from baresip reaches an XMPP user, and her reply reaches baresip', async () => {
    // contact.so's "message" command sends a MESSAGE (RFC 3428) to the current contact, alice.
    baresip.write('/message hello from SIP\n');
    const chat = (body: string) => (event: DriverEvent) => event.event === 'message' && event.body === body;
    const received = await alice.waitEvent(chat('hello from SIP'), 15_000).catch((error: Error) => {
      throw new Error(`${error.message}${logs()}`);
    });
    assert.equal(String(received.from).split('/')[0], `bob*${GATEWAY}@${GATEWAY}`);

    await alice.ok({ op: 'message', to: `bob*${GATEWAY}@${GATEWAY}`, body: 'hello from XMPP' });
    // baresip prints a MESSAGE it accepted as `<from URI>: "<text>"`.
    const printed = `sip:alice*localhost@${GATEWAY}: "hello from XMPP"`;
    await waitUntil('baresip prints the reply', () => readFileSync(baresip.outputFile, 'utf8').includes(printed), 15_000).catch((error: Error) => {
      throw new Error(`${error.message}${logs()}`);
    });

    const status = server.server.components.routes.get(GATEWAY)!;
    assert.ok(status.connection && status.connection.stanzasIn > 0 && status.connection.stanzasOut > 0);
  });
});
