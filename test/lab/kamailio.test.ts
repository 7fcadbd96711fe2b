/**
 * A real SIP gateway as an external component (XEP-0114, docs/gateways.md): Kamailio (Debian
 * `kamailio` and `kamailio-xmpp-modules`) connects to Trellis as sip.localhost with its xmpp
 * module in component mode. sipsak (Debian) sends a SIP MESSAGE that reaches an XMPP user, and
 * the user's reply leaves Kamailio as a SIP MESSAGE to the SIP side's address, where the test
 * answers it as a user agent would (RFC 3428 section 7: 200 OK).
 *
 * Kamailio runs with contrib/kamailio/expat-attribute-sentinel.c preloaded: without it the
 * module crashes on the first element it parses (see that file).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClientDriver, DriverEvent } from '../support/client-driver.ts';
import { AwaitedRecords } from '../support/lab/awaited-records.ts';
import { startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir, startDaemon, tail, type Daemon } from '../support/lab/process.ts';
import { startSlixmpp } from '../support/slixmpp.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const KAMAILIO_ADDRESS = '127.0.0.78';
const SIP_PORT = 5060;
/** Where the SIP side listens: Kamailio's outbound proxy for MESSAGEs to SIP users. */
const SIP_SIDE_ADDRESS = '127.0.0.79';
const SIP_SIDE_PORT = 5070;
/** The gateway's domain, in the lab DNS so that SIP user agents find Kamailio from their URIs. */
const GATEWAY = 'sip.test';
const SECRET = 'kamailio secret';
const PASSWORD = 'correct horse';
const SHIM_SOURCE = join(import.meta.dirname, '../../contrib/kamailio/expat-attribute-sentinel.c');

/** A SIP request received over UDP, with the headers a response copies (RFC 3261 section 8.2.6.2). */
interface SipRequest {
  method: string;
  uri: string;
  headers: Map<string, string[]>;
  body: string;
}

function parseSipRequest(datagram: string): SipRequest {
  const split = datagram.indexOf('\r\n\r\n');
  const head = split < 0 ? datagram : datagram.slice(0, split);
  const [requestLine = '', ...headerLines] = head.split('\r\n');
  const [method = '', uri = ''] = requestLine.split(' ');
  const headers = new Map<string, string[]>();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { method, uri, headers, body: split < 0 ? '' : datagram.slice(split + 4) };
}

/** The SIP side: receives MESSAGE requests and answers each with 200 OK. */
class SipUserAgent {
  readonly messages = new AwaitedRecords<SipRequest>((request) => `${request.method} ${request.uri}: ${request.body}`);
  #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (data, peer) => {
      const request = parseSipRequest(data.toString('utf8'));
      if (request.method !== 'MESSAGE') return;
      const copied = ['via', 'from', 'to', 'call-id', 'cseq'].flatMap((name) =>
        (request.headers.get(name) ?? []).map((value) => `${name === 'call-id' ? 'Call-ID' : name === 'cseq' ? 'CSeq' : name[0]!.toUpperCase() + name.slice(1)}: ${value}`),
      );
      const response = ['SIP/2.0 200 OK', ...copied, 'Content-Length: 0', '', ''].join('\r\n');
      socket.send(response, peer.port, peer.address);
      this.messages.push(request);
    });
  }

  static async listen(address: string, port: number): Promise<SipUserAgent> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new SipUserAgent(socket);
  }

  close(): void {
    this.#socket.close();
  }
}

/** Runs a command to its end without blocking the event loop. */
function runCommand(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

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
modparam("xmpp", "outbound_proxy", "sip:${SIP_SIDE_ADDRESS}:${SIP_SIDE_PORT}")
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

describe('Kamailio (SIP-XMPP gateway) as an external component', () => {
  const closers: (() => unknown)[] = [];
  let dir: string;
  let server: TestServer;
  let dns: LabDns;
  let kamailio: Daemon;
  let sipSide: SipUserAgent;
  let alice: ClientDriver;

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('kamailio');
    closers.push(() => removeScratchDir(dir));
    dns = await startLabDns([{ name: 'test', records: [{ name: GATEWAY, type: 'A', address: KAMAILIO_ADDRESS }] }]);
    closers.push(() => dns.stop());

    const shim = join(dir, 'expat-attribute-sentinel.so');
    const built = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-o', shim, SHIM_SOURCE, '-ldl'], { encoding: 'utf8' });
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

    sipSide = await SipUserAgent.listen(SIP_SIDE_ADDRESS, SIP_SIDE_PORT);
    closers.push(() => sipSide.close());

    const config = join(dir, 'kamailio.cfg');
    writeFileSync(config, kamailioConfig(server.server.listening.component[0]!.port));
    // -DD: stay in the foreground but fork the workers (the xmpp module runs in its own process);
    // -E: log to standard error.
    kamailio = startDaemon('kamailio', '/usr/sbin/kamailio', ['-f', config, '-DD', '-E', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-m', '32', '-M', '8'], {
      outputFile: join(dir, 'kamailio.log'),
      env: { ...process.env, LD_PRELOAD: shim },
    });
    closers.push(() => kamailio.stop());
    await server.waitForLog('component connected', GATEWAY).catch((error: Error) => {
      throw new Error(`${error.message}\nkamailio:\n${tail(kamailio.outputFile)}`);
    });

    alice = await startSlixmpp(server, 'alice@localhost/desk', PASSWORD);
    closers.push(() => alice.stop());
    // available, so that a message to her bare JID reaches this session (RFC 6121 section 8.5.2.1.1)
    await alice.ok({ op: 'presence' });
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  const chat = (body: string) => (event: DriverEvent) => event.event === 'message' && event.body === body;

  it('a SIP MESSAGE from sipsak reaches an XMPP user, and her reply reaches the SIP side', async () => {
    // RFC 3428 section 4: a MESSAGE with the text as its body. sipsak sends it and waits for the
    // final response (exit 0 on a 2xx); the server runs in this process, so the wait must not
    // block it.
    const body = 'hello from SIP';
    const request = join(dir, 'message.sip');
    writeFileSync(
      request,
      [
        `MESSAGE sip:alice*localhost@${GATEWAY} SIP/2.0`,
        `From: <sip:bob@${GATEWAY}>;tag=trellis-test`,
        `To: <sip:alice*localhost@${GATEWAY}>`,
        `Call-ID: kamailio-test@127.0.0.1`,
        'CSeq: 1 MESSAGE',
        'Max-Forwards: 70',
        'Content-Type: text/plain',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
    const sent = await runCommand('sipsak', ['-f', request, '-s', `sip:alice*localhost@${GATEWAY}`, '-H', '127.0.0.1', '-vv'], 20_000);
    assert.equal(sent.code, 0, `sipsak failed (${sent.code}):\n${sent.stdout}\n${sent.stderr}\nkamailio:\n${tail(kamailio.outputFile)}`);
    assert.match(sent.stdout, /SIP\/2\.0 200/);

    const received = await alice.waitEvent(chat(body), 15_000).catch((error: Error) => {
      throw new Error(`${error.message}\nkamailio:\n${tail(kamailio.outputFile)}\ntrellis:\n${server.logLines.slice(-15).join('\n')}`);
    });
    assert.equal(String(received.from).split('/')[0], `bob*${GATEWAY}@${GATEWAY}`);

    await alice.ok({ op: 'message', to: `bob*${GATEWAY}@${GATEWAY}`, body: 'hello from XMPP' });
    const reply = await sipSide.messages.waitFor((request) => request.body === 'hello from XMPP');
    assert.match(reply.uri, new RegExp(`^sip:bob@${GATEWAY.replace('.', '\\.')}`));
    assert.match(reply.headers.get('from')?.[0] ?? '', /alice\*localhost@/);

    const status = server.server.components.routes.get(GATEWAY)!;
    assert.ok(status.connection && status.connection.stanzasIn > 0 && status.connection.stanzasOut > 0);
  });
});
