/**
 * A link on which both sides connect (XEP-0361 section 4.3, docs/links.md): each side listens
 * and connects out, and each connection carries only what the side that opened it sends.
 *
 *   A (air.example) listens on 127.0.130.5:5361 and connects to B on 127.0.130.6:5361
 *   B (ground.example) listens on 127.0.130.6:5361 and connects to A on 127.0.130.5:5361
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginAt, startLinkServer } from './support/link-server.ts';
import type { Link } from '../src/links/link.ts';
import type { RawClient } from './support/raw-client.ts';
import type { TestServer } from './support/server.ts';
import { sleep } from './support/server-process.ts';

const A = '127.0.130.5:5361';
const B = '127.0.130.6:5361';

function edge(domain: string, listen: string, peer: string, remote: string): Promise<TestServer> {
  return startLinkServer(
    `  pair: { connect: both, listen: "${listen}", address: "${peer}", peer_addresses: ["127.0.130.0/24", "127.0.0.1"], local_domains: [${domain}], remote_domains: [${remote}], reconnect_initial_delay: 1, reconnect_max_delay: 1 }`,
    `s2s: { enabled: false, peering: { ${remote}: { link: pair } } }\nhosts: { ${domain}: {} }`,
  );
}

describe('a link on which both sides connect', () => {
  let a: TestServer;
  let b: TestServer;
  let alice: RawClient;
  let bob: RawClient;
  before(async () => {
    a = await edge('air.example', A, B, 'ground.example');
    b = await edge('ground.example', B, A, 'air.example');
    await a.addUser('alice', 'air.example', 'secret');
    await b.addUser('bob', 'ground.example', 'secret');
    alice = await loginAt(a, 'air.example', 'alice');
    bob = await loginAt(b, 'ground.example', 'bob');
  });
  after(async () => {
    alice?.close();
    bob?.close();
    await Promise.all([a, b].map((server) => server?.stop()));
  });

  test('each side sends on the connection it opened, and reads from the other', async () => {
    const [linkA, linkB] = [a.server.links.links.get('pair')!, b.server.links.links.get('pair')!];
    for (let i = 0; i < 100 && !(linkA.up && linkB.up); i++) await sleep(50);
    assert.ok(linkA.up && linkB.up, 'both sides connected out');
    await a.waitForLog('link peer connected (its stanzas only)');
    await b.waitForLog('link peer connected (its stanzas only)');
    alice.send("<message id='up' to='bob@ground.example' type='chat'><body>from air</body></message>");
    bob.send("<message id='down' to='alice@air.example' type='chat'><body>from ground</body></message>");
    await bob.waitFor(/id=["']up["'][\s\S]*from air/);
    await alice.waitFor(/id=["']down["'][\s\S]*from ground/);
    // The sending connection's peer is the other side's listener (port 5361), not a connection it accepted.
    const sendsOnItsOwn = (server: TestServer) => server.logLines.some((line) => /link up link=pair peer=127\.0\.130\.\d+:5361$/.test(line));
    assert.ok(sendsOnItsOwn(a) && sendsOnItsOwn(b), 'each side sends on the connection it opened');
    assert.equal(linkA.counters.sent, linkB.counters.received);
    assert.equal(linkB.counters.sent, linkA.counters.received);
  });

  test('when one side goes, the other keeps its messages until it is back', async () => {
    const linkA = a.server.links.links.get('pair') as Link;
    await b.server.links.close();
    for (let i = 0; i < 100 && linkA.up; i++) await sleep(20);
    assert.equal(linkA.up, false);
    alice.send("<message id='wait' to='bob@ground.example' type='chat'><body>kept</body></message>");
    for (let i = 0; i < 100 && linkA.queue.depth === 0; i++) await sleep(20);
    assert.equal(linkA.queue.depth, 1);
  });
});
