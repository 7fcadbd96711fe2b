/**
 * Relaying onto a link (docs/peering.md, "Trunks and relaying"; docs/links.md): the sender is
 * not hosted on the relaying server.
 *
 *   C (c.example, s2s on 127.0.72.13) --federation, A as its trunk for b.example--> A
 *   A (a.example, s2s on 127.0.72.11) --XEP-0361 link "over"--> B (b.example, listening on 127.0.72.12)
 *
 * Carol on C writes to Bob on B: C sends on its stream with A, A relays over its link. Bob's
 * answer comes back over the link to A, which relays it on to C by federation. A stanza from a
 * domain the link does not carry is still refused at the link.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServerAt, type FederatedServer } from './support/federation.ts';
import { loginAt } from './support/link-server.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('relaying between federation and a link', () => {
  let a: FederatedServer;
  let b: TestServer;
  let c: FederatedServer;
  let carol: RawClient;
  let bob: RawClient;

  before(async () => {
    b = await startTestServer(`
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
http: { enabled: false }
links:
  over:
    connect: in
    address: "127.0.72.12:0"
    peer_addresses: ["127.0.0.0/8"]
    local_domains: [b.example]
    remote_domains: [a.example, c.example, d.example]
s2s:
  enabled: false
  peering:
    a.example: { link: over }
    c.example: { link: over }
    d.example: { link: over }
hosts:
  b.example: {}
`);
    const listening = b.server.links.links.get('over')!.listening!;
    a = await startServerAt('127.0.72.11', 'a.example', `
links:
  over:
    connect: out
    address: "${listening}"
    local_domains: [a.example, c.example]
    remote_domains: [b.example]
    reconnect_initial_delay: 1
s2s:
  peering:
    c.example: { via: "127.0.72.13:5269" }
    d.example: { via: "127.0.72.13:5269" }
    b.example: { link: over }
`);
    c = await startServerAt('127.0.72.13', 'c.example', `
s2s:
  peering:
    a.example: { via: "127.0.72.11:5269", speaks_for: [b.example] }
    b.example: { via: a.example }
`);
    await c.addUser('carol', 'c.example', 'secret');
    await b.addUser('bob', 'b.example', 'secret');
    carol = await loginAt(c, 'c.example', 'carol');
    bob = await loginAt(b, 'b.example', 'bob');
    await a.waitForLog('link up');
  });

  after(async () => {
    for (const client of [carol, bob]) client?.close();
    await Promise.all([a, b, c].map((server) => server?.stop()));
  });

  test('a message from a domain the relay does not host goes on over the link, and the answer comes back by federation', async () => {
    carol.send("<message id='r1' to='bob@b.example' type='chat'><body>via the trunk and the link</body></message>");
    const arrived = await bob.waitFor(/<message[^>]*id=["']r1["'][\s\S]*?<\/message>/, 10_000);
    assert.match(arrived, /from=["']carol@c\.example\/r["']/);
    assert.match(arrived, /via the trunk and the link/);
    // The relay trace is taken off before delivery.
    assert.doesNotMatch(arrived, /urn:xmpp:trellis:relay:0/);
    bob.send("<message id='r2' to='carol@c.example/r' type='chat'><body>and back</body></message>");
    const back = await carol.waitFor(/<message[^>]*id=["']r2["'][\s\S]*?<\/message>/, 10_000);
    assert.match(back, /from=["']bob@b\.example\/r["']/);
    assert.doesNotMatch(back, /type=["']error["']/);
    assert.ok(a.logLines.some((line) => /s2s outgoing pair authorized[^\n]*local=a\.example/.test(line)), 'A relayed on its own pair with C');
  });

  test('a relayed answer for a domain the link does not carry on the relay\'s side is refused at the link', async () => {
    // d.example is routed from B over the link, but A's end of the link does not carry it.
    bob.send("<message id='r3' to='dora@d.example' type='chat'><body>not carried</body></message>");
    const bounce = await bob.waitFor(/<message[^>]*id=["']r3["'][^>]*type=["']error["'][\s\S]*?<\/message>/, 10_000);
    assert.match(bounce, /not-allowed/);
    await a.waitForLog("stanza outside the link's domains refused");
  });
});
