/**
 * Connection limits against a running server: connections per address (a second source address,
 * 127.0.0.2, still gets in), unauthenticated connections in total, and the process guard with a
 * tiny memory budget (new connections refused, a bound session keeps working). Refusals carry a
 * stream error naming the limit, are logged once per address and interval, and are counted in
 * the admin API's metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { adminRequest } from '../src/admin/client.ts';
import { login } from './support/login.ts';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { waitUntil } from './support/wait.ts';

/** Opens a client stream from `localAddress` and waits for the stream features (it was admitted). */
async function admitted(server: TestServer, localAddress = '127.0.0.1'): Promise<RawClient> {
  const client = await RawClient.connect(server.port, '127.0.0.1', localAddress);
  client.send(streamHeader('localhost'));
  await client.waitFor('</stream:features>');
  return client;
}

/** Connects from `localAddress` and returns what the server wrote before closing the connection. */
async function refused(server: TestServer, localAddress = '127.0.0.1'): Promise<string> {
  const client = await RawClient.connect(server.port, '127.0.0.1', localAddress);
  client.send(streamHeader('localhost'));
  await client.waitClosed();
  assert.doesNotMatch(client.received, /<stream:features/, 'a refused connection gets no stream features');
  return client.received;
}

async function metric(server: TestServer, line: RegExp): Promise<string> {
  const answer = await adminRequest(server.server.adminSocket!, 'GET', '/metrics');
  const found = answer.body.split('\n').find((candidate) => line.test(candidate));
  assert.ok(found, `no metric line ${line} in:\n${answer.body}`);
  return found;
}

const policyViolation = /<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text[^>]*>([^<]*)<\/text><\/stream:error><\/stream:stream>/;

describe('connections per address', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('limits: { c2s_per_address: 3 }');
  });
  after(() => server.stop());

  test('over the limit an address gets policy-violation naming the limit; another address still connects', async () => {
    const open = [await admitted(server), await admitted(server), await admitted(server)];
    const first = await refused(server);
    assert.equal(policyViolation.exec(first)?.[1], 'too many connections from 127.0.0.1 (limits.c2s_per_address: 3)');
    await refused(server);
    // The second source address has its own count.
    const other = await admitted(server, '127.0.0.2');
    // Two refusals, one warning: the log is not flooded.
    await server.waitForLog('c2s connection refused', 'too many connections from 127.0.0.1');
    assert.equal(server.logLines.filter((line) => line.includes('c2s connection refused') && line.includes('127.0.0.1')).length, 1);
    assert.match(await metric(server, /^trellis_connections_refused_total\{listener="c2s",reason="per_address"\}/), / 2$/);
    // A closed connection frees its place.
    open[0]!.close();
    await waitUntil('the server saw the connection close', () => server.server.limits.gate.openFrom('c2s', '127.0.0.1') === 2);
    open.push(await admitted(server));
    for (const client of [...open, other]) client.close();
  });
});

describe('unauthenticated connections in total', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('limits: { c2s_unauthenticated: 2 }');
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(() => server.stop());

  test('past the limit new connections are refused, whatever their address; logging in frees a place', async () => {
    const waiting = await admitted(server, '127.0.0.3');
    const { client: alice } = await login(server, { username: 'alice', password: 'secret' });
    // alice counts as unauthenticated until the listener's next sweep notices her login.
    await waitUntil('the login no longer counts as unauthenticated', () => server.server.limits.gate.unauthenticated === 1);
    const second = await admitted(server, '127.0.0.4');
    const text = policyViolation.exec(await refused(server, '127.0.0.5'))?.[1];
    assert.equal(text, 'too many connections are authenticating (limits.c2s_unauthenticated: 2); try again later');
    assert.match(await metric(server, /^trellis_connections_refused_total\{listener="c2s",reason="unauthenticated"\}/), / 1$/);
    assert.match(await metric(server, /^trellis_c2s_unauthenticated_connections /), / 2$/);
    for (const client of [waiting, alice, second]) client.close();
  });
});

describe('the process guard', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(() => server.stop());

  test('over a tiny memory budget new connections get resource-constraint while a bound session keeps working', async () => {
    const { client: alice } = await login(server, { username: 'alice', password: 'secret' });
    const normal = server.server.limits.config;
    // What `trellis reload` does with a changed limits section.
    server.server.limits.configure({ ...normal, max_memory_mib: 1 });
    for (let attempt = 0; attempt < 2; attempt++) {
      const received = await refused(server);
      assert.match(received, /<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text[^>]*>the server is short of memory \(limits\.max_memory_mib\); try again later</);
    }
    const line = await server.waitForLog('c2s connection refused', 'max_memory_mib');
    assert.match(line, /budget_mib=1/);
    assert.equal(server.logLines.filter((candidate) => candidate.includes('max_memory_mib')).length, 1, 'one warning for both refusals');
    assert.match(await metric(server, /^trellis_connections_refused_total\{listener="c2s",reason="memory"\}/), / 2$/);
    assert.match(await metric(server, /^trellis_memory_budget_bytes /), / 1048576$/);
    // The bound session still gets answers.
    alice.send("<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.match(await alice.waitFor(/id=["']ping1["']/), /type=["']result["']/);
    server.server.limits.configure(normal);
    (await admitted(server)).close();
    alice.close();
  });

  test('the metrics show the open file descriptors and their limit', async () => {
    const open = Number((await metric(server, /^process_open_fds /)).split(' ')[1]);
    const max = Number((await metric(server, /^process_max_fds /)).split(' ')[1]);
    assert.ok(open > 0 && open < max, `${open} of ${max}`);
  });
});

describe('the default per-address limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  test('40 connections from one address: 32 get in, the rest get policy-violation; 127.0.0.2 still gets in', async () => {
    const clients = await Promise.all(Array.from({ length: 40 }, () => RawClient.connect(server.port)));
    for (const client of clients) client.send(streamHeader('localhost'));
    await Promise.all(clients.map((client) => client.waitFor(/<\/stream:features>|<\/stream:error>/)));
    const refusedCount = clients.filter((client) => policyViolation.test(client.received)).length;
    const admittedCount = clients.filter((client) => client.received.includes('</stream:features>')).length;
    assert.deepEqual([admittedCount, refusedCount], [32, 8]);
    const other = await admitted(server, '127.0.0.2');
    for (const client of [...clients, other]) client.close();
  });
});

describe('direct TLS', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  c2s_direct_tls: { enabled: true, addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["127.0.0.1"], port: 0 }
limits: { c2s_per_address: 1 }
`);
  });
  after(() => server.stop());

  test('an address over its limit is dropped before the TLS handshake', async () => {
    const port = server.server.listening.c2sDirectTls[0]!.port;
    const ca = readFileSync(server.certificateFile('localhost'));
    const first = await RawClient.connectDirectTls(port, ca, 'localhost');
    first.send(streamHeader('localhost'));
    await first.waitFor('</stream:features>');
    await assert.rejects(RawClient.connectDirectTls(port, ca, 'localhost'), /ECONNRESET|socket disconnected|closed/i);
    assert.match(await metric(server, /^trellis_connections_refused_total\{listener="c2s",reason="per_address"\}/), / 1$/);
    await server.waitForLog('c2s connection dropped before the TLS handshake', 'reason=per_address');
    first.close();
  });
});
