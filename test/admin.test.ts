/**
 * The admin API and the commands that read it, against two federating servers: `trellis s2s`
 * shows how each server connection is secured and closes one, `trellis status` and /metrics
 * answer, bad requests get JSON errors while the server keeps serving, and with no server the
 * CLI says where it looked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from '../src/admin/client.ts';
import type { C2sRow, S2sPairRow, S2sRow, StatusReport } from '../src/admin/types.ts';
import { parseConfig } from '../src/config/load.ts';
import { startServer } from '../src/server.ts';
import { memoryLogger } from '../src/util/log.ts';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';
import { RawClient } from './support/raw-client.ts';

const TRELLIS = join(import.meta.dirname, '..', 'bin', 'trellis');

function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TRELLIS, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}


async function getJson<T>(socket: string, path: string): Promise<T> {
  const answer = await adminRequest(socket, 'GET', path);
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body) as T;
}

/** Writes raw bytes to the socket and returns everything read until the server closes or `until` shows up. */
function rawExchange(socket: string, data: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const connection = connect(socket, () => connection.write(data));
    connection.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (until.test(received)) connection.end();
    });
    connection.on('close', () => resolve(received));
    connection.on('error', reject);
    connection.setTimeout(5000, () => connection.destroy(new Error(`no answer to ${JSON.stringify(data.slice(0, 40))}: ${received}`)));
  });
}

describe('admin API and trellis s2s', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  let alice: RawClient;
  let bob: RawClient;
  let dir: string;
  let configFile: string;
  let socket: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-admin-'));
    a = await startFederatedServer('127.0.0.61', 's2s: { min_level: encrypted }');
    b = await startFederatedServer('127.0.0.62', 's2s: { min_level: encrypted }');
    await a.addUser('alice', a.domain, 'secret');
    await b.addUser('bob', b.domain, 'secret');
    alice = await loginFederated(a, 'alice');
    bob = await loginFederated(b, 'bob');
    alice.send(`<message to='bob@${b.domain}/r' id='m1' type='chat'><body>hello bob</body></message>`);
    await bob.waitFor('hello bob');
    bob.send(`<message to='alice@${a.domain}/r' id='m2' type='chat'><body>hello alice</body></message>`);
    await alice.waitFor('hello alice');
    // An account b does not have: its error answer comes back over the connection (RFC 6120 section 8.5.2).
    alice.send(`<iq to='nobody@${b.domain}' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
    await alice.waitFor(/id=["']v1["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']v1["']/);
    // The CLI finds the server the way an operator's would: data_dir from a configuration file.
    configFile = join(dir, 'a.yaml');
    await writeFile(configFile, `data_dir: ${a.dataDir}\nhosts:\n  ${a.domain}: {}\n`);
    socket = a.server.adminSocket!;
  });
  after(async () => {
    alice?.close();
    bob?.close();
    await a?.stop();
    await b?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the socket lives in data_dir with mode 0600', async () => {
    assert.equal(socket, join(a.dataDir, 'admin.sock'));
    const info = await stat(socket);
    assert.ok(info.isSocket());
    assert.equal(info.mode & 0o777, 0o600);
  });

  test('trellis s2s shows each connection: direction, TLS, certificate, dialback, level, names, pairs, idle; then each pair', async () => {
    const run = await trellis(['s2s', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    const [connections, pairs] = run.stdout.trimEnd().split('\n\n');
    const [header, ...lines] = connections!.split('\n');
    assert.match(header!, /^ID +DIR +REMOTE +HOST +ADDRESS +TLS +CERTIFICATE +AUTH +LEVEL +NAMES +DOMAINS +IDLE$/);
    // Bidirectional (XEP-0288): each connection carries its pair both ways. Self-signed
    // certificates prove nothing: the peer's domain is proven by dialback (a delegated name).
    const outgoing = lines.find((line) => /^\S{8} +out\+bidi +127\.0\.0\.62 +127\.0\.0\.62 /.test(line));
    assert.ok(outgoing, run.stdout);
    assert.match(outgoing, / 127\.0\.0\.62:5269 +TLSv1\.[23] \S+ +\S+ +dialback +encrypted +127\.0\.0\.62 \(delegated\) +127\.0\.0\.61 -> 127\.0\.0\.62 \(dialback\), 127\.0\.0\.61 <- 127\.0\.0\.62 \(dialback\) +\d+s$/);
    const incoming = lines.find((line) => /^\S{8} +in\+bidi +127\.0\.0\.62 +- /.test(line));
    assert.ok(incoming, run.stdout);
    assert.match(incoming, / TLSv1\.[23] \S+ +\S+ +dialback +encrypted +127\.0\.0\.62 \(delegated\) +127\.0\.0\.61 <- 127\.0\.0\.62 \(dialback\), 127\.0\.0\.61 -> 127\.0\.0\.62 \(dialback\) +\d+s$/);
    const [pairHeader, pair, ...more] = pairs!.split('\n');
    assert.match(pairHeader!, /^LOCAL +REMOTE +OUTBOUND +INBOUND$/);
    assert.equal(more.length, 0, pairs);
    // Sent on the first connection of its outbound list; accepted on either.
    assert.match(pair!, /^127\.0\.0\.61 +127\.0\.0\.62 +\S{8} dialback encrypted, \S{8} dialback encrypted +\S{8} dialback encrypted, \S{8} dialback encrypted$/);
  });

  test('trellis s2s --json gives the API rows', async () => {
    const run = await trellis(['s2s', 'list', '--json', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    const { connections: rows, pairs } = JSON.parse(run.stdout) as { connections: S2sRow[]; pairs: S2sPairRow[] };
    assert.deepEqual(pairs.map((pair) => [pair.local, pair.remote, pair.outbound.length, pair.inbound.length]), [[a.domain, b.domain, 2, 2]]);
    const outgoing = rows.find((row) => row.direction === 'out');
    assert.ok(outgoing, run.stdout);
    assert.equal(outgoing.remoteDomain, b.domain);
    assert.equal(outgoing.authentication, 'dialback');
    assert.equal(outgoing.level, 'encrypted');
    assert.match(outgoing.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.ok(outgoing.tls?.cipher);
    assert.equal(outgoing.bidi, true);
    assert.deepEqual(outgoing.domains, [`${a.domain} -> ${b.domain}`, `${a.domain} <- ${b.domain}`]);
    assert.deepEqual(outgoing.pairs.map((pair) => [pair.direction, pair.method, pair.level]), [['out', 'dialback', 'encrypted'], ['in', 'dialback', 'encrypted']]);
    assert.deepEqual([outgoing.serverNames, outgoing.delegatedNames, outgoing.remoteIp, outgoing.remoteHost], [[], [b.domain], '127.0.0.62', '127.0.0.62']);
    assert.ok(outgoing.bytesOut > 0 && outgoing.bytesIn > 0);
    // Over the connections with b: m1 and the request out; m2 and the error answer in.
    const total = (field: 'stanzasIn' | 'stanzasOut' | 'errorsIn' | 'errorsOut') => rows.reduce((sum, row) => sum + row[field], 0);
    assert.ok(total('stanzasOut') >= 2 && total('stanzasIn') >= 2, run.stdout);
    assert.deepEqual([total('errorsIn'), total('errorsOut')], [1, 0]);
    assert.ok(!Number.isNaN(Date.parse(outgoing.connectedAt)));
  });

  test('trellis status and GET /v1/status describe the server', async () => {
    const run = await trellis(['status', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Trellis \d+\.\d+\.\d+, pid \d+, up \d+s/);
    assert.match(run.stdout, /^hosts: +127\.0\.0\.61$/m);
    assert.match(run.stdout, /^listening: +c2s 127\.0\.0\.1:\d+; s2s 127\.0\.0\.61:5269$/m);
    assert.match(run.stdout, /^federation: +on, default level encrypted$/m);
    assert.match(run.stdout, /^clients: +1 session \(1 connection\)$/m);
    const status = await getJson<StatusReport>(socket, '/v1/status');
    assert.equal(status.pid, process.pid);
    assert.ok(status.s2s.incoming >= 1 && status.s2s.outgoing >= 1, JSON.stringify(status.s2s));
  });

  test('GET /v1/c2s lists bound sessions with their TLS', async () => {
    const { sessions } = await getJson<{ sessions: C2sRow[] }>(socket, '/v1/c2s');
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.jid, `alice@${a.domain}/r`);
    assert.match(sessions[0]!.address, /^127\.0\.0\.1:\d+$/);
    assert.match(sessions[0]!.tls?.protocol ?? '', /^TLSv1\.[23]$/);
  });

  test('GET /metrics is Prometheus text with the connection gauges', async () => {
    const answer = await adminRequest(socket, 'GET', '/metrics');
    assert.equal(answer.status, 200);
    assert.match(answer.contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(answer.body, /^trellis_s2s_connections\{direction="out",level="encrypted"\} 1$/m);
    assert.match(answer.body, /^trellis_s2s_connections\{direction="in",level="encrypted"\} [1-9]$/m);
    assert.match(answer.body, /^trellis_c2s_sessions 1$/m);
    assert.match(answer.body, /^trellis_hosts 1$/m);
    assert.match(answer.body, /^trellis_c2s_sessions_awaiting_resumption 0$/m);
    assert.match(answer.body, /^trellis_c2s_output_bytes \d+$/m);
    assert.match(answer.body, /^trellis_c2s_output_budget_bytes 67108864$/m);
    assert.match(answer.body, /^# TYPE trellis_c2s_output_overflows_total counter\ntrellis_c2s_output_overflows_total 0$/m);
    assert.match(answer.body, /^trellis_s2s_resent_total 0$/m);
    assert.match(answer.body, /^trellis_s2s_unconfirmed_bounced_total 0$/m);
  });

  test('GET /metrics counts what crossed the server: stanzas by origin and kind, logins, connection attempts, error replies', async () => {
    const value = (body: string, series: string): number => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(body)?.[1] ?? NaN);
    // A series appears once counted: absent before is zero.
    const count = (body: string, series: string): number => (body.includes(`${series} `) ? value(body, series) : 0);
    const before = (await adminRequest(socket, 'GET', '/metrics')).body;
    assert.equal(value(before, 'trellis_stanzas_received_total{origin="client",kind="message"}'), 1, 'alice sent one message');
    assert.equal(value(before, 'trellis_stanzas_received_total{origin="server",kind="message"}'), 1, "bob's message came from b");
    assert.equal(value(before, 'trellis_stanzas_sent_total{to="server",kind="message"}'), 1);
    assert.ok(value(before, 'trellis_stanzas_sent_total{to="client",kind="message"}') >= 1);
    assert.equal(value(before, 'trellis_c2s_authentications_total{result="success",mechanism="SCRAM-SHA-256"}'), 1);
    assert.ok(value(before, 'trellis_s2s_connection_attempts_total{result="connected",reason=""}') >= 1);
    assert.equal(value(before, 'trellis_s2s_queued_stanzas'), 0);
    assert.equal(value(before, 'trellis_offline_messages'), 0);
    assert.match(before, /^# TYPE trellis_error_replies_total counter$/m);

    await a.addUser('carol', a.domain, 'secret');
    alice.send(`<message to='carol@${a.domain}' id='m3' type='chat'><body>for carol, offline</body></message>`);
    alice.send(`<iq to='${a.domain}' id='q1' type='get'><query xmlns='urn:xmpp:no-such-thing'/></iq>`);
    await alice.waitFor(/id=["']q1["']/);
    await assert.rejects(loginFederated(a, 'alice', 'wrong password'));
    const after = (await adminRequest(socket, 'GET', '/metrics')).body;
    assert.equal(count(after, 'trellis_stanzas_received_total{origin="client",kind="iq"}') - count(before, 'trellis_stanzas_received_total{origin="client",kind="iq"}'), 1);
    assert.ok(value(after, 'trellis_error_replies_total{condition="service-unavailable"}') >= 1);
    assert.equal(value(after, 'trellis_offline_messages'), 1, 'the message for carol waits in her mailbox');
    assert.equal(value(after, 'trellis_c2s_authentications_total{result="failure",mechanism="SCRAM-SHA-256"}'), 1, after.split('\n').filter((line) => line.includes('authentications')).join('\n'));
  });

  test('bad requests get a JSON error with the right status and the server keeps serving', async () => {
    const garbage = await rawExchange(socket, 'THIS IS NOT HTTP\r\n\r\n', /\}\n$/);
    assert.match(garbage, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(garbage, /\{"error":"malformed HTTP request: [^"]+"\}/);
    const tooLarge = await rawExchange(socket, `DELETE /v1/s2s/x HTTP/1.1\r\nHost: admin\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`, /\}\n$/);
    assert.match(tooLarge, /^HTTP\/1\.1 413 /);
    const unknown = await adminRequest(socket, 'GET', '/v1/nothing');
    assert.equal(unknown.status, 404);
    assert.match(JSON.parse(unknown.body).error, /no such endpoint/);
    const missing = await adminRequest(socket, 'DELETE', '/v1/s2s/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
    const wrongMethod = await adminRequest(socket, 'DELETE', '/v1/status');
    assert.equal(wrongMethod.status, 405);
    await getJson<StatusReport>(socket, '/v1/status');
  });

  test('trellis s2s revoke stops a pair on every connection with another Trellis (each takes pair requests both ways); its server asks again', async () => {
    // Two Trellis servers at the encrypted level (dialback) hold a bidi connection each way, and each
    // takes pair requests from the side that did not open it (docs/protocols/reverse-pairs.md), so the
    // pair can be revoked alone on both; with peers on standard streams the API answers 409 (routes.test.ts).
    const run = await trellis(['s2s', 'revoke', a.domain, b.domain, '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `revoked ${b.domain} -> ${a.domain} on 2 connections; its server may ask again\n`);
    bob.send(`<message to='alice@${a.domain}/r' id='m-again' type='chat'><body>after the revocation</body></message>`);
    await alice.waitFor('after the revocation');
    const unknown = await trellis(['s2s', 'revoke', a.domain, 'nobody.example', '--config', configFile]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no connection accepts stanzas from nobody\.example to 127\.0\.0\.61/);
    const usage = await trellis(['s2s', 'revoke', a.domain, '--config', configFile]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /s2s revoke needs the local and the remote domain/);
  });

  test('trellis s2s close takes an id prefix, the connection disappears, and federation reconnects', async () => {
    const rows = await getJson<{ connections: S2sRow[] }>(socket, '/v1/s2s');
    const outgoing = rows.connections.find((row) => row.direction === 'out')!;
    const run = await trellis(['s2s', 'close', outgoing.id.slice(0, 8), '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `closed ${outgoing.id.slice(0, 8)} (outgoing to ${b.domain})\n`);
    const deadline = Date.now() + 5000;
    for (;;) {
      const { connections } = await getJson<{ connections: S2sRow[] }>(socket, '/v1/s2s');
      if (!connections.some((row) => row.id === outgoing.id)) break;
      assert.ok(Date.now() < deadline, 'the closed connection left the list');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    alice.send(`<message to='bob@${b.domain}/r' id='m3' type='chat'><body>still there?</body></message>`);
    await bob.waitFor('still there?');
    const unknown = await trellis(['s2s', 'close', 'zzzz', '--config', configFile]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no server connection with an id starting with "zzzz"/);
  });

  test('with no server running the CLI says so, names the socket, and exits 1', async () => {
    const idle = join(dir, 'idle.yaml');
    await writeFile(idle, `data_dir: ${join(dir, 'idle-data')}\nhosts:\n  example.test: {}\n`);
    for (const args of [['s2s'], ['s2s', 'close', 'abc'], ['status']]) {
      const run = await trellis([...args, '--config', idle]);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, new RegExp(`no running server found: nothing answers on ${join(dir, 'idle-data', 'admin.sock').replace(/[.]/g, '\\.')}`));
    }
  });

  test('a stale socket is replaced, a live one is refused, and the socket goes away on stop', async () => {
    const path = join(dir, 'shared.sock');
    // What a crashed server leaves: a socket file nobody listens on.
    execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
    assert.ok((await stat(path)).isSocket());
    const yaml = (name: string): string => `
data_dir: ${join(dir, name)}
http: { addresses: ["127.0.0.1"], port: 0 }
listeners: { c2s: { addresses: ["127.0.0.1"], port: 0 }, s2s: { enabled: false } }
s2s: { enabled: false }
admin: { socket: ${path} }
hosts: { localhost: {} }
`;
    const { logger, lines } = memoryLogger();
    const first = await startServer(parseConfig(yaml('first'), { baseDir: dir }), logger);
    try {
      assert.ok(lines.some((line) => line.includes('replaced a stale admin socket')), lines.join('\n'));
      assert.deepEqual((await getJson<StatusReport>(path, '/v1/status')).federation, 'off');
      await assert.rejects(startServer(parseConfig(yaml('second'), { baseDir: dir }), memoryLogger().logger), /another server answers on the admin socket/);
      await getJson<StatusReport>(path, '/v1/status');
    } finally {
      await first.close();
    }
    assert.equal(existsSync(path), false);
  });
});
