/**
 * External service discovery (XEP-0215) against a real TURN server: Debian's coturn with
 * use-auth-secret. @xmpp/client asks the server for its STUN and TURN services; the credentials
 * it gets allocate a relay on coturn (turnutils_uclient, through to turnutils_peer), and the same
 * user name with a wrong password is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientDriver } from './support/client-driver.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startXmppjs } from './support/xmppjs.ts';
import { parseElement } from '../src/xml/parse-element.ts';

const ADDRESS = '127.0.25.1';
const SECRET = 'turn-shared-secret';
const PASSWORD = 'correct horse';

/** A UDP port free on ADDRESS now. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, ADDRESS, () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Runs a command to its end; resolves with its exit code and output. */
function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('calls: STUN and TURN services with short-lived credentials (XEP-0215)', () => {
  let server: TestServer;
  let directory: string;
  let turnPort: number;
  let peerPort: number;
  const processes: ChildProcess[] = [];
  const clients: ClientDriver[] = [];

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'trellis-turn-'));
    turnPort = await freeUdpPort();
    peerPort = await freeUdpPort();
    const turnArgs = [`--listening-ip=${ADDRESS}`, `--relay-ip=${ADDRESS}`, `--listening-port=${turnPort}`, '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=localhost', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout', '--simple-log', '--allow-loopback-peers', `--pidfile=${join(directory, 'turn.pid')}`, `--userdb=${join(directory, 'turn.db')}`];
    processes.push(spawn('/usr/bin/turnserver', turnArgs, { stdio: 'ignore' }), spawn('/usr/bin/turnutils_peer', ['-L', ADDRESS, '-p', String(peerPort)], { stdio: 'ignore' }));
    server = await startTestServer(`
external_services:
  services: ["stun:${ADDRESS}:${turnPort}", "turn:${ADDRESS}:${turnPort}?transport=udp"]
  secret: ${SECRET}
  credential_lifetime: 600
`);
    // coturn takes a moment to open its ports.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  });
  after(async () => {
    for (const client of clients) client.stop();
    for (const child of processes) child.kill('SIGKILL');
    await server.stop();
    await rm(directory, { recursive: true, force: true });
  });

  async function allocate(username: string, password: string): Promise<{ code: number | null; output: string }> {
    return run('/usr/bin/turnutils_uclient', ['-u', username, '-w', password, '-p', String(turnPort), '-n', '1', '-c', '-e', ADDRESS, '-r', String(peerPort), ADDRESS], 15_000);
  }

  test('the credentials a client gets allocate a TURN relay; a wrong password does not', async () => {
    await server.addUser('caller', 'localhost', PASSWORD);
    const client = await startXmppjs(server, 'caller', 'localhost', PASSWORD);
    clients.push(client);
    const answer = await client.ok({ op: 'iq_xml', xml: "<iq type='get' to='localhost'><services xmlns='urn:xmpp:extdisco:2'/></iq>" });
    const services = parseElement(String(answer.xml)).getChild('services', 'urn:xmpp:extdisco:2')!.elements();
    assert.deepEqual(services.map((service) => [service.attrs.type, service.attrs.host, service.attrs.port, service.attrs.transport]), [
      ['stun', ADDRESS, String(turnPort), 'udp'],
      ['turn', ADDRESS, String(turnPort), 'udp'],
    ]);
    const turn = services[1]!.attrs;
    assert.match(turn.username!, /^\d+:caller@localhost$/);
    const expires = Date.parse(turn.expires!);
    assert.ok(Math.abs(expires - (Date.now() + 600_000)) < 5000, `expires ${turn.expires}`);
    const good = await allocate(turn.username!, turn.password!);
    assert.equal(good.code, 0, good.output.slice(-2000));
    const bad = await allocate(turn.username!, 'not-the-password');
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /Cannot complete Allocation/);
  });

  test('credentials for one service by host and type; an unknown host is item-not-found', async () => {
    await server.addUser('caller2', 'localhost', PASSWORD);
    const client = await startXmppjs(server, 'caller2', 'localhost', PASSWORD);
    clients.push(client);
    const answer = await client.ok({ op: 'iq_xml', xml: `<iq type='get' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'><service host='${ADDRESS}' type='turn'/></credentials></iq>` });
    const services = parseElement(String(answer.xml)).getChild('credentials', 'urn:xmpp:extdisco:2')!.elements();
    assert.deepEqual(services.map((service) => service.attrs.type), ['turn']);
    assert.match(String(services[0]!.attrs.username), /:caller2@localhost$/);
    const missing = await client.command({ op: 'iq_xml', xml: "<iq type='get' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'><service host='elsewhere.example' type='turn'/></credentials></iq>" });
    assert.equal(missing.error?.condition, 'item-not-found');
  });
});
