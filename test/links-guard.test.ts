/**
 * Two edges talking through an XML guard (docs/links.md, "Guard mode"):
 *
 *   A (high.example) --link "across", guard mode--> guard process --> B (low.example)
 *
 * A runs the guard example of docs/links.md as written, with only its link address pointed at
 * the guard; the guard (test/support/xml-guard.ts) is a process of its own that passes one
 * well-formed stanza per line and drops the rest, answering the sender with policy-violation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loginFederated, type FederatedServer } from './support/federation.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const GUARD_EXAMPLE = /```yaml\n# example: guard\n([\s\S]*?)```/.exec(readFileSync(join(import.meta.dirname, '..', 'docs', 'links.md'), 'utf8'))![1]!;

interface Guard {
  child: ChildProcess;
  address: string;
  output(): string;
}

async function startGuard(upstream: string, onDrop: 'error' | 'drop', elements = ['message', 'presence', 'iq']): Promise<Guard> {
  const rules = { listen: '127.0.22.21:0', upstream, max_bytes: 8192, elements, deny_text: 'TOP SECRET', on_drop: onDrop };
  const child = spawn(process.execPath, [join(import.meta.dirname, 'support', 'xml-guard.ts'), JSON.stringify(rules)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let i = 0; i < 200 && !/listening (\S+)/.test(output); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  const address = /listening (\S+)/.exec(output)?.[1];
  if (address === undefined) throw new Error(`the guard did not start: ${output}`);
  return { child, address, output: () => output };
}

async function loginAt(server: TestServer, domain: string, username: string): Promise<RawClient> {
  await server.addUser(username, domain, 'secret');
  const client = await loginFederated({ port: server.port, domain } as FederatedServer, username);
  client.send('<presence/>');
  return client;
}

/** The edge on the other side: its link listens for the guard, in guard mode too. */
const lowEdge = () => `
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
links:
  across:
    connect: in
    address: "127.0.22.22:0"
    peer_addresses: ["127.0.0.0/8"]
    local_domains: [low.example]
    remote_domains: [high.example]
    guard: { enabled: true, whitespace_keepalives: false }
    max_stanza_bytes: 8192
s2s:
  enabled: false
  peering:
    high.example: { link: across }
hosts:
  low.example: {}
`;

/** The guard example of docs/links.md, its link pointed at the guard. */
const highEdge = (guardAddress: string) => `listeners:\n  c2s: { addresses: ["127.0.0.1"], port: 0 }\n  s2s: { enabled: false }\n${GUARD_EXAMPLE.replace('"10.1.0.2:5361"', `"${guardAddress}"`)}`;

async function waitUp(server: TestServer): Promise<void> {
  const link = server.server.links.links.get('across')!;
  for (let i = 0; i < 100 && !link.up; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(link.up, 'the link is up through the guard');
}

describe('two edges through an XML guard', () => {
  let a: TestServer;
  let b: TestServer;
  let guard: Guard;
  let alice: RawClient;
  let bob: RawClient;
  before(async () => {
    b = await startTestServer(lowEdge());
    guard = await startGuard(b.server.links.links.get('across')!.listening!, 'error');
    a = await startTestServer(highEdge(guard.address));
    [alice, bob] = await Promise.all([loginAt(a, 'high.example', 'alice'), loginAt(b, 'low.example', 'bob')]);
    await waitUp(a);
  });
  after(async () => {
    alice?.close();
    bob?.close();
    guard?.child.kill();
    await Promise.all([a, b].map((server) => server?.stop()));
  });

  test('stanzas matching the guard\'s rules pass both ways, one per line', async () => {
    alice.send("<message id='g1' to='bob@low.example' type='chat'><body>first line\nsecond line</body></message>");
    await bob.waitFor(/id=["']g1["'][\s\S]*first line\nsecond line/);
    bob.send("<message id='g2' to='alice@high.example/r' type='chat'><body>received</body></message>");
    await alice.waitFor(/id=["']g2["'][\s\S]*received/);
    assert.equal(guard.output().match(/^passed$/gm)?.length, 2);
    assert.doesNotMatch(guard.output(), /dropped/);
  });

  test('a stanza the guard drops never arrives, and its sender is told', async () => {
    alice.send("<message id='g3' to='bob@low.example' type='chat'><body>TOP SECRET plans</body></message>");
    await alice.waitFor(/<message(?=[^>]*id=["']g3["'])(?=[^>]*type=["']error["'])[\s\S]*<policy-violation[\s\S]*rejected by the guard: text the guard denies/);
    assert.match(guard.output(), /dropped: text the guard denies/);
    alice.send("<message id='g4' to='bob@low.example' type='chat'><body>after the dropped one</body></message>");
    await bob.waitFor(/id=["']g4["']/);
    assert.doesNotMatch(bob.received, /TOP SECRET/);
  });

  test('the edge itself refuses what guard mode cannot write: a namespace prefix, an element over the size limit', async () => {
    alice.send("<message id='g5' to='bob@low.example' type='chat'><body>labelled</body><x xmlns='urn:example:label' xmlns:l='urn:example:level' l:level='restricted'/></message>");
    await alice.waitFor(/<message(?=[^>]*id=["']g5["'])(?=[^>]*type=["']error["'])[\s\S]*<policy-violation[\s\S]*namespace prefix/);
    alice.send(`<message id='g6' to='bob@low.example' type='chat'><body>${'x'.repeat(9000)}</body></message>`);
    await alice.waitFor(/<message(?=[^>]*id=["']g6["'])(?=[^>]*type=["']error["'])[\s\S]*<policy-violation[\s\S]*larger than the link carries/);
    assert.doesNotMatch(guard.output(), /dropped: a namespace prefix|larger than max_bytes/);
  });
});

describe('a guard that drops silently', () => {
  let a: TestServer;
  let b: TestServer;
  let guard: Guard;
  after(async () => {
    guard?.child.kill();
    await Promise.all([a, b].map((server) => server?.stop()));
  });

  test('the sender of a dropped request learns by its own timeout', async () => {
    b = await startTestServer(lowEdge());
    guard = await startGuard(b.server.links.links.get('across')!.listening!, 'drop', ['message', 'presence']);
    a = await startTestServer(highEdge(guard.address));
    await waitUp(a);
    const alice = await loginAt(a, 'high.example', 'alice');
    alice.send("<iq type='get' id='d1' to='low.example'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    await assert.rejects(alice.waitFor(/id=["']d1["']/, 1500), /timed out/);
    assert.match(guard.output(), /dropped: <iq\/> is not an allowed element/);
    // A message is an allowed element: the link itself still works.
    alice.send("<message id='d2' to='low.example'><body>ping</body></message>");
    for (let i = 0; i < 100 && !/passed/.test(guard.output()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(guard.output(), /passed/);
    alice.close();
  });
});
