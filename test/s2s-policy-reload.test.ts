/**
 * Peering policy changed by a reload, without a restart: three Trellis servers on loopback.
 * A reload that denies one peer closes only that peer's connection (policy-violation, the rule
 * in the log) and stanzas to it then bounce with the rule; the other connection stays up, the
 * same connection. A reload that raises a peer's required level (an s2s.peering rule) closes a
 * connection that reached less, and so does one that requires strong authentication of a peer
 * proven by dialback.
 *
 *   A 127.0.4.1  reloads its policy
 *   B 127.0.4.2  stays allowed, until its level is raised
 *   C 127.0.4.3  is denied
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../src/auth/scram.ts';
import { loadConfig } from '../src/config/load.ts';
import { startServer, type TrellisServer } from '../src/server.ts';
import { memoryLogger } from '../src/util/log.ts';
import { loginFederated, type FederatedServer } from './support/federation.ts';
import type { RawClient } from './support/raw-client.ts';

interface Peer {
  domain: string;
  server: TrellisServer;
  lines: string[];
  configFile: string;
  /** what loginFederated needs */
  login: FederatedServer;
}

function configText(dataDir: string, domain: string, s2s: string): string {
  return `
data_dir: ${dataDir}
log: { level: debug }
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${domain}"], port: 5269 }
c2s: { scram_iterations: 4096, auth_failure_delay: 10 }
s2s: { retry_initial_delay: 1, connect_timeout: 2${s2s} }
hosts:
  ${domain}: {}
`;
}

async function startPeer(dir: string, domain: string, user: string): Promise<Peer> {
  const dataDir = join(dir, domain);
  const configFile = join(dir, `${domain}.yaml`);
  await writeFile(configFile, configText(dataDir, domain, ''));
  const { logger, lines } = memoryLogger();
  const server = await startServer(await loadConfig(configFile), logger);
  await server.storage.accounts.create(domain, user, makeStoredCredentials('secret', 4096));
  const login = { domain, get port() { return server.listening.c2s[0]!.port; } } as FederatedServer;
  return { domain, server, lines, configFile, login };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The ids of A's connections whose remote domain is `domain`. */
const connectionsTo = (peer: Peer, domain: string) =>
  peer.server.s2s
    .connections()
    .filter((row) => row.remoteDomain === domain && row.domains.length > 0)
    .map((row) => row.id);

async function chat(alice: RawClient, to: Peer, recipient: RawClient, id: string): Promise<void> {
  alice.send(`<message to='u@${to.domain}/r' id='${id}' type='chat'><body>${id}</body></message>`);
  await recipient.waitFor(`>${id}</body>`, 10_000);
}

describe('peering policy on reload', () => {
  let dir: string;
  let a: Peer;
  let b: Peer;
  let c: Peer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-policy-reload-'));
    [a, b, c] = await Promise.all([startPeer(dir, '127.0.4.1', 'alice'), startPeer(dir, '127.0.4.2', 'u'), startPeer(dir, '127.0.4.3', 'u')]);
  });
  after(async () => {
    await Promise.all([a, b, c].map((peer) => peer?.server.close()));
    await rm(dir, { recursive: true, force: true });
  });

  test('denying one peer closes its connection only; the other stays the same connection', async () => {
    const alice = await loginFederated(a.login, 'alice');
    const bob = await loginFederated(b.login, 'u');
    const carol = await loginFederated(c.login, 'u');
    await chat(alice, b, bob, 'before-b');
    await chat(alice, c, carol, 'before-c');
    const toB = connectionsTo(a, b.domain);
    assert.ok(toB.length > 0);
    assert.ok(connectionsTo(a, c.domain).length > 0);

    await writeFile(a.configFile, configText(join(dir, a.domain), a.domain, `, access: { deny_domains: ["${c.domain}"] }`));
    const outcome = await a.server.reload();
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.deepEqual(outcome.needRestart, [], 'a policy change needs no restart');
    const line = await waitFor('the close to be logged', () => a.lines.find((candidate) => candidate.includes('no longer allowed by policy')));
    assert.match(line, /s2s\.access\.deny_domains\[0\]/);
    await waitFor('the connection to C to go', () => connectionsTo(a, c.domain).length === 0);
    assert.deepEqual(connectionsTo(a, b.domain), toB, 'the connections with B stay up');

    await chat(alice, b, bob, 'after-b');
    assert.deepEqual(connectionsTo(a, b.domain), toB, 'and they carry the next message');
    alice.send(`<message to='u@${c.domain}/r' id='after-c' type='chat'><body>after-c</body></message>`);
    const bounce = await alice.waitFor(/<message[^>]*id=["']after-c["'][\s\S]*?<\/message>/);
    assert.match(bounce, /<not-allowed xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.match(bounce, /s2s\.access\.deny_domains\[0\] \(127\.0\.4\.3\) denies 127\.0\.4\.3/);
    assert.doesNotMatch(carol.received, /after-c/);
    for (const client of [alice, bob, carol]) client.close();
  });

  test('raising a peer\'s required level closes a connection that reached less', async () => {
    assert.ok(connectionsTo(a, b.domain).length > 0);
    // Self-signed certificates: the connection reached encrypted, not trusted.
    await writeFile(a.configFile, configText(join(dir, a.domain), a.domain, `, access: { deny_domains: ["${c.domain}"] }, peering: { "${b.domain}": { level: trusted } }`));
    const outcome = await a.server.reload();
    assert.ok(outcome.ok, JSON.stringify(outcome));
    const line = await waitFor('the close to be logged', () => a.lines.find((candidate) => candidate.includes('no longer allowed by policy') && candidate.includes('127.0.4.2')));
    assert.match(line, /s2s\.peering\[\\?"127\.0\.4\.2\\?"\]\.level/);
    assert.deepEqual(outcome.ok && outcome.needRestart, [], 'peering rules need no restart');
    await waitFor('the connection to B to go', () => connectionsTo(a, b.domain).length === 0);
  });

  test('requiring strong authentication closes a connection proven by dialback, naming the check', async () => {
    await writeFile(a.configFile, configText(join(dir, a.domain), a.domain, ''));
    assert.ok((await a.server.reload()).ok);
    const alice = await loginFederated(a.login, 'alice');
    const bob = await loginFederated(b.login, 'u');
    // B was refused under the previous policy: its retry delay (s2s.retry_initial_delay) runs out first.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await chat(alice, b, bob, 'before-strong');
    assert.ok(connectionsTo(a, b.domain).length > 0);
    const closesBefore = a.lines.filter((candidate) => candidate.includes('no longer allowed by policy')).length;
    // Self-signed certificates: dialback over TLS, never SASL EXTERNAL with a trusted certificate.
    await writeFile(a.configFile, configText(join(dir, a.domain), a.domain, `, peering: { "${b.domain}": { require_strong_auth: true } }`));
    assert.ok((await a.server.reload()).ok);
    const line = await waitFor('the close to be logged', () => a.lines.filter((candidate) => candidate.includes('no longer allowed by policy')).slice(closesBefore).find((candidate) => candidate.includes('require_strong_auth')));
    assert.match(line, /s2s\.peering\[\\?"127\.0\.4\.2\\?"\]\.require_strong_auth/);
    await waitFor('the connection to B to go', () => connectionsTo(a, b.domain).length === 0);
    for (const client of [alice, bob]) client.close();
  });
});
